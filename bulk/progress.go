package bulk

import (
	"time"

	"github.com/codat-migrate/codat"
)

// Phase is what a run is doing.
type Phase string

const (
	// PhaseScan: the pre-pass reads the input; nothing is sent.
	PhaseScan Phase = "scan"
	// PhaseCanary: the canary migrations run; the rest wait for them.
	PhaseCanary Phase = "canary"
	// PhaseCanarySync: a canary is linked and waits for its first sync to
	// complete (a real first sync can take many minutes); the rest wait.
	PhaseCanarySync Phase = "canary-sync"
	// PhaseMigrate: migrations run.
	PhaseMigrate Phase = "migrate"
	// PhaseQuotaWait: the daily quota is spent; the run sleeps until
	// Progress.QuotaReset (Runner.WaitForQuota).
	PhaseQuotaWait Phase = "quota-wait"
	// PhaseRateLimited: a short rate limit (the per-minute limit, say)
	// pauses new migrations until Progress.PauseUntil.
	PhaseRateLimited Phase = "rate-limited"
	// PhaseStopped: the run stopped early (quota, failed canary, Stop,
	// cancellation); the migrations in flight finish and the remaining rows
	// are being reported.
	PhaseStopped Phase = "stopped"
	// PhaseDone: every row is reported.
	PhaseDone Phase = "done"
)

// Progress is a run's state, passed to Runner.OnProgress after every row
// and phase change, from one goroutine at a time.
type Progress struct {
	Phase Phase
	// PhaseSince is when Phase began (the canary's wait for its first
	// sync, a pause: how long it has lasted).
	PhaseSince time.Time
	// Rows is the number of input rows reported so far.
	Rows int
	// Total is the number of rows the pre-pass expects to send requests
	// for (new and resumed migrations).
	Total int
	// Done is the migrations this run finished (migrated, or found already
	// Linked); Failed those that failed or had their token rejected.
	Done, Failed int
	// Skipped is the rows decided without a request (invalid, duplicate,
	// finished per the journal, token changed, same rejected token).
	Skipped int
	// InFlight is the migrations running now.
	InFlight int
	// Requests is the HTTP requests this run's migrations sent so far.
	Requests int
	// Rate is the migrations finished per minute so far.
	Rate float64
	// Elapsed is the time since the run started.
	Elapsed time.Duration
	// ETA is the expected time to finish the remaining migrations, given
	// the rate so far and the quota; negative when unknown.
	ETA time.Duration
	// Quota is the latest quota snapshot.
	Quota codat.Quota
	// QuotaReset is when a quota wait ends (PhaseQuotaWait).
	QuotaReset time.Time
	// PauseUntil is when a short rate-limit pause ends (PhaseRateLimited).
	PauseUntil time.Time
}

// eta estimates the time left for remaining migrations: at the rate seen so
// far, and no sooner than the quota allows.
func eta(remaining int, rate float64, q codat.Quota, per int, now time.Time) time.Duration {
	if remaining <= 0 {
		return 0
	}
	d := time.Duration(-1)
	if rate > 0 {
		d = time.Duration(float64(remaining) / rate * float64(time.Minute))
	}
	if !q.Observed.IsZero() {
		est := EstimateSchedule(Schedule{Companies: remaining, RequestsPerCompany: per, Quota: q, Now: now})
		if est.Duration > d {
			d = est.Duration
		}
	}
	return d
}
