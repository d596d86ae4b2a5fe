package codat_test

import (
	"bufio"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/codat-migrate/codat"
	"github.com/codat-migrate/codat/integrations"
	"github.com/codat-migrate/codat/internal/testutil"
)

// The hostile-server suite: a server that answers badly, or not at all,
// gets no panic, no hang past the documented timeouts, no duplicate create
// and one clear, one-line error from the client each time.

const (
	hostileKey     = "hostile-API-KEY-4f3e2d1c0b9a"
	hostileTimeout = 300 * time.Millisecond // the http.Client.Timeout the suite sets
)

// hostile is a server run by handler and a client of it with short timeouts.
type hostile struct {
	srv    *httptest.Server
	client *codat.Client
	logs   *testutil.LogBuffer
	hits   atomic.Int32
	posts  atomic.Int32
	keys   sync.Map // Idempotency-Key → count
}

func newHostile(t *testing.T, policy codat.RetryPolicy, handler http.HandlerFunc) *hostile {
	t.Helper()
	h := &hostile{logs: &testutil.LogBuffer{}}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.hits.Add(1)
		if r.Method == http.MethodPost {
			h.posts.Add(1)
			if k := r.Header.Get("Idempotency-Key"); k != "" {
				n, _ := h.keys.LoadOrStore(k, new(atomic.Int32))
				n.(*atomic.Int32).Add(1)
			}
		}
		handler(w, r)
	}))
	t.Cleanup(h.srv.Close)
	c, err := codat.NewClient(hostileKey, codat.WithBaseURL(h.srv.URL),
		codat.WithHTTPClient(&http.Client{Timeout: hostileTimeout}),
		codat.WithRetryPolicy(policy), codat.WithLogger(h.logs.JSONLogger()))
	require.NoError(t, err)
	h.client = c
	return h
}

func hostilePolicy() codat.RetryPolicy {
	return codat.RetryPolicy{MaxAttempts: 3, MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond, MaxWait: time.Second}
}

// assertClearError checks err is one line that names the call, and that
// neither it nor the logs hold the API key.
func assertClearError(t *testing.T, h *hostile, err error, method, path string) {
	t.Helper()
	require.Error(t, err)
	msg := err.Error()
	assert.NotContains(t, msg, "\n", "one line")
	assert.Contains(t, msg, method+" "+path, "the error names the call")
	assert.Less(t, len(msg), 1200, "a bounded message")
	testutil.AssertNoSecrets(t, "error", msg, hostileKey)
	testutil.AssertNoSecrets(t, "logs", h.logs.String(), hostileKey)
}

func TestHostileBodies(t *testing.T) {
	company := `{"id":"` + sdkCompanyID + `","name":"Acme","platform":"","redirect":"https://link","lastSync":null,"created":"2022-01-01T00:00:00Z","dataConnections":[]}`
	tests := []struct {
		name   string
		status int
		body   string
		want   string // in the error
		is     error  // errors.Is target, if any
		as     any    // errors.As target, if any
	}{
		{"truncated JSON", 200, company[:40], "cannot decode response as codat.Company", nil, new(*codat.DecodeError)},
		{"empty 200", 200, "", "empty body", nil, new(*codat.DecodeError)},
		{"JSON null", 200, "null", "", nil, nil},
		{"an array for an object", 200, `[1,2,3]`, "cannot decode", nil, new(*codat.DecodeError)},
		{"wrong types", 200, `{"id":5,"name":["x"]}`, "cannot decode", nil, new(*codat.DecodeError)},
		{"deeply nested JSON", 200, strings.Repeat("[", 20000) + strings.Repeat("]", 20000), "cannot decode", nil, new(*codat.DecodeError)},
		{"HTML error page", 502, "<html><body>Bad gateway</body></html>", "502 Bad Gateway", nil, new(*codat.APIError)},
		{"truncated error JSON", 400, `{"statusCode":400,"error":"bad`, "400 Bad Request", codat.ErrValidation, nil},
		{"error JSON with wrong types", 404, `{"statusCode":"x","error":{"a":1},"validation":"no","correlationId":7}`, "404 Not Found", codat.ErrNotFound, nil},
		{"error message with control characters", 400, `{"error":"line1\nline2\r\u0085\u2028end","correlationId":"c\nd"}`, "line1 line2 end", codat.ErrValidation, nil},
		{"redirect", 307, "", "307 Temporary Redirect", nil, new(*codat.APIError)},
		{"huge error body", 400, `{"error":"` + strings.Repeat("x", 2<<20) + `"}`, "400 Bad Request", codat.ErrValidation, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHostile(t, hostilePolicy(), func(w http.ResponseWriter, r *http.Request) {
				if tc.status == 307 {
					w.Header().Set("Location", "https://elsewhere.example/steal")
				}
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(tc.status)
				_, _ = io.WriteString(w, tc.body)
			})
			_, err := h.client.Companies.Get(context.Background(), sdkCompanyID)
			if tc.want == "" {
				require.NoError(t, err, "a null body decodes to the zero value")
				return
			}
			assertClearError(t, h, err, "GET", "/companies/"+sdkCompanyID)
			assert.Contains(t, err.Error(), tc.want)
			if tc.is != nil {
				assert.ErrorIs(t, err, tc.is)
			}
			if tc.as != nil {
				assert.ErrorAs(t, err, tc.as)
			}
			assert.NotContains(t, err.Error(), "xxxxxxxxxx"+strings.Repeat("x", 400), "the message is bounded")
		})
	}
}

// A 2xx body without end is read up to the documented cap (64 MiB) and no
// further; the call fails with a DecodeError.
func TestHostileEndlessBody(t *testing.T) {
	if testing.Short() {
		t.Skip("reads 64 MiB")
	}
	var sent atomic.Int64
	h := newHostile(t, hostilePolicy(), func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(200)
		chunk := []byte("[" + strings.Repeat(" ", 64<<10-1))
		for i := 0; ; i++ {
			n, err := w.Write(chunk)
			sent.Add(int64(n))
			if err != nil || sent.Load() > 80<<20 {
				return
			}
			chunk[0] = ' '
		}
	})
	h.client, _ = codat.NewClient(hostileKey, codat.WithBaseURL(h.srv.URL),
		codat.WithHTTPClient(&http.Client{Timeout: 20 * time.Second}), codat.WithRetryPolicy(hostilePolicy()))
	_, err := h.client.Companies.Get(context.Background(), sdkCompanyID)
	var de *codat.DecodeError
	require.ErrorAs(t, err, &de)
	assert.Contains(t, err.Error(), "GET /companies/"+sdkCompanyID)
	assert.Equal(t, int32(1), h.hits.Load(), "a 2xx is not retried")
}

// A server that never answers, or sends its body slowly, is cut off by the
// http.Client's Timeout on every attempt; the call ends after at most
// MaxAttempts of them, with a TransportError that says it timed out.
func TestHostileSilentAndSlowServers(t *testing.T) {
	tests := []struct {
		name    string
		handler func(done <-chan struct{}) http.HandlerFunc
	}{
		{"never answers", func(done <-chan struct{}) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				select {
				case <-done:
				case <-r.Context().Done():
				}
			}
		}},
		{"headers, then a trickle", func(done <-chan struct{}) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(200)
				for {
					_, _ = io.WriteString(w, " ")
					w.(http.Flusher).Flush()
					select {
					case <-done:
						return
					case <-r.Context().Done():
						return
					case <-time.After(50 * time.Millisecond):
					}
				}
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			done := make(chan struct{})
			h := newHostile(t, hostilePolicy(), tc.handler(done))
			t.Cleanup(func() { close(done) })
			start := time.Now()
			_, err := h.client.Companies.Get(context.Background(), sdkCompanyID)
			elapsed := time.Since(start)
			assertClearError(t, h, err, "GET", "/companies/"+sdkCompanyID)
			var te *codat.TransportError
			require.ErrorAs(t, err, &te)
			assert.True(t, te.Timeout(), "a timeout: %v", err)
			assert.LessOrEqual(t, te.Attempts, 3)
			assert.Less(t, elapsed, 3*hostileTimeout+2*time.Second, "no hang past MaxAttempts × Timeout")

			// A write is bounded the same way, and a caller's deadline ends it sooner.
			ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			defer cancel()
			start = time.Now()
			_, err = h.client.Companies.Create(ctx, codat.CreateCompanyRequest{Name: "Acme"})
			assertClearError(t, h, err, "POST", "/companies")
			assert.Less(t, time.Since(start), time.Second, "the context's deadline ends the call")
			assert.True(t, codat.IsAmbiguous(err), "the create may have reached the server")
		})
	}
}

// Garbage in Retry-After and the rate-limit headers never panics, never
// makes the client sleep long, and leaves a clear error.
func TestHostileRateLimitHeaders(t *testing.T) {
	values := []string{"-1", "abc", "1e400", "NaN", "Inf", "0x10", "99999999999999999999", " ", "1.5.2",
		"Fri, 31 Dec 9999 23:59:59 GMT", "Mon, 01 Jan 0001 00:00:00 GMT", strings.Repeat("9", 400), "\x00\x01"}
	for _, v := range values {
		t.Run(fmt.Sprintf("%q", v), func(t *testing.T) {
			h := newHostile(t, hostilePolicy(), func(w http.ResponseWriter, r *http.Request) {
				for _, k := range []string{"Retry-After", "X-Rate-Limit-Limit", "X-Rate-Limit-Remaining", "X-Rate-Limit-Reset"} {
					w.Header()[k] = []string{v}
				}
				testutil.CodatError(w, 429, "slow down", "corr-garbage")
			})
			start := time.Now()
			_, err := h.client.Companies.Get(context.Background(), sdkCompanyID)
			assert.Less(t, time.Since(start), 5*time.Second, "no long sleep")
			assertClearError(t, h, err, "GET", "/companies/"+sdkCompanyID)
			if strings.ContainsAny(v, "\x00\x01") {
				var te *codat.TransportError
				require.ErrorAs(t, err, &te, "net/http refuses a header with control characters")
				return
			}
			require.ErrorIs(t, err, codat.ErrRateLimited)
			rl, ok := codat.RateLimitOf(err)
			require.True(t, ok)
			assert.LessOrEqual(t, time.Until(rl.Until), codat.MaxResetWait, "never more than MaxResetWait")
			if reset, ok := codat.IsQuotaExhausted(err); ok {
				assert.LessOrEqual(t, time.Until(reset), codat.MaxResetWait)
			}
			q := h.client.Quota()
			assert.GreaterOrEqual(t, q.Limit, 0)
			assert.GreaterOrEqual(t, q.Remaining, 0)
			assert.LessOrEqual(t, time.Until(q.Reset), codat.MaxResetWait)
		})
	}
}

// A keyed POST answered 409 for ever (the same key "in flight") is retried
// with the same Idempotency-Key up to MaxAttempts, then fails with the 409;
// Migrate creates nothing twice.
func TestHostileConflictForever(t *testing.T) {
	h := newHostile(t, hostilePolicy(), func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && r.URL.Path == "/companies" {
			testutil.WriteJSON(w, 200, testutil.Page("/companies", []any{}, 1, 100, 0, false))
			return
		}
		testutil.CodatError(w, 409, "A request with this Idempotency-Key is in progress", "corr-409")
	})
	_, err := h.client.Companies.Create(context.Background(), codat.CreateCompanyRequest{Name: "Acme"})
	assertClearError(t, h, err, "POST", "/companies")
	assert.ErrorIs(t, err, codat.ErrConflict)
	assert.Equal(t, int32(3), h.posts.Load(), "MaxAttempts, no more")
	keys := 0
	h.keys.Range(func(_, n any) bool {
		keys++
		assert.Equal(t, int32(3), n.(*atomic.Int32).Load(), "every attempt carries the same key")
		return true
	})
	assert.Equal(t, 1, keys)

	h.posts.Store(0)
	res, err := h.client.Migrate(context.Background(), codat.Migration{
		Ref: "hostile-409", Company: codat.CreateCompanyRequest{Name: "Acme"},
		Auth: integrations.QuickBooksOnline{RealmID: "123", AccessToken: "hostile-access", RefreshToken: "hostile-refresh"},
	})
	require.Error(t, err)
	require.NotNil(t, res)
	assert.NotContains(t, err.Error(), "\n")
	assert.ErrorIs(t, err, codat.ErrConflict)
	assert.False(t, res.HasStep(codat.StepCompany), "no company is recorded")
	assert.LessOrEqual(t, h.posts.Load(), int32(3), "one create call's attempts, no second create")
}

// A response that is not HTTP at all, or that quotes the Authorization
// header in its status line, ends the call with a TransportError that does
// not repeat the key.
func TestHostileMalformedResponses(t *testing.T) {
	header := "Basic " + base64.StdEncoding.EncodeToString([]byte(hostileKey))
	tests := []struct {
		name  string
		reply func(auth string) string
	}{
		{"status line echoing the Authorization header", func(auth string) string {
			return "HTTP/1.1 " + auth + "\r\n\r\n"
		}},
		{"garbage echoing the key", func(auth string) string {
			return "SSH-2.0 " + hostileKey + " " + auth + "\r\n"
		}},
		{"headers cut off", func(string) string { return "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n" }},
		{"short body", func(string) string { return "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"id\":" }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			require.NoError(t, err)
			var wg sync.WaitGroup
			t.Cleanup(wg.Wait) // cleanups run last first: the listener is closed, then waited for
			t.Cleanup(func() { _ = ln.Close() })
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					conn, err := ln.Accept()
					if err != nil {
						return
					}
					br := bufio.NewReader(conn)
					req, err := http.ReadRequest(br)
					if err == nil {
						_, _ = io.Copy(io.Discard, req.Body)
						_, _ = io.WriteString(conn, tc.reply(req.Header.Get("Authorization")))
					}
					_ = conn.Close()
				}
			}()
			logs := &testutil.LogBuffer{}
			c, err := codat.NewClient(hostileKey, codat.WithBaseURL("http://"+ln.Addr().String()),
				codat.WithHTTPClient(&http.Client{Timeout: hostileTimeout}),
				codat.WithRetryPolicy(hostilePolicy()), codat.WithLogger(logs.JSONLogger()))
			require.NoError(t, err)
			_, err = c.Companies.Get(context.Background(), sdkCompanyID)
			require.Error(t, err)
			var te *codat.TransportError
			var de *codat.DecodeError
			require.True(t, errors.As(err, &te) || errors.As(err, &de), "a transport or decode error: %T", err)
			for what, text := range map[string]string{"Error()": err.Error(), "%+v": fmt.Sprintf("%+v", err), "logs": logs.String()} {
				testutil.AssertNoSecrets(t, what, text, hostileKey, header)
			}
			assert.NotContains(t, err.Error(), "\n")
			assert.Contains(t, err.Error(), "GET /companies/"+sdkCompanyID)
		})
	}
}
