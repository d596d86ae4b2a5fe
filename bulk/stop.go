package bulk

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// DefaultStopGrace is how long the migrations in flight when Runner.Stop is
// called may go on when Runner.StopGrace is zero.
const DefaultStopGrace = 30 * time.Second

// ErrStopped is wrapped by Run's error when Runner.Stop ended the run before
// every row was decided: rows not started are reported not-started, and a
// migration still in flight when Runner.StopGrace ran out is reported
// incomplete. A rerun with the same journal resumes them.
var ErrStopped = errors.New("bulk: run stopped")

// stopControl is a Runner's stop signal: done is closed by the first Stop.
type stopControl struct {
	owner *Runner // the Runner it belongs to: a copy of the Runner gets its own
	once  sync.Once
	done  chan struct{}
}

// controlMu guards the creation of a Runner's stopControl, so that a Runner
// keeps its zero value ready to use and copyable.
var controlMu sync.Mutex

// control returns r's stop signal, creating it on first use. Once it
// returns, r.ctl is only read, never written, until r is copied.
func (r *Runner) control() *stopControl {
	controlMu.Lock()
	defer controlMu.Unlock()
	if r.ctl == nil || r.ctl.owner != r {
		r.ctl = &stopControl{owner: r, done: make(chan struct{})}
	}
	return r.ctl
}

// Stop asks the run in progress to stop cleanly: no new migration starts,
// the migrations in flight go on to their end (each step journaled) for up
// to StopGrace, after which their context is cancelled, and Run reports the
// rows not started as not-started and returns an error wrapping ErrStopped
// (nil if every row had been started and finished by then). Cancelling
// Run's context is the hard stop: it cancels the migrations in flight at
// once.
//
// Stop is safe to call from any goroutine (a signal handler's, say), at any
// time, any number of times. It is final, like http.Server.Shutdown: a later
// Run of the same Runner starts no migration. A copy of the Runner made
// with an assignment is a new Runner and is not stopped.
func (r *Runner) Stop() {
	c := r.control()
	c.once.Do(func() { close(c.done) })
}

// stopping is a run's two contexts and the goroutine that ties them to
// Runner.Stop.
//
//   - start gates new work (a free slot, the start rate, a quota wait): it is
//     cancelled by Stop (cause ErrStopped) or by Run's context;
//   - work is the migrations' context: it is cancelled by Run's context, or
//     StopGrace after Stop.
type stopping struct {
	start, work             context.Context
	cancelStart, cancelWork context.CancelCauseFunc
	stop                    <-chan struct{}
	finished, exited        chan struct{}
}

func newStopping(ctx context.Context, stop <-chan struct{}, grace time.Duration) *stopping {
	st := &stopping{stop: stop, finished: make(chan struct{}), exited: make(chan struct{})}
	st.start, st.cancelStart = context.WithCancelCause(ctx)
	st.work, st.cancelWork = context.WithCancelCause(ctx)
	if grace == 0 {
		grace = DefaultStopGrace
	}
	go func() {
		defer close(st.exited)
		select {
		case <-st.finished:
			return
		case <-stop:
		}
		st.cancelStart(ErrStopped)
		if grace < 0 {
			return
		}
		t := time.NewTimer(grace)
		defer t.Stop()
		select {
		case <-st.finished:
		case <-t.C:
			st.cancelWork(fmt.Errorf("%w: the migrations in flight were cancelled after %s", ErrStopped, grace))
		}
	}()
	return st
}

// close ends the goroutine and releases the contexts once Run is over.
func (st *stopping) close() {
	close(st.finished)
	<-st.exited
	st.cancelStart(nil)
	st.cancelWork(nil)
}

// startErr is why new work may not start, or nil. It reads Stop's signal
// itself rather than wait for the goroutine to cancel start, so that no
// migration starts after Stop has returned.
func (st *stopping) startErr() error {
	select {
	case <-st.stop:
		st.cancelStart(ErrStopped) // no-op when already cancelled
	default:
	}
	if st.start.Err() == nil {
		return nil
	}
	return context.Cause(st.start)
}
