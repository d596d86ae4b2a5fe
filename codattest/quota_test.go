package codattest

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestQuotaHeaders(t *testing.T) {
	s, _, c := newFake(t, WithQuota(Quota{}))
	for i := 1; i <= 3; i++ {
		r := c.do("GET", "/integrations/gbol", nil)
		require.Equal(t, 200, r.status)
		assert.Equal(t, "1000", r.header.Get("X-Rate-Limit-Limit"))
		assert.Equal(t, strconv.Itoa(1000-i), r.header.Get("X-Rate-Limit-Remaining"))
		assert.Equal(t, "2025-03-15T00:00:00Z", r.header.Get("X-Rate-Limit-Reset"))
		assert.Empty(t, r.header.Get("Retry-After"))
	}
	// Errors carry them too, and use quota.
	r := c.do("GET", "/companies/00000000-0000-4000-8000-000000000000", nil)
	require.Equal(t, 404, r.status)
	assert.Equal(t, "996", r.header.Get("X-Rate-Limit-Remaining"))
	r = c.do("GET", "/no/such/route", nil)
	require.Equal(t, 404, r.status)
	assert.Equal(t, "995", r.header.Get("X-Rate-Limit-Remaining"))
	r = c.do("DELETE", "/integrations", nil)
	require.Equal(t, 405, r.status)
	assert.Equal(t, "994", r.header.Get("X-Rate-Limit-Remaining"))

	// A 401 carries them but uses no daily quota.
	c.auth = "Basic bm9wZQ=="
	r = c.do("GET", "/companies", nil)
	require.Equal(t, 401, r.status)
	assert.Equal(t, "994", r.header.Get("X-Rate-Limit-Remaining"))
	assert.Equal(t, 6, s.QuotaStatus().Used)
}

func TestDailyQuota(t *testing.T) {
	s, clk, c := newFake(t, WithQuota(Quota{Daily: 5}))
	for i := 0; i < 5; i++ {
		require.Equal(t, 200, c.do("GET", "/integrations/gbol", nil).status, i)
	}
	clk.Advance(30 * time.Minute) // 10:00 UTC: 14h to the reset
	r := c.do("GET", "/integrations/gbol", nil)
	require.Equal(t, 429, r.status)
	assert.Equal(t, strconv.Itoa(14*3600), r.header.Get("Retry-After"))
	assert.Equal(t, "0", r.header.Get("X-Rate-Limit-Remaining"))
	assert.Equal(t, "5", r.header.Get("X-Rate-Limit-Limit"))
	assert.Contains(t, errBody(t, r).Error, "quota")
	// Writes are refused too, before anything is written or a key is held.
	r = c.do("POST", "/companies", map[string]any{"name": "A"}, "Idempotency-Key", key1)
	assert.Equal(t, 429, r.status)
	assert.Equal(t, 0, s.CompanyCount())
	assert.Equal(t, 0, s.IdempotencyKeys())
	assert.Equal(t, 5, s.QuotaStatus().Used, "429s use no quota")

	clk.Advance(13*time.Hour + 59*time.Minute + 59*time.Second)
	r = c.do("GET", "/integrations/gbol", nil)
	require.Equal(t, 429, r.status)
	assert.Equal(t, "1", r.header.Get("Retry-After"))
	clk.Advance(time.Second) // 00:00 UTC
	r = c.do("GET", "/integrations/gbol", nil)
	require.Equal(t, 200, r.status)
	assert.Equal(t, "4", r.header.Get("X-Rate-Limit-Remaining"))
	assert.Equal(t, "2025-03-16T00:00:00Z", r.header.Get("X-Rate-Limit-Reset"))
}

func TestMidnightResetCountsACC(t *testing.T) {
	s, clk, c := newFake(t, WithQuota(Quota{Daily: 20, InitialACC: 1}))
	st := s.QuotaStatus()
	assert.Equal(t, 40, st.Limit, "first day: 20 × (1 + InitialACC)")
	assert.Equal(t, 1, st.ACC)
	assert.Equal(t, 10, st.ConcurrencyLimit)

	// Link three companies and leave a fourth pending during the day.
	for i := 0; i < 3; i++ {
		co, _ := linkedCompany(c, "gbol", map[string]string{"accessToken": "a"})
		_ = co
	}
	pending := c.createCompany("Pending", nil)
	c.createConnection(pending.ID, "gbol")
	used := s.QuotaStatus().Used
	assert.Equal(t, 11, used)
	assert.Equal(t, 40, s.QuotaStatus().Limit, "ACC changes only at the reset")
	assert.Equal(t, 3, s.ACC())

	clk.Set(time.Date(2025, 3, 14, 23, 59, 59, 0, time.UTC))
	r := c.do("GET", "/integrations/gbol", nil)
	assert.Equal(t, strconv.Itoa(40-used-1), r.header.Get("X-Rate-Limit-Remaining"))

	clk.Set(time.Date(2025, 3, 15, 0, 0, 0, 0, time.UTC))
	r = c.do("GET", "/integrations/gbol", nil)
	assert.Equal(t, "80", r.header.Get("X-Rate-Limit-Limit"), "20 × (1 + 3)")
	assert.Equal(t, "79", r.header.Get("X-Rate-Limit-Remaining"))
	assert.Equal(t, "2025-03-16T00:00:00Z", r.header.Get("X-Rate-Limit-Reset"))
	st = s.QuotaStatus()
	assert.Equal(t, 3, st.ACC)
	assert.Equal(t, 30, st.ConcurrencyLimit, "10 per ACC")

	// Skipping several days resets once, to the next midnight.
	clk.Set(time.Date(2025, 3, 18, 15, 0, 0, 0, time.UTC))
	r = c.do("GET", "/integrations/gbol", nil)
	assert.Equal(t, "79", r.header.Get("X-Rate-Limit-Remaining"))
	assert.Equal(t, "2025-03-19T00:00:00Z", r.header.Get("X-Rate-Limit-Reset"))
}

// TestQuotaDayInMilliseconds runs a migration day on the fake clock: the
// quota is spent, the client waits for the reset, and the next day's limit
// reflects the companies linked the day before.
func TestQuotaDayInMilliseconds(t *testing.T) {
	s, clk, c := newFake(t, WithQuota(Quota{Daily: 12}))
	migrated := 0
	for {
		co := c.do("POST", "/companies", map[string]any{"name": fmt.Sprintf("C%d", migrated)})
		if co.status == 429 {
			wait, err := strconv.Atoi(co.header.Get("Retry-After"))
			require.NoError(t, err)
			clk.Advance(time.Duration(wait) * time.Second)
			break
		}
		id := decode[Company](t, co).ID
		cn := decode[Connection](t, c.do("POST", "/companies/"+id+"/connections", map[string]string{"platformKey": "gbol"}))
		c.do("PUT", "/companies/"+id+"/connections/"+cn.ID+"/authorization", map[string]string{"accessToken": "a"})
		c.do("POST", "/companies/"+id+"/data/all", nil)
		migrated++
	}
	assert.Equal(t, 3, migrated, "4 requests per company, 12 a day")
	st := s.QuotaStatus()
	assert.Equal(t, 3, st.ACC)
	assert.Equal(t, 48, st.Limit)
	assert.Equal(t, 0, st.Used)
	assert.Equal(t, time.Date(2025, 3, 16, 0, 0, 0, 0, time.UTC), st.Reset)
}

func TestPerMinuteLimit(t *testing.T) {
	s, clk, c := newFake(t, WithQuota(Quota{PerMinute: 3}))
	for i := 0; i < 3; i++ {
		require.Equal(t, 200, c.do("GET", "/integrations/gbol", nil).status)
	}
	clk.Advance(20 * time.Second)
	r := c.do("GET", "/integrations/gbol", nil)
	require.Equal(t, 429, r.status)
	assert.Equal(t, "40", r.header.Get("Retry-After"), "until the minute window frees")
	errBody(t, r)
	// 401s from the same address count against the flood limit as well.
	clk.Advance(40 * time.Second)
	c2 := newClient(t, s)
	c2.auth = "Basic d3Jvbmc="
	for i := 0; i < 3; i++ {
		require.Equal(t, 401, c2.do("GET", "/companies", nil).status)
	}
	assert.Equal(t, 429, c.do("GET", "/integrations/gbol", nil).status)
	assert.Equal(t, 3, s.QuotaStatus().Used)

	// Other addresses have their own window.
	req := httptest.NewRequest("GET", "/integrations/gbol", nil)
	req.RemoteAddr = "127.0.0.2:5555"
	req.Header.Set("Authorization", s.AuthorizationHeader())
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, req)
	assert.Equal(t, 200, rec.Code)
	clk.Advance(time.Minute)
	assert.Equal(t, 200, c.do("GET", "/integrations/gbol", nil).status)
}

func TestConcurrencyLimit(t *testing.T) {
	s, _, c := newFake(t, WithQuota(Quota{ConcurrentPerACC: 2}))
	s.InjectFault(Fault{Route: "GET /integrations/{platformKey}", Kind: FaultLatency, Latency: time.Second, Times: 2})
	var wg sync.WaitGroup
	for i := 0; i < 2; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := c.try("GET", "/integrations/gbol", nil)
			if err != nil || r.status != 200 {
				t.Errorf("slow request: %v %v", r, err)
			}
		}()
	}
	require.Eventually(t, func() bool { return s.QuotaStatus().InFlight == 2 }, 5*time.Second, time.Millisecond)
	r := c.do("GET", "/integrations", nil)
	assert.Equal(t, 429, r.status)
	assert.Equal(t, "1", r.header.Get("Retry-After"))
	assert.Contains(t, errBody(t, r).Error, "concurrent")
	wg.Wait()
	assert.Equal(t, 0, s.QuotaStatus().InFlight)
	assert.Equal(t, 200, c.do("GET", "/integrations", nil).status)
}

func TestQuotaDisabledAndUnlimited(t *testing.T) {
	_, _, c := newFake(t) // newFake disables the quota
	r := c.do("GET", "/integrations", nil)
	assert.Empty(t, r.header.Get("X-Rate-Limit-Limit"))
	assert.Empty(t, r.header.Get("X-Rate-Limit-Remaining"))

	s, _, c := newFake(t, WithQuota(Quota{Daily: -1, PerMinute: -1, ConcurrentPerACC: -1}))
	for i := 0; i < 50; i++ {
		require.Equal(t, 200, c.do("GET", "/integrations/gbol", nil).status)
	}
	r = c.do("GET", "/integrations/gbol", nil)
	assert.Equal(t, strconv.Itoa(1<<31-1), r.header.Get("X-Rate-Limit-Remaining"))
	assert.Equal(t, -1, s.QuotaStatus().Limit)

	_, err := Start(WithQuota(Quota{InitialACC: -1}))
	assert.Error(t, err)
}

func TestUnauthorized(t *testing.T) {
	s, _, c := newFake(t, WithAPIKey("the-key"), WithQuota(Quota{}))
	assert.Equal(t, "Basic dGhlLWtleQ==", s.AuthorizationHeader())
	tests := []struct{ name, header string }{
		{"missing", ""},
		{"raw key", "the-key"},
		{"bearer", "Bearer dGhlLWtleQ=="},
		{"basic of the raw key", "Basic the-key"},
		{"user:pass form", "Basic dGhlLWtleTo="},
		{"wrong key", "Basic d3Jvbmc="},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c.auth = tt.header
			r := c.do("GET", "/companies", nil)
			require.Equal(t, 401, r.status)
			e := errBody(t, r)
			assert.NotContains(t, e.Error, "the-key")
		})
	}
	c.auth = "basic dGhlLWtleQ=="
	assert.Equal(t, 200, c.do("GET", "/companies", nil).status, "the scheme is case-insensitive")
	assert.Equal(t, 1, s.QuotaStatus().Used, "only the authorized request used quota")
	// Unknown routes need authentication first.
	c.auth = ""
	assert.Equal(t, 401, c.do("GET", "/nowhere", nil).status)
	for _, r := range s.RequestLog() {
		if r.Status == http.StatusUnauthorized {
			assert.Empty(t, r.Route, "refused requests are not routed")
		}
	}
}
