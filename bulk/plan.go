package bulk

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/codat-migrate/codat"
)

// Validate checks every row offline and reports each as valid, invalid or
// duplicate. Nothing is sent and the journal is not read (a Store that is
// an IndexStore only keeps the index of the input). It reads in twice
// (duplicates first) and stops with ErrInputChanged at the first row of the
// second read that differs from the first's.
func (r *Runner) Validate(ctx context.Context, in Source, rep ReportWriter) (*Summary, error) {
	if in == nil {
		return nil, errNoInput
	}
	s := r.settings()
	sum := &Summary{Input: in.Label(), Counts: map[Status]int{}, Started: s.now()}
	if rep == nil {
		rep = DiscardReport
	}
	idx, err := scanInput(ctx, in, s.reg, s.Store, nil)
	if err != nil {
		return sum, err
	}
	defer idx.close()
	if err := openReport(rep); err != nil {
		return sum, err
	}
	cl := &classifier{ctx: ctx, reg: s.reg, idx: idx}
	check, finished := idx.verified(ctx, func(row Row, rowErr *RowError) error {
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
	if err = eachRow(ctx, in, check); err == nil {
		err = finished()
	}
	sum.Finished = s.now()
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
//
// It reads in twice (duplicates first) and stops with ErrInputChanged at
// the first row of the second read that differs from the first's: no
// listing is made from it, and no Plan is returned.
func (r *Runner) Plan(ctx context.Context, in Source) (*Plan, error) {
	if in == nil {
		return nil, errNoInput
	}
	s := r.settings()
	p := &Plan{Input: in.Label(), RequestsPerCompany: RequestsPerCompany(s.Sync)}
	st, closeStore, err := s.planStore()
	if err != nil {
		return nil, err
	}
	defer closeStore()
	idx, err := scanInput(ctx, in, s.reg, st, nil)
	if err != nil {
		return nil, err
	}
	defer idx.close()
	canaryLeft, err := canariesLeft(ctx, st, s.Canary)
	if err != nil {
		return nil, err
	}
	pc := &planCounter{p: p, sync: s.Sync, canaryLeft: canaryLeft}
	cl := &classifier{ctx: ctx, reg: s.reg, idx: idx, st: st, relink: s.Relink}
	listed := false
	if !s.SkipAccountCheck && s.listRefs != nil {
		cl.checkAccount = func() {
			found, n, err := s.listRefs(ctx, accountFilter(idx, st))
			p.AccountCheckRequests = max(n, 1)
			if err != nil {
				p.AccountCheckError = err.Error()
				return
			}
			cl.inCodat, listed = found, true
		}
	}
	check, finished := idx.verified(ctx, func(row Row, rowErr *RowError) error {
		p.Rows++
		v, err := cl.classify(row, rowErr)
		if err != nil {
			return err
		}
		pc.count(row, v)
		return nil
	})
	if err = eachRow(ctx, in, check); err == nil {
		err = finished()
	}
	if err != nil {
		return nil, err
	}
	p.Quota, p.QuotaError = s.planQuota(ctx, listed)
	p.RequestsNeeded += p.AccountCheckRequests
	// Every migration is scheduled at the per-company rate; what the
	// canaries and resumed rows need beyond (or short of) it, and the
	// account check, are the overhead, so that the schedule's requests add
	// up to RequestsNeeded.
	p.Estimate = EstimateSchedule(Schedule{Companies: p.ToMigrate(), RequestsPerCompany: p.RequestsPerCompany,
		Overhead: p.RequestsNeeded - p.ToMigrate()*p.RequestsPerCompany, Quota: p.Quota, Now: s.now()})
	return p, nil
}

// planStore is the store Plan reads (nil: none), and the function that
// closes what it opened: the Store, or the journal at JournalPath opened
// read-only when it exists.
func (s *settings) planStore() (Store, func(), error) {
	switch {
	case s.Store != nil:
		return s.Store, func() {}, nil
	case s.JournalPath != "":
		j, err := openJournalReadOnly(s.JournalPath)
		if err != nil {
			return nil, nil, err
		}
		if j != nil {
			return j, func() { _ = j.close() }, nil
		}
	}
	return nil, func() {}, nil
}

// canariesLeft is the number of canaries still to run of a cohort of
// canary, from the canary summary of st (nil: none).
func canariesLeft(ctx context.Context, st Store, canary int) (int, error) {
	if st == nil {
		return canary, nil
	}
	cs, err := st.Canary(ctx)
	if err != nil {
		return 0, err
	}
	if cs.Passed {
		return 0, nil
	}
	return max(0, canary-cs.Passes), nil
}

// planQuota is the quota Plan reports: what the account check's responses
// showed when it listed the account (listed), or else one request's, or the
// reason it was not read.
func (s *settings) planQuota(ctx context.Context, listed bool) (codat.Quota, string) {
	switch {
	case listed:
		return s.quota(), ""
	case s.probe != nil:
		q, err := s.probe(ctx)
		if err != nil {
			return codat.Quota{}, err.Error()
		}
		return q, ""
	}
	return codat.Quota{}, "no client: quota not read"
}

// planCounter counts the rows of a Plan as the classifier decides them.
type planCounter struct {
	p          *Plan
	sync       codat.SyncMode
	canaryLeft int
}

// count counts row, decided v.
func (pc *planCounter) count(row Row, v verdict) {
	p := pc.p
	if v.out != nil {
		pc.countDecided(v.out.Status)
		return
	}
	p.Valid++
	mode := pc.sync
	if pc.canaryLeft > 0 {
		pc.canaryLeft--
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
}

// countDecided counts a row decided without a request, with status st.
func (pc *planCounter) countDecided(st Status) {
	p := pc.p
	switch st {
	case StatusInvalid:
		p.Invalid++
		return
	case StatusDuplicate:
		p.Duplicate++
		return
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
