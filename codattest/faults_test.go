package codattest

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFaultBeforeCommit(t *testing.T) {
	s, _, c := newFake(t)
	s.InjectFault(Fault{Route: "POST /companies", Kind: FaultBeforeCommit, Status: 503, Times: 2})
	for i := 0; i < 2; i++ {
		r := c.do("POST", "/companies", map[string]any{"name": "A"})
		require.Equal(t, 503, r.status)
		errBody(t, r)
	}
	assert.Equal(t, 0, s.CompanyCount(), "nothing committed")
	assert.Equal(t, 200, c.do("POST", "/companies", map[string]any{"name": "A"}).status, "after Times the fault is gone")
	assert.Equal(t, 2, s.FaultsFired())
	log := s.RequestLog()
	assert.Equal(t, FaultBeforeCommit, log[0].Fault)
	assert.Equal(t, FaultKind(0), log[2].Fault)
	// Other routes and methods are not affected.
	s.InjectFault(Fault{Route: "POST /companies", Kind: FaultBeforeCommit})
	assert.Equal(t, 200, c.do("GET", "/companies", nil).status)
	assert.Equal(t, 500, c.do("POST", "/companies", map[string]any{"name": "A"}).status, "default status 500")
	s.ClearFaults()
	assert.Equal(t, 200, c.do("POST", "/companies", map[string]any{"name": "A"}).status)
}

func TestFaultAfterCommit(t *testing.T) {
	s, _, c := newFake(t)
	co := c.createCompany("Acme", nil)
	s.InjectFault(Fault{Route: "POST /companies/{companyId}/connections", Kind: FaultAfterCommit, Status: 503, Times: 1})
	r := c.do("POST", "/companies/"+co.ID+"/connections", map[string]string{"platformKey": "gbol"})
	require.Equal(t, 503, r.status)
	errBody(t, r)
	assert.Len(t, s.Connections(co.ID), 1, "the write committed before the error")

	// Only successes are turned into errors: a 404 stays a 404 and the
	// fault keeps waiting.
	s.InjectFault(Fault{Route: "/companies/{companyId}", Kind: FaultAfterCommit, Times: 1})
	assert.Equal(t, 404, c.do("GET", "/companies/00000000-0000-4000-8000-000000000000", nil).status)
	assert.Equal(t, 500, c.do("DELETE", "/companies/"+co.ID, nil).status, "any method when Route has none")
	assert.Equal(t, 0, s.CompanyCount(), "the delete committed")
}

func TestFaultDropAfterCommit(t *testing.T) {
	s, _, c := newFake(t)
	s.InjectFault(Fault{Route: "POST /companies", Kind: FaultDropAfterCommit, Times: 1})
	_, err := c.try("POST", "/companies", map[string]any{"name": "Dropped"}, "Idempotency-Key", key1)
	require.Error(t, err, "the connection closes without a response")
	assert.Equal(t, 1, s.CompanyCount(), "the write committed")
	log := s.RequestLog()
	require.Len(t, log, 1)
	assert.Equal(t, 0, log[0].Status)
	assert.Equal(t, FaultDropAfterCommit, log[0].Fault)

	// The retry with the same key replays the committed response.
	r := c.do("POST", "/companies", map[string]any{"name": "Dropped"}, "Idempotency-Key", key1)
	require.Equal(t, 200, r.status)
	assert.Equal(t, s.Companies()[0].ID, decode[Company](t, r).ID)
	assert.Equal(t, 1, s.CompanyCount())

	// Through Handler() without a connection, the handler aborts.
	s.InjectFault(Fault{Route: "GET /integrations", Kind: FaultDropAfterCommit, Times: 1})
	req, _ := http.NewRequest("GET", "/integrations", nil)
	req.Header.Set("Authorization", s.AuthorizationHeader())
	req.RemoteAddr = "127.0.0.1:1"
	assert.PanicsWithValue(t, http.ErrAbortHandler, func() { s.Handler().ServeHTTP(&plainWriter{h: http.Header{}}, req) })
}

// plainWriter is a ResponseWriter that cannot be hijacked.
type plainWriter struct {
	h    http.Header
	code int
}

func (w *plainWriter) Header() http.Header         { return w.h }
func (w *plainWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *plainWriter) WriteHeader(code int)        { w.code = code }

func TestFaultLatency(t *testing.T) {
	s, _, c := newFake(t)
	s.InjectFault(Fault{Route: "GET /integrations", Kind: FaultLatency, Latency: 150 * time.Millisecond, Times: 1})
	start := time.Now()
	require.Equal(t, 200, c.do("GET", "/integrations", nil).status)
	assert.GreaterOrEqual(t, time.Since(start), 150*time.Millisecond)
	assert.Equal(t, FaultKind(0), s.RequestLog()[0].Fault, "latency is not recorded as a fault")

	// WithLatency applies to every request.
	_, _, c2 := newFake(t, WithLatency(60*time.Millisecond))
	start = time.Now()
	c2.do("GET", "/integrations/gbol", nil)
	assert.GreaterOrEqual(t, time.Since(start), 60*time.Millisecond)
}

func TestFaultLatencyInterruptedByClose(t *testing.T) {
	s, _, c := newFake(t)
	s.InjectFault(Fault{Kind: FaultLatency, Latency: time.Hour})
	errc := make(chan error, 1)
	go func() {
		_, err := c.try("GET", "/integrations", nil)
		errc <- err
	}()
	require.Eventually(t, func() bool { return s.FaultsFired() == 1 }, 5*time.Second, time.Millisecond)
	done := make(chan struct{})
	go func() { s.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not interrupt the latency")
	}
	<-errc
}

func TestFaultRateLimitBurst(t *testing.T) {
	s, _, c := newFake(t, WithQuota(Quota{}))
	s.InjectFault(Fault{Kind: FaultRateLimit, RetryAfter: 1500 * time.Millisecond, Times: 3})
	for i := 0; i < 3; i++ {
		r := c.do("GET", "/companies", nil)
		require.Equal(t, 429, r.status)
		assert.Equal(t, "2", r.header.Get("Retry-After"), "rounded up to whole seconds")
		assert.NotEmpty(t, r.header.Get("X-Rate-Limit-Remaining"))
		errBody(t, r)
	}
	assert.Equal(t, 200, c.do("GET", "/companies", nil).status)
	assert.Equal(t, 0, s.IdempotencyKeys())
}

func TestFaultRateIsSeeded(t *testing.T) {
	run := func(seed int64) []int {
		s, _, c := newFake(t, WithSeed(seed))
		s.InjectFault(Fault{Route: "GET /integrations/{platformKey}", Kind: FaultBeforeCommit, Status: 503, Rate: 0.3})
		var got []int
		for i := 0; i < 200; i++ {
			got = append(got, c.do("GET", "/integrations/gbol", nil).status)
		}
		return got
	}
	a, b, other := run(7), run(7), run(8)
	assert.Equal(t, a, b, "the same seed fails the same requests")
	assert.NotEqual(t, a, other)
	n := 0
	for _, st := range a {
		if st == 503 {
			n++
		}
	}
	assert.InDelta(t, 60, n, 25, "about 30%% of 200")

	// Rate and Times together: at most Times firings.
	s, _, c := newFake(t)
	s.InjectFault(Fault{Kind: FaultBeforeCommit, Rate: 0.5, Times: 3})
	for i := 0; i < 100; i++ {
		c.do("GET", "/integrations/gbol", nil)
	}
	assert.Equal(t, 3, s.FaultsFired())
}

func TestFaultValidation(t *testing.T) {
	s, _, _ := newFake(t)
	bad := []Fault{
		{Route: "POST /nope", Kind: FaultBeforeCommit},
		{Route: "GET /companies/{companyId}/connections/{connectionId}/authorization", Kind: FaultBeforeCommit},
		{Kind: FaultKind(99)},
		{Kind: FaultAfterCommit, Status: 200},
		{Kind: FaultBeforeCommit, Status: 42},
		{Kind: FaultLatency},
		{Kind: FaultBeforeCommit, Rate: 1.5},
		{Kind: FaultBeforeCommit, Times: -1},
		{Kind: FaultRateLimit, RetryAfter: -time.Second},
	}
	for _, f := range bad {
		assert.Error(t, s.AddFault(f), "%+v", f)
	}
	assert.Panics(t, func() { s.InjectFault(bad[0]) })
	assert.NoError(t, s.AddFault(Fault{Route: "*", Kind: FaultDropAfterCommit}))
	assert.NoError(t, s.AddFault(Fault{Route: "PUT /companies/{companyId}/connections/{connectionId}/authorization", Kind: FaultAfterCommit}))
	_, err := Start(WithFaults(bad[0]))
	assert.Error(t, err)

	for _, k := range []FaultKind{FaultBeforeCommit, FaultAfterCommit, FaultDropAfterCommit, FaultLatency, FaultRateLimit} {
		back, err := parseFaultKind(k.String())
		require.NoError(t, err)
		assert.Equal(t, k, back)
	}
	_, err = parseFaultKind("explode")
	assert.Error(t, err)
	assert.Equal(t, "FaultKind(42)", FaultKind(42).String())
}

func TestChaosFaults(t *testing.T) {
	fs, err := ChaosFaults(0.4, "before", "after", "drop", "rate-limit")
	require.NoError(t, err)
	require.Len(t, fs, 4)
	for _, f := range fs {
		assert.InDelta(t, 0.1, f.Rate, 1e-9)
	}
	_, err = ChaosFaults(0)
	assert.Error(t, err)
	_, err = ChaosFaults(0.1, "nope")
	assert.Error(t, err)
	_, err = ChaosFaults(0.1)
	assert.Error(t, err)

	// Under chaos, retrying with the same key after transport errors and
	// 429s, every key ends with one documented outcome, and the companies
	// written match it exactly: one for a 200 or an after-commit 500, none
	// for a before-commit 503.
	s, _, c := newFake(t, WithSeed(3), WithFaults(fs...))
	final := map[string]int{}
	for i := 0; i < 80; i++ {
		key := fmt.Sprintf("00000000-0000-4000-8000-%012d", i)
		name := fmt.Sprintf("Chaos %d", i)
		for attempt := 0; ; attempt++ {
			require.Less(t, attempt, 50, "no outcome for %s", key)
			r, err := c.try("POST", "/companies", map[string]any{"name": name}, "Idempotency-Key", key)
			if err != nil || r.status == 429 {
				continue
			}
			final[name] = r.status
			break
		}
	}
	perName := map[string]int{}
	for _, co := range s.Companies() {
		perName[co.Name]++
	}
	seen := map[int]int{}
	for name, st := range final {
		seen[st]++
		switch st {
		case 200, 500:
			assert.Equal(t, 1, perName[name], "%s ended %d", name, st)
		case 503:
			assert.Equal(t, 0, perName[name], "%s ended %d", name, st)
		default:
			t.Errorf("%s ended with %d", name, st)
		}
	}
	assert.Len(t, final, 80)
	assert.Greater(t, seen[200], 0)
	assert.Greater(t, seen[500]+seen[503], 0, "faults fired: %v", seen)
	dropped := 0
	for _, r := range s.RequestLog() {
		if r.Fault == FaultDropAfterCommit {
			dropped++
		}
	}
	assert.Greater(t, dropped, 0, "some connections were dropped")
}
