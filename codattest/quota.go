package codattest

import (
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Quota configures the fake's rate limits, which follow Codat's documented
// rules:
//
//   - a daily quota of Daily × (1 + ACC) requests, where ACC is the number of
//     companies that had a Linked connection at the last 00:00 UTC reset
//     (InitialACC before the first reset);
//   - PerMinute requests per minute from one client address (a fixed window
//     opened by the address's first request);
//   - ConcurrentPerACC × max(1, ACC) requests in flight at once.
//
// A zero field takes the documented default (1,000 / 1,000 / 10); a negative
// one removes that limit. Disabled turns every limit off, and then no
// X-Rate-Limit-* headers are sent.
//
// Counting: a request that passes authentication and is not refused by a
// limit uses one unit of the daily quota, whatever its outcome (404, 400,
// idempotent replay, injected fault). Requests rejected with 401 never use
// daily quota (they cannot be attributed to a client), but, like every
// request that reaches the server, they count against the per-minute limit of
// their address, which is a flood limit. Requests refused with 429 use no
// daily quota.
type Quota struct {
	Daily            int
	PerMinute        int
	ConcurrentPerACC int
	InitialACC       int
	Disabled         bool
}

// DefaultQuota returns Codat's documented figures with ACC 0: 1,000 requests
// a day, 1,000 per minute per address, 10 in flight.
func DefaultQuota() Quota {
	return Quota{Daily: 1000, PerMinute: 1000, ConcurrentPerACC: 10}
}

func (q Quota) normalized() (Quota, error) {
	if q.InitialACC < 0 {
		return q, fmt.Errorf("codattest: Quota.InitialACC %d is negative", q.InitialACC)
	}
	d := DefaultQuota()
	if q.Daily == 0 {
		q.Daily = d.Daily
	}
	if q.PerMinute == 0 {
		q.PerMinute = d.PerMinute
	}
	if q.ConcurrentPerACC == 0 {
		q.ConcurrentPerACC = d.ConcurrentPerACC
	}
	return q, nil
}

// QuotaStatus is a snapshot of the fake's quota accounting, for tests.
type QuotaStatus struct {
	// Limit is the daily limit in force, Daily × (1 + ACC); -1 if unlimited.
	Limit int
	// Used counts the requests that used daily quota since the last reset.
	Used int
	// Remaining is max(0, Limit-Used); -1 if unlimited.
	Remaining int
	// Reset is the next 00:00 UTC reset.
	Reset time.Time
	// ACC is the active-connected-company count fixed at the last reset.
	ACC int
	// InFlight is the number of requests being served now.
	InFlight int
	// ConcurrencyLimit is ConcurrentPerACC × max(1, ACC); -1 if unlimited.
	ConcurrencyLimit int
}

type minuteWindow struct {
	start time.Time
	count int
}

type quotaState struct {
	cfg    Quota
	linked *atomic.Int64 // companies with a Linked connection, kept by the store

	mu       sync.Mutex
	reset    time.Time
	acc      int
	used     int
	inflight int
	minute   map[string]*minuteWindow
}

func newQuotaState(q Quota, now time.Time, linked *atomic.Int64) *quotaState {
	return &quotaState{cfg: q, linked: linked, reset: nextMidnightUTC(now), acc: q.InitialACC,
		minute: map[string]*minuteWindow{}}
}

// rollLocked performs the 00:00 UTC reset(s) due at now.
func (q *quotaState) rollLocked(now time.Time) {
	if now.Before(q.reset) {
		return
	}
	q.reset = nextMidnightUTC(now)
	q.used = 0
	q.acc = int(q.linked.Load())
}

func (q *quotaState) limitLocked() int {
	if q.cfg.Daily < 0 {
		return -1
	}
	return q.cfg.Daily * (1 + q.acc)
}

func (q *quotaState) concurrencyLocked() int {
	if q.cfg.ConcurrentPerACC < 0 {
		return -1
	}
	return q.cfg.ConcurrentPerACC * max(1, q.acc)
}

// admitMinute counts a request from addr in its minute window; it reports
// how long to wait when the window is full.
func (q *quotaState) admitMinute(addr string, now time.Time) (bool, time.Duration) {
	if q.cfg.Disabled || q.cfg.PerMinute < 0 {
		return true, 0
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	w := q.minute[addr]
	if w == nil {
		w = &minuteWindow{start: now}
		q.minute[addr] = w
	}
	if now.Sub(w.start) >= time.Minute || now.Before(w.start) {
		w.start, w.count = now, 0
	}
	w.count++
	if w.count > q.cfg.PerMinute {
		return false, w.start.Add(time.Minute).Sub(now)
	}
	return true, 0
}

// admit checks the daily quota and the concurrency limit. On success the
// request holds a slot (release with done) and has used one daily unit.
func (q *quotaState) admit(now time.Time) (ok bool, retryAfter time.Duration, msg string) {
	if q.cfg.Disabled {
		return true, 0, ""
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	q.rollLocked(now)
	if lim := q.limitLocked(); lim >= 0 && q.used >= lim {
		return false, q.reset.Sub(now), "Daily request quota exceeded; the quota resets at " + q.reset.Format(time.RFC3339)
	}
	if c := q.concurrencyLocked(); c >= 0 && q.inflight >= c {
		return false, time.Second, "Too many concurrent requests"
	}
	q.used++
	q.inflight++
	return true, 0, ""
}

func (q *quotaState) done() {
	if q.cfg.Disabled {
		return
	}
	q.mu.Lock()
	q.inflight--
	q.mu.Unlock()
}

func (q *quotaState) status(now time.Time) QuotaStatus {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.rollLocked(now)
	st := QuotaStatus{Limit: q.limitLocked(), Used: q.used, Reset: q.reset, ACC: q.acc,
		InFlight: q.inflight, ConcurrencyLimit: q.concurrencyLocked(), Remaining: -1}
	if st.Limit >= 0 {
		st.Remaining = max(0, st.Limit-st.Used)
	}
	return st
}

// headers returns the X-Rate-Limit-* values to send at now.
func (q *quotaState) headers(now time.Time) (limit, remaining, reset string, ok bool) {
	if q.cfg.Disabled {
		return "", "", "", false
	}
	st := q.status(now)
	l, r := st.Limit, st.Remaining
	if l < 0 { // unlimited: still tell the client something large and true
		l, r = 1<<31-1, 1<<31-1
	}
	return strconv.Itoa(l), strconv.Itoa(r), st.Reset.UTC().Format(time.RFC3339), true
}
