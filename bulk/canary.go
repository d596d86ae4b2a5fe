package bulk

import (
	"fmt"

	"github.com/codat-migrate/codat"
)

// canaryPassed: the connection is Linked and the first sync of every data
// type completed without error.
func canaryPassed(res *codat.MigrationResult) bool {
	return res.Status.Is(codat.StatusLinked) && (res.HasStep(codat.StepWait) || res.AlreadyMigrated) && len(res.SyncErrors) == 0
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
	now := x.s.now()
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
