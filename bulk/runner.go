package bulk

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/codat-migrate/codat"
	"github.com/codat-migrate/codat/integrations"
)

// Defaults of Runner's fields.
const (
	DefaultConcurrency            = 4
	DefaultCanary                 = 1
	DefaultMaxConsecutiveFailures = 25
)

// Runner migrates many companies: every row of an input becomes one
// codat.Client.Migrate call, journaled, paced to Codat's quota, behind a
// canary cohort, and reported exactly once. The zero value plus a Client
// and a JournalPath is ready to use. A Runner is not modified by its
// methods and may be reused, until Stop is called (from any goroutine) to
// end its run cleanly.
type Runner struct {
	// Client sends the requests. Give it codat.WithRequestRate to pace
	// requests as well as starts.
	Client *codat.Client
	// Registry turns rows into authorizations (nil: integrations.Default()).
	Registry *integrations.Registry
	// JournalPath is the journal file (created mode 0600). Run requires one;
	// a rerun with the same path resumes. Plan reads it when set.
	JournalPath string
	// Store, when set, keeps the run's state instead of the journal at
	// JournalPath (a shared store, say: package pgstore). The caller opens
	// and closes it; Run and Plan only use it. A Store that is an
	// IndexStore (pgstore's is) also keeps the index of the input's first
	// read, for Validate too: a run's memory then does not grow with the
	// input.
	Store Store
	// Concurrency is the number of migrations in flight (0: 4).
	Concurrency int
	// Canary is the number of migrations run first with codat.SyncWait; the
	// rest start only if every one ends Linked with its first sync complete
	// (0: 1; negative: no canary). Canaries that passed in an earlier run
	// with the same journal count, and once a cohort has passed no more
	// canaries run. A canary that failed is not retried by a rerun: it is
	// reported failed again, and the rerun migrates a new cohort of Canary
	// other rows first, starting the rest only if that cohort passes.
	Canary int
	// Sync is the sync mode of the migrations after the canaries.
	Sync codat.SyncMode
	// WaitInterval is the dataStatus poll interval of codat.SyncWait migrations
	// (canaries): codat.Migration.WaitInterval (0: its default).
	WaitInterval time.Duration
	// SettleWindow is codat.Migration.SettleWindow: how long after a token
	// PUT whose outcome is unknown a resume waits before it may send the
	// token again (0: codat.DefaultSettleWindow).
	SettleWindow time.Duration
	// WaitForQuota makes Run sleep until the daily quota resets instead of
	// stopping with a *QuotaError. Stop ends the sleep.
	//
	// A 429 that outlasts the client's retries stops the run until the
	// daily reset only when the quota is spent (the snapshot shows no
	// request remaining, or Retry-After reaches the reset). Any other 429
	// (the per-minute limit, say) pauses new starts for its Retry-After and
	// retries the migration, with or without WaitForQuota, when that is at
	// most MaxRateLimitPause; a longer one stops the run like a spent quota,
	// with the Retry-After as the reset.
	WaitForQuota bool
	// StopGrace bounds how long the migrations in flight when Stop is
	// called may go on before their context is cancelled and they are
	// reported incomplete (0: DefaultStopGrace; negative: no bound but
	// Run's context).
	StopGrace time.Duration
	// Relink sends a row's token even though the journal says the ref was
	// migrated (or its token sent) with a different one; without it such a
	// row is reported token-changed. The migration is run with
	// codat.Migration.Relink, so the token is sent even to a connection that
	// is Linked, and the intent is journaled: a rerun after a crash sends
	// the token too. (A new token for a ref whose token Codat rejected is
	// sent the same way, without Relink.)
	Relink bool
	// SkipAccountCheck turns off the account check. By default, before it
	// migrates the first row whose ref the journal does not know (and is
	// not a duplicate), Run (and Plan) lists every company of the account
	// once, 5,000 a request (GET /companies?pageSize=5000: one request per
	// 5,000 companies), and keeps, of the input refs the journal does not
	// know, those a company is already tagged with (codat.RefTagKey): memory
	// holds no more than that. Such a row is continued from that company
	// (codat.Migration.Resume: one look-up, then already-migrated or the
	// steps left) instead of creating a second company for the ref. That is
	// what protects a ref migrated by an earlier run whose journal is not
	// this one (another journal path, a lost journal, an input renamed).
	// Skip it only when the journal is known to record every earlier run
	// of these refs.
	SkipAccountCheck bool
	// RequestsPerMinute paces migration starts so that their requests stay
	// within it (0: 1,000, Codat's per-IP limit; negative: no pacing). Starts
	// are spread evenly (no burst), at 99% of the rate, so that a run at
	// the limit is not refused for a few requests over it. With a Store that
	// is a SharedPace (pgstore's is), it is the budget of all the live
	// runners that share the store's Codat account, and this runner takes
	// its share: a third of it while three run.
	RequestsPerMinute int
	// MaxConsecutiveFailures stops the run after that many failed migrations
	// in a row (0: 25; negative: never).
	MaxConsecutiveFailures int
	// OnProgress, when set, is called after every row and phase change.
	OnProgress func(Progress)
	// Logger receives one line per row (ref, status, class; never a token).
	Logger *slog.Logger

	// now and sleep are the clock (nil: the real one); tests set fakes.
	now   func() time.Time
	sleep func(ctx context.Context, d time.Duration) error
	// migrate, quota and probe replace Client's methods in tests.
	migrate  func(ctx context.Context, m codat.Migration) (*codat.MigrationResult, error)
	quota    func() codat.Quota
	probe    func(ctx context.Context) (codat.Quota, error)
	listRefs func(ctx context.Context, keep accountKeep) (map[key]string, int, error)

	// ctl is the signal of Stop (see control).
	ctl *stopControl
}

// Summary is the outcome of Run or Validate.
type Summary struct {
	// Input is the input's name.
	Input string
	// Rows is the number of input rows reported.
	Rows int
	// Counts is the number of rows per status.
	Counts map[Status]int
	// Requests is the HTTP requests the migrations sent.
	Requests int
	// AccountCheckRequests is the HTTP requests of the account check (see
	// Runner.SkipAccountCheck), not counted in Requests.
	AccountCheckRequests int
	// Started and Finished bound the run.
	Started, Finished time.Time
}

// Count returns the number of rows with status s.
func (s *Summary) Count(st Status) int { return s.Counts[st] }

// settings is a Runner with its defaults applied.
type settings struct {
	Runner
	reg *integrations.Registry
	log *slog.Logger
	ctl *stopControl
}

func (r *Runner) settings() settings {
	ctl := r.control() // first: after it, Stop no longer writes r.ctl
	s := settings{Runner: *r, reg: r.Registry, log: r.Logger, ctl: ctl}
	if s.reg == nil {
		s.reg = integrations.Default()
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.Concurrency <= 0 {
		s.Concurrency = DefaultConcurrency
	}
	if s.Canary == 0 {
		s.Canary = DefaultCanary
	}
	if s.Canary < 0 {
		s.Canary = 0
	}
	if s.MaxConsecutiveFailures == 0 {
		s.MaxConsecutiveFailures = DefaultMaxConsecutiveFailures
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.sleep == nil {
		s.sleep = sleepCtx
	}
	if s.migrate == nil && r.Client != nil {
		s.migrate = r.Client.Migrate
	}
	if s.quota == nil {
		if r.Client != nil {
			s.quota = r.Client.Quota
		} else {
			s.quota = func() codat.Quota { return codat.Quota{} }
		}
	}
	if s.probe == nil && r.Client != nil {
		c := r.Client
		s.probe = func(ctx context.Context) (codat.Quota, error) {
			// The cheapest request there is: one company, to read the
			// X-Rate-Limit-* headers of its response.
			if _, err := c.Companies.List(ctx, &codat.ListOptions{PageSize: 1}); err != nil {
				return codat.Quota{}, err
			}
			return c.Quota(), nil
		}
	}
	if s.listRefs == nil && r.Client != nil {
		s.listRefs = clientRefs(r.Client)
	}
	return s
}

// stop is why a run stopped early.
type stop struct {
	status Status // of the work rows not attempted
	err    error
	reset  time.Time
	// notDaily marks a stop for pending-quota caused by a long rate limit
	// that is not known to be the daily quota.
	notDaily bool
}

// run is one Run call.
type run struct {
	s    settings
	stop *stopping // the contexts of starts and of migrations
	in   Source
	st   Store
	// jctx is the context of the store's writes: not cancelled by a stop,
	// so that what was done is still journaled.
	jctx    context.Context
	cl      *classifier
	rep     ReportWriter
	order   *orderedReport // rep, written in input order
	gate    quotaGate      // closed while the daily quota is spent
	pause   quotaGate      // closed while a shorter rate limit lasts
	limiter *rate.Limiter
	rpm     int // the limiter's requests a minute, before a SharedPace share
	sem     chan struct{}
	wg      sync.WaitGroup
	per     int
	total   int

	mu          sync.Mutex
	sum         *Summary
	stopped     *stop
	inFlight    int
	done        int
	failed      int
	skipped     int
	consecutive int
	phase       Phase
	phaseSince  time.Time // when phase began
	canaryOpen  bool      // the canary gate is still to be judged
	canaryLeft  int       // canaries still to start
	canaryRun   int       // canaries started this run
	canaryFails []string
	fatal       error
}

// Run migrates every row of in and writes one ReportRow per row to rep.
//
// Before any request it opens and locks the journal, reads the whole input
// once (duplicates, offline checks) and opens rep (see ReportWriter). Then
// it streams the input again: rows that need no request are reported at
// once; the others are migrated through codat.Client.Migrate, Concurrency
// at a time, each step transition journaled. The first Canary migrations
// use codat.SyncWait and gate the rest. Before the first row whose ref the
// journal does not know, the account is checked for refs already in Codat
// (see SkipAccountCheck).
//
// Run returns a nil error when every row was decided, even if some failed
// (see Summary.Counts). It returns a *QuotaError when the daily quota ran out
// (rows left are pending-quota; rerun after the reset), an error wrapping
// ErrCanaryFailed, ErrTooManyFailures, codat.ErrUnauthorized (the API key
// was refused), ErrStopped (Stop was called) or the context's error when it
// stopped early, or the account check's error; the rows not attempted are
// then reported not-started, and the report is still complete. A
// migration's failure is quoted in these errors from its row's scrubbed
// message, so none holds a token even when Codat echoed one.
//
// An error reading the input or the journal before the run began means
// nothing was sent, and the Summary is nil. An error reading the input
// during the run (an I/O error; a row that differs from the first read,
// ErrInputChanged) stops it, and rows after that point are not reported.
// Rows are reported in input order: a row decided while an earlier one is
// still in flight waits for it (at most maxHeldRows of them; then reading
// pauses). The caller closes rep.
//
// There are two ways to stop early. Stop is the clean one: no new migration
// starts, those in flight finish (within StopGrace) and are reported with
// their outcome. Cancelling ctx is the hard one: the migrations in flight
// are cancelled at once and reported incomplete. Either way every step done
// is journaled, and a rerun with the same journal resumes without
// duplicates.
func (r *Runner) Run(ctx context.Context, in Source, rep ReportWriter) (*Summary, error) {
	if in == nil {
		return nil, errNoInput
	}
	s := r.settings()
	if s.migrate == nil {
		return nil, errors.New("bulk: Runner.Client is nil")
	}
	if s.JournalPath == "" && s.Store == nil {
		return nil, errors.New("bulk: Runner.JournalPath is empty: a run without a journal could not resume without duplicates")
	}
	if rep == nil {
		rep = DiscardReport
	}
	started := s.now()
	stops := newStopping(ctx, s.ctl.done, s.StopGrace)
	defer stops.close()
	x := &run{s: s, stop: stops, in: in, rep: rep, order: newOrderedReport(rep), per: RequestsPerCompany(s.Sync), sem: make(chan struct{}, s.Concurrency),
		sum: &Summary{Input: in.Label(), Counts: map[Status]int{}, Started: started}, phase: PhaseScan, phaseSince: started}
	x.progress()
	st, created, closeStore, err := s.runStore()
	if err != nil {
		return nil, err
	}
	defer closeStore()
	// The run looks up each ref in the journal before it journals it, and
	// never after: every ref is migrated at most once a run (the pre-pass
	// index lets one valid row of a ref through, and only the first invalid
	// row of a ref no valid row has is looked up), and the account check
	// runs before the first ref the journal does not know. A tenant is
	// looked up only for a valid row, and one this run journals either is
	// one the journal already held (an invalid row resumed with its
	// journaled tenant) or is a valid row's, and the index lets at most one
	// valid row of a tenant through (rowIndex.duplicate). So the journal's
	// index keeps what earlier runs left, kept up to date, and nothing new:
	// its memory does not grow with the rows this run migrates.
	// (A shared store keeps its index in the store.)
	x.st, x.jctx = st, context.WithoutCancel(ctx)
	idx, err := x.scan(ctx, created)
	if err != nil {
		return nil, err
	}
	defer idx.close()
	// The journal's first write comes before the report is replaced: a run
	// that cannot write its journal (a full disk) stops here and leaves the
	// earlier report as it was.
	if err := st.Append(ctx, Claim{}, &Record{Time: started, Event: eventRun, Input: in.Label()}); err != nil {
		return nil, err
	}
	// Only now that this run holds the journal, and the input reads, may
	// the report replace an earlier one: a second run refused by the lock
	// leaves it alone.
	if err := openReport(rep); err != nil {
		return nil, err
	}
	if err := x.prepare(ctx, idx); err != nil {
		return nil, err
	}
	defer x.sharePace(ctx, paceRecheck)()
	// The second pass reads to the end even after a stop, so that every
	// row is reported; it sends nothing once stopped.
	read := context.WithoutCancel(ctx)
	handle, finished := idx.verified(read, x.handle)
	readErr := eachRow(read, in, handle)
	if readErr == nil {
		readErr = finished()
	}
	x.wg.Wait()
	if readErr == nil {
		x.finishCanary()
	}
	return x.result(ctx, readErr)
}

// runStore is the store Run keeps its state in: the Store, or else the
// journal at JournalPath, opened and locked (created reports that this run
// creates its file), with the function that closes what it opened.
func (s *settings) runStore() (st Store, created bool, closeStore func(), err error) {
	if s.Store != nil {
		return s.Store, false, func() {}, nil
	}
	_, statErr := os.Stat(s.JournalPath)
	created = errors.Is(statErr, os.ErrNotExist)
	j, err := openJournal(s.JournalPath)
	if err != nil {
		return nil, false, nil, err
	}
	j.loadedOnly = true
	return j, created, func() { _ = j.close() }, nil
}

// scan is Run's first pass over the input: the index of its rows, and the
// total of Progress, which leaves out the rows the journal says need
// nothing. When the input is unusable a journal file this run created
// (created) is removed.
func (x *run) scan(ctx context.Context, created bool) (rowIndex, error) {
	skip := 0 // rows the journal says need nothing, for Progress.Total
	idx, err := scanInput(ctx, x.in, x.s.reg, x.st, func(row Row, c checked) {
		if e, _ := x.st.Get(ctx, row.Ref); e != nil && ((e.finished() && !x.s.Relink) || (e.rejected() && e.Fingerprint == c.fingerprint)) {
			skip++
		}
	})
	if err != nil {
		if created {
			// The input is unusable: leave nothing behind, not even an
			// empty journal.
			_ = os.Remove(x.s.JournalPath)
		}
		return nil, err
	}
	n := idx.counts()
	x.total = max(0, n.Valid-n.Duplicates-skip)
	return idx, nil
}

// prepare sets up the second pass: the classifier (with the account
// check), the canary gate, the start pacing and the phase.
func (x *run) prepare(ctx context.Context, idx rowIndex) error {
	s := x.s
	x.cl = &classifier{ctx: ctx, reg: s.reg, idx: idx, st: x.st, relink: s.Relink}
	if !s.SkipAccountCheck && s.listRefs != nil {
		x.cl.checkAccount = func() { x.checkAccount(idx) }
	}
	left, err := canariesLeft(ctx, x.st, s.Canary)
	if err != nil {
		return err
	}
	x.canaryLeft, x.canaryOpen = left, left > 0
	if s.RequestsPerMinute >= 0 {
		rpm := s.RequestsPerMinute
		if rpm == 0 {
			rpm = DefaultRequestsPerMinute
		}
		x.limiter, x.rpm = startLimiter(rpm, x.per), rpm
	}
	if x.canaryLeft > 0 {
		x.setPhase(PhaseCanary)
	} else {
		x.setPhase(PhaseMigrate)
	}
	return nil
}

// result ends the run: its summary, and its error (readErr, an error
// reading the input during the second pass; a fatal error; why it stopped).
// A stop for the quota is journaled.
func (x *run) result(ctx context.Context, readErr error) (*Summary, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.sum.Finished = x.s.now()
	if x.phase != PhaseStopped {
		x.setPhaseLocked(PhaseDone)
	}
	x.progressLocked()
	switch {
	case readErr != nil:
		return x.sum, errors.Join(readErr, x.fatal)
	case x.fatal != nil:
		return x.sum, x.fatal
	case x.stopped != nil:
		if x.stopped.status == StatusPendingQuota {
			_ = x.st.Append(context.WithoutCancel(ctx), Claim{}, &Record{Time: x.s.now(), Event: eventQuota, Reset: &x.stopped.reset})
			return x.sum, &QuotaError{Reset: x.stopped.reset, Pending: x.sum.Counts[StatusPendingQuota], NotDaily: x.stopped.notDaily}
		}
		return x.sum, x.stopped.err
	}
	return x.sum, nil
}

// handle decides one row of the second pass.
func (x *run) handle(row Row, rowErr *RowError) error {
	seq := x.order.reserve()
	v, err := x.cl.classify(row, rowErr)
	if err != nil {
		x.stopWith(&stop{status: StatusNotStarted, err: err}, true)
		rr := baseReport(row)
		rr.Status, rr.ErrorClass, rr.Error = StatusNotStarted, string(ClassJournal), "the journal could not be read"
		return x.emit(seq, rr, outcomeSkipped)
	}
	if v.out != nil {
		return x.emit(seq, *v.out, outcomeSkipped)
	}
	jb := v.job
	jb.seq = seq
	// A canary is only needed while the gate is open; finish it before
	// starting non-canary rows.
	x.mu.Lock()
	if x.canaryLeft > 0 {
		jb.canary = true
		x.canaryLeft--
		x.canaryRun++
	}
	lastCanary := jb.canary && x.canaryLeft == 0
	x.mu.Unlock()
	if !jb.canary {
		x.finishCanary()
	}
	if st := x.stoppedStatus(); st != "" {
		return x.emitNotRun(jb, st)
	}
	if err := x.waitTurn(jb); err != nil {
		return x.emitNotRun(jb, x.stoppedStatus())
	}
	x.mu.Lock()
	x.inFlight++
	x.mu.Unlock()
	x.wg.Add(1)
	go x.work(jb)
	if lastCanary {
		x.finishCanary()
	}
	return nil
}
