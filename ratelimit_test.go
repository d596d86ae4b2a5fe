package codat

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseReset(t *testing.T) {
	now := time.Date(2026, 3, 1, 15, 0, 0, 0, time.UTC)
	midnight := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Time
		ok   bool
	}{
		{"2026-03-02T00:00:00Z", midnight, true},
		{"2026-03-02T00:00:00.0000000Z", midnight, true},
		{"2026-03-02T01:00:00+01:00", midnight, true},
		{"2026-03-02T00:00:00", midnight, true},
		{"2026-03-02T00:00:00.1950523", midnight.Add(195052300), true},
		{"Mon, 02 Mar 2026 00:00:00 GMT", midnight, true},
		{"Mon, 02 Mar 2026 00:00:00 +0000", midnight, true},
		{"1772409600", midnight, true},    // Unix seconds
		{"1772409600000", midnight, true}, // Unix milliseconds
		{"32400", midnight, true},         // seconds from now
		{"3/2/2026 12:00:00 AM", midnight, true},
		{"2026-03-02", midnight, true},
		{"", time.Time{}, false},
		{"soon", time.Time{}, false},
		{"-5", time.Time{}, false},
		{"NaN", time.Time{}, false},
	}
	for _, tc := range tests {
		got, ok := parseReset(tc.in, now)
		assert.Equal(t, tc.ok, ok, tc.in)
		if tc.ok {
			assert.True(t, tc.want.Equal(got), "%q: want %s, got %s", tc.in, tc.want, got)
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 3, 1, 15, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"0", 0, true},
		{"30", 30 * time.Second, true},
		{" 3600 ", time.Hour, true},
		{"1.5", 1500 * time.Millisecond, true},
		{"Sun, 01 Mar 2026 15:02:00 GMT", 2 * time.Minute, true},
		{"Sun, 01 Mar 2026 14:00:00 GMT", 0, true}, // in the past: no wait
		{"-1", 0, false},
		{"", 0, false},
		{"later", 0, false},
		{"99999999999999999999", 0, false},
	}
	for _, tc := range tests {
		got, ok := parseRetryAfter(tc.in, now)
		assert.Equal(t, tc.ok, ok, tc.in)
		assert.Equal(t, tc.want, got, tc.in)
	}
}

func TestQuotaTracker(t *testing.T) {
	var q quotaTracker
	assert.False(t, q.get().Known())
	now := time.Date(2026, 3, 1, 15, 0, 0, 0, time.UTC)

	q.update(http.Header{"Content-Type": {"application/json"}}, now)
	assert.False(t, q.get().Known(), "a response without the headers changes nothing")

	h := http.Header{}
	h.Set("X-Rate-Limit-Limit", "2000")
	h.Set("X-Rate-Limit-Remaining", "1999")
	h.Set("X-Rate-Limit-Reset", "2026-03-02T00:00:00Z")
	q.update(h, now)
	got := q.get()
	require.True(t, got.Known())
	assert.Equal(t, 2000, got.Limit)
	assert.Equal(t, 1999, got.Remaining)
	assert.Equal(t, time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC), got.Reset)
	assert.Equal(t, now, got.Observed)

	older := http.Header{}
	older.Set("X-Rate-Limit-Remaining", "5")
	q.update(older, now.Add(-time.Second))
	assert.Equal(t, 1999, q.get().Remaining, "an older snapshot does not replace a newer one")

	partial := http.Header{}
	partial.Set("X-Rate-Limit-Remaining", "1500")
	partial.Set("X-Rate-Limit-Reset", "garbage")
	q.update(partial, now.Add(time.Second))
	assert.Equal(t, 1500, q.get().Remaining)
	assert.True(t, q.get().Reset.IsZero(), "an unreadable reset is left zero")
}

func TestExpBackoff(t *testing.T) {
	min, max := 100*time.Millisecond, time.Second
	for attempt := 0; attempt < 10; attempt++ {
		d := expBackoff(min, max, attempt)
		ceiling := min << attempt
		if ceiling > max {
			ceiling = max
		}
		assert.GreaterOrEqual(t, d, ceiling/2, "attempt %d", attempt)
		assert.LessOrEqual(t, d, ceiling, "attempt %d", attempt)
	}
	assert.Equal(t, time.Duration(0), expBackoff(0, 0, 3))
	assert.LessOrEqual(t, expBackoff(time.Millisecond, time.Second, 1000), time.Second, "no overflow")
}

func TestRetryClassNames(t *testing.T) {
	assert.Equal(t, "read", classRead.String())
	assert.Equal(t, "keyed-write", classKeyed.String())
	assert.Equal(t, "authorization", classAuth.String())
}

func TestNextQuotaReset(t *testing.T) {
	paris := time.FixedZone("UTC+2", 2*3600)
	for in, want := range map[time.Time]time.Time{
		time.Date(2026, 3, 1, 9, 30, 0, 0, time.UTC):    time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC):     time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 12, 31, 23, 59, 0, 0, time.UTC): time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 3, 2, 1, 0, 0, 0, paris):        time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC), // 23:00 UTC on the 1st
	} {
		assert.Equal(t, want, NextQuotaReset(in), "%v", in)
	}
}
