package bulk

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"

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
		rr.Status, rr.ErrorClass, rr.Error = StatusIncomplete, string(ClassClaimed), "another runner is migrating this ref; its run finishes it"
		return rr, jb.resume, nil
	}
	if err != nil {
		x.setFatal(err)
		rr.Status, rr.ErrorClass, rr.Error = StatusNotStarted, string(ClassJournal), "the journal could not be written"
		return rr, jb.resume, err
	}
	defer func() { _ = x.st.Release(x.jctx, claim) }()
	if _, file := x.st.(*journal); !file {
		// Another runner may have migrated the ref since this one decided
		// the row: decide it again from the store's record.
		cur, err := x.st.Get(x.jctx, row.Ref)
		if err != nil {
			x.setFatal(err)
			rr.Status, rr.ErrorClass, rr.Error = StatusNotStarted, string(ClassJournal), "the journal could not be read"
			return rr, jb.resume, err
		}
		if !sameRecord(cur, jb.seen) {
			v, err := x.cl.classify(row, nil)
			if err != nil {
				x.setFatal(err)
				rr.Status, rr.ErrorClass, rr.Error = StatusNotStarted, string(ClassJournal), "the journal could not be read"
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
			rr.Status, rr.ErrorClass = StatusDuplicate, string(ClassDuplicate)
			rr.Error = fmt.Sprintf("the store holds this %s tenant under another ref; not migrated twice: %v", jb.c.platformKey, err)
			return rr, jb.resume, nil
		}
		x.setFatal(err)
		rr.Status, rr.ErrorClass, rr.Error = StatusNotStarted, string(ClassJournal), "the journal could not be written"
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
	rr.Status, rr.ErrorClass, rr.Error = status, string(class), msg
	if status == StatusTokenRejected {
		rr.LinkURL = res.LinkURL
		var me *codat.MigrationError
		if errors.As(err, &me) && me.LinkURL != "" {
			rr.LinkURL = me.LinkURL
		}
	}
	canaryFailed := jb.canary && err == nil && !canaryPassed(res)
	if canaryFailed {
		rr.Status, rr.ErrorClass = StatusFailed, string(ClassCanary)
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
			e.Result, e.ErrorClass, e.Error = status, string(class), msg
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
		rr.Status, rr.ErrorClass = StatusIncomplete, string(ClassClaimed)
		rr.Error = "another runner took this ref over (this one's claim lapsed); its run finishes it"
	case jerr != nil:
		x.setFatal(jerr)
	}
	jmu.Unlock()
	return rr, res, err
}
