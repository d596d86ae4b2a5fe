package codattest

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func truncate(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}

// tclient sends requests to a fake. (The contracttest module checks the
// fake's answers against Codat's OpenAPI contract.)
type tclient struct {
	t    testing.TB
	s    *Server
	hc   *http.Client
	auth string
}

func newClient(t testing.TB, s *Server) *tclient {
	return &tclient{t: t, s: s, hc: s.Client(), auth: s.AuthorizationHeader()}
}

type tresp struct {
	status int
	header http.Header
	body   []byte
}

func (r *tresp) String() string { return fmt.Sprintf("%d %s", r.status, truncate(r.body, 300)) }

// do sends method path with body (nil, a string sent as is, or a value sent
// as JSON) and headers given as name, value pairs.
func (c *tclient) do(method, path string, body any, headers ...string) *tresp {
	c.t.Helper()
	r, err := c.try(method, path, body, headers...)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	return r
}

func (c *tclient) try(method, path string, body any, headers ...string) (*tresp, error) {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		rd = bytes.NewReader(mustJSON(b))
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
		if headers[i+1] == "" {
			req.Header.Del(headers[i])
		} else {
			req.Header.Set(headers[i], headers[i+1])
		}
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
	return &tresp{status: resp.StatusCode, header: resp.Header, body: b}, nil
}

func q(path string, kv ...string) string {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return path + "?" + v.Encode()
}
