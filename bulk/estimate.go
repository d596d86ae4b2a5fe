package bulk

import (
	"time"

	"github.com/codat-migrate/codat"
)

// Codat's quota rules (https://docs.codat.io/using-the-api/rate-limits): a
// daily quota of 1,000 × (1 + ACC) requests, ACC being the active connected
// companies counted that day, reset at 00:00 UTC; and at most 1,000 requests
// a minute from one IP address.
const (
	// QuotaPerACC is the daily requests each active connected company adds,
	// and the base quota of an account with none.
	QuotaPerACC = 1000
	// DefaultRequestsPerMinute is Codat's per-IP limit.
	DefaultRequestsPerMinute = 1000
	// EstimatedWaitPolls is the dataStatus polls a codat.SyncWait migration
	// is assumed to make while its first sync runs.
	EstimatedWaitPolls = 12
)

// RequestsPerCompany is the requests one migration sends on the happy path:
// create company, create connection, PUT authorization, and POST data/all
// (SyncQueue); no sync request for SyncNone; SyncWait adds the polls of
// GET dataStatus (an estimate, EstimatedWaitPolls).
func RequestsPerCompany(mode codat.SyncMode) int {
	switch mode {
	case codat.SyncNone:
		return 3
	case codat.SyncWait:
		return 4 + EstimatedWaitPolls
	}
	return 4
}

// Schedule is what EstimateSchedule works from.
type Schedule struct {
	// Companies is the number of migrations to run.
	Companies int
	// RequestsPerCompany is what each needs (RequestsPerCompany(mode)).
	RequestsPerCompany int
	// Overhead is requests spent besides the companies' own at
	// RequestsPerCompany: the canary's sync polling, the account check, the
	// look-ups of resumed rows (negative when resumed rows need fewer). It is
	// spent on day one, and counted in day one's Requests.
	Overhead int
	// Quota is the current snapshot. With Observed zero, the account is
	// assumed to have a fresh quota and no active connected company.
	Quota codat.Quota
	// Now is the start of the run.
	Now time.Time
	// RequestsPerMinute is the pace (0: DefaultRequestsPerMinute).
	RequestsPerMinute int
}

// Estimate is a run's expected calendar.
type Estimate struct {
	// Days has one entry per quota day that migrates companies.
	Days []EstimateDay `json:"days"`
	// Finish is when the last migration is expected to end.
	Finish time.Time `json:"finish"`
	// Duration is Finish − Now.
	Duration time.Duration `json:"duration"`
}

// EstimateDay is one quota day of a run.
type EstimateDay struct {
	// Start is when the day's work begins: the run's start on day one, the
	// quota reset (00:00 UTC) after.
	Start time.Time `json:"start"`
	// ACC is the active connected companies the day's quota is based on.
	ACC int `json:"acc"`
	// Quota is the requests available for migrations that day.
	Quota int `json:"quota"`
	// Companies and Requests are the migrations run that day and what they use.
	Companies int `json:"companies"`
	Requests  int `json:"requests"`
	// End is when the day's last migration is expected to end.
	End time.Time `json:"end"`
}

// maxEstimateDays bounds the simulation (ten years) against nonsense input.
const maxEstimateDays = 3660

// EstimateSchedule simulates a run day by day under Codat's quota rules.
// Day one has what the quota snapshot says is left (a fresh account: 1,000,
// about 250 companies at 4 requests each) less the overhead; each later day
// has 1,000 × (1 + ACC), where ACC grows by every company migrated so far
// (each is assumed to become an active connected company); no minute carries
// more than RequestsPerMinute.
func EstimateSchedule(s Schedule) Estimate {
	per := s.RequestsPerCompany
	if per <= 0 {
		per = RequestsPerCompany(codat.SyncQueue)
	}
	rpm := s.RequestsPerMinute
	if rpm <= 0 {
		rpm = DefaultRequestsPerMinute
	}
	now := s.Now
	est := Estimate{Finish: now}
	left := s.Companies
	if left <= 0 {
		return est
	}
	acc := 0
	budget := QuotaPerACC
	reset := codat.NextQuotaReset(now)
	if q := s.Quota; !q.Observed.IsZero() {
		if q.Limit > QuotaPerACC {
			acc = q.Limit/QuotaPerACC - 1
		}
		if q.Reset.After(now) {
			budget, reset = q.Remaining, q.Reset
		} else if q.Limit > 0 {
			budget = q.Limit // the snapshot's day is over
		}
	}
	quota := budget
	budget -= s.Overhead
	extra := s.Overhead // day one's requests besides n × per
	start := now
	for day := 0; left > 0 && day < maxEstimateDays; day++ {
		minutes := reset.Sub(start).Minutes()
		byRate := int(minutes * float64(rpm) / float64(per))
		n := min(left, max(budget, 0)/per, byRate)
		reqs := max(n*per+extra, 0)
		d := EstimateDay{Start: start, ACC: acc, Quota: max(quota, 0), Companies: n, Requests: reqs,
			End: start.Add(time.Duration(float64(reqs) / float64(rpm) * float64(time.Minute)))}
		extra = 0
		if n > 0 {
			est.Days = append(est.Days, d)
			est.Finish = d.End
		}
		left -= n
		acc += n
		start = reset
		reset = reset.Add(24 * time.Hour)
		budget = QuotaPerACC * (1 + acc)
		quota = budget
	}
	est.Duration = est.Finish.Sub(now)
	return est
}
