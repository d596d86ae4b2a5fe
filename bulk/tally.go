package bulk

import (
	"context"
	"fmt"
	"time"

	"github.com/codat-migrate/codat"
)

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
	if jb.canary && rr.ErrorClass == string(ClassClaimed) {
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
	case rr.Status == StatusIncomplete && rr.ErrorClass != string(ClassClaimed) && rr.ErrorClass != string(ClassUnsettled):
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
	case rr.ErrorClass == string(ClassUnauthorized):
		// Built from the report's scrubbed text, never from err itself: a
		// server may echo what it was sent.
		x.stopWith(&stop{status: StatusNotStarted, err: &stopError{msg: "bulk: Codat refused the API key; stopped: " + rr.Error,
			is: codat.ErrUnauthorized}}, true)
	case rr.ErrorClass == string(ClassAccountLimit):
		x.stopWith(&stop{status: StatusNotStarted, err: &stopError{msg: "bulk: Codat's account limit was reached; stopped: " + rr.Error}}, true)
	case x.s.MaxConsecutiveFailures > 0 && consecutive >= x.s.MaxConsecutiveFailures:
		x.stopWith(&stop{status: StatusNotStarted, err: fmt.Errorf("%w: %d in a row; the last: %s", ErrTooManyFailures, consecutive, rr.Error)}, true)
	}
	x.s.log.Info("bulk: row", "line", rr.Line, "ref", rr.Ref, "status", string(rr.Status), "class", rr.ErrorClass, "requests", rr.Requests)
	if werr := x.emit(jb.seq, rr, kind); werr != nil {
		x.setFatal(werr)
	}
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
			rr.ErrorClass = string(ClassQuota)
			rr.Error = "the daily quota was spent before this row; it resets at " + x.stopped.reset.UTC().Format(time.RFC3339)
		default:
			if x.stopped.err != nil {
				rr.ErrorClass = string(ClassStopped)
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
		x.phase, x.phaseSince = p, x.s.now()
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

func (x *run) progress() {
	x.mu.Lock()
	x.progressLocked()
	x.mu.Unlock()
}

func (x *run) progressLocked() {
	if x.s.OnProgress == nil {
		return
	}
	now := x.s.now()
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
