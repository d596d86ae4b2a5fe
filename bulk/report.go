package bulk

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
)

// Status is the outcome of one input row.
type Status string

const (
	// StatusMigrated: the company and connection exist in Codat and the
	// connection is Linked (this run sent the token).
	StatusMigrated Status = "migrated"
	// StatusAlreadyMigrated: nothing was sent for this row: the journal says
	// an earlier run finished it, or the connection was already Linked.
	StatusAlreadyMigrated Status = "already-migrated"
	// StatusValid: the row passed every offline check (Validate only).
	StatusValid Status = "valid"
	// StatusInvalid: the row cannot be used; Error says why. Nothing was sent.
	StatusInvalid Status = "invalid"
	// StatusDuplicate: the ref, or the tenant behind the token, appears in
	// another row (or in the journal under another ref). Nothing was sent.
	StatusDuplicate Status = "duplicate"
	// StatusTokenChanged: the journal says this ref was migrated, or its
	// token sent, with a token whose fingerprint differs from the row's. The
	// new token was not sent (Runner.Relink sends it).
	StatusTokenChanged Status = "token-changed"
	// StatusTokenRejected: Codat did not accept the token; LinkURL is where
	// the customer can re-link. A rerun with the same token sends nothing; a
	// rerun with a new token sends it.
	StatusTokenRejected Status = "token-rejected"
	// StatusFailed: the migration failed; the journal holds how far it got,
	// and a rerun resumes it.
	StatusFailed Status = "failed"
	// StatusIncomplete: the migration was started and interrupted (the run
	// was cancelled, or Runner.StopGrace ran out after Runner.Stop); a rerun
	// resumes it.
	StatusIncomplete Status = "incomplete"
	// StatusPendingQuota: the daily quota ran out before the row was
	// finished; a rerun after the reset resumes it.
	StatusPendingQuota Status = "pending-quota"
	// StatusNotStarted: the run stopped (failed canary, Stop, cancellation, a
	// fatal error) before this row was attempted.
	StatusNotStarted Status = "not-started"
)

// Resumable reports whether a rerun with the same journal would send
// requests for a row with this status.
func (s Status) Resumable() bool {
	switch s {
	case StatusFailed, StatusIncomplete, StatusPendingQuota, StatusNotStarted:
		return true
	}
	return false
}

// ReportRow is one line of the report: the outcome of one input row. It never
// holds a token.
type ReportRow struct {
	Line         int    `json:"line"`
	Ref          string `json:"ref"`
	CompanyName  string `json:"companyName"`
	Platform     string `json:"platform"`
	Status       Status `json:"status"`
	CompanyID    string `json:"companyId,omitempty"`
	ConnectionID string `json:"connectionId,omitempty"`
	// LinkURL is where the customer must re-link (token rejected).
	LinkURL string `json:"linkUrl,omitempty"`
	// ErrorClass is a short machine-readable class of Error, one of the
	// ErrorClass constants (ClassInvalid, ClassQuota, ...).
	ErrorClass string `json:"errorClass,omitempty"`
	Error      string `json:"error,omitempty"`
	// Requests is the number of HTTP requests this run sent for the row.
	Requests int `json:"requests"`
	// InputCompanyName is the company name as the input has it, when Codat
	// stores another (CompanyName: see codat.CompanyName).
	InputCompanyName string `json:"inputCompanyName,omitempty"`
}

// ReportWriter receives one ReportRow per input row. Runner calls Write from
// one goroutine at a time; the caller closes the writer after Run returns
// (Close completes the file, e.g. the closing bracket of a JSON array).
//
// A writer that also has an Open() error method prepares its destination
// only when told to: Run calls Open once it holds the journal lock, before
// the first Write, so that a second run refused with ErrJournalLocked leaves
// the first run's report alone (Validate calls it before its first Write
// too). CreateReport's writers have it, and Write opens them itself if Open
// was not called. A writer that wraps another passes Open on.
type ReportWriter interface {
	Write(ReportRow) error
	Close() error
}

var reportHeader = []string{"line", "ref", "company_name", "platform", "status", "company_id", "connection_id",
	"link_url", "error_class", "error", "requests", "input_company_name"}

type csvReport struct {
	mu     sync.Mutex
	w      *csv.Writer
	closer io.Closer
	header bool
}

// NewCSVReport writes the report as CSV with a header line to w. Close
// flushes it (and does not close w).
func NewCSVReport(w io.Writer) ReportWriter { return &csvReport{w: csv.NewWriter(w)} }

func (r *csvReport) Write(row ReportRow) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.header {
		r.header = true
		if err := r.w.Write(reportHeader); err != nil {
			return err
		}
	}
	// Every text cell is defused, the ones Codat's answers fill (ids, the
	// link URL) as much as the input's.
	err := r.w.Write([]string{strconv.Itoa(row.Line), csvSafe(row.Ref), csvSafe(row.CompanyName), csvSafe(row.Platform),
		csvSafe(string(row.Status)), csvSafe(row.CompanyID), csvSafe(row.ConnectionID), csvSafe(row.LinkURL),
		csvSafe(row.ErrorClass), csvSafe(row.Error), strconv.Itoa(row.Requests), csvSafe(row.InputCompanyName)})
	if err != nil {
		return err
	}
	// Flush every row: the report is for humans watching a long run, and a
	// crash must not lose the rows already decided.
	r.w.Flush()
	return r.w.Error()
}

func (r *csvReport) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.header {
		r.header = true
		_ = r.w.Write(reportHeader)
	}
	r.w.Flush()
	err := r.w.Error()
	if r.closer != nil {
		err = errors.Join(err, r.closer.Close())
		r.closer = nil
	}
	return err
}

// csvSafe defuses spreadsheet formulas: a cell whose first character that
// is not a space is one of = + - @ (or that starts with a tab, a carriage
// return or a line feed) is prefixed with a quote, as spreadsheet programs
// would otherwise evaluate it.
func csvSafe(s string) string {
	t := strings.TrimLeft(s, " ")
	if t != "" && strings.ContainsRune("=+-@\t\r\n", rune(t[0])) {
		return "'" + s
	}
	return s
}

type jsonReport struct {
	mu     sync.Mutex
	w      *bufio.Writer
	closer io.Closer
	n      int
	lines  bool // JSON Lines instead of one array
	closed bool
}

// NewJSONReport writes the report as one JSON array, element by element, so
// it is never held in memory; Close writes the closing bracket (and does not
// close w).
func NewJSONReport(w io.Writer) ReportWriter { return &jsonReport{w: bufio.NewWriter(w)} }

// NewJSONLReport writes the report as JSON Lines: one object per line.
func NewJSONLReport(w io.Writer) ReportWriter { return &jsonReport{w: bufio.NewWriter(w), lines: true} }

func (r *jsonReport) Write(row ReportRow) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return errors.New("bulk: report is closed")
	}
	b, err := json.Marshal(row)
	if err != nil {
		return err
	}
	switch {
	case r.lines:
	case r.n == 0:
		_, _ = r.w.WriteString("[\n")
	default:
		_, _ = r.w.WriteString(",\n")
	}
	r.n++
	_, _ = r.w.Write(b)
	if r.lines {
		_ = r.w.WriteByte('\n')
	}
	return r.w.Flush()
}

func (r *jsonReport) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil
	}
	r.closed = true
	if !r.lines {
		if r.n == 0 {
			_, _ = r.w.WriteString("[]\n")
		} else {
			_, _ = r.w.WriteString("\n]\n")
		}
	}
	err := r.w.Flush()
	if r.closer != nil {
		err = errors.Join(err, r.closer.Close())
	}
	return err
}

// openReport calls rep's Open, if it has one (see ReportWriter).
func openReport(rep ReportWriter) error {
	if o, ok := rep.(interface{ Open() error }); ok {
		if err := o.Open(); err != nil {
			return fmt.Errorf("bulk: report: %w", err)
		}
	}
	return nil
}

// CreateReport prepares the file at path (created mode 0600 if missing) and
// returns a writer in the format its extension names: .csv, .json (one JSON
// array) or .jsonl/.ndjson. Close also closes the file.
//
// The file is checked to be writable at once, but an existing file is not
// truncated until the writer is opened (see ReportWriter: Run does it once it
// holds the journal lock) or first written to. Closed without being opened,
// the writer leaves an existing file as it was and removes a file it
// created, so a run that never started (ErrJournalLocked: another run is
// using the journal) does not wipe that run's report.
func CreateReport(path string) (ReportWriter, error) {
	ext := strings.ToLower(filepath.Ext(path))
	switch ext {
	case ".csv", ".json", ".jsonl", ".ndjson":
	default:
		return nil, fmt.Errorf("bulk: report %q: want a .csv, .json or .jsonl file", filepath.Base(path))
	}
	created := true
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		created = false
		f, err = os.OpenFile(path, os.O_WRONLY, 0o600)
	}
	if err != nil {
		return nil, fmt.Errorf("bulk: create report: %w", err)
	}
	return &fileReport{path: path, ext: ext, f: f, created: created}, nil
}

// fileReport is CreateReport's writer: the file, opened for writing, and
// the format writer made over it by Open.
type fileReport struct {
	mu      sync.Mutex
	path    string
	ext     string
	f       *os.File
	created bool // the file did not exist before CreateReport
	w       ReportWriter
	closed  bool
}

// Open truncates the file and starts the report. Calling it again does
// nothing.
func (r *fileReport) Open() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.openLocked()
}

func (r *fileReport) openLocked() error {
	switch {
	case r.closed:
		return errors.New("bulk: report is closed")
	case r.w != nil:
		return nil
	}
	if err := r.f.Truncate(0); err != nil {
		return fmt.Errorf("bulk: create report: %w", err)
	}
	if _, err := r.f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("bulk: create report: %w", err)
	}
	switch r.ext {
	case ".csv":
		r.w = &csvReport{w: csv.NewWriter(r.f), closer: r.f}
	case ".json":
		r.w = &jsonReport{w: bufio.NewWriter(r.f), closer: r.f}
	default:
		r.w = &jsonReport{w: bufio.NewWriter(r.f), closer: r.f, lines: true}
	}
	return nil
}

func (r *fileReport) Write(row ReportRow) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.openLocked(); err != nil {
		return err
	}
	return r.w.Write(row)
}

// Close completes and closes the report; an unopened one is left as it was
// (and removed if CreateReport created it).
func (r *fileReport) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil
	}
	r.closed = true
	if r.w != nil {
		return r.w.Close()
	}
	err := r.f.Close()
	if r.created {
		err = errors.Join(err, os.Remove(r.path))
	}
	return err
}

// DiscardReport is a ReportWriter that drops every row (Plan-like runs whose
// caller wants only the Summary).
var DiscardReport ReportWriter = discard{}

type discard struct{}

func (discard) Write(ReportRow) error { return nil }
func (discard) Close() error          { return nil }

// maxHeldRows bounds the report rows held back to keep the report in input
// order: when that many rows decided after a migration still in flight are
// waiting for it, the run reads no further row until it ends.
const maxHeldRows = 4096

// orderedReport writes rows to a ReportWriter in input order. Run decides
// rows out of order (a migration in flight is reported when it ends, the
// rows after it at once); each row reserves its place when it is read and
// is written once every row before it has been. At most maxHeldRows rows
// wait in memory.
type orderedReport struct {
	mu   sync.Mutex
	cond *sync.Cond
	next ReportWriter
	seq  int // the next place to reserve
	head int // the next place to write
	held map[int]ReportRow
	err  error // the first write error
}

func newOrderedReport(next ReportWriter) *orderedReport {
	o := &orderedReport{next: next, held: map[int]ReportRow{}}
	o.cond = sync.NewCond(&o.mu)
	return o
}

// reserve returns the next row's place. It waits while maxHeldRows rows
// are held.
func (o *orderedReport) reserve() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	for len(o.held) >= maxHeldRows {
		o.cond.Wait()
	}
	o.seq++
	return o.seq - 1
}

// write records the row of place seq and writes every row whose turn has
// come. It returns the first write error of the report.
func (o *orderedReport) write(seq int, r ReportRow) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.held[seq] = r
	for {
		r, ok := o.held[o.head]
		if !ok {
			break
		}
		delete(o.held, o.head)
		o.head++
		if err := o.next.Write(r); err != nil && o.err == nil {
			o.err = err
		}
	}
	o.cond.Broadcast()
	return o.err
}
