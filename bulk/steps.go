package bulk

import (
	"encoding/json"
	"errors"
	"maps"
	"sync"

	"github.com/codat-migrate/codat"
)

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

// stepJournal journals a migration's steps under its claim. Every step is
// journaled when Migrate records it (OnStep), so a crash loses at most the
// step in flight; steps OnStep did not report are journaled when Migrate
// returns. The done line is written last, with the outcome (a canary's
// verdict).
type stepJournal struct {
	x     *run
	jb    *job
	claim Claim

	mu        sync.Mutex
	journaled []codat.Step // the steps journaled so far
	err       error        // the first write that failed
}

// line is a journal line of the job named name: r's state with steps.
func (sj *stepJournal) line(name string, r *codat.MigrationResult, steps []codat.Step, requests int) *Record {
	jb := sj.jb
	return &Record{Time: sj.x.s.now(), Ref: jb.row.Ref, Line: jb.row.Line, Step: name, Steps: steps, CompanyID: r.CompanyID,
		ConnectionID: r.ConnectionID, Status: string(r.Status), LinkURL: r.LinkURL, Fingerprint: jb.c.fingerprint,
		Tenant: jb.tenantH, Canary: jb.canary, Relink: jb.relink, AlreadyMigrated: r.AlreadyMigrated, TokenSent: r.TokenSent,
		PlatformKey: r.PlatformKey, TokenSend: r.TokenSend, KeyGen: r.KeyGen, Requests: requests}
}

// append writes l; sj.mu is held.
func (sj *stepJournal) append(l *Record) {
	if sj.err = sj.x.st.Append(sj.x.jctx, sj.claim, l); sj.err == nil {
		sj.jb.seen = l
	}
}

// record journals the steps of r not journaled yet, or, when there is none,
// a state line if what a resume needs changed. It returns the first write
// that failed.
func (sj *stepJournal) record(r *codat.MigrationResult, requests int) error {
	sj.mu.Lock()
	defer sj.mu.Unlock()
	if !isPrefix(sj.journaled, r.Steps) {
		sj.journaled = nil
	}
	wrote := false
	for i := len(sj.journaled); i < len(r.Steps) && r.Steps[i] != codat.StepDone && sj.err == nil; i++ {
		steps := append([]codat.Step(nil), r.Steps[:i+1]...)
		sj.append(sj.line(string(r.Steps[i]), r, steps, requests))
		sj.journaled, wrote = steps, true
	}
	if !wrote && sj.err == nil && sj.jb.seen != nil && stateChanged(sj.jb.seen, r) {
		// No new step, but what a resume needs changed: journaled
		// before Migrate's next request (a token PUT's send intent).
		sj.append(sj.line(stepState, r, append([]codat.Step(nil), sj.journaled...), requests))
	}
	return sj.err
}

// finish journals the migration's last line (done or failed, with the
// outcome o) unless a write already failed, and settles rr for a write that
// failed: a lapsed claim is reported incomplete, any other failure stops the
// run.
func (sj *stepJournal) finish(res *codat.MigrationResult, o migrationOutcome, rr *ReportRow, total int) {
	sj.mu.Lock()
	defer sj.mu.Unlock()
	if sj.err == nil {
		sj.append(sj.last(res, o, rr, total))
	}
	switch {
	case errors.Is(sj.err, ErrFenced):
		// This runner stalled and another took the ref over: Migrate
		// stopped at its next request, and the other runner finishes it.
		rr.Status, rr.ErrorClass = StatusIncomplete, string(ClassClaimed)
		rr.Error = "another runner took this ref over (this one's claim lapsed); its run finishes it"
	case sj.err != nil:
		sj.x.setFatal(sj.err)
	}
}

// last is the migration's last journal line: done, or failed with the
// outcome o.
func (sj *stepJournal) last(res *codat.MigrationResult, o migrationOutcome, rr *ReportRow, total int) *Record {
	steps := append([]codat.Step(nil), res.Steps...)
	if o.err == nil {
		if !res.HasStep(codat.StepDone) {
			steps = append(steps, codat.StepDone)
		}
		e := sj.line(string(codat.StepDone), res, steps, total)
		if sj.jb.canary {
			e.Verdict = verdictPassed
		}
		if o.canaryFailed {
			e.Verdict, e.Result, e.ErrorClass, e.Error = verdictFailed, rr.Status, rr.ErrorClass, rr.Error
		}
		return e
	}
	e := sj.line(stepFailed, res, steps, total)
	e.Result, e.ErrorClass, e.Error = o.status, string(o.class), o.msg
	e.NoWrite = sj.jb.resume == nil && nothingWritten(res, o.err)
	if sj.jb.canary && (o.status == StatusFailed || o.status == StatusTokenRejected) {
		e.Verdict = verdictFailed
	}
	return e
}
