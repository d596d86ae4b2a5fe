package bulk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
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
	// and closes it; Run and Plan only use it.
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
	// the limit is not refused for a few requests over it.
	RequestsPerMinute int
	// MaxConsecutiveFailures stops the run after that many failed migrations
	// in a row (0: 25; negative: never).
	MaxConsecutiveFailures int
	// OnProgress, when set, is called after every row and phase change.
	OnProgress func(Progress)
	// Logger receives one line per row (ref, status, class; never a token).
	Logger *slog.Logger
	// Now and Sleep are the clock (nil: the real one); tests inject fakes.
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error

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
	if s.Now == nil {
		s.Now = time.Now
	}
	if s.Sleep == nil {
		s.Sleep = sleepCtx
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

// accountKeep selects what the account check keeps of the listing: refs
// (codat.RefTagKey tags) and tenant tags (codat.TenantTagKey).
type accountKeep struct {
	ref    func(ref string) bool
	tenant func(tag string) bool
}

// tagKey is the key of a tenant tag (codat.TenantTag) in the account
// check's map.
func tagKey(tag string) key { return keyOf('g', tag) }

// clientRefs lists every company of the account through c, 5,000 a page,
// and returns, with the requests the listing took, the refs keep.ref
// accepts (refKey(ref) → "") and the tenant tags keep.tenant accepts
// (tagKey(tag) → the ref of the company that carries it).
func clientRefs(c *codat.Client) func(ctx context.Context, keep accountKeep) (map[key]string, int, error) {
	return func(ctx context.Context, keep accountKeep) (map[key]string, int, error) {
		// The listing's own requests, counted from what it read: the
		// client's counter also counts the migrations in flight meanwhile.
		seen := 0
		pages := func() int { return seen/codat.MaxPageSize + 1 }
		found := map[key]string{}
		for co, err := range c.Companies.All(ctx, &codat.ListOptions{PageSize: codat.MaxPageSize}) {
			if err != nil {
				return nil, pages(), err
			}
			seen++
			ref := co.Tags[codat.RefTagKey]
			if ref != "" && keep.ref(ref) {
				found[refKey(ref)] = ""
			}
			if tag := co.Tags[codat.TenantTagKey]; tag != "" && ref != "" && keep.tenant != nil && keep.tenant(tag) {
				found[tagKey(tag)] = ref
			}
		}
		if seen > 0 && seen%codat.MaxPageSize == 0 {
			return found, seen / codat.MaxPageSize, nil
		}
		return found, pages(), nil
	}
}

// job is a row that needs requests.
type job struct {
	row     Row
	c       checked
	prev    *Record // the ref's latest journal entry, nil for a new ref
	resume  *codat.MigrationResult
	relink  bool
	canary  bool
	tenantH string
	// inCodat: the journal does not know the ref, but a company in Codat
	// carries it (the account check): resumed rather than created.
	inCodat bool
	// requests: recorded in the journal before this run (cumulative), and
	// sent by this run.
	journaled, sent int
	// pauses counts the short rate-limit pauses of this migration.
	pauses int
	// seq is the row's place in the input, for the report's order.
	seq int
	// seen is the ref's latest record as this run last saw or wrote it: a
	// shared store's record that differs when the ref is claimed was
	// written by another runner, and the row is decided again.
	seen *Record
}

// verdict is what classify decides for a row.
type verdict struct {
	out *ReportRow // decided without a request
	job *job       // needs requests
}

// classifier decides rows from the pre-pass index and the journal.
type classifier struct {
	reg    *integrations.Registry
	idx    *index
	ctx    context.Context
	st     Store // nil: no journal
	relink bool
	// inCodat holds the input refs that the journal does not know and that
	// a company in Codat is tagged with (see Runner.SkipAccountCheck); nil
	// when the account was not checked.
	// It also maps the tenant tags of input rows found on a company in Codat
	// (tagKey) to that company's ref.
	inCodat map[key]string
	// checkAccount, when set, is the account check: classify calls it once,
	// at the first row to migrate that the journal does not know, and it
	// sets inCodat.
	checkAccount func()
}

// baseReport is the report row of row, its cells that may be credentials
// withheld (see shownRow).
//
// Its CompanyName is the name Codat stores (codat.CompanyName: accents
// folded, characters Codat drops dropped), which Migrate sends; the input's
// is in InputCompanyName when it differs.
func baseReport(row Row) ReportRow {
	row = shownRow(row)
	rr := ReportRow{Line: row.Line, Ref: row.Ref, CompanyName: row.CompanyName, Platform: row.Platform}
	if row.CompanyName != withheld {
		if stored, changed := storedName(row.CompanyName); changed {
			rr.CompanyName, rr.InputCompanyName = stored, row.CompanyName
		}
	}
	return rr
}

// classify decides one row: reported at once (out) or migrated (job).
//
// A row the journal knows is decided by the journal first: a finished ref
// is already-migrated, and one whose token Codat already accepted resumes,
// even when the row no longer passes the offline checks (an access token
// that has expired since). Otherwise the row must be valid, and not a
// duplicate.
func (cl *classifier) classify(row Row, rowErr *RowError) (verdict, error) {
	rep := baseReport(row)
	reason := ""
	var c checked
	if rowErr != nil {
		reason = rowErr.Reason
	} else if cr, err := checkRow(cl.reg, row); err != nil {
		reason = err.Error()
	} else {
		c = cr
	}
	if reason != "" {
		return cl.invalid(row, rep, reason)
	}
	if why, dup := cl.idx.duplicate(row, c); dup {
		rep.Status, rep.ErrorClass, rep.Error = StatusDuplicate, "duplicate", why
		return verdict{out: &rep}, nil
	}
	jb := &job{row: row, c: c, tenantH: tenantHash(c.tenant)}
	var e *Record
	if cl.st != nil {
		other, err := cl.st.TenantRef(cl.ctx, jb.tenantH)
		if err != nil {
			return verdict{}, err
		}
		if other != "" && other != row.Ref {
			rep.Status, rep.ErrorClass = StatusDuplicate, "duplicate"
			rep.Error = fmt.Sprintf("the journal holds this %s tenant under ref %q; not migrated twice", c.platformLabel(), other)
			return verdict{out: &rep}, nil
		}
		if e, err = cl.st.Get(cl.ctx, row.Ref); err != nil {
			return verdict{}, err
		}
	}
	if e == nil {
		if f := cl.checkAccount; f != nil {
			cl.checkAccount = nil
			f()
		}
		if holder, found := cl.inCodat[tagKey(codat.TenantTag(c.platformKey, c.tenantID))]; found && c.tenantID != "" && holder != row.Ref {
			// The tenant was migrated under another ref (another export, a
			// lost journal): a second company would share its grant.
			rep.Status, rep.ErrorClass = StatusDuplicate, "duplicate"
			rep.Error = fmt.Sprintf("the same %s tenant is already in Codat under ref %q; not migrated twice", c.platformLabel(), holder)
			return verdict{out: &rep}, nil
		}
		if _, found := cl.inCodat[refKey(row.Ref)]; found {
			// Migrated (or started) by a run with another journal: Migrate
			// finds the company by its tag instead of creating a second one.
			jb.resume, jb.inCodat = &codat.MigrationResult{Ref: row.Ref}, true
		}
		return verdict{job: jb}, nil
	}
	jb.prev, jb.seen, jb.journaled = e, e, e.Requests
	rep.CompanyID, rep.ConnectionID = e.CompanyID, e.ConnectionID
	same := e.Fingerprint == c.fingerprint
	switch {
	case e.canaryFailed() && (same || !cl.relink):
		return canaryFailedEarlier(rep, e), nil
	case e.finished() && same:
		rep.Status = StatusAlreadyMigrated
		return verdict{out: &rep}, nil
	case e.finished() || (e.tokenSent() && !same && !e.rejected()):
		if !cl.relink {
			rep.Status, rep.ErrorClass = StatusTokenChanged, "token-changed"
			rep.Error = fmt.Sprintf("the journal has this ref's token with fingerprint %s, the row has %s; not re-sent (relink to send it)", e.Fingerprint, c.fingerprint)
			if e.sendUnknown() {
				rep.Error = fmt.Sprintf("a token with fingerprint %s was sent for this ref and its outcome is unknown (Codat may hold it); the row has %s, "+
					"which is not sent: relink to send it (--relink; it is sent once the settle window after the earlier send has passed)", e.Fingerprint, c.fingerprint)
			}
			return verdict{out: &rep}, nil
		}
		jb.resume, jb.relink = beforeToken(e), true
	case e.rejected() && same:
		rep.Status, rep.ErrorClass, rep.LinkURL = StatusTokenRejected, "token-rejected", e.LinkURL
		rep.Error = "Codat rejected this token in an earlier run; supply a new token or send the customer to the link URL"
		return verdict{out: &rep}, nil
	case e.rejected():
		// A new token for a rejected one: sent even if the connection reads
		// back Linked by now.
		jb.resume, jb.relink = beforeToken(e), true
	case e.Step == stepFailed && e.NoWrite:
		// The last attempt can have created nothing: start afresh, without
		// the look-up a resume costs.
	default:
		jb.resume = e.result()
		// A token replacement cut short before its PUT was recorded still
		// sends the token.
		jb.relink = e.Relink && !e.done(codat.StepAuthorize)
	}
	return verdict{job: jb}, nil
}

// beforeToken is the state e records cut back to before the token was sent,
// so that Migrate sends the row's token (with Relink set).
func beforeToken(e *Record) *codat.MigrationResult {
	res := e.result()
	res.Steps = res.Steps[:0]
	for _, s := range e.Steps {
		if s == codat.StepCompany || s == codat.StepConnection {
			res.Steps = append(res.Steps, s)
		}
	}
	res.Status, res.AlreadyMigrated, res.TokenSent = "", false, false
	return res
}

// canaryFailedEarlier reports a canary that finished but failed in an
// earlier run (sync errors): it is not retried, and does not count as a
// canary that passed.
func canaryFailedEarlier(rep ReportRow, e *Record) verdict {
	rep.Status, rep.ErrorClass = StatusFailed, "canary"
	rep.Error = "this canary failed in an earlier run and is not retried; a new canary cohort must pass before the rest starts"
	if e.Error != "" {
		rep.Error += " (" + e.Error + ")"
	}
	return verdict{out: &rep}
}

// invalid decides a row that fails the offline checks. The journal comes
// first: a ref it records as finished is already-migrated, and one whose
// token Codat already accepted (verify done; or authorize done and not
// rejected) resumes without the token, which it no longer needs. Any other
// invalid row is reported invalid. Only the first invalid row of a ref that
// no valid row has is looked up.
func (cl *classifier) invalid(row Row, rep ReportRow, reason string) (verdict, error) {
	rep.Status, rep.ErrorClass, rep.Error = StatusInvalid, "invalid", reason
	if cl.st == nil || !cl.idx.firstInvalid(row) {
		return verdict{out: &rep}, nil
	}
	e, err := cl.st.Get(cl.ctx, row.Ref)
	if err != nil || e == nil {
		return verdict{out: &rep}, err
	}
	switch {
	case e.canaryFailed():
		rep.CompanyID, rep.ConnectionID = e.CompanyID, e.ConnectionID
		return canaryFailedEarlier(rep, e), nil
	case e.finished():
		ok := baseReport(row)
		ok.Status, ok.CompanyID, ok.ConnectionID = StatusAlreadyMigrated, e.CompanyID, e.ConnectionID
		return verdict{out: &ok}, nil
	case e.rejected() || !e.pastToken():
		rep.CompanyID, rep.ConnectionID = e.CompanyID, e.ConnectionID
		return verdict{out: &rep}, nil
	}
	key := row.Platform
	if p, ok := cl.reg.Lookup(row.Platform); ok {
		key = p.Key
	}
	jb := &job{row: row, prev: e, journaled: e.Requests, resume: e.result(), tenantH: e.Tenant,
		c: checked{auth: journaledAuth{key: key, reason: reason}, platformKey: key, fingerprint: e.Fingerprint}}
	return verdict{job: jb}, nil
}

// journaledAuth stands for the authorization of a row that no longer passes
// the offline checks (say, its access token has expired since) while the
// journal shows Codat already accepted its token: the migration resumes past
// the token step, which never needs the body. Body returns why the row is
// invalid, so nothing is ever sent from it.
type journaledAuth struct{ key, reason string }

func (a journaledAuth) PlatformKey() string { return a.key }

func (a journaledAuth) Body() (map[string]string, error) {
	return nil, fmt.Errorf("%w: the row is invalid: %s", integrations.ErrInvalid, a.reason)
}

// Validate checks every row offline and reports each as valid, invalid or
// duplicate. Nothing is sent and the journal is not read.
func (r *Runner) Validate(ctx context.Context, in Input, rep ReportWriter) (*Summary, error) {
	s := r.settings()
	sum := &Summary{Input: in.Name, Counts: map[Status]int{}, Started: s.Now()}
	if rep == nil {
		rep = DiscardReport
	}
	idx, err := scanInput(ctx, in, s.reg, nil, nil)
	if err != nil {
		return sum, err
	}
	if err := openReport(rep); err != nil {
		return sum, err
	}
	cl := &classifier{ctx: ctx, reg: s.reg, idx: idx}
	err = eachRow(ctx, in, func(row Row, rowErr *RowError) error {
		v, err := cl.classify(row, rowErr)
		if err != nil {
			return err
		}
		out := v.out
		if out == nil {
			rr := baseReport(row)
			rr.Status = StatusValid
			out = &rr
		}
		sum.Rows++
		sum.Counts[out.Status]++
		return rep.Write(*out)
	})
	sum.Finished = s.Now()
	return sum, err
}

// Plan is what a run would do, computed without migrating.
type Plan struct {
	// Input is the input's name.
	Input string `json:"input"`
	// Rows is the number of input rows: Valid + Invalid + Duplicate.
	Rows int `json:"rows"`
	// Valid rows pass the offline checks and are no duplicate, as Validate
	// counts them (plus the rows the journal resumes although they no longer
	// pass the checks, an expired token say): AlreadyMigrated +
	// TokenChanged + TokenRejected + CanaryFailed + Resume + New.
	Valid   int `json:"valid"`
	Invalid int `json:"invalid"`
	// Duplicate rows share a ref or a tenant with another row (or with the
	// journal under another ref): none of them is migrated.
	Duplicate int `json:"duplicate"`
	// AlreadyMigrated rows are finished per the journal.
	AlreadyMigrated int `json:"alreadyMigrated"`
	// TokenChanged rows were migrated with another token (see Runner.Relink).
	TokenChanged int `json:"tokenChanged"`
	// TokenRejected rows had this very token rejected in an earlier run.
	TokenRejected int `json:"tokenRejected"`
	// CanaryFailed rows are canaries that finished but failed in an earlier
	// run (their first sync ended in errors): reported failed, not retried.
	CanaryFailed int `json:"canaryFailed"`
	// Resume rows were started by an earlier run and will be continued:
	// rows the journal records as unfinished, and the InCodat rows.
	Resume int `json:"resume"`
	// InCodat rows are unknown to the journal but their ref is already on
	// a company in Codat (the account check): they are continued from that
	// company, never created twice. They are counted in Resume.
	InCodat int `json:"inCodat"`
	// New rows will be migrated from scratch.
	New int `json:"new"`
	// Canary is the number of migrations that will run first, with
	// codat.SyncWait.
	Canary int `json:"canary"`
	// RequestsPerCompany is what a new migration needs on the happy path.
	RequestsPerCompany int `json:"requestsPerCompany"`
	// AccountCheckRequests is what the run's account check costs: one
	// GET /companies?pageSize=5000 per 5,000 companies in the account (the
	// listing Plan made itself to count InCodat). Zero when no row needs it
	// or Runner.SkipAccountCheck is set.
	AccountCheckRequests int `json:"accountCheckRequests"`
	// AccountCheckError says why the account could not be checked, if so;
	// InCodat is then unknown (zero).
	AccountCheckError string `json:"accountCheckError,omitempty"`
	// RequestsNeeded is the requests the run is expected to send, the
	// account check included.
	RequestsNeeded int `json:"requestsNeeded"`
	// Quota is the quota snapshot from the account check's listing, or from
	// one request (GET /companies?pageSize=1) when no listing was needed;
	// Observed is zero when there is no Client or the request failed.
	Quota codat.Quota `json:"quota"`
	// QuotaError says why Quota is unknown, if it is.
	QuotaError string `json:"quotaError,omitempty"`
	// Estimate is the expected calendar under Codat's quota rules.
	Estimate Estimate `json:"estimate"`
	// NameChanges are the first MaxNameChanges rows to migrate whose
	// company name Codat stores differently (see codat.CompanyName);
	// NameChangeCount counts them all.
	NameChanges     []NameChange `json:"nameChanges,omitempty"`
	NameChangeCount int          `json:"nameChangeCount"`
}

// MaxNameChanges bounds Plan.NameChanges.
const MaxNameChanges = 100

// NameChange is a company name Codat will store differently from the
// input's: accents folded, characters Codat drops dropped.
type NameChange struct {
	Line   int    `json:"line"`
	Ref    string `json:"ref"`
	Input  string `json:"input"`
	Stored string `json:"stored"`
}

// ToMigrate is the number of migrations the run would start.
func (p *Plan) ToMigrate() int { return p.New + p.Resume }

// Plan counts what a run over in would do, the requests it needs and how
// long it should take under Codat's quota rules, without migrating. The
// journal, when JournalPath is set and exists, is read and not changed.
//
// With Runner.Client set it sends read-only requests: the account check a
// run would make (every company, GET /companies?pageSize=5000, one request
// per 5,000 companies), when some row is unknown to the journal and
// SkipAccountCheck is not set, to count the rows already in Codat; otherwise
// one request (GET /companies?pageSize=1) to read the quota.
func (r *Runner) Plan(ctx context.Context, in Input) (*Plan, error) {
	s := r.settings()
	p := &Plan{Input: in.Name, RequestsPerCompany: RequestsPerCompany(s.Sync)}
	var st Store
	switch {
	case s.Store != nil:
		st = s.Store
	case s.JournalPath != "":
		j, err := openJournalReadOnly(s.JournalPath)
		if err != nil {
			return nil, err
		}
		if j != nil {
			defer j.close()
			st = j
		}
	}
	idx, err := scanInput(ctx, in, s.reg, nil, nil)
	if err != nil {
		return nil, err
	}
	canaryLeft := s.Canary
	if st != nil {
		cs, err := st.Canary(ctx)
		if err != nil {
			return nil, err
		}
		if cs.Passed {
			canaryLeft = 0
		} else {
			canaryLeft = max(0, canaryLeft-cs.Passes)
		}
	}
	cl := &classifier{ctx: ctx, reg: s.reg, idx: idx, st: st, relink: s.Relink}
	listed := false
	if !s.SkipAccountCheck && s.listRefs != nil {
		cl.checkAccount = func() {
			found, n, err := s.listRefs(ctx, accountFilter(ctx, idx, st))
			p.AccountCheckRequests = max(n, 1)
			if err != nil {
				p.AccountCheckError = err.Error()
				return
			}
			cl.inCodat, listed = found, true
		}
	}
	err = eachRow(ctx, in, func(row Row, rowErr *RowError) error {
		p.Rows++
		v, err := cl.classify(row, rowErr)
		if err != nil {
			return err
		}
		if v.out != nil {
			switch v.out.Status {
			case StatusInvalid:
				p.Invalid++
				return nil
			case StatusDuplicate:
				p.Duplicate++
				return nil
			case StatusAlreadyMigrated:
				p.AlreadyMigrated++
			case StatusTokenChanged:
				p.TokenChanged++
			case StatusTokenRejected:
				p.TokenRejected++
			case StatusFailed:
				p.CanaryFailed++
			}
			p.Valid++
			return nil
		}
		p.Valid++
		mode := s.Sync
		if canaryLeft > 0 {
			canaryLeft--
			p.Canary++
			mode = codat.SyncWait
		}
		need := RequestsPerCompany(mode)
		switch jb := v.job; {
		case jb.inCodat:
			// A look-up and a listing of its connections instead of the two
			// creates; fewer when it is linked already.
			p.Resume++
			p.InCodat++
		case jb.resume != nil:
			p.Resume++
			need = remainingRequests(jb.resume, mode)
		case jb.prev != nil:
			p.Resume++ // an earlier attempt that created nothing: afresh
		default:
			p.New++
		}
		p.RequestsNeeded += need
		if rr := baseReport(row); rr.InputCompanyName != "" {
			p.NameChangeCount++
			if len(p.NameChanges) < MaxNameChanges {
				p.NameChanges = append(p.NameChanges, NameChange{Line: row.Line, Ref: rr.Ref, Input: rr.InputCompanyName, Stored: rr.CompanyName})
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	switch {
	case listed:
		p.Quota = s.quota()
	case s.probe != nil:
		q, err := s.probe(ctx)
		if err != nil {
			p.QuotaError = err.Error()
		} else {
			p.Quota = q
		}
	default:
		p.QuotaError = "no client: quota not read"
	}
	p.RequestsNeeded += p.AccountCheckRequests
	// Every migration is scheduled at the per-company rate; what the
	// canaries and resumed rows need beyond (or short of) it, and the
	// account check, are the overhead, so that the schedule's requests add
	// up to RequestsNeeded.
	p.Estimate = EstimateSchedule(Schedule{Companies: p.ToMigrate(), RequestsPerCompany: p.RequestsPerCompany,
		Overhead: p.RequestsNeeded - p.ToMigrate()*p.RequestsPerCompany, Quota: p.Quota, Now: s.Now()})
	return p, nil
}

// accountFilter returns the refs the account check keeps: those of valid
// input rows that the journal (if any) does not know.
func accountFilter(ctx context.Context, idx *index, st Store) accountKeep {
	return accountKeep{
		ref: func(ref string) bool {
			if !idx.hasRef(ref) {
				return false
			}
			if st == nil {
				return true
			}
			e, _ := st.Get(ctx, ref)
			return e == nil
		},
		tenant: idx.hasTenantTag,
	}
}

// remainingRequests is what a resumed migration still needs: one lookup to
// reconcile the recorded state, plus the requests of the steps not done.
func remainingRequests(res *codat.MigrationResult, mode codat.SyncMode) int {
	n := 1
	if !res.HasStep(codat.StepCompany) {
		n++
	}
	if !res.HasStep(codat.StepConnection) {
		n++
	}
	if !res.HasStep(codat.StepAuthorize) {
		n++
	}
	if mode != codat.SyncNone && !res.HasStep(codat.StepSync) {
		n++
	}
	if mode == codat.SyncWait && !res.HasStep(codat.StepWait) {
		n += EstimatedWaitPolls
	}
	return n
}

// paceShare is the share of Runner.RequestsPerMinute that starts are paced
// to.
const paceShare = 0.99

// startLimiter paces migration starts of per requests each to stay under
// rpm requests a minute. A burst of one start: the limit is counted in fixed
// windows, so starts bunched at the start of a window (a burst as large as
// the concurrency) would push a few requests over it. The pace keeps a small
// headroom (paceShare) below the limit for the jitter of request timing.
func startLimiter(rpm, per int) *rate.Limiter {
	return rate.NewLimiter(rate.Limit(float64(rpm)*paceShare/60/float64(per)), 1)
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
	in   Input
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
// during the run (an I/O error; the file changed) stops it, and rows after
// that point are not reported. Rows are reported in input order: a row
// decided while an earlier one is still in flight waits for it (at most
// maxHeldRows of them; then reading pauses). The caller closes rep.
//
// There are two ways to stop early. Stop is the clean one: no new migration
// starts, those in flight finish (within StopGrace) and are reported with
// their outcome. Cancelling ctx is the hard one: the migrations in flight
// are cancelled at once and reported incomplete. Either way every step done
// is journaled, and a rerun with the same journal resumes without
// duplicates.
func (r *Runner) Run(ctx context.Context, in Input, rep ReportWriter) (*Summary, error) {
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
	started := s.Now()
	stops := newStopping(ctx, s.ctl.done, s.StopGrace)
	defer stops.close()
	x := &run{s: s, stop: stops, in: in, rep: rep, order: newOrderedReport(rep), per: RequestsPerCompany(s.Sync), sem: make(chan struct{}, s.Concurrency),
		sum: &Summary{Input: in.Name, Counts: map[Status]int{}, Started: started}, phase: PhaseScan, phaseSince: started}
	x.progress()
	st := s.Store
	created := false // this run creates the journal file
	if st == nil {
		_, statErr := os.Stat(s.JournalPath)
		created = errors.Is(statErr, os.ErrNotExist)
		j, err := openJournal(s.JournalPath)
		if err != nil {
			return nil, err
		}
		defer j.close()
		j.loadedOnly = true
		st = j
	}
	// The run looks up each ref in the journal before it journals it, and
	// never after: every ref is migrated at most once a run (the pre-pass
	// index lets one valid row of a ref through, and only the first invalid
	// row of a ref no valid row has is looked up), and the account check
	// runs before the first ref the journal does not know. A tenant is
	// looked up only for a valid row, and one this run journals either is
	// one the journal already held (an invalid row resumed with its
	// journaled tenant) or is a valid row's, and the index lets at most one
	// valid row of a tenant through (index.duplicate). So the journal's
	// index keeps what earlier runs left, kept up to date, and nothing new:
	// its memory does not grow with the rows this run migrates.
	// (A shared store keeps its index in the store.)
	x.st, x.jctx = st, context.WithoutCancel(ctx)
	skip := 0 // rows the journal says need nothing, for Progress.Total
	idx, err := scanInput(ctx, in, s.reg, func(row Row, c checked) {
		if e, _ := st.Get(ctx, row.Ref); e != nil && ((e.finished() && !s.Relink) || (e.rejected() && e.Fingerprint == c.fingerprint)) {
			skip++
		}
	}, nil)
	if err != nil {
		if created {
			// The input is unusable: leave nothing behind, not even an
			// empty journal.
			_ = os.Remove(s.JournalPath)
		}
		return nil, err
	}
	// The journal's first write comes before the report is replaced: a run
	// that cannot write its journal (a full disk) stops here and leaves the
	// earlier report as it was.
	if err := st.Append(ctx, Claim{}, &Record{Time: started, Event: eventRun, Input: in.Name}); err != nil {
		return nil, err
	}
	// Only now that this run holds the journal, and the input reads, may
	// the report replace an earlier one: a second run refused by the lock
	// leaves it alone.
	if err := openReport(rep); err != nil {
		return nil, err
	}
	x.cl = &classifier{ctx: ctx, reg: s.reg, idx: idx, st: st, relink: s.Relink}
	if !s.SkipAccountCheck && s.listRefs != nil {
		x.cl.checkAccount = func() { x.checkAccount(idx) }
	}
	x.total = max(0, idx.valid-idx.repeats-idx.conflts-skip)
	cs, err := st.Canary(ctx)
	if err != nil {
		return nil, err
	}
	if !cs.Passed {
		x.canaryLeft = max(0, s.Canary-cs.Passes)
		x.canaryOpen = x.canaryLeft > 0
	}
	if s.RequestsPerMinute >= 0 {
		rpm := s.RequestsPerMinute
		if rpm == 0 {
			rpm = DefaultRequestsPerMinute
		}
		x.limiter = startLimiter(rpm, x.per)
	}
	if x.canaryLeft > 0 {
		x.setPhase(PhaseCanary)
	} else {
		x.setPhase(PhaseMigrate)
	}
	// The second pass reads to the end even after a stop, so that every
	// row is reported; it sends nothing once stopped.
	handle, finished := idx.verified(x.handle)
	readErr := eachRow(context.WithoutCancel(ctx), in, handle)
	if readErr == nil {
		readErr = finished()
	}
	x.wg.Wait()
	if readErr == nil {
		x.finishCanary()
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	x.sum.Finished = s.Now()
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
			_ = st.Append(context.WithoutCancel(ctx), Claim{}, &Record{Time: s.Now(), Event: eventQuota, Reset: &x.stopped.reset})
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
		rr.Status, rr.ErrorClass, rr.Error = StatusNotStarted, "journal", "the journal could not be read"
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

// waitTurn blocks until the job may start: a free slot, quota left, the
// start rate. A non-nil error means the run stopped.
func (x *run) waitTurn(jb *job) error {
	if err := x.stopStarting(nil); err != nil {
		return err
	}
	select {
	case x.sem <- struct{}{}:
	case <-x.stop.start.Done():
		return x.stopStarting(nil)
	}
	release := func(err error) error { <-x.sem; return err }
	if err := x.quotaTurn(jb); err != nil {
		return release(err)
	}
	if x.limiter != nil {
		if err := x.limiter.Wait(x.stop.start); err != nil {
			return release(x.stopStarting(err))
		}
	}
	if err := x.stopStarting(nil); err != nil {
		return release(err)
	}
	if st := x.stoppedStatus(); st != "" {
		return release(errors.New(string(st)))
	}
	return nil
}

// stopStarting records a stop when new work may no longer start (Stop, or
// Run's context), or when err (a wait that failed) is not nil, and returns
// why; nil means a start may go ahead.
func (x *run) stopStarting(err error) error {
	if cause := x.stop.startErr(); cause != nil {
		err = cause
	}
	if err != nil {
		x.stopWith(&stop{status: StatusNotStarted, err: err}, false)
	}
	return err
}

// quotaTurn checks the quota before a start: the gate closed by an exhausted
// quota, and the snapshot's Remaining against what the migrations in flight
// and this one may need.
func (x *run) quotaTurn(jb *job) error {
	for {
		if st := x.stoppedStatus(); st != "" {
			return errors.New(string(st))
		}
		now := x.s.Now()
		reset := x.gate.closedUntil()
		if !reset.After(now) {
			reset = time.Time{}
			q := x.s.quota()
			x.mu.Lock()
			need := x.per * (x.inFlight + 1)
			x.mu.Unlock()
			if q.Limit > 0 && need > q.Limit {
				need = q.Limit // a tiny quota: try anyway rather than wait for ever
			}
			if !q.Observed.IsZero() && q.Reset.After(now) && q.Remaining < need {
				reset = q.Reset
			}
		}
		if sq, ok := x.st.(SharedQuota); ok && reset.IsZero() {
			// Another runner of the run found the daily quota spent.
			if r, err := sq.QuotaReset(x.jctx); err == nil && r.After(now) {
				reset = r
				x.gate.close(r)
			}
		}
		if reset.IsZero() {
			if !x.pause.closedUntil().After(now) {
				return nil
			}
			if err := x.waitPause(); err != nil {
				return err
			}
			continue
		}
		if !x.s.WaitForQuota {
			x.stopWith(&stop{status: StatusPendingQuota, reset: reset}, false)
			return errQuotaStop
		}
		if err := x.waitQuota(reset); err != nil {
			return err
		}
	}
}

// waitPause sleeps until a short rate limit is over (one sleeper for all
// goroutines); new starts wait for it too.
func (x *run) waitPause() error {
	if st := x.stoppedStatus(); st != "" {
		return errors.New(string(st))
	}
	x.s.log.Info("bulk: rate limited; new migrations wait", "until", x.pause.closedUntil().UTC().Format(time.RFC3339))
	prev := x.enterPhase(PhaseRateLimited)
	err := x.pause.wait(x.stop.start, x.s.Now, x.s.Sleep)
	x.leavePhase(PhaseRateLimited, prev)
	if err != nil {
		err = x.stopStarting(err)
	}
	return err
}

// checkAccount is the account check (see Runner.SkipAccountCheck): it lists
// the account's companies and keeps the input refs the journal does not
// know that a company is tagged with. It runs once, when the second pass
// meets the first row to migrate that the journal does not know, and not at
// all when the run has stopped by then. When it cannot list them, the run
// stops before migrating any such row: pending-quota for a spent quota,
// not-started otherwise.
func (x *run) checkAccount(idx *index) {
	if x.stoppedStatus() != "" || x.stop.startErr() != nil {
		return
	}
	for pauses := 1; ; pauses++ {
		found, n, err := x.s.listRefs(x.stop.start, accountFilter(x.stop.start, idx, x.st))
		x.mu.Lock()
		x.sum.AccountCheckRequests += n
		x.mu.Unlock()
		if err == nil {
			x.cl.inCodat = found
			return
		}
		if cause := x.stop.startErr(); cause != nil {
			x.stopWith(&stop{status: StatusNotStarted, err: cause}, false)
			return
		}
		if rl, ok := codat.RateLimitOf(err); ok {
			if x.rateLimited(rl, pauses) == nil {
				continue
			}
			return
		}
		x.stopWith(&stop{status: StatusNotStarted, err: fmt.Errorf("bulk: the account check (listing the companies, to find refs "+
			"already in Codat) failed, so nothing was migrated; rerun, or set SkipAccountCheck if the journal records every "+
			"earlier run: %w", err)}, true)
		return
	}
}

// waitQuota sleeps until reset (one sleeper for all goroutines).
func (x *run) waitQuota(reset time.Time) error {
	x.gate.close(reset)
	prev := x.enterPhase(PhaseQuotaWait)
	x.s.log.Info("bulk: daily quota spent; waiting for the reset", "reset", reset.UTC().Format(time.RFC3339))
	err := x.gate.wait(x.stop.start, x.s.Now, x.s.Sleep)
	x.leavePhase(PhaseQuotaWait, prev)
	if err != nil {
		err = x.stopStarting(err)
	}
	return err
}

// work runs one migration to its end and reports it.
func (x *run) work(jb *job) {
	defer x.wg.Done()
	defer func() { <-x.sem }()
	for {
		rr, res, err := x.migrateOne(jb)
		if rl, ok := codat.RateLimitOf(err); ok && x.stop.work.Err() == nil {
			jb.pauses++
			if x.rateLimited(rl, jb.pauses) == nil {
				if jb.resume != nil || !nothingWritten(res, err) {
					jb.resume = res
				}
				jb.relink = jb.relink && !res.HasStep(codat.StepAuthorize)
				continue
			}
		}
		x.finishJob(jb, rr, err)
		return
	}
}

// MaxRateLimitPause is the longest Retry-After of a 429 that is not the
// daily quota (the per-minute limit, say) that Run waits out by itself:
// new starts pause until then and the migration is retried, however often
// that happens. A longer one stops the run like a spent quota, unless
// Runner.WaitForQuota. It is codat.MaxShortRateLimit.
const MaxRateLimitPause = codat.MaxShortRateLimit

// maxUnknownPauses bounds the pauses of one migration for 429s that are not
// known to be short (codat.RateLimitUnknown); a short limit has no bound.
const maxUnknownPauses = 5

// maxPauseFloor caps pauseFloor.
const maxPauseFloor = time.Minute

// pauseFloor is the shortest pause after the pauses-th 429 of one migration:
// 1 s, doubling up to maxPauseFloor, so that a limit that keeps refusing is
// not hammered.
func pauseFloor(pauses int) time.Duration {
	return min(time.Second<<min(max(pauses-1, 0), 6), maxPauseFloor)
}

// errQuotaStop is what rateLimited returns when the run stops.
var errQuotaStop = errors.New("bulk: stopped for the quota")

// rateLimited handles a 429 that outlasted the client's retries, the
// pauses-th for one migration. When the daily quota is spent it closes the
// quota gate (and waits for the reset with WaitForQuota); otherwise it
// pauses new starts until the 429's wait is over (at least pauseFloor) and
// never stops the run for it. It returns nil once the wait is over and the
// request may be retried; otherwise the run is stopped and the rows left
// are pending-quota.
func (x *run) rateLimited(rl codat.RateLimit, pauses int) error {
	reset, daily := x.limitReset(rl)
	if daily {
		x.gate.close(reset)
		if _, ok := x.st.(SharedQuota); ok {
			// The other runners of the run stop starting too.
			_ = x.st.Append(x.jctx, Claim{}, &Record{Time: x.s.Now(), Event: eventQuota, Reset: &reset})
		}
		if x.s.WaitForQuota {
			return x.waitQuota(reset)
		}
		x.stopWith(&stop{status: StatusPendingQuota, reset: reset}, false)
		return errQuotaStop
	}
	// A 429 whose own headers do not show a short limit (Codat sends them on
	// every answer) is paused for at most maxUnknownPauses times per
	// migration: a server that refuses everything cannot keep a run going
	// for ever.
	if !x.s.WaitForQuota && (reset.Sub(x.s.Now()) > MaxRateLimitPause ||
		rl.Kind == codat.RateLimitUnknown && pauses > maxUnknownPauses) {
		x.stopWith(&stop{status: StatusPendingQuota, reset: reset, notDaily: true}, false)
		return errQuotaStop
	}
	x.pause.close(later(reset, x.s.Now().Add(pauseFloor(pauses))))
	return x.waitPause()
}

// limitReset tells a 429 for the daily quota from one for a shorter limit,
// and returns until when requests should stop. The 429's own headers decide
// when they can (codat.RateLimitOf: a short limit is never the daily
// quota). Otherwise it is the daily quota when the snapshot (Client.Quota)
// shows no request remaining, or when the wait reaches the snapshot's
// reset; the reset is then the later of the two. Otherwise it is the 429's
// wait alone.
func (x *run) limitReset(rl codat.RateLimit) (time.Time, bool) {
	now := x.s.Now()
	q := x.s.quota()
	known := !q.Observed.IsZero() && q.Reset.After(now)
	switch {
	case rl.Kind == codat.RateLimitShort:
		return rl.Until, false
	case rl.Kind == codat.RateLimitDaily && !known:
		return rl.Until, true
	case rl.Kind == codat.RateLimitDaily,
		known && (q.Remaining <= 0 || !rl.Until.Before(q.Reset.Add(-time.Minute))):
		return later(q.Reset, rl.Until), true
	}
	return rl.Until, false
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// nothingWritten reports whether a migration that failed with err can have
// created nothing in Codat: no step is done, and err is a definite answer to
// its first write (POST /companies) or a request that never left, not a
// failed look-up after an ambiguous write (codat.IsAmbiguous).
func nothingWritten(res *codat.MigrationResult, err error) bool {
	if err == nil || res == nil || len(res.Steps) > 0 || res.CompanyID != "" || codat.IsAmbiguous(err) {
		return false
	}
	var me *codat.MigrationError
	if errors.As(err, &me) && me.Step != codat.StepCompany {
		return false
	}
	var ae *codat.APIError
	if errors.As(err, &ae) {
		return ae.Method == http.MethodPost && ae.Path == "/companies"
	}
	var te *codat.TransportError
	if errors.As(err, &te) {
		return te.Method == http.MethodPost && te.Path == "/companies" && !te.Ambiguous
	}
	return false
}

// migrateOne calls Migrate once for the job and journals what it did.
func (x *run) migrateOne(jb *job) (ReportRow, *codat.MigrationResult, error) {
	row := jb.row
	start := &Record{Time: x.s.Now(), Ref: row.Ref, Line: row.Line, Step: stepStart, Fingerprint: jb.c.fingerprint,
		Tenant: jb.tenantH, Canary: jb.canary, Relink: jb.relink}
	var prevSteps []codat.Step
	if jb.resume != nil {
		prevSteps = jb.resume.Steps
		start.Steps = append([]codat.Step(nil), prevSteps...)
		start.CompanyID, start.ConnectionID, start.Status, start.LinkURL = jb.resume.CompanyID, jb.resume.ConnectionID,
			string(jb.resume.Status), jb.resume.LinkURL
		start.AlreadyMigrated, start.TokenSent = jb.resume.AlreadyMigrated, jb.resume.TokenSent
		start.PlatformKey, start.TokenSend, start.KeyGen = jb.resume.PlatformKey, jb.resume.TokenSend, jb.resume.KeyGen
	}
	start.Requests = jb.journaled + jb.sent
	rr := baseReport(row)
	claim, err := x.st.Claim(x.jctx, row.Ref)
	if errors.Is(err, ErrClaimed) {
		rr.Status, rr.ErrorClass, rr.Error = StatusIncomplete, "claimed", "another runner is migrating this ref; its run finishes it"
		return rr, jb.resume, nil
	}
	if err != nil {
		x.setFatal(err)
		rr.Status, rr.ErrorClass, rr.Error = StatusNotStarted, "journal", "the journal could not be written"
		return rr, jb.resume, err
	}
	defer func() { _ = x.st.Release(x.jctx, claim) }()
	if _, file := x.st.(*journal); !file {
		// Another runner may have migrated the ref since this one decided
		// the row: decide it again from the store's record.
		cur, err := x.st.Get(x.jctx, row.Ref)
		if err != nil {
			x.setFatal(err)
			rr.Status, rr.ErrorClass, rr.Error = StatusNotStarted, "journal", "the journal could not be read"
			return rr, jb.resume, err
		}
		if !sameRecord(cur, jb.seen) {
			v, err := x.cl.classify(row, nil)
			if err != nil {
				x.setFatal(err)
				rr.Status, rr.ErrorClass, rr.Error = StatusNotStarted, "journal", "the journal could not be read"
				return rr, jb.resume, err
			}
			if v.out != nil {
				return *v.out, jb.resume, nil
			}
			nj := v.job
			jb.c, jb.prev, jb.seen, jb.resume, jb.relink, jb.inCodat, jb.journaled, jb.sent = nj.c, nj.prev, nj.seen, nj.resume,
				nj.relink, nj.inCodat, nj.journaled, 0
			return x.migrateOne(jb)
		}
	}
	if err := x.st.Append(x.jctx, claim, start); err != nil {
		if errors.Is(err, ErrTenantTaken) {
			// Another ref, of another run or export, took the tenant since
			// the row was classified: a duplicate, and nothing was sent.
			rr.Status, rr.ErrorClass = StatusDuplicate, "duplicate"
			rr.Error = fmt.Sprintf("the store holds this %s tenant under another ref; not migrated twice: %v", jb.c.platformKey, err)
			return rr, jb.resume, nil
		}
		x.setFatal(err)
		rr.Status, rr.ErrorClass, rr.Error = StatusNotStarted, "journal", "the journal could not be written"
		return rr, jb.resume, err
	}
	jb.seen = start
	mode := x.s.Sync
	if jb.canary {
		mode = codat.SyncWait
	}
	line := func(name string, r *codat.MigrationResult, steps []codat.Step, requests int) *Record {
		return &Record{Time: x.s.Now(), Ref: row.Ref, Line: row.Line, Step: name, Steps: steps, CompanyID: r.CompanyID,
			ConnectionID: r.ConnectionID, Status: string(r.Status), LinkURL: r.LinkURL, Fingerprint: jb.c.fingerprint,
			Tenant: jb.tenantH, Canary: jb.canary, Relink: jb.relink, AlreadyMigrated: r.AlreadyMigrated, TokenSent: r.TokenSent,
			PlatformKey: r.PlatformKey, TokenSend: r.TokenSend, KeyGen: r.KeyGen, Requests: requests}
	}
	// Every step is journaled when Migrate records it (OnStep), so a crash
	// loses at most the step in flight; steps OnStep did not report are
	// journaled when Migrate returns. The done line is written last, with
	// the outcome (a canary's verdict).
	var jmu sync.Mutex
	journaled := append([]codat.Step(nil), prevSteps...)
	var jerr error
	record := func(r *codat.MigrationResult, requests int) error {
		jmu.Lock()
		defer jmu.Unlock()
		if !isPrefix(journaled, r.Steps) {
			journaled = nil
		}
		wrote := false
		for i := len(journaled); i < len(r.Steps) && r.Steps[i] != codat.StepDone && jerr == nil; i++ {
			steps := append([]codat.Step(nil), r.Steps[:i+1]...)
			l := line(string(r.Steps[i]), r, steps, requests)
			if jerr = x.st.Append(x.jctx, claim, l); jerr == nil {
				jb.seen = l
			}
			journaled, wrote = steps, true
		}
		if !wrote && jerr == nil && jb.seen != nil && stateChanged(jb.seen, r) {
			// No new step, but what a resume needs changed: journaled
			// before Migrate's next request (a token PUT's send intent).
			l := line(stepState, r, append([]codat.Step(nil), journaled...), requests)
			if jerr = x.st.Append(x.jctx, claim, l); jerr == nil {
				jb.seen = l
			}
		}
		return jerr
	}
	m := codat.Migration{
		Ref:          row.Ref,
		Company:      codat.CreateCompanyRequest{Name: row.CompanyName, Description: row.Description, Tags: row.Tags},
		Auth:         jb.c.auth,
		TenantID:     jb.c.tenantID,
		Sync:         mode,
		Resume:       jb.resume,
		Relink:       jb.relink,
		WaitInterval: x.s.WaitInterval,
		// A resume within the window after an unclear token PUT sends no
		// token and fails with codat.ErrTokenSendUnsettled; a later run
		// finishes it.
		SettleWindow: x.s.SettleWindow,
		// A journal write that fails stops Migrate before its next request.
		OnStep: func(_ context.Context, snap codat.MigrationResult) error {
			if err := record(&snap, jb.journaled+jb.sent+snap.Requests); err != nil {
				return err
			}
			if jb.canary && snap.HasStep(codat.StepSync) && !snap.HasStep(codat.StepWait) {
				x.canaryWaits()
			}
			return nil
		},
	}
	// Not the start context: Stop lets the migrations in flight finish.
	res, err := x.s.migrate(x.stop.work, m)
	if res == nil { // Migrate promises a result; be safe if a stand-in does not
		res = &codat.MigrationResult{Ref: row.Ref}
		if jb.resume != nil {
			c := *jb.resume
			c.Requests = 0
			res = &c
		}
	}
	jb.sent += res.Requests
	total := jb.journaled + jb.sent
	_ = record(res, total) // a failure is in jerr, handled below
	status, class, msg := outcome(x.stop.work, res, err)
	msg = scrub(msg, row)
	rr.CompanyID, rr.ConnectionID, rr.Requests = res.CompanyID, res.ConnectionID, jb.sent
	rr.Status, rr.ErrorClass, rr.Error = status, class, msg
	if status == StatusTokenRejected {
		rr.LinkURL = res.LinkURL
		var me *codat.MigrationError
		if errors.As(err, &me) && me.LinkURL != "" {
			rr.LinkURL = me.LinkURL
		}
	}
	canaryFailed := jb.canary && err == nil && !canaryPassed(res)
	if canaryFailed {
		rr.Status, rr.ErrorClass = StatusFailed, "canary"
		rr.Error = fmt.Sprintf("canary ended with connection status %q, first sync waited for: %t, data types in error: %v",
			res.Status, res.HasStep(codat.StepWait), res.SyncErrors)
	}
	jmu.Lock()
	if jerr == nil {
		steps := append([]codat.Step(nil), res.Steps...)
		var e *Record
		if err == nil {
			if !res.HasStep(codat.StepDone) {
				steps = append(steps, codat.StepDone)
			}
			e = line(string(codat.StepDone), res, steps, total)
			if jb.canary {
				e.Verdict = verdictPassed
			}
			if canaryFailed {
				e.Verdict, e.Result, e.ErrorClass, e.Error = verdictFailed, rr.Status, rr.ErrorClass, rr.Error
			}
		} else {
			e = line(stepFailed, res, steps, total)
			e.Result, e.ErrorClass, e.Error = status, class, msg
			e.NoWrite = jb.resume == nil && nothingWritten(res, err)
			if jb.canary && (status == StatusFailed || status == StatusTokenRejected) {
				e.Verdict = verdictFailed
			}
		}
		if jerr = x.st.Append(x.jctx, claim, e); jerr == nil {
			jb.seen = e
		}
	}
	switch {
	case errors.Is(jerr, ErrFenced):
		// This runner stalled and another took the ref over: Migrate
		// stopped at its next request, and the other runner finishes it.
		rr.Status, rr.ErrorClass = StatusIncomplete, "claimed"
		rr.Error = "another runner took this ref over (this one's claim lapsed); its run finishes it"
	case jerr != nil:
		x.setFatal(jerr)
	}
	jmu.Unlock()
	return rr, res, err
}

// stateChanged reports whether r differs from the journaled e in what a
// resume depends on, other than its steps.
func stateChanged(e *Record, r *codat.MigrationResult) bool {
	return e.CompanyID != r.CompanyID || e.ConnectionID != r.ConnectionID || e.Status != string(r.Status) ||
		e.LinkURL != r.LinkURL || e.TokenSent != r.TokenSent || e.PlatformKey != r.PlatformKey ||
		!sameTokenSend(e.TokenSend, r.TokenSend) || !maps.Equal(e.KeyGen, r.KeyGen)
}

func sameTokenSend(a, b *codat.TokenSend) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.At.Equal(b.At) && a.Fingerprint == b.Fingerprint
}

// sameRecord reports whether a and b record the same state (nil for none).
func sameRecord(a, b *Record) bool {
	if a == nil || b == nil {
		return a == b
	}
	ja, erra := json.Marshal(a)
	jb, errb := json.Marshal(b)
	return erra == nil && errb == nil && string(ja) == string(jb)
}

func isPrefix(prefix, steps []codat.Step) bool {
	if len(prefix) > len(steps) {
		return false
	}
	for i := range prefix {
		if prefix[i] != steps[i] {
			return false
		}
	}
	return true
}

// canaryPassed: the connection is Linked and the first sync of every data
// type completed without error.
func canaryPassed(res *codat.MigrationResult) bool {
	return res.Status.Is(codat.StatusLinked) && (res.HasStep(codat.StepWait) || res.AlreadyMigrated) && len(res.SyncErrors) == 0
}

// outcome classifies a migration's result for the report.
func outcome(ctx context.Context, res *codat.MigrationResult, err error) (Status, string, string) {
	if err == nil {
		if res.AlreadyMigrated {
			return StatusAlreadyMigrated, "", ""
		}
		return StatusMigrated, "", ""
	}
	msg := err.Error()
	if _, ok := codat.RateLimitOf(err); ok {
		return StatusPendingQuota, "quota", msg
	}
	if errors.Is(err, codat.ErrTokenRejected) {
		return StatusTokenRejected, "token-rejected", msg
	}
	if errors.Is(err, codat.ErrTokenSendUnsettled) {
		// An earlier token PUT's outcome is still unknown: not a failure, a
		// rerun after the settle window finishes it.
		return StatusIncomplete, "unsettled", msg
	}
	if ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
		return StatusIncomplete, "canceled", msg
	}
	return StatusFailed, errorClass(err), msg
}

// errorClass names the kind of a migration error.
func errorClass(err error) string {
	var ae *codat.APIError
	switch {
	case errors.Is(err, codat.ErrUnauthorized):
		return "unauthorized"
	case errors.Is(err, codat.ErrValidation):
		return "validation"
	case errors.Is(err, codat.ErrNotFound):
		return "not-found"
	case errors.Is(err, codat.ErrConflict):
		return "conflict"
	case errors.Is(err, codat.ErrRateLimited):
		return "rate-limited"
	case errors.As(err, &ae) && ae.StatusCode == 402:
		return "account-limit"
	case errors.As(err, &ae) && ae.StatusCode >= 500:
		return "server"
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case codat.IsAmbiguous(err):
		return "network"
	}
	return "error"
}

type outcomeKind int

const (
	outcomeSkipped outcomeKind = iota
	outcomeDone
	outcomeFailed
	outcomeNotRun
)

// finishJob reports a job's row and updates the run's state.
func (x *run) finishJob(jb *job, rr ReportRow, err error) {
	kind := outcomeDone
	switch rr.Status {
	case StatusMigrated, StatusAlreadyMigrated:
	case StatusPendingQuota, StatusIncomplete, StatusNotStarted:
		kind = outcomeNotRun
	default:
		kind = outcomeFailed
	}
	x.mu.Lock()
	x.inFlight--
	x.sum.Requests += rr.Requests
	if jb.canary && rr.ErrorClass == "claimed" {
		// Another runner of a shared store holds the canary's ref: the
		// next row to migrate is this run's canary instead.
		x.canaryLeft++
		x.canaryRun--
	} else if jb.canary && rr.Status != StatusMigrated && rr.Status != StatusAlreadyMigrated && rr.Status != StatusPendingQuota {
		x.canaryFails = append(x.canaryFails, fmt.Sprintf("ref %q (line %d): %s: %s", rr.Ref, rr.Line, rr.Status, firstNonEmpty(rr.Error, rr.ErrorClass)))
	}
	switch kind {
	case outcomeDone:
		x.consecutive = 0
	case outcomeFailed:
		if rr.Status == StatusFailed {
			x.consecutive++
		}
	}
	consecutive := x.consecutive
	x.mu.Unlock()
	switch {
	case rr.Status == StatusIncomplete && rr.ErrorClass != "claimed" && rr.ErrorClass != "unsettled":
		// Cancelled in flight: the run did not finish, even if every row
		// was already dispatched.
		var cerr error
		if x.stop.work.Err() != nil {
			cerr = context.Cause(x.stop.work)
		}
		if cerr == nil {
			cerr = &stopError{msg: rr.Error, is: context.Canceled}
		}
		x.stopWith(&stop{status: StatusNotStarted, err: cerr}, false)
	case rr.ErrorClass == "unauthorized":
		// Built from the report's scrubbed text, never from err itself: a
		// server may echo what it was sent.
		x.stopWith(&stop{status: StatusNotStarted, err: &stopError{msg: "bulk: Codat refused the API key; stopped: " + rr.Error,
			is: codat.ErrUnauthorized}}, true)
	case rr.ErrorClass == "account-limit":
		x.stopWith(&stop{status: StatusNotStarted, err: &stopError{msg: "bulk: Codat's account limit was reached; stopped: " + rr.Error}}, true)
	case x.s.MaxConsecutiveFailures > 0 && consecutive >= x.s.MaxConsecutiveFailures:
		x.stopWith(&stop{status: StatusNotStarted, err: fmt.Errorf("%w: %d in a row; the last: %s", ErrTooManyFailures, consecutive, rr.Error)}, true)
	}
	x.s.log.Info("bulk: row", "line", rr.Line, "ref", rr.Ref, "status", string(rr.Status), "class", rr.ErrorClass, "requests", rr.Requests)
	if werr := x.emit(jb.seq, rr, kind); werr != nil {
		x.setFatal(werr)
	}
}

// stopError is why a migration's failure stopped the run. Its text is the
// row's scrubbed error, so it holds no token even when Codat echoed one; it
// matches errors.Is for the sentinel is (codat.ErrUnauthorized, say).
type stopError struct {
	msg string
	is  error
}

func (e *stopError) Error() string { return e.msg }

func (e *stopError) Unwrap() error { return e.is }

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// finishCanary waits for the canaries in flight, once all have started,
// and closes or opens the gate.
func (x *run) finishCanary() {
	x.mu.Lock()
	pending := x.canaryOpen
	x.mu.Unlock()
	if !pending {
		return
	}
	x.wg.Wait() // only canaries are in flight while the gate is closed
	x.mu.Lock()
	if x.canaryLeft > 0 && len(x.canaryFails) == 0 && x.fatal == nil && x.stopped == nil {
		// A canary's ref was another runner's: the next row is a canary.
		x.mu.Unlock()
		return
	}
	x.canaryOpen = false
	fails := x.canaryFails
	started := x.canaryRun
	left := x.canaryLeft
	if x.phase == PhaseCanary || x.phase == PhaseCanarySync {
		x.setPhaseLocked(PhaseMigrate)
	}
	x.mu.Unlock()
	if x.stoppedStatus() != "" {
		return // stopped for another reason (quota, cancellation): the canary is not judged
	}
	now := x.s.Now()
	if len(fails) > 0 {
		_ = x.st.Append(x.jctx, Claim{}, &Record{Time: now, Event: eventCanaryFailed})
		x.stopWith(&stop{status: StatusNotStarted, err: fmt.Errorf("%w: %s", ErrCanaryFailed, fails[0])}, true)
		return
	}
	if left == 0 && started > 0 {
		if err := x.st.Append(x.jctx, Claim{}, &Record{Time: now, Event: eventCanaryPassed}); err != nil {
			x.setFatal(err)
		}
	}
	x.progress()
}

func (x *run) stoppedStatus() Status {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.fatal != nil {
		return StatusNotStarted
	}
	if x.stopped != nil {
		return x.stopped.status
	}
	return ""
}

// stopWith records the first reason to stop; final reasons (canary, key)
// replace a quota stop, since a rerun must not just wait for the reset.
func (x *run) stopWith(s *stop, final bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.stopped == nil || (final && x.stopped.status == StatusPendingQuota) {
		x.stopped = s
		x.setPhaseLocked(PhaseStopped)
		x.progressLocked()
	}
}

func (x *run) setFatal(err error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.fatal == nil {
		x.fatal = err
		x.setPhaseLocked(PhaseStopped)
	}
}

// emitNotRun reports a job that was not attempted because the run stopped.
func (x *run) emitNotRun(jb *job, st Status) error {
	if st == "" {
		st = StatusNotStarted
	}
	rr := baseReport(jb.row)
	rr.Status = st
	if jb.prev != nil {
		rr.CompanyID, rr.ConnectionID = jb.prev.CompanyID, jb.prev.ConnectionID
	}
	x.mu.Lock()
	if x.stopped != nil && x.stopped.status == st {
		switch st {
		case StatusPendingQuota:
			rr.ErrorClass = "quota"
			rr.Error = "the daily quota was spent before this row; it resets at " + x.stopped.reset.UTC().Format(time.RFC3339)
		default:
			if x.stopped.err != nil {
				rr.ErrorClass = "stopped"
				rr.Error = "the run stopped before this row: " + x.stopped.err.Error()
			}
		}
	}
	x.mu.Unlock()
	return x.emit(jb.seq, rr, outcomeNotRun)
}

// emit writes the report row of the seq-th input row (in input order: see
// orderedReport) and publishes progress.
func (x *run) emit(seq int, rr ReportRow, kind outcomeKind) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.sum.Rows++
	x.sum.Counts[rr.Status]++
	switch kind {
	case outcomeSkipped:
		x.skipped++
	case outcomeDone:
		x.done++
	case outcomeFailed:
		x.failed++
	}
	err := x.order.write(seq, rr)
	x.progressLocked()
	if err != nil {
		err = fmt.Errorf("bulk: write report: %w", err)
		if x.fatal == nil {
			x.fatal = err
		}
	}
	return nil
}

func (x *run) setPhase(p Phase) {
	x.mu.Lock()
	x.setPhaseLocked(p)
	x.progressLocked()
	x.mu.Unlock()
}

// setPhaseLocked sets the phase, and when it began if it changed.
func (x *run) setPhaseLocked(p Phase) {
	if x.phase != p || x.phaseSince.IsZero() {
		x.phase, x.phaseSince = p, x.s.Now()
	}
}

// enterPhase sets a waiting phase (a rate-limit pause, the quota wait),
// unless the run has stopped, and returns the phase to go back to.
func (x *run) enterPhase(p Phase) Phase {
	x.mu.Lock()
	defer x.mu.Unlock()
	prev := x.phase
	if prev != PhaseStopped {
		x.setPhaseLocked(p)
		x.progressLocked()
	}
	return prev
}

// leavePhase goes back to prev when the phase is still p.
func (x *run) leavePhase(p, prev Phase) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.phase == p {
		x.setPhaseLocked(prev)
		x.progressLocked()
	}
}

// canaryWaits marks the canaries as waiting for their first sync, once
// one of them has queued it.
func (x *run) canaryWaits() {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.phase == PhaseCanary {
		x.setPhaseLocked(PhaseCanarySync)
		x.progressLocked()
	}
}

func (x *run) progress() {
	x.mu.Lock()
	x.progressLocked()
	x.mu.Unlock()
}

func (x *run) progressLocked() {
	if x.s.OnProgress == nil {
		return
	}
	now := x.s.Now()
	elapsed := now.Sub(x.sum.Started)
	p := Progress{Phase: x.phase, PhaseSince: x.phaseSince, Rows: x.sum.Rows, Total: x.total, Done: x.done, Failed: x.failed, Skipped: x.skipped,
		InFlight: x.inFlight, Requests: x.sum.Requests, Elapsed: elapsed, Quota: x.s.quota()}
	if elapsed > 0 && x.done+x.failed > 0 {
		p.Rate = float64(x.done+x.failed) / elapsed.Minutes()
	}
	p.ETA = eta(x.total-x.done-x.failed, p.Rate, p.Quota, x.per, now)
	switch x.phase {
	case PhaseQuotaWait:
		p.QuotaReset = x.gate.closedUntil()
	case PhaseRateLimited:
		p.PauseUntil = x.pause.closedUntil()
	}
	x.s.OnProgress(p)
}

// openJournalReadOnly opens an existing journal to read, without locking or
// changing it; a missing file is an empty journal (nil).
func openJournalReadOnly(path string) (*journal, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("bulk: open journal: %w", err)
	}
	j := &journal{path: path, f: f, unlock: func() error { return nil }}
	j.cond = sync.NewCond(&j.mu)
	if _, _, err := scanJournal(f, j); err != nil {
		_ = f.Close()
		return nil, err
	}
	return j, nil
}
