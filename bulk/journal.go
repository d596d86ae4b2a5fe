package bulk

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"sync"
	"time"

	"github.com/codat-migrate/codat"
)

// The journal is a JSON Lines file, after a header line that marks it as
// one (journalHeader), appended to and fsynced on every step
// transition of every migration. A ref's line records what changed in its
// state since the previous line of the same attempt (journalcodec.go), so
// an attempt's lines, from its first, are all a rerun needs. It holds IDs,
// statuses and a fingerprint of the authorization fields, never a token.
// Run-level events (a passed canary, a quota stop) have Event set.

// Journal steps besides the codat.Step values.
const (
	stepStart  = "start"  // the migration is about to send its first request
	stepFailed = "failed" // the migration returned an error; Result says which
	// stepState: the state a resume depends on changed without a new step
	// (the send intent of a token PUT before it leaves, say).
	stepState = "state"
)

// Canary verdicts.
const (
	verdictPassed = "passed"
	verdictFailed = "failed"
)

// Journal events.
const (
	eventRun          = "run"
	eventCanaryPassed = "canary-passed"
	eventCanaryFailed = "canary-failed"
	eventQuota        = "quota-stop"
)

type Record struct {
	Time         time.Time    `json:"t"`
	Event        string       `json:"event,omitempty"`
	Input        string       `json:"input,omitempty"`
	Ref          string       `json:"ref,omitempty"`
	Line         int          `json:"line,omitempty"`
	Step         string       `json:"step,omitempty"`
	Steps        []codat.Step `json:"steps,omitempty"`
	CompanyID    string       `json:"companyId,omitempty"`
	ConnectionID string       `json:"connectionId,omitempty"`
	Status       string       `json:"status,omitempty"`
	LinkURL      string       `json:"linkUrl,omitempty"`
	Fingerprint  string       `json:"fp,omitempty"`
	Tenant       string       `json:"tenant,omitempty"`
	Canary       bool         `json:"canary,omitempty"`
	// Verdict is a canary's outcome, on the last line of its attempt:
	// verdictPassed or verdictFailed (empty when it was not judged).
	Verdict string `json:"verdict,omitempty"`
	// Relink: this attempt sends the row's token even when the connection
	// is already Linked (a token replacement); a resume keeps doing so
	// until the token is sent.
	Relink bool `json:"relink,omitempty"`
	// NoWrite, on a failed line: the attempt can have created nothing in
	// Codat (no step done, and a definite answer to the first write), so a
	// rerun starts afresh instead of looking the ref up.
	NoWrite         bool `json:"noWrite,omitempty"`
	AlreadyMigrated bool `json:"alreadyMigrated,omitempty"`
	// TokenSent: this attempt sent a token PUT that may be installed
	// (codat.MigrationResult.TokenSent); a resume with Relink then reads the
	// connection before sending it again.
	TokenSent bool `json:"tokenSent,omitempty"`
	// PlatformKey, TokenSend and KeyGen are the codat.MigrationResult
	// fields of the same names: the connection's platform, a token PUT whose
	// outcome is unknown, and the generations of Migrate's idempotency keys.
	PlatformKey string             `json:"platformKey,omitempty"`
	TokenSend   *codat.TokenSend   `json:"tokenSend,omitempty"`
	KeyGen      map[codat.Step]int `json:"keyGen,omitempty"`
	Result      Status             `json:"result,omitempty"`
	ErrorClass  string             `json:"errorClass,omitempty"`
	Error       string             `json:"error,omitempty"`
	Requests    int                `json:"requests,omitempty"`
	Reset       *time.Time         `json:"reset,omitempty"`
}

// finished reports whether the entry ends its ref's migration successfully.
func (e *Record) finished() bool { return e.Step == string(codat.StepDone) }

// rejected reports whether the entry ends with Codat refusing the token.
func (e *Record) rejected() bool { return e.Step == stepFailed && e.Result == StatusTokenRejected }

// tokenSent reports whether a token was sent (or may have been) in the
// state the entry records: past the token step, a PUT whose outcome is
// unknown (TokenSent, or the send intent TokenSend journaled before the PUT
// left), or an attempt that replaces a token (Relink: one was sent before).
func (e *Record) tokenSent() bool {
	return e.pastToken() || e.AlreadyMigrated || e.Relink || e.TokenSent || e.TokenSend != nil
}

// sendUnknown reports whether the entry records a token PUT whose outcome
// is unknown: the token may be installed, or not.
func (e *Record) sendUnknown() bool {
	return !e.pastToken() && (e.TokenSent || e.TokenSend != nil)
}

// pastToken reports whether the recorded steps include the token PUT.
func (e *Record) pastToken() bool {
	for _, s := range e.Steps {
		if s == codat.StepAuthorize || s == codat.StepVerify || s == codat.StepDone {
			return true
		}
	}
	return false
}

// done reports whether the recorded steps include s.
func (e *Record) done(s codat.Step) bool {
	for _, d := range e.Steps {
		if d == s {
			return true
		}
	}
	return false
}

// canaryFailed reports whether the entry ends a canary that did not pass
// although its migration finished (sync errors).
func (e *Record) canaryFailed() bool { return e.finished() && e.Verdict == verdictFailed }

// outcome is the status a ref's last entry stands for, in a journal summary.
func (e *Record) outcome() Status {
	switch {
	case e.canaryFailed():
		return StatusFailed
	case e.finished() && e.AlreadyMigrated:
		return StatusAlreadyMigrated
	case e.finished():
		return StatusMigrated
	case e.Step == stepFailed && e.Result != "":
		return e.Result
	}
	return StatusIncomplete
}

// result is the codat.MigrationResult the entry records, for Migration.Resume.
func (e *Record) result() *codat.MigrationResult {
	return &codat.MigrationResult{Ref: e.Ref, CompanyID: e.CompanyID, ConnectionID: e.ConnectionID,
		Status: codat.ConnectionStatus(e.Status), LinkURL: e.LinkURL, Steps: append([]codat.Step(nil), e.Steps...),
		AlreadyMigrated: e.AlreadyMigrated, TokenSent: e.TokenSent, PlatformKey: e.PlatformKey, TokenSend: e.TokenSend,
		KeyGen: maps.Clone(e.KeyGen)}
}

// span locates a ref's latest attempt in the journal file: from its first
// line to the end of its latest line (one line in a version 1 journal).
type span struct {
	off int64
	n   int64
}

// journal is an open journal: the file, held under an exclusive lock, and an
// index from each ref (as a compact key) to its latest line.
type journal struct {
	path   string
	f      *os.File
	unlock func() error

	mu      sync.Mutex
	cond    *sync.Cond
	size    int64
	index   map[key]span
	tenants map[key]span // tenant → the latest line of the ref it was migrated under
	// loadedOnly: append updates the index and tenants only for refs and
	// tenants they already hold (see Run), so that they do not grow with
	// the lines this process writes.
	loadedOnly bool
	canary     *canaryTrack
	written    uint64
	synced     uint64
	syncing    bool
	failed     error // a write or sync failed: the journal no longer reflects reality

	v1    bool                 // the file was opened with a version 1 header
	codec *codecState          // link templates and run times, for the line format
	open  map[key]*openAttempt // the attempts this process is journaling
	inUse []bool               // handles of open attempts
}

// openAttempt is an attempt this process is journaling: its handle, its
// latest Record and the offset of its first line.
type openAttempt struct {
	h       int
	prev    *Record
	start   int64
	startMs int64 // the time of its first line (Unix milliseconds)
}

// ErrJournalLocked is returned when another run holds the journal.
var ErrJournalLocked = errors.New("bulk: the journal is in use by another run")

// ErrNotJournal is returned when the journal path names a non-empty file
// that is not a journal (it lacks journalHeader); the file is left untouched.
var ErrNotJournal = errors.New("bulk: the file is not a codat-migrate journal")

// journalHeader is the first line of every journal: it marks the file as
// one, so that a path given by mistake (an export, a report) is refused and
// never written to.
// Version 2 is the compact line format (journalcodec.go); a version 1
// journal (every line a whole Record) is still read, and its header is
// rewritten to version 2 when a run opens it to write.
const journalHeader = `{"codatMigrateJournal":2}` + "\n"

// journalHeaderV1 is the header of a version 1 journal.
const journalHeaderV1 = `{"codatMigrateJournal":1}` + "\n"

// openJournal opens (creating it, mode 0600) and locks the journal at path,
// loads its index, and cuts a torn last line left by a crash. An existing
// non-empty file that does not start with journalHeader is refused
// (ErrNotJournal) and left as it was: nothing is written, truncated or
// chmod-ed before the file is known to be a journal.
func openJournal(path string) (*journal, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("bulk: open journal: %w", err)
	}
	unlock, err := lockFile(f)
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	j := &journal{path: path, f: f, unlock: unlock, open: map[key]*openAttempt{}}
	j.cond = sync.NewCond(&j.mu)
	fail := func(err error) (*journal, error) {
		_ = unlock()
		_ = f.Close()
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		return fail(fmt.Errorf("bulk: journal: %w", err))
	}
	if !st.Mode().IsRegular() {
		return fail(fmt.Errorf("%w: %s is not a regular file", ErrNotJournal, path))
	}
	if st.Size() == 0 || tornHeader(f, st.Size()) {
		// New, or a creation cut short while writing the header: nothing
		// was journaled yet.
		if err := f.Truncate(0); err != nil {
			return fail(fmt.Errorf("bulk: write journal: %w", err))
		}
		if _, err := f.WriteAt([]byte(journalHeader), 0); err != nil {
			return fail(fmt.Errorf("bulk: write journal: %w", err))
		}
		if err := f.Sync(); err != nil {
			return fail(fmt.Errorf("bulk: sync journal: %w", err))
		}
	} else if err := checkHeader(f, path); err != nil {
		return fail(err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return fail(fmt.Errorf("bulk: journal: %w", err))
	}
	sum, good, err := scanJournal(f, j)
	if err != nil {
		return fail(err)
	}
	// A journal created by someone else with a wider mode is narrowed, now
	// that it is known to be one.
	if st.Mode().Perm()&0o077 != 0 {
		if err := f.Chmod(0o600); err != nil {
			return fail(fmt.Errorf("bulk: journal mode: %w", err))
		}
	}
	if sum.TornTail {
		// The last write was cut short: it recorded nothing complete, and
		// the migration it described resumes from the line before.
		if err := f.Truncate(good); err != nil {
			return fail(fmt.Errorf("bulk: cut torn journal line: %w", err))
		}
		if err := f.Sync(); err != nil {
			return fail(fmt.Errorf("bulk: journal: %w", err))
		}
	}
	if j.v1 {
		// A version 1 journal: its lines stay as they are, the lines
		// appended from now on are in the version 2 format. The header has
		// the same length; rewriting it is one small write.
		if _, err := f.WriteAt([]byte(journalHeader), 0); err != nil {
			return fail(fmt.Errorf("bulk: write journal: %w", err))
		}
		if err := f.Sync(); err != nil {
			return fail(fmt.Errorf("bulk: sync journal: %w", err))
		}
	}
	j.size = good
	if _, err := f.Seek(good, io.SeekStart); err != nil {
		return fail(fmt.Errorf("bulk: journal: %w", err))
	}
	return j, nil
}

// tornHeader reports whether the file, of size n, holds a strict prefix of
// journalHeader and nothing else.
func tornHeader(f *os.File, n int64) bool {
	if n >= int64(len(journalHeader)) {
		return false
	}
	buf := make([]byte, n)
	if _, err := f.ReadAt(buf, 0); err != nil {
		return false
	}
	return journalHeader[:n] == string(buf) || journalHeaderV1[:n] == string(buf)
}

// checkHeader reports whether the file at path, open as f, starts with
// journalHeader (ErrNotJournal otherwise).
func checkHeader(f *os.File, path string) error {
	buf := make([]byte, len(journalHeader))
	n, err := f.ReadAt(buf, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("bulk: read journal: %w", err)
	}
	if h := string(buf[:n]); h != journalHeader && h != journalHeaderV1 {
		return fmt.Errorf("%w: %s does not start with the journal header; it was left untouched (give --journal a new path)", ErrNotJournal, path)
	}
	return nil
}

// scanJournal reads every line of r. With j set, it fills j's index. It
// returns the summary, the length of the well-formed prefix, and an error
// for a corrupt line that is not the last.
func scanJournal(r io.Reader, j *journal) (*JournalSummary, int64, error) {
	sum := &JournalSummary{Counts: map[Status]int{}}
	ct := newCanaryTrack()
	codec := newCodecState()
	if j != nil {
		j.index, j.tenants, j.canary, j.codec = map[key]span{}, map[key]span{}, ct, codec
	}
	dec := newLineDecoder(codec)
	outcomes := map[key]refOutcome{}
	finish := func() *JournalSummary {
		sum.CanaryPassed, sum.CanaryFailed = ct.passed, ct.failed
		return finishSummary(sum, outcomes)
	}
	br := bufio.NewReaderSize(r, 64<<10)
	var off int64
	for n := 1; ; n++ {
		b, err := readBoundedLine(br, maxJournalLine)
		if errors.Is(err, errLineTooLong) {
			return nil, 0, fmt.Errorf("bulk: journal line %d is longer than %d bytes: the file is not a journal", n, maxJournalLine)
		}
		if n == 1 && len(b) > 0 {
			switch string(b) {
			case journalHeader:
			case journalHeaderV1:
				if j != nil {
					j.v1 = true
				}
			default:
				return nil, 0, fmt.Errorf("%w: it does not start with the journal header", ErrNotJournal)
			}
			off += int64(len(b))
			continue
		}
		if len(b) > 0 && (err != nil || b[len(b)-1] != '\n') {
			// No newline at the end of the file: a torn write.
			sum.TornTail = true
			return finish(), off, nil
		}
		if errors.Is(err, io.EOF) {
			return finish(), off, nil
		}
		if err != nil {
			return nil, 0, fmt.Errorf("bulk: read journal: %w", err)
		}
		e, start, jerr := dec.decode(b, off)
		if jerr != nil {
			if _, perr := br.Peek(1); errors.Is(perr, io.EOF) {
				// A complete but garbled last line is a torn write too.
				sum.TornTail = true
				return finish(), off, nil
			}
			return nil, 0, fmt.Errorf("bulk: journal line %d is corrupt; the journal cannot be trusted to resume from", n)
		}
		sum.Lines++
		sum.add(e)
		ct.add(e)
		if e.Ref != "" && e.Event == "" {
			rk := refKey(e.Ref)
			outcomes[rk] = refOutcome{status: e.outcome(), requests: e.Requests}
			if j != nil {
				sp := span{off: start, n: off + int64(len(b)) - start}
				j.index[rk] = sp
				if e.Tenant != "" {
					j.tenants[tenantKey(e.Tenant)] = sp
				}
			}
		}
		off += int64(len(b))
	}
}

// get returns the latest entry of ref, or nil.
func (j *journal) get(ref string) (*Record, error) {
	j.mu.Lock()
	sp, ok := j.index[refKey(ref)]
	j.mu.Unlock()
	if !ok {
		return nil, nil
	}
	e, err := j.read(sp)
	if err != nil {
		return nil, err
	}
	if e.Ref != ref {
		return nil, fmt.Errorf("bulk: journal index mismatch for a ref (hash collision)")
	}
	return e, nil
}

// read reads and decodes the latest Record of the attempt at sp.
func (j *journal) read(sp span) (*Record, error) {
	buf := make([]byte, sp.n)
	if _, err := j.f.ReadAt(buf, sp.off); err != nil {
		return nil, fmt.Errorf("bulk: read journal: %w", err)
	}
	j.mu.Lock()
	snap := codecState{templates: j.codec.templates, runs: j.codec.runs}
	j.mu.Unlock()
	e, err := snap.decodeAttempt(buf, sp.off)
	if err != nil {
		return nil, fmt.Errorf("bulk: read journal: line at offset %d is corrupt", sp.off)
	}
	return e, nil
}

// tenantRef returns the ref tenant (a tenantHash) was journaled under, or "".
func (j *journal) tenantRef(tenant string) (string, error) {
	if tenant == "" {
		return "", nil
	}
	j.mu.Lock()
	sp, ok := j.tenants[tenantKey(tenant)]
	j.mu.Unlock()
	if !ok {
		return "", nil
	}
	e, err := j.read(sp)
	if err != nil {
		return "", err
	}
	if e.Tenant != tenant {
		return "", fmt.Errorf("bulk: journal index mismatch for a tenant (hash collision)")
	}
	return e.Ref, nil
}

// canaryState returns whether a canary cohort passed in an earlier run, how
// many canaries passed towards the next cohort, and whether the last canary
// verdict was a failure.
func (j *journal) canaryState() (passed bool, passes int, failed bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.canary.passed, len(j.canary.passes), j.canary.failed
}

// canaryTrack follows the canary verdicts in journal order. A cohort that
// passed opens the gate for good. A canary that failed closes it until a
// new cohort passes: only canaries that passed in a run after the last
// failure count towards that cohort, and the failed canary never does.
type canaryTrack struct {
	run     int  // runs seen (eventRun lines)
	failRun int  // the run of the last failure
	passed  bool // a cohort passed and nothing failed since
	failed  bool // the last verdict was a failure
	passes  map[key]struct{}
}

func newCanaryTrack() *canaryTrack { return &canaryTrack{passes: map[key]struct{}{}} }

func (c *canaryTrack) add(e *Record) {
	switch {
	case e.Event == eventRun:
		c.run++
	case e.Event == eventCanaryPassed:
		c.passed, c.failed = true, false
	case e.Event == eventCanaryFailed:
		c.fail()
	case e.Event != "" || e.Ref == "":
	case e.Verdict == verdictFailed:
		c.fail()
	case e.Verdict == verdictPassed || e.Verdict == "" && e.Canary && e.finished():
		// (A finished canary without a verdict is from a journal written
		// before verdicts were recorded; its cohort's canary-failed event,
		// if any, follows it.)
		if !c.failed || c.run > c.failRun {
			c.passes[refKey(e.Ref)] = struct{}{}
		}
	}
}

func (c *canaryTrack) fail() {
	c.passed, c.failed, c.failRun = false, true, c.run
	clear(c.passes)
}

// append writes e as one line and returns once it is on disk. Concurrent
// appends share fsyncs.
func (j *journal) append(e *Record) error {
	refLine := e.Ref != "" && e.Event == ""
	var b []byte
	var err error
	if !refLine {
		if b, err = json.Marshal(e); err != nil {
			return fmt.Errorf("bulk: journal: %w", err)
		}
		b = append(b, '\n')
	}
	j.mu.Lock()
	if j.failed != nil {
		j.mu.Unlock()
		return j.failed
	}
	var a *openAttempt
	var w *wireRec
	if refLine {
		if b, a, w, err = j.encodeRef(e); err != nil {
			j.mu.Unlock()
			return fmt.Errorf("bulk: journal: %w", err)
		}
	}
	if _, err := j.f.Write(b); err != nil {
		j.failed = fmt.Errorf("bulk: write journal: %w", err)
		j.mu.Unlock()
		return j.failed
	}
	if refLine {
		j.noteRef(e, a, w, int64(len(b)))
	} else {
		j.codec.note(j.size, e, nil)
	}
	j.canary.add(e)
	j.size += int64(len(b))
	j.written++
	err = j.syncTo(j.written)
	j.mu.Unlock()
	return err
}

// encodeRef encodes e, a ref's line, as the next line of the ref's open
// attempt, or as the first line of a new attempt (which is then open) when
// it has none. It returns the line, the attempt and the line's changes.
// Called with j.mu held.
func (j *journal) encodeRef(e *Record) ([]byte, *openAttempt, *wireRec, error) {
	rk := refKey(e.Ref)
	a := j.open[rk]
	fresh := a == nil || a.prev == nil || a.prev.Ref != e.Ref
	if fresh {
		a = &openAttempt{h: j.handle(), start: j.size}
	}
	var prev *Record
	if !fresh {
		prev = a.prev
	}
	b, w, err := j.codec.encodeRefLine(a.h, e, prev, j.size, a.startMs)
	if err != nil {
		if fresh {
			j.inUse[a.h] = false
		}
		return nil, nil, nil, err
	}
	if fresh {
		if old := j.open[rk]; old != nil {
			j.inUse[old.h] = false // a hash collision: the other ref starts afresh
		}
		j.open[rk] = a
	}
	return b, a, w, nil
}

// noteRef records e, a ref's line of n bytes just written at j.size as
// part of attempt a: in the codec state, in a (closing it when e ends it),
// and in the index and tenants. Called with j.mu held.
func (j *journal) noteRef(e *Record, a *openAttempt, w *wireRec, n int64) {
	rk := refKey(e.Ref)
	j.codec.note(j.size, nil, w)
	sp := span{off: a.start, n: j.size + n - a.start}
	c := *e
	if a.prev == nil {
		a.startMs = e.Time.UnixMilli()
	}
	a.prev = &c
	if e.Step == stepFailed || e.Step == string(codat.StepDone) {
		j.closeAttempt(rk)
	}
	if _, known := j.index[rk]; known || !j.loadedOnly {
		j.index[rk] = sp
	}
	if e.Tenant != "" {
		tk := tenantKey(e.Tenant)
		if _, known := j.tenants[tk]; known || !j.loadedOnly {
			j.tenants[tk] = sp
		}
	}
}

// syncTo returns once the first seq lines written are on disk, or a write
// or sync failed (the error it returns). One append at a time syncs; the
// others wait for it. Called with j.mu held, which it releases while
// syncing.
func (j *journal) syncTo(seq uint64) error {
	for j.synced < seq && j.failed == nil {
		if j.syncing {
			j.cond.Wait()
			continue
		}
		j.syncing = true
		target := j.written
		j.mu.Unlock()
		err := j.f.Sync()
		j.mu.Lock()
		j.syncing = false
		if err != nil {
			j.failed = fmt.Errorf("bulk: sync journal: %w", err)
		} else if target > j.synced {
			j.synced = target
		}
		j.cond.Broadcast()
	}
	return j.failed
}

// handle returns the lowest handle no open attempt holds, and takes it.
// Called with j.mu held.
func (j *journal) handle() int {
	for h, used := range j.inUse {
		if !used {
			j.inUse[h] = true
			return h
		}
	}
	j.inUse = append(j.inUse, true)
	return len(j.inUse) - 1
}

// closeAttempt ends the open attempt of rk (its next line starts a new
// one) and frees its handle. Called with j.mu held.
func (j *journal) closeAttempt(rk key) {
	if a := j.open[rk]; a != nil {
		j.inUse[a.h] = false
		delete(j.open, rk)
	}
}

// The journal is the file Store: the process holds it under a lock, so its
// claims never conflict and last as long as the lock.
var _ Store = (*journal)(nil)

// Get implements Store.
func (j *journal) Get(_ context.Context, ref string) (*Record, error) { return j.get(ref) }

// TenantRef implements Store.
func (j *journal) TenantRef(_ context.Context, tenant string) (string, error) {
	return j.tenantRef(tenant)
}

// Claim implements Store: the lock on the file is the claim.
func (j *journal) Claim(_ context.Context, ref string) (Claim, error) {
	return Claim{Ref: ref, Token: 1}, nil
}

// Release implements Store: the ref's next line starts a new attempt.
func (j *journal) Release(_ context.Context, c Claim) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if a := j.open[refKey(c.Ref)]; a != nil && a.prev != nil && a.prev.Ref == c.Ref {
		j.closeAttempt(refKey(c.Ref))
	}
	return nil
}

// Append implements Store.
func (j *journal) Append(_ context.Context, _ Claim, rec *Record) error { return j.append(rec) }

// Canary implements Store.
func (j *journal) Canary(context.Context) (CanaryState, error) {
	passed, passes, failed := j.canaryState()
	return CanaryState{Passed: passed, Passes: passes, Failed: failed}, nil
}

// Close implements Store.
func (j *journal) Close() error { return j.close() }

func (j *journal) close() error {
	if j == nil || j.f == nil {
		return nil
	}
	err := j.unlock()
	return errors.Join(err, j.f.Close())
}

// JournalSummary describes a journal, for `codat-migrate status`.
type JournalSummary struct {
	// Path is the journal file, or with Store the name of the store's run.
	Path string
	// Store: the summary is of a shared store's run (see SummaryBuilder).
	Store bool
	// Lines is the number of complete lines.
	Lines int
	// Refs is the number of distinct refs the journal knows.
	Refs int
	// Counts is the latest outcome of each ref: migrated, already-migrated,
	// token-rejected, failed, pending-quota, incomplete (started, not
	// finished) or token-changed.
	Counts map[Status]int
	// Requests is the number of HTTP requests the journaled migrations sent
	// (the cumulative count on each ref's latest line).
	Requests int
	// CanaryPassed reports whether a canary cohort passed (and no canary
	// failed since).
	CanaryPassed bool
	// CanaryFailed reports whether the last canary verdict was a failure:
	// the next run migrates a new canary cohort first, and the rest only if
	// it passes.
	CanaryFailed bool
	// First and Last are the times of the first and last lines.
	First, Last time.Time
	// QuotaReset is the reset time of the last stop for quota, if any.
	QuotaReset time.Time
	// TornTail reports a cut-short last line (a crash during a write); the
	// next run drops it and resumes from the line before.
	TornTail bool
	// Runs is the number of runs that wrote to the journal.
	Runs int
	// Running reports that a run held the journal (or the shared store's
	// claims) when it was read: its refs counted incomplete are in
	// progress, not interrupted.
	Running bool
	// InProgress is the number of refs a running runner holds now (a
	// shared store; for a journal, every incomplete ref while Running).
	InProgress int
	// Runners is the number of live runners of a shared store's run (zero
	// for a journal).
	Runners int
}

// Resumable is the number of refs a rerun would continue.
func (s *JournalSummary) Resumable() int {
	n := 0
	for st, c := range s.Counts {
		if st.Resumable() {
			n += c
		}
	}
	return n
}

func (s *JournalSummary) add(e *Record) {
	if s.First.IsZero() || e.Time.Before(s.First) {
		s.First = e.Time
	}
	if e.Time.After(s.Last) {
		s.Last = e.Time
	}
	switch e.Event {
	case eventRun:
		s.Runs++
	case eventQuota:
		if e.Reset != nil {
			s.QuotaReset = *e.Reset
		}
	}
}

type refOutcome struct {
	status   Status
	requests int
}

func finishSummary(s *JournalSummary, outcomes map[key]refOutcome) *JournalSummary {
	s.Refs = len(outcomes)
	for _, o := range outcomes {
		s.Counts[o.status]++
		s.Requests += o.requests
	}
	return s
}

// ReadJournal reads the journal at path without changing it, for
// `codat-migrate status`. A torn last line is tolerated (TornTail).
func ReadJournal(path string) (*JournalSummary, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("bulk: read journal: %w", err)
	}
	defer f.Close()
	sum, _, err := scanJournal(f, nil)
	if err != nil {
		return nil, err
	}
	sum.Path = path
	if sum.Running, err = journalInUse(path); err != nil {
		return nil, err
	}
	if sum.Running {
		sum.InProgress = sum.Counts[StatusIncomplete]
	}
	return sum, nil
}
