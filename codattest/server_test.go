package codattest

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRequestLog(t *testing.T) {
	s, clk, c := newFake(t)
	co := c.createCompany("Acme", nil)
	clk.Advance(time.Second)
	c.do("PATCH", "/companies/"+co.ID+"?x=secret-query", map[string]any{"description": "d"}, "Idempotency-Key", key1)
	c.do("GET", "/nope", nil)
	log := s.RequestLog()
	require.Len(t, log, 3)
	assert.Equal(t, Request{Method: "POST", Path: "/companies", Route: "POST /companies", Status: 200, At: t0, Client: "127.0.0.1"}, log[0])
	assert.Equal(t, Request{Method: "PATCH", Path: "/companies/" + co.ID, Route: "PATCH /companies/{companyId}", Status: 200,
		IdempotencyKey: key1, At: t0.Add(time.Second), Client: "127.0.0.1"}, log[1], "no query string")
	assert.Equal(t, "", log[2].Route)
	assert.Equal(t, 404, log[2].Status)
	assert.Equal(t, 3, s.RequestCount())
	s.ResetRequestLog()
	assert.Empty(t, s.RequestLog())
	assert.Equal(t, 0, s.RequestCount())
}

func TestRequestLogBounded(t *testing.T) {
	s, _, c := newFake(t, WithRequestLog(3))
	for i := 0; i < 5; i++ {
		c.do("GET", "/integrations/gbol", nil)
	}
	c.do("GET", "/integrations/fztf", nil)
	log := s.RequestLog()
	require.Len(t, log, 3, "only the most recent are kept")
	assert.Equal(t, "/integrations/fztf", log[2].Path)
	assert.Equal(t, 6, s.RequestCount(), "the count covers everything")

	off, _, c2 := newFake(t, WithRequestLog(0))
	c2.do("GET", "/integrations", nil)
	assert.Empty(t, off.RequestLog())
	assert.Equal(t, 1, off.RequestCount())

	all, _, c3 := newFake(t, WithRequestLog(-1))
	for i := 0; i < 10; i++ {
		c3.do("GET", "/integrations/gbol", nil)
	}
	assert.Len(t, all.RequestLog(), 10)
}

func TestRoutesAndMethods(t *testing.T) {
	s, _, c := newFake(t)
	assert.Len(t, s.Routes(), 19)
	assert.Contains(t, s.Routes(), "PUT /companies/{companyId}/connections/{connectionId}/authorization")
	for _, tt := range []struct {
		method, path string
		status       int
	}{
		{"GET", "/", 404},
		{"GET", "/companies/", 404},
		{"GET", "/companies//connections", 404},
		{"GET", "/companies/x/y/z/a/b/c/d/e/f", 404},
		{"POST", "/integrations", 405},
		{"PUT", "/companies", 405},
		{"GET", "/companies/00000000-0000-4000-8000-000000000000/data/all", 405},
	} {
		r := c.do(tt.method, tt.path, nil)
		assert.Equal(t, tt.status, r.status, "%s %s", tt.method, tt.path)
		errBody(t, r)
	}
}

func TestOptionsValidation(t *testing.T) {
	bad := []Option{
		WithAPIKey(""), WithClock(nil), WithRequiredFields("QHYG", "x"), WithRejectedToken(""),
		WithTokenRejecter(nil), WithDataTypes("gbol", "widgets"), WithIntegration(Integration{Key: "ab", Name: "x"}),
		WithIntegration(Integration{Key: "abcd"}), WithIntegration(Integration{Key: "abcd", Name: "x", SourceType: "Crypto"}),
		WithSyncTiming(5*time.Second, time.Second), WithLatency(-1), WithIdempotencyTTL(0),
		WithListener(nil), WithAddr("0.0.0.0:0"), WithAddr(":0"), WithAddr("8.8.8.8:80"), WithAddr("example.com:80"), WithAddr("nonsense"),
		WithRequiredFields("zzzz", "x"), WithDataTypes("zzzz", "invoices"), WithRejectedPlatform("zzzz"),
	}
	for i, o := range bad {
		_, err := Start(o)
		assert.Error(t, err, "option %d", i)
	}
	assert.Panics(t, func() { NewServer(WithAPIKey("")) })

	// An integration added by option can be configured by other options.
	s, err := Start(WithDataTypes("abcd", "invoices"), WithIntegration(Integration{Key: "abcd", Name: "Acme", SourceType: SourceAccounting, Enabled: true}))
	require.NoError(t, err)
	defer s.Close()
	assert.Equal(t, []string{"invoices"}, s.cfg.integrations["abcd"].dataTypes)
}

func TestLoopbackOnly(t *testing.T) {
	for _, addr := range []string{"127.0.0.1:0", "localhost:0", "[::1]:0", "127.1.2.3:0"} {
		s, err := Start(WithAddr(addr))
		if err != nil && strings.Contains(addr, "::1") {
			t.Logf("no IPv6 loopback here: %v", err)
			continue
		}
		if err != nil && strings.HasPrefix(addr, "127.1") {
			t.Logf("127.1.2.3 not bindable here: %v", err)
			continue
		}
		require.NoError(t, err, addr)
		host, _, _ := net.SplitHostPort(strings.TrimPrefix(s.URL(), "http://"))
		assert.True(t, net.ParseIP(host).IsLoopback(), s.URL())
		s.Close()
	}
	for _, addr := range []string{"0.0.0.0:8080", ":8080", "192.168.1.10:80", "[::]:80", "10.0.0.1:1"} {
		_, err := Start(WithAddr(addr))
		require.Error(t, err, addr)
		assert.Contains(t, err.Error(), "loopback")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	s, err := Start(WithListener(l))
	require.NoError(t, err)
	assert.Equal(t, "http://"+l.Addr().String(), s.URL())
	s.Close()
}

func TestDefaultsAndSeed(t *testing.T) {
	a := NewServer()
	defer a.Close()
	b := NewServer(WithSeed(1))
	defer b.Close()
	c := NewServer(WithSeed(2))
	defer c.Close()
	assert.Len(t, a.APIKey(), 40)
	assert.Equal(t, a.APIKey(), b.APIKey(), "the default seed is 1")
	assert.NotEqual(t, a.APIKey(), c.APIKey())
	assert.IsType(t, realClock{}, a.Clock())
	assert.WithinDuration(t, time.Now(), a.Clock().Now(), time.Minute)
	st := a.QuotaStatus()
	assert.Equal(t, 1000, st.Limit)
	assert.Equal(t, 10, st.ConcurrencyLimit)
	a.Close() // twice is fine
}

func TestFakeClock(t *testing.T) {
	clk := NewFakeClock(t0)
	assert.Equal(t, t0, clk.Now())
	clk.Advance(time.Hour)
	assert.Equal(t, t0.Add(time.Hour), clk.Now())
	clk.Set(t0)
	assert.Equal(t, t0, clk.Now())
	assert.Equal(t, time.Date(2025, 3, 15, 0, 0, 0, 0, time.UTC), nextMidnightUTC(t0))
	assert.Equal(t, time.Date(2025, 3, 16, 0, 0, 0, 0, time.UTC), nextMidnightUTC(time.Date(2025, 3, 15, 0, 0, 0, 0, time.UTC)))
	est := time.FixedZone("EST", -5*3600)
	assert.Equal(t, time.Date(2025, 3, 15, 0, 0, 0, 0, time.UTC), nextMidnightUTC(time.Date(2025, 3, 14, 18, 0, 0, 0, est)), "UTC midnight, whatever the zone")
}

func TestFingerprint(t *testing.T) {
	a := Fingerprint(map[string]string{"a": "1", "b": "2"})
	assert.Len(t, a, 12)
	assert.Equal(t, a, Fingerprint(map[string]string{"b": "2", "a": "1"}))
	assert.NotEqual(t, a, Fingerprint(map[string]string{"a": "12", "b": ""}), "length-prefixed: no ambiguity")
	assert.NotEqual(t, a, Fingerprint(map[string]string{"a": "1", "b": "3"}))
}

func TestQueryParser(t *testing.T) {
	ok := []string{"a=1", "a = 1 && b != 2", "a~x||b>3", "{a>1||a<0}&&b=c", "a>=1&&b<=2", "{{a=1}}"}
	for _, s := range ok {
		_, err := parseExpr(s)
		assert.NoError(t, err, s)
	}
	bad := []string{"a", "=1", "a=1&&", "{a=1", "a=1}", "&&", "a=1 || {b}"}
	for _, s := range bad {
		_, err := parseExpr(s)
		assert.Error(t, err, s)
	}
	rec := map[string]string{"n": "10", "d": "2025-01-02T00:00:00Z", "s": "Hello"}
	f := func(_ int, k string) (string, bool) { v, ok := rec[k]; return v, ok }
	for q, want := range map[string]bool{
		"n>9": true, "n>10": false, "n>=10": true, "n<100": true, "d>2025-01-01": true, "d<2025-01-01": false,
		"s~ELL": true, "s=hello": false, "s!=hello": true, "missing!=x": true, "missing=x": false,
		"n=10 && s=Hello": true, "n=1 || s=Hello": true, "{n=1 || n=10} && s~h": true, "n=1 || s=x && n=10": false,
	} {
		e, err := parseExpr(q)
		require.NoError(t, err, q)
		assert.Equal(t, want, evalExpr(e, 0, f), q)
	}
}
