package codattest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	key1 = "3f2504e0-4f89-41d3-9a0c-0305e82c3301"
	key2 = "6ba7b810-9dad-11d1-80b4-00c04fd430c8"
)

func TestIdempotencyReplay(t *testing.T) {
	s, clk, c := newFake(t)
	body := map[string]any{"name": "Acme"}
	first := c.do("POST", "/companies", body, "Idempotency-Key", key1)
	require.Equal(t, 200, first.status)
	clk.Advance(89 * time.Minute)
	again := c.do("POST", "/companies", body, "Idempotency-Key", key1)
	require.Equal(t, 200, again.status)
	assert.Equal(t, string(first.body), string(again.body), "the first response is replayed")
	assert.Equal(t, 1, s.CompanyCount())
	log := s.RequestLog()
	require.Len(t, log, 2)
	assert.False(t, log[0].Replayed)
	assert.True(t, log[1].Replayed)
	assert.Equal(t, key1, log[1].IdempotencyKey)

	// Key case does not matter: it is the same GUID.
	assert.Equal(t, string(first.body), string(c.do("POST", "/companies", body, "Idempotency-Key", "3F2504E0-4F89-41D3-9A0C-0305E82C3301").body))

	// After 90 minutes the key is forgotten: a new company.
	clk.Advance(time.Minute)
	third := c.do("POST", "/companies", body, "Idempotency-Key", key1)
	require.Equal(t, 200, third.status)
	assert.NotEqual(t, decode[Company](t, first).ID, decode[Company](t, third).ID)
	assert.Equal(t, 2, s.CompanyCount())

	// Without a key every POST creates.
	c.do("POST", "/companies", body)
	c.do("POST", "/companies", body)
	assert.Equal(t, 4, s.CompanyCount())
}

func TestIdempotencyReplaysErrors(t *testing.T) {
	s, _, c := newFake(t)
	// A 400 is cached: even a now-valid retry with the same key and body
	// cannot happen (same body), and the replay is the same 400.
	bad := map[string]any{"name": ""}
	r1 := c.do("POST", "/companies", bad, "Idempotency-Key", key1)
	require.Equal(t, 400, r1.status)
	r2 := c.do("POST", "/companies", bad, "Idempotency-Key", key1)
	assert.Equal(t, 400, r2.status)
	assert.Equal(t, string(r1.body), string(r2.body), "same correlation id: a replay")

	// A 404 on a keyed connection create is replayed too, even after the
	// company appears... (a different path gives 422, covered below).
	r1 = c.do("POST", "/companies/00000000-0000-4000-8000-000000000000/connections", map[string]string{"platformKey": "gbol"}, "Idempotency-Key", key2)
	require.Equal(t, 404, r1.status)
	r2 = c.do("POST", "/companies/00000000-0000-4000-8000-000000000000/connections", map[string]string{"platformKey": "gbol"}, "Idempotency-Key", key2)
	assert.Equal(t, string(r1.body), string(r2.body))

	// A 5xx after commit is what the key replays: the write happened once,
	// and the retry still sees the 500.
	s.InjectFault(Fault{Route: "POST /companies", Kind: FaultAfterCommit, Status: 500, Times: 1})
	const k = "11111111-2222-4333-8444-555555555555"
	r1 = c.do("POST", "/companies", map[string]any{"name": "Fivehundred"}, "Idempotency-Key", k)
	require.Equal(t, 500, r1.status)
	assert.Equal(t, 1, s.CompanyCount(), "the write committed")
	r2 = c.do("POST", "/companies", map[string]any{"name": "Fivehundred"}, "Idempotency-Key", k)
	assert.Equal(t, 500, r2.status)
	assert.Equal(t, string(r1.body), string(r2.body))
	assert.Equal(t, 1, s.CompanyCount())

	// A 5xx before commit is cached as well, with nothing written.
	s.InjectFault(Fault{Route: "POST /companies", Kind: FaultBeforeCommit, Status: 503, Times: 1})
	const k2 = "11111111-2222-4333-8444-666666666666"
	r1 = c.do("POST", "/companies", map[string]any{"name": "Before"}, "Idempotency-Key", k2)
	require.Equal(t, 503, r1.status)
	r2 = c.do("POST", "/companies", map[string]any{"name": "Before"}, "Idempotency-Key", k2)
	assert.Equal(t, 503, r2.status)
	assert.Equal(t, 1, s.CompanyCount())
}

func TestIdempotencyMismatch(t *testing.T) {
	s, _, c := newFake(t)
	co := c.createCompany("Acme", nil)
	require.Equal(t, 200, c.do("POST", "/companies", map[string]any{"name": "One"}, "Idempotency-Key", key1).status)

	tests := []struct {
		name, method, path string
		body               any
	}{
		{"different body", "POST", "/companies", map[string]any{"name": "Two"}},
		{"same body other spacing", "POST", "/companies", `{"name": "One"}`},
		{"different path", "POST", "/companies/" + co.ID + "/connections", map[string]any{"name": "One"}},
		{"different method", "PATCH", "/companies/" + co.ID, map[string]any{"name": "One"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := c.do(tt.method, tt.path, tt.body, "Idempotency-Key", key1)
			assert.Equal(t, 422, r.status, r.String())
			errBody(t, r)
		})
	}
	assert.Equal(t, 2, s.CompanyCount())
	assert.Len(t, s.Connections(co.ID), 0)
	// The original still replays after the mismatches.
	assert.Equal(t, 200, c.do("POST", "/companies", map[string]any{"name": "One"}, "Idempotency-Key", key1).status)
}

func TestIdempotencyInFlight(t *testing.T) {
	s, _, c := newFake(t)
	s.InjectFault(Fault{Route: "POST /companies", Kind: FaultLatency, Latency: time.Second, Times: 1})
	done := make(chan *tresp, 1)
	go func() {
		r, err := c.try("POST", "/companies", map[string]any{"name": "Slow"}, "Idempotency-Key", key1)
		if err != nil {
			t.Errorf("first request: %v", err)
		}
		done <- r
	}()
	require.Eventually(t, func() bool { return s.IdempotencyKeys() == 1 }, 5*time.Second, time.Millisecond)

	r := c.do("POST", "/companies", map[string]any{"name": "Slow"}, "Idempotency-Key", key1)
	assert.Equal(t, 409, r.status, r.String())
	errBody(t, r)
	// A different body while in flight is still a mismatch.
	assert.Equal(t, 422, c.do("POST", "/companies", map[string]any{"name": "Other"}, "Idempotency-Key", key1).status)

	first := <-done
	require.NotNil(t, first)
	require.Equal(t, 200, first.status)
	again := c.do("POST", "/companies", map[string]any{"name": "Slow"}, "Idempotency-Key", key1)
	assert.Equal(t, string(first.body), string(again.body), "after it finishes the key replays")
	assert.Equal(t, 1, s.CompanyCount())
}

func TestIdempotency429NotCached(t *testing.T) {
	s, _, c := newFake(t)
	s.InjectFault(Fault{Route: "POST /companies", Kind: FaultRateLimit, RetryAfter: 3 * time.Second, Times: 2})
	body := map[string]any{"name": "Acme"}
	for i := 0; i < 2; i++ {
		r := c.do("POST", "/companies", body, "Idempotency-Key", key1)
		require.Equal(t, 429, r.status)
		assert.Equal(t, "3", r.header.Get("Retry-After"))
		errBody(t, r)
	}
	assert.Equal(t, 0, s.IdempotencyKeys(), "a 429 releases the key")
	r := c.do("POST", "/companies", body, "Idempotency-Key", key1)
	require.Equal(t, 200, r.status, "the retry after Retry-After is a fresh attempt")
	assert.Equal(t, 1, s.CompanyCount())
	assert.Equal(t, string(r.body), string(c.do("POST", "/companies", body, "Idempotency-Key", key1).body))
}

func TestIdempotencyKeyFormatAndMethods(t *testing.T) {
	s, _, c := newFake(t)
	for _, k := range []string{"not-a-guid", "3f2504e04f8941d39a0c0305e82c3301", "{3f2504e0-4f89-41d3-9a0c-0305e82c3301}", "3f2504e0-4f89-41d3-9a0c-0305e82c330g"} {
		r := c.do("POST", "/companies", map[string]any{"name": "Acme"}, "Idempotency-Key", k)
		assert.Equal(t, 400, r.status, k)
		assert.Contains(t, errBody(t, r).Error, "GUID")
	}
	assert.Equal(t, 0, s.CompanyCount(), "a bad key stops the request")
	co := c.createCompany("Acme", nil)

	// PATCH honours the key.
	r1 := c.do("PATCH", "/companies/"+co.ID, map[string]any{"description": "d1"}, "Idempotency-Key", key1)
	require.Equal(t, 200, r1.status)
	c.do("PATCH", "/companies/"+co.ID, map[string]any{"description": "d2"}) // unkeyed change in between
	r2 := c.do("PATCH", "/companies/"+co.ID, map[string]any{"description": "d1"}, "Idempotency-Key", key1)
	assert.Equal(t, string(r1.body), string(r2.body))
	got, _ := s.Company(co.ID)
	assert.Equal(t, "d2", got.Description, "the replay did not write")

	// GET, PUT and DELETE ignore it, even malformed.
	assert.Equal(t, 200, c.do("GET", "/companies/"+co.ID, nil, "Idempotency-Key", "junk").status)
	cn := c.createConnection(co.ID, "gbol")
	a := c.do("PUT", "/companies/"+co.ID+"/connections/"+cn.ID+"/authorization", map[string]string{"accessToken": "x"}, "Idempotency-Key", key2)
	b := c.do("PUT", "/companies/"+co.ID+"/connections/"+cn.ID+"/authorization", map[string]string{"accessToken": "x"}, "Idempotency-Key", key2)
	assert.Equal(t, 200, a.status)
	assert.Equal(t, 200, b.status)
	in, _ := s.Connection(co.ID, cn.ID)
	assert.Equal(t, 2, in.AuthAttempts, "PUT is not deduplicated by key")
	assert.Equal(t, 204, c.do("DELETE", "/companies/"+co.ID, nil, "Idempotency-Key", "junk").status)
}

func TestIdempotencyTTLOption(t *testing.T) {
	s, clk, c := newFake(t, WithIdempotencyTTL(time.Minute))
	body := map[string]any{"name": "Acme"}
	c.do("POST", "/companies", body, "Idempotency-Key", key1)
	clk.Advance(59 * time.Second)
	c.do("POST", "/companies", body, "Idempotency-Key", key1)
	assert.Equal(t, 1, s.CompanyCount())
	clk.Advance(time.Second)
	c.do("POST", "/companies", body, "Idempotency-Key", key1)
	assert.Equal(t, 2, s.CompanyCount())
	// Expired keys are dropped from memory.
	clk.Advance(2 * time.Minute)
	c.do("POST", "/companies", body, "Idempotency-Key", key2)
	assert.Equal(t, 1, s.IdempotencyKeys())
}

func TestIdempotencyDataAll(t *testing.T) {
	s, _, c := newFake(t, WithDataTypes("gbol", "invoices"))
	co, _ := linkedCompany(c, "gbol", map[string]string{"accessToken": "a"})
	r := c.do("POST", "/companies/"+co.ID+"/data/all", nil, "Idempotency-Key", key1)
	require.Equal(t, 204, r.status)
	r = c.do("POST", "/companies/"+co.ID+"/data/all", nil, "Idempotency-Key", key1)
	require.Equal(t, 204, r.status)
	assert.Len(t, s.PullOperations(co.ID), 1)
	assert.True(t, s.RequestLog()[len(s.RequestLog())-1].Replayed)
}
