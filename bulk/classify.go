package bulk

import (
	"context"
	"fmt"

	"github.com/codat-migrate/codat"
	"github.com/codat-migrate/codat/integrations"
)

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
	idx    rowIndex
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
//
// It must be called with the rows of the second read, in input order, as
// the index (cl.idx) verifies them: the index's decision is the current
// row's.
func (cl *classifier) classify(row Row, rowErr *RowError) (verdict, error) {
	rep := baseReport(row)
	c, reason := cl.check(row, rowErr)
	if reason != "" {
		if cl.st == nil || !cl.idx.firstInvalid(row) {
			// Only the first invalid row of a ref that no valid row has
			// is looked up.
			rep.Status, rep.ErrorClass, rep.Error = StatusInvalid, string(ClassInvalid), reason
			return verdict{out: &rep}, nil
		}
		return cl.invalid(row, rep, reason)
	}
	if why, dup := cl.idx.duplicate(row, c); dup {
		rep.Status, rep.ErrorClass, rep.Error = StatusDuplicate, string(ClassDuplicate), why
		return verdict{out: &rep}, nil
	}
	return cl.valid(row, c, rep)
}

// again decides once more a row that classify gave a job, from the store's
// record of its ref as it is now; the index's decision (not a duplicate; or
// the first invalid row of its ref) still holds.
func (cl *classifier) again(row Row) (verdict, error) {
	rep := baseReport(row)
	c, reason := cl.check(row, nil)
	if reason != "" {
		return cl.invalid(row, rep, reason)
	}
	return cl.valid(row, c, rep)
}

// check runs the offline checks of a row: the reason it is invalid, if so.
func (cl *classifier) check(row Row, rowErr *RowError) (checked, string) {
	if rowErr != nil {
		return checked{}, rowErr.Reason
	}
	c, err := checkRow(cl.reg, row)
	if err != nil {
		return checked{}, err.Error()
	}
	return c, ""
}

// valid decides a valid row that is not a duplicate in the input, from the
// store: a duplicate when the store holds its tenant under another ref,
// else from the ref's record (known) or the account check (unknown).
func (cl *classifier) valid(row Row, c checked, rep ReportRow) (verdict, error) {
	jb := &job{row: row, c: c, tenantH: tenantHash(c.tenant)}
	var e *Record
	if cl.st != nil {
		other, err := cl.st.TenantRef(cl.ctx, jb.tenantH)
		if err != nil {
			return verdict{}, err
		}
		if other != "" && other != row.Ref {
			rep.Status, rep.ErrorClass = StatusDuplicate, string(ClassDuplicate)
			rep.Error = fmt.Sprintf("the journal holds this %s tenant under ref %q; not migrated twice", c.platformLabel(), other)
			return verdict{out: &rep}, nil
		}
		if e, err = cl.st.Get(cl.ctx, row.Ref); err != nil {
			return verdict{}, err
		}
	}
	if e == nil {
		return cl.unknown(jb, rep), nil
	}
	return cl.known(jb, rep, e), nil
}

// unknown decides a valid row whose ref the journal does not know, from the
// account check (run at the first such row): a duplicate when its tenant is
// in Codat under another ref, resumed when a company in Codat carries its
// ref, migrated afresh otherwise.
func (cl *classifier) unknown(jb *job, rep ReportRow) verdict {
	row, c := jb.row, jb.c
	if f := cl.checkAccount; f != nil {
		cl.checkAccount = nil
		f()
	}
	if holder, found := cl.inCodat[tagKey(codat.TenantTag(c.platformKey, c.tenantID))]; found && c.tenantID != "" && holder != row.Ref {
		// The tenant was migrated under another ref (another export, a
		// lost journal): a second company would share its grant.
		rep.Status, rep.ErrorClass = StatusDuplicate, string(ClassDuplicate)
		rep.Error = fmt.Sprintf("the same %s tenant is already in Codat under ref %q; not migrated twice", c.platformLabel(), holder)
		return verdict{out: &rep}
	}
	if _, found := cl.inCodat[refKey(row.Ref)]; found {
		// Migrated (or started) by a run with another journal: Migrate
		// finds the company by its tag instead of creating a second one.
		jb.resume, jb.inCodat = &codat.MigrationResult{Ref: row.Ref}, true
	}
	return verdict{job: jb}
}

// known decides a valid row from e, its ref's latest journal entry.
func (cl *classifier) known(jb *job, rep ReportRow, e *Record) verdict {
	c := jb.c
	jb.prev, jb.seen, jb.journaled = e, e, e.Requests
	rep.CompanyID, rep.ConnectionID = e.CompanyID, e.ConnectionID
	same := e.Fingerprint == c.fingerprint
	switch {
	case e.canaryFailed() && (same || !cl.relink):
		return canaryFailedEarlier(rep, e)
	case e.finished() && same:
		rep.Status = StatusAlreadyMigrated
		return verdict{out: &rep}
	case e.finished() || (e.tokenSent() && !same && !e.rejected()):
		if !cl.relink {
			return tokenChanged(rep, e, c)
		}
		jb.resume, jb.relink = beforeToken(e), true
	case e.rejected() && same:
		rep.Status, rep.ErrorClass, rep.LinkURL = StatusTokenRejected, string(ClassTokenRejected), e.LinkURL
		rep.Error = "Codat rejected this token in an earlier run; supply a new token or send the customer to the link URL"
		return verdict{out: &rep}
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
	return verdict{job: jb}
}

// tokenChanged reports a row whose token (c) is not the one the journal
// (e) holds for its ref, without Relink: not sent.
func tokenChanged(rep ReportRow, e *Record, c checked) verdict {
	rep.Status, rep.ErrorClass = StatusTokenChanged, string(ClassTokenChanged)
	rep.Error = fmt.Sprintf("the journal has this ref's token with fingerprint %s, the row has %s; not re-sent (relink to send it)", e.Fingerprint, c.fingerprint)
	if e.sendUnknown() {
		rep.Error = fmt.Sprintf("a token with fingerprint %s was sent for this ref and its outcome is unknown (Codat may hold it); the row has %s, "+
			"which is not sent: relink to send it (--relink; it is sent once the settle window after the earlier send has passed)", e.Fingerprint, c.fingerprint)
	}
	return verdict{out: &rep}
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
	rep.Status, rep.ErrorClass = StatusFailed, string(ClassCanary)
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
// invalid row is reported invalid.
func (cl *classifier) invalid(row Row, rep ReportRow, reason string) (verdict, error) {
	rep.Status, rep.ErrorClass, rep.Error = StatusInvalid, string(ClassInvalid), reason
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
