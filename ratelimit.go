package codat

import (
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Quota is the client's last view of Codat's rate limit, taken from the
// X-Rate-Limit-Limit, X-Rate-Limit-Remaining and X-Rate-Limit-Reset headers
// that every response carries.
type Quota struct {
	// Limit is the daily request limit (1,000 + 1,000 per active connected company).
	Limit int
	// Remaining is how many requests are left until Reset.
	Remaining int
	// Reset is when the quota resets (00:00 UTC); zero when the header was
	// absent or could not be read.
	Reset time.Time
	// Observed is when the snapshot was taken; zero means no response has
	// carried the headers yet.
	Observed time.Time
	// ResetDistrusted is set when X-Rate-Limit-Reset was more than
	// MaxResetWait ahead: Codat's quota resets every day at 00:00 UTC, so
	// Reset holds the next 00:00 UTC instead of the server's value.
	ResetDistrusted bool
}

// MaxResetWait is the longest wait the client believes from a server: a
// Retry-After or an X-Rate-Limit-Reset further ahead than this is not
// trusted. Codat's daily quota resets at 00:00 UTC, never more than 24
// hours ahead (the extra hour allows for clock skew), so a longer wait (ten
// years, a reset in the year 9999) can only be a broken or hostile answer.
// The client replaces it with the time until the next 00:00 UTC and says so
// (APIError.Error, Quota.ResetDistrusted, RateLimit.Distrusted).
const MaxResetWait = 25 * time.Hour

// NextQuotaReset returns the first 00:00 UTC after t: when Codat's daily
// quota resets.
func NextQuotaReset(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d+1, 0, 0, 0, 0, time.UTC)
}

// trustWait returns d, or the time from now until the next 00:00 UTC when d
// is beyond MaxResetWait (distrusted is then true).
func trustWait(d time.Duration, now time.Time) (wait time.Duration, distrusted bool) {
	if d <= MaxResetWait {
		return d, false
	}
	return NextQuotaReset(now).Sub(now), true
}

// trustReset returns t, or the next 00:00 UTC when t is more than
// MaxResetWait after now (distrusted is then true).
func trustReset(t, now time.Time) (reset time.Time, distrusted bool) {
	if !t.After(now.Add(MaxResetWait)) {
		return t, false
	}
	return NextQuotaReset(now), true
}

// RateLimitKind says which of Codat's limits a 429 hit, as far as the
// response tells.
type RateLimitKind int

const (
	// RateLimitUnknown: the response did not say (no X-Rate-Limit-*
	// headers that settle it).
	RateLimitUnknown RateLimitKind = iota
	// RateLimitShort: X-Rate-Limit-Remaining said requests remain today and
	// the wait is at most MaxShortRateLimit and ends before the daily reset:
	// the per-minute limit or the concurrent-request limit. Pause until
	// RateLimit.Until and go on; it is not the daily quota.
	RateLimitShort
	// RateLimitDaily: the daily quota is spent (X-Rate-Limit-Remaining: 0,
	// or a wait that reaches X-Rate-Limit-Reset).
	RateLimitDaily
)

// String returns "unknown", "short" or "daily".
func (k RateLimitKind) String() string {
	switch k {
	case RateLimitShort:
		return "short"
	case RateLimitDaily:
		return "daily"
	}
	return "unknown"
}

// RateLimit describes a 429 that the client did not wait out (see
// RateLimitOf).
type RateLimit struct {
	// Until is when requests may resume: the Retry-After from when the
	// answer arrived, or for a spent daily quota the later of that and
	// X-Rate-Limit-Reset. A 429 that gave neither gets a pause of
	// DefaultRateLimitPause. Never zero, never more than MaxResetWait ahead.
	Until time.Time
	// Kind says whether the daily quota is spent, a short limit was hit, or
	// the response did not say.
	Kind RateLimitKind
	// Distrusted is set when the server's Retry-After or X-Rate-Limit-Reset
	// was beyond MaxResetWait and Until was set to the next 00:00 UTC.
	Distrusted bool
}

// MaxShortRateLimit is the longest wait a 429 with requests remaining today
// may ask for and still count as a short limit (RateLimitShort). Codat's
// short limits last a minute at most; a longer wait is reported as
// RateLimitUnknown.
const MaxShortRateLimit = 15 * time.Minute

// DefaultRateLimitPause is RateLimit.Until for a 429 that says neither how
// long to wait nor when the quota resets: one minute, the window of Codat's
// per-minute limit.
const DefaultRateLimitPause = time.Minute

// RateLimitOf reports whether err is, or wraps, a 429 (the first found, depth
// first) and describes it. Unlike IsQuotaExhausted it reports every 429,
// the short per-minute and concurrency limits included, so that a caller can
// pause for a short limit and stop only for the daily quota.
func RateLimitOf(err error) (RateLimit, bool) {
	var rl RateLimit
	found := anyError(err, func(e error) bool {
		ae, isAPI := e.(*APIError)
		if !isAPI || ae == nil || ae.StatusCode != http.StatusTooManyRequests {
			return false
		}
		rl = ae.rateLimit()
		return true
	})
	return rl, found
}

// rateLimit describes a 429.
func (e *APIError) rateLimit() RateLimit {
	base := e.observed
	if base.IsZero() {
		base = time.Now()
	}
	rl := RateLimit{Distrusted: e.distrusted != ""}
	if e.RetryAfter > 0 {
		rl.Until = base.Add(e.RetryAfter)
	}
	switch {
	case !e.quotaReset.IsZero():
		rl.Kind = RateLimitDaily
		if e.quotaReset.After(rl.Until) {
			rl.Until = e.quotaReset
		}
	case e.remaining > 0 && !e.headerReset.IsZero() && !rl.Until.IsZero() &&
		!rl.Until.Before(e.headerReset.Add(-time.Minute)):
		rl.Kind = RateLimitDaily // the wait runs to the daily reset
	case e.remaining > 0 && e.RetryAfter <= MaxShortRateLimit:
		rl.Kind = RateLimitShort
	}
	if rl.Until.IsZero() {
		rl.Until = base.Add(DefaultRateLimitPause)
	}
	return rl
}

// Known reports whether any response has carried rate-limit headers.
func (q Quota) Known() bool { return !q.Observed.IsZero() }

type quotaTracker struct {
	mu sync.Mutex
	q  Quota
}

func (t *quotaTracker) get() Quota {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.q
}

// update records the headers of one response. Snapshots older than the one
// held are ignored, so concurrent responses cannot move it backwards in time.
func (t *quotaTracker) update(h http.Header, now time.Time) {
	q, ok := parseQuota(h, now)
	if !ok {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if now.Before(t.q.Observed) {
		return
	}
	t.q = q
}

// parseQuota reads the X-Rate-Limit-* headers; ok is false when none of them
// is present and readable. A header that is missing keeps its zero value.
func parseQuota(h http.Header, now time.Time) (Quota, bool) {
	q := Quota{Observed: now}
	seen := false
	// A negative count is garbage: it is ignored like a missing header.
	if v, err := strconv.Atoi(strings.TrimSpace(h.Get("X-Rate-Limit-Limit"))); err == nil && v >= 0 {
		q.Limit = v
		seen = true
	}
	if v, err := strconv.Atoi(strings.TrimSpace(h.Get("X-Rate-Limit-Remaining"))); err == nil && v >= 0 {
		q.Remaining = v
		seen = true
	}
	if t, ok := parseReset(h.Get("X-Rate-Limit-Reset"), now); ok {
		q.Reset, q.ResetDistrusted = trustReset(t, now)
		seen = true
	}
	return q, seen
}

// resetLayouts are the date formats accepted in X-Rate-Limit-Reset, whose
// format Codat does not document ("the reset date").
var resetLayouts = []string{
	time.RFC3339Nano,
	time.RFC3339,
	"2006-01-02T15:04:05.9999999", // no zone: read as UTC
	"2006-01-02T15:04:05",
	"2006-01-02 15:04:05Z07:00",
	"2006-01-02 15:04:05",
	time.RFC1123,
	time.RFC1123Z,
	time.RFC850,
	time.ANSIC,
	"Mon, 2 Jan 2006 15:04:05 MST",
	"1/2/2006 3:04:05 PM",
	"01/02/2006 15:04:05",
	"2006-01-02",
}

// parseReset reads X-Rate-Limit-Reset leniently: RFC 3339 (with or without a
// zone, any fraction), RFC 1123 and other HTTP dates, Unix seconds or
// milliseconds, or a small number of seconds from now.
func parseReset(v string, now time.Time) (time.Time, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return time.Time{}, false
	}
	if n, err := strconv.ParseFloat(v, 64); err == nil {
		switch {
		case n < 0 || math.IsNaN(n):
			return time.Time{}, false
		case n >= 1e15: // beyond any date time.Time handles well
			return now.Add(100 * 365 * 24 * time.Hour).UTC(), true
		case n >= 1e12: // Unix milliseconds
			return time.UnixMilli(int64(n)).UTC(), true
		case n >= 1e9: // Unix seconds
			return time.Unix(int64(n), 0).UTC(), true
		default: // seconds until reset
			return now.Add(time.Duration(n * float64(time.Second))).UTC(), true
		}
	}
	for _, layout := range resetLayouts {
		if t, err := time.Parse(layout, v); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}
