package bulk

import (
	"context"
	"errors"
	"time"

	"golang.org/x/time/rate"

	"github.com/codat-migrate/codat"
)

// paceShare is the share of Runner.RequestsPerMinute that starts are paced
// to.
const paceShare = 0.99

// startLimiter paces migration starts of per requests each to stay under
// rpm requests a minute. A burst of one start: the limit is counted in fixed
// windows, so starts bunched at the start of a window (a burst as large as
// the concurrency) would push a few requests over it. The pace keeps a small
// headroom (paceShare) below the limit for the jitter of request timing.
func startLimiter(rpm, per int) *rate.Limiter {
	return rate.NewLimiter(startRate(rpm, per), 1)
}

// startRate is the pace of startLimiter: starts a second.
func startRate(rpm, per int) rate.Limit {
	return rate.Limit(float64(rpm) * paceShare / 60 / float64(per))
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
		now := x.s.now()
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
	err := x.pause.wait(x.stop.start, x.s.now, x.s.sleep)
	x.leavePhase(PhaseRateLimited, prev)
	if err != nil {
		err = x.stopStarting(err)
	}
	return err
}

// waitQuota sleeps until reset (one sleeper for all goroutines).
func (x *run) waitQuota(reset time.Time) error {
	x.gate.close(reset)
	prev := x.enterPhase(PhaseQuotaWait)
	x.s.log.Info("bulk: daily quota spent; waiting for the reset", "reset", reset.UTC().Format(time.RFC3339))
	err := x.gate.wait(x.stop.start, x.s.now, x.s.sleep)
	x.leavePhase(PhaseQuotaWait, prev)
	if err != nil {
		err = x.stopStarting(err)
	}
	return err
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
			_ = x.st.Append(x.jctx, Claim{}, &Record{Time: x.s.now(), Event: eventQuota, Reset: &reset})
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
	if !x.s.WaitForQuota && (reset.Sub(x.s.now()) > MaxRateLimitPause ||
		rl.Kind == codat.RateLimitUnknown && pauses > maxUnknownPauses) {
		x.stopWith(&stop{status: StatusPendingQuota, reset: reset, notDaily: true}, false)
		return errQuotaStop
	}
	x.pause.close(later(reset, x.s.now().Add(pauseFloor(pauses))))
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
	now := x.s.now()
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

// paceRecheck is how often a run on a SharedPace store asks how many
// runners share the per-minute limit: a runner that joins is counted by the
// others within it, so that together they exceed the budget for at most
// that long (Codat counts a minute).
const paceRecheck = 5 * time.Second

// sharePace paces the run's starts to its share of the per-minute limit
// when its store is a SharedPace: now, then every interval until the
// returned function is called. A failed count leaves the share as it was.
func (x *run) sharePace(ctx context.Context, interval time.Duration) (stop func()) {
	sp, ok := x.st.(SharedPace)
	if !ok || x.limiter == nil {
		return func() {}
	}
	share := func() {
		n, err := sp.Runners(ctx)
		if err != nil {
			x.s.log.Warn("could not count the runners sharing the per-minute limit; the pace is left as it was", "error", err)
			return
		}
		x.limiter.SetLimit(startRate(x.rpm, x.per*max(n, 1)))
	}
	share()
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				share()
			}
		}
	}()
	return func() {
		cancel()
		<-done
	}
}
