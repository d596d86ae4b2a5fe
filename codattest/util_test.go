package codattest

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var t0 = time.Date(2025, 3, 14, 9, 30, 0, 0, time.UTC)

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

func decode[T any](t testing.TB, r *tresp) T {
	t.Helper()
	var v T
	require.NoErrorf(t, json.Unmarshal(r.body, &v), "decoding %s", r)
	return v
}

// newFake starts a fake with a fake clock and no quota unless opts say
// otherwise, closing it with the test.
func newFake(t testing.TB, opts ...Option) (*Server, *FakeClock, *tclient) {
	t.Helper()
	clk := NewFakeClock(t0)
	s, err := Start(append([]Option{WithClock(clk), WithoutQuota()}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(s.Close)
	return s, clk, newClient(t, s)
}

func (c *tclient) createCompany(name string, tags map[string]string) Company {
	c.t.Helper()
	body := map[string]any{"name": name}
	if tags != nil {
		body["tags"] = tags
	}
	r := c.do("POST", "/companies", body)
	require.Equal(c.t, 200, r.status, r.String())
	return decode[Company](c.t, r)
}

func (c *tclient) createConnection(companyID, key string) Connection {
	c.t.Helper()
	r := c.do("POST", "/companies/"+companyID+"/connections", map[string]string{"platformKey": key})
	require.Equal(c.t, 200, r.status, r.String())
	return decode[Connection](c.t, r)
}

func (c *tclient) authorize(companyID, connectionID string, body map[string]string) Connection {
	c.t.Helper()
	r := c.do("PUT", "/companies/"+companyID+"/connections/"+connectionID+"/authorization", body)
	require.Equal(c.t, 200, r.status, r.String())
	return decode[Connection](c.t, r)
}

func errBody(t testing.TB, r *tresp) errorMessage {
	t.Helper()
	e := decode[errorMessage](t, r)
	require.Equal(t, r.status, e.StatusCode, "error body statusCode")
	require.NotEmpty(t, e.CorrelationID)
	require.Equal(t, "Unknown", e.CanBeRetried)
	return e
}
