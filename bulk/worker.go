package bulk

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/codat-migrate/codat"
)

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
	start := x.startRecord(jb)
	rr := baseReport(jb.row)
	claim, err := x.st.Claim(x.jctx, jb.row.Ref)
	if errors.Is(err, ErrClaimed) {
		rr.Status, rr.ErrorClass, rr.Error = StatusIncomplete, string(ClassClaimed), "another runner is migrating this ref; its run finishes it"
		return rr, jb.resume, nil
	}
	if err != nil {
		return *x.journalFailed(rr, err, "the journal could not be written"), jb.resume, err
	}
	defer func() { _ = x.st.Release(x.jctx, claim) }()
	out, redo, err := x.decideAgain(jb, rr)
	switch {
	case out != nil:
		return *out, jb.resume, err
	case redo:
		return x.migrateOne(jb)
	}
	if out, err := x.journalStart(jb, claim, start, rr); out != nil {
		return *out, jb.resume, err
	}
	sj := &stepJournal{x: x, jb: jb, claim: claim}
	if jb.resume != nil {
		sj.journaled = append([]codat.Step(nil), jb.resume.Steps...)
	}
	// Not the start context: Stop lets the migrations in flight finish.
	res, err := x.s.migrate(x.stop.work, x.migration(jb, sj))
	if res == nil { // Migrate promises a result; be safe if a stand-in does not
		res = &codat.MigrationResult{Ref: jb.row.Ref}
		if jb.resume != nil {
			c := *jb.resume
			c.Requests = 0
			res = &c
		}
	}
	jb.sent += res.Requests
	total := jb.journaled + jb.sent
	_ = sj.record(res, total) // a failure is in sj.err, handled by finish
	oc := newOutcome(x.stop.work, jb, res, err)
	rr = oc.report(rr, res, jb.sent)
	sj.finish(res, oc, &rr, total)
	return rr, res, err
}

// startRecord is the job's start line: what the journal knew of the ref
// when this attempt began.
func (x *run) startRecord(jb *job) *Record {
	row := jb.row
	start := &Record{Time: x.s.now(), Ref: row.Ref, Line: row.Line, Step: stepStart, Fingerprint: jb.c.fingerprint,
		Tenant: jb.tenantH, Canary: jb.canary, Relink: jb.relink}
	if jb.resume != nil {
		start.Steps = append([]codat.Step(nil), jb.resume.Steps...)
		start.CompanyID, start.ConnectionID, start.Status, start.LinkURL = jb.resume.CompanyID, jb.resume.ConnectionID,
			string(jb.resume.Status), jb.resume.LinkURL
		start.AlreadyMigrated, start.TokenSent = jb.resume.AlreadyMigrated, jb.resume.TokenSent
		start.PlatformKey, start.TokenSend, start.KeyGen = jb.resume.PlatformKey, jb.resume.TokenSend, jb.resume.KeyGen
	}
	start.Requests = jb.journaled + jb.sent
	return start
}

// journalFailed stops the run for the store's error err and returns rr
// reported not started, its error what.
func (x *run) journalFailed(rr ReportRow, err error, what string) *ReportRow {
	x.setFatal(err)
	rr.Status, rr.ErrorClass, rr.Error = StatusNotStarted, string(ClassJournal), what
	return &rr
}

// decideAgain decides a claimed row again when the store is shared and its
// record of the ref is not the one the row was decided from: another runner
// may have migrated the ref meanwhile. out, when not nil, is the row's report
// (no request needed, or a store error, then in err); redo means jb now holds
// the new decision, to be migrated afresh.
func (x *run) decideAgain(jb *job, rr ReportRow) (out *ReportRow, redo bool, err error) {
	if _, file := x.st.(*journal); file {
		return nil, false, nil
	}
	cur, err := x.st.Get(x.jctx, jb.row.Ref)
	if err != nil {
		return x.journalFailed(rr, err, "the journal could not be read"), false, err
	}
	if sameRecord(cur, jb.seen) {
		return nil, false, nil
	}
	v, err := x.cl.again(jb.row)
	if err != nil {
		return x.journalFailed(rr, err, "the journal could not be read"), false, err
	}
	if v.out != nil {
		return v.out, false, nil
	}
	nj := v.job
	jb.c, jb.prev, jb.seen, jb.resume, jb.relink, jb.inCodat, jb.journaled, jb.sent = nj.c, nj.prev, nj.seen, nj.resume,
		nj.relink, nj.inCodat, nj.journaled, 0
	return nil, true, nil
}

// journalStart journals the start line under claim. A non-nil report means
// the row ends here: its tenant was taken by another ref since the row was
// decided (a duplicate, nothing sent), or the store failed (then in err).
func (x *run) journalStart(jb *job, claim Claim, start *Record, rr ReportRow) (*ReportRow, error) {
	err := x.st.Append(x.jctx, claim, start)
	switch {
	case err == nil:
		jb.seen = start
		return nil, nil
	case errors.Is(err, ErrTenantTaken):
		// Another ref, of another run or export, took the tenant since
		// the row was classified: a duplicate, and nothing was sent.
		rr.Status, rr.ErrorClass = StatusDuplicate, string(ClassDuplicate)
		rr.Error = fmt.Sprintf("the store holds this %s tenant under another ref; not migrated twice: %v", jb.c.platformKey, err)
		return &rr, nil
	}
	return x.journalFailed(rr, err, "the journal could not be written"), err
}

// migration is the codat.Migration of the job, its steps journaled by sj.
func (x *run) migration(jb *job, sj *stepJournal) codat.Migration {
	row := jb.row
	mode := x.s.Sync
	if jb.canary {
		mode = codat.SyncWait
	}
	return codat.Migration{
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
			if err := sj.record(&snap, jb.journaled+jb.sent+snap.Requests); err != nil {
				return err
			}
			if jb.canary && snap.HasStep(codat.StepSync) && !snap.HasStep(codat.StepWait) {
				x.canaryWaits()
			}
			return nil
		},
	}
}
