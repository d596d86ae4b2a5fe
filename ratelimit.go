package codat

import (
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
	if v, err := strconv.Atoi(strings.TrimSpace(h.Get("X-Rate-Limit-Limit"))); err == nil {
		q.Limit = v
		seen = true
	}
	if v, err := strconv.Atoi(strings.TrimSpace(h.Get("X-Rate-Limit-Remaining"))); err == nil {
		q.Remaining = v
		seen = true
	}
	if t, ok := parseReset(h.Get("X-Rate-Limit-Reset"), now); ok {
		q.Reset = t
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
		case n < 0:
			return time.Time{}, false
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
