package codat_test

import (
	"context"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/codat-migrate/codat"
	"github.com/codat-migrate/codat/internal/testutil"
)

// A 429 is classified from its own headers: the per-minute and concurrency
// limits (requests remain today) are short and never the daily quota.
func TestRateLimitKind(t *testing.T) {
	now := time.Now().UTC()
	reset := now.Add(3 * time.Hour).Truncate(time.Second)
	soon := now.Add(10 * time.Minute).Truncate(time.Second)
	tests := []struct {
		name       string
		headers    map[string]string
		kind       codat.RateLimitKind
		until      time.Time // within a few seconds
		exhausted  bool
		wantReqs   int
		wantInText string
	}{
		{"per-minute limit with requests left", map[string]string{"Retry-After": "30", "X-Rate-Limit-Remaining": "597",
			"X-Rate-Limit-Limit": "1000", "X-Rate-Limit-Reset": reset.Format(time.RFC3339)},
			codat.RateLimitShort, now.Add(30 * time.Second), false, 1, "retry after 30s"},
		{"concurrency limit without Retry-After", map[string]string{"X-Rate-Limit-Remaining": "12",
			"X-Rate-Limit-Reset": reset.Format(time.RFC3339)},
			codat.RateLimitShort, now.Add(codat.DefaultRateLimitPause), false, 3, ""},
		{"daily quota spent", map[string]string{"X-Rate-Limit-Remaining": "0", "X-Rate-Limit-Limit": "1000",
			"X-Rate-Limit-Reset": reset.Format(time.RFC3339)},
			codat.RateLimitDaily, reset, true, 3, ""},
		{"wait that runs to the reset", map[string]string{"Retry-After": "600", "X-Rate-Limit-Remaining": "3",
			"X-Rate-Limit-Reset": soon.Format(time.RFC3339)},
			codat.RateLimitDaily, soon, true, 1, ""},
		{"an hour with requests left: not known to be short", map[string]string{"Retry-After": "3600",
			"X-Rate-Limit-Remaining": "400", "X-Rate-Limit-Reset": reset.Format(time.RFC3339)},
			codat.RateLimitUnknown, now.Add(time.Hour), true, 1, ""},
		{"no headers at all", nil, codat.RateLimitUnknown, now.Add(codat.DefaultRateLimitPause), false, 3, ""},
		{"garbage headers", map[string]string{"Retry-After": "soon", "X-Rate-Limit-Remaining": "-4",
			"X-Rate-Limit-Reset": "never"}, codat.RateLimitUnknown, now.Add(codat.DefaultRateLimitPause), false, 3, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newSDKHarness(t)
			h.handleAll(func(w http.ResponseWriter, r *http.Request) {
				for k, v := range tc.headers {
					w.Header().Set(k, v)
				}
				testutil.CodatError(w, 429, "Rate limit exceeded", "corr-rl")
			})
			_, err := h.client.Companies.Get(context.Background(), sdkCompanyID)
			require.ErrorIs(t, err, codat.ErrRateLimited)
			assert.Len(t, h.requests(), tc.wantReqs)
			rl, ok := codat.RateLimitOf(err)
			require.True(t, ok)
			assert.Equal(t, tc.kind, rl.Kind)
			assert.WithinDuration(t, tc.until, rl.Until, 5*time.Second)
			assert.False(t, rl.Distrusted)
			reset, exhausted := codat.IsQuotaExhausted(err)
			assert.Equal(t, tc.exhausted, exhausted, "IsQuotaExhausted")
			if exhausted {
				assert.True(t, reset.Equal(rl.Until))
			}
			assert.Contains(t, err.Error(), tc.wantInText)
		})
	}
}

// A Retry-After too large to read is ignored like any unreadable one: the
// 429 is retried with backoff and then gets the default pause.
func TestUnreadableRetryAfterIsIgnored(t *testing.T) {
	h := newSDKHarness(t)
	h.handleAll(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "99999999999999999999")
		testutil.CodatError(w, 429, "Rate limit exceeded", "corr-big")
	})
	_, err := h.client.Companies.Get(context.Background(), sdkCompanyID)
	require.ErrorIs(t, err, codat.ErrRateLimited)
	assert.Len(t, h.requests(), 3)
	rl, ok := codat.RateLimitOf(err)
	require.True(t, ok)
	assert.WithinDuration(t, time.Now().Add(codat.DefaultRateLimitPause), rl.Until, 5*time.Second)
	_, exhausted := codat.IsQuotaExhausted(err)
	assert.False(t, exhausted)
}

func TestRateLimitOfOtherErrors(t *testing.T) {
	_, ok := codat.RateLimitOf(nil)
	assert.False(t, ok)
	_, ok = codat.RateLimitOf(&codat.APIError{StatusCode: 503, RetryAfter: time.Minute})
	assert.False(t, ok, "a 503 is maintenance, not a rate limit")
	rl, ok := codat.RateLimitOf(&codat.APIError{StatusCode: 429})
	require.True(t, ok, "every 429 is reported")
	assert.Equal(t, codat.RateLimitUnknown, rl.Kind)
	assert.WithinDuration(t, time.Now().Add(codat.DefaultRateLimitPause), rl.Until, 5*time.Second)
}

// Codat's daily quota resets at 00:00 UTC: a Retry-After or reset years
// ahead is not believed, and the error says so.
func TestAbsurdWaitsAreDistrusted(t *testing.T) {
	tenYears := strconv.Itoa(10 * 365 * 24 * 3600)
	tests := []struct {
		name    string
		headers map[string]string
		say     string
	}{
		{"Retry-After of ten years", map[string]string{"Retry-After": tenYears}, "Retry-After of 87600h"},
		{"Retry-After in the year 9999", map[string]string{"Retry-After": "Fri, 31 Dec 9999 23:59:59 GMT"}, "Retry-After of"},
		{"reset in the year 9999", map[string]string{"X-Rate-Limit-Remaining": "0", "X-Rate-Limit-Limit": "1000",
			"X-Rate-Limit-Reset": "9999-12-31T23:59:59Z"}, "X-Rate-Limit-Reset"},
		{"reset as huge Unix milliseconds", map[string]string{"X-Rate-Limit-Remaining": "0",
			"X-Rate-Limit-Reset": "253402300799000000"}, "X-Rate-Limit-Reset"},
		{"both", map[string]string{"Retry-After": tenYears, "X-Rate-Limit-Remaining": "0",
			"X-Rate-Limit-Reset": "9999-12-31T23:59:59Z"}, "Retry-After of 87600h"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newSDKHarness(t)
			h.handleAll(func(w http.ResponseWriter, r *http.Request) {
				for k, v := range tc.headers {
					w.Header().Set(k, v)
				}
				testutil.CodatError(w, 429, "Rate limit exceeded", "corr-absurd")
			})
			start := time.Now()
			_, err := h.client.Companies.Get(context.Background(), sdkCompanyID)
			require.ErrorIs(t, err, codat.ErrRateLimited)
			assert.Less(t, time.Since(start), 5*time.Second)
			midnight := time.Date(start.UTC().Year(), start.UTC().Month(), start.UTC().Day()+1, 0, 0, 0, 0, time.UTC)
			rl, ok := codat.RateLimitOf(err)
			require.True(t, ok)
			assert.True(t, rl.Distrusted)
			assert.WithinDuration(t, midnight, rl.Until, 5*time.Second, "until the next 00:00 UTC")
			reset, ok := codat.IsQuotaExhausted(err)
			require.True(t, ok)
			assert.LessOrEqual(t, time.Until(reset), codat.MaxResetWait)
			var ae *codat.APIError
			require.ErrorAs(t, err, &ae)
			assert.LessOrEqual(t, ae.RetryAfter, codat.MaxResetWait)
			assert.Contains(t, err.Error(), tc.say)
			assert.Contains(t, err.Error(), "not trusted")
			if q := h.client.Quota(); q.Known() {
				assert.LessOrEqual(t, time.Until(q.Reset), codat.MaxResetWait)
				assert.Equal(t, tc.headers["X-Rate-Limit-Reset"] != "", q.ResetDistrusted)
			}
		})
	}
}
