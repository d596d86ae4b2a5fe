package contracttest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/codat-migrate/codat/codattest"
)

var fakeT0 = time.Date(2025, 3, 14, 9, 30, 0, 0, time.UTC)

// Idempotency keys the fake tests send.
const (
	key1 = "3f2504e0-4f89-41d3-9a0c-0305e82c3301"
	key2 = "6ba7b810-9dad-11d1-80b4-00c04fd430c8"
)

// fakeClient sends requests to a codattest fake; every answer passes through
// the validator's Transport, which checks it against the contract.
type fakeClient struct {
	t    testing.TB
	s    *codattest.Server
	hc   *http.Client
	auth string
}

// newFake starts a fake with a fake clock and no quota unless opts say
// otherwise, closing it with the test, and a client whose every answer is
// checked against the contract.
func newFake(t testing.TB, v *Validator, opts ...codattest.Option) (*codattest.Server, *codattest.FakeClock, *fakeClient) {
	t.Helper()
	clk := codattest.NewFakeClock(fakeT0)
	s, err := codattest.Start(append([]codattest.Option{codattest.WithClock(clk), codattest.WithoutQuota()}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(s.Close)
	hc := &http.Client{Transport: v.Transport(t, s.Client().Transport)}
	return s, clk, &fakeClient{t: t, s: s, hc: hc, auth: s.AuthorizationHeader()}
}

type fakeResp struct {
	status int
	body   []byte
}

func (r *fakeResp) String() string { return fmt.Sprintf("%d %s", r.status, truncate(r.body, 300)) }

// do sends method path with body (nil, a string sent as is, or a value sent
// as JSON) and headers given as name, value pairs.
func (c *fakeClient) do(method, path string, body any, headers ...string) *fakeResp {
	c.t.Helper()
	r, err := c.try(method, path, body, headers...)
	require.NoError(c.t, err, "%s %s", method, path)
	return r
}

func (c *fakeClient) try(method, path string, body any, headers ...string) (*fakeResp, error) {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, c.s.URL()+path, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", c.auth)
	req.Header.Set("Accept", "application/json")
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	return &fakeResp{status: resp.StatusCode, body: b}, nil
}

func decode[T any](t testing.TB, r *fakeResp) T {
	t.Helper()
	var v T
	require.NoErrorf(t, json.Unmarshal(r.body, &v), "decoding %s", r)
	return v
}

func (c *fakeClient) createCompany(name string, tags map[string]string) codattest.Company {
	c.t.Helper()
	body := map[string]any{"name": name}
	if tags != nil {
		body["tags"] = tags
	}
	r := c.do("POST", "/companies", body)
	require.Equal(c.t, 200, r.status, r.String())
	return decode[codattest.Company](c.t, r)
}

func (c *fakeClient) createConnection(companyID, key string) codattest.Connection {
	c.t.Helper()
	r := c.do("POST", "/companies/"+companyID+"/connections", map[string]string{"platformKey": key})
	require.Equal(c.t, 200, r.status, r.String())
	return decode[codattest.Connection](c.t, r)
}

func (c *fakeClient) authorize(companyID, connectionID string, body map[string]string) {
	c.t.Helper()
	r := c.do("PUT", "/companies/"+companyID+"/connections/"+connectionID+"/authorization", body)
	require.Equal(c.t, 200, r.status, r.String())
}

func q(path string, kv ...string) string {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return path + "?" + v.Encode()
}
