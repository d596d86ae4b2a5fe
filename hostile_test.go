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

// A 2xx answer that holds the API key, in any form the scrubbing policy
// knows (as given, base64, the Authorization header's value, a JSON-escaped
// or cut-short echo), is never returned as data: the call fails with one
// clear *SecretEchoError, the model comes back empty, nothing is retried
// and neither the error nor the logs hold the key.
func TestHostileAnswerEchoesAPIKey(t *testing.T) {
	header := "Basic " + base64.StdEncoding.EncodeToString([]byte(hostileKey))
	jsonEscaped := strings.ReplaceAll(hostileKey, "h", `\u0068`)
	company := func(field string) string {
		return `{"id":"` + sdkCompanyID + `","name":"Acme",` + field + `}`
	}
	getCompany := func(c *codat.Client) (any, error) { return c.Companies.Get(context.Background(), sdkCompanyID) }
	tests := []struct {
		name   string
		body   string
		method string
		path   string
		call   func(c *codat.Client) (any, error)
		write  bool
	}{
		{"company id is the key", `{"id":"` + hostileKey + `","name":"Acme"}`, "GET", "/companies/" + sdkCompanyID, getCompany, false},
		{"created company's id is the key", `{"id":"` + hostileKey + `","name":"Acme"}`, "POST", "/companies",
			func(c *codat.Client) (any, error) {
				return c.Companies.Create(context.Background(), codat.CreateCompanyRequest{Name: "Acme"})
			}, true},
		{"linkUrl carries the key", `{"id":"cn-1","integrationKey":"qhyg","status":"PendingAuth","linkUrl":"https://link.example/start?k=` + hostileKey + `"}`,
			"POST", "/companies/" + sdkCompanyID + "/connections",
			func(c *codat.Client) (any, error) {
				return c.Connections.Create(context.Background(), sdkCompanyID, "qhyg")
			}, true},
		{"base64 of the key in a field", company(`"description":"` + base64.StdEncoding.EncodeToString([]byte(hostileKey)) + `"`),
			"GET", "/companies/" + sdkCompanyID, getCompany, false},
		{"URL-safe base64 of the key, unpadded", company(`"redirect":"https://x.example/` + base64.RawURLEncoding.EncodeToString([]byte("k="+hostileKey)) + `"`),
			"GET", "/companies/" + sdkCompanyID, getCompany, false},
		{"the Authorization header in a dataConnection", company(`"dataConnections":[{"id":"cn-1","linkUrl":"https://l.example/` + header + `"}]`),
			"GET", "/companies/" + sdkCompanyID, getCompany, false},
		{"the key JSON-escaped", company(`"description":"` + jsonEscaped + `"`), "GET", "/companies/" + sdkCompanyID, getCompany, false},
		{"the key cut short", company(`"createdByUserName":"` + hostileKey[:12] + `"`), "GET", "/companies/" + sdkCompanyID, getCompany, false},
		{"the key as a tag name", company(`"tags":{"` + hostileKey + `":"x"}`), "GET", "/companies/" + sdkCompanyID, getCompany, false},
		{"the key in connectionInfo", `{"id":"cn-1","status":"Linked","connectionInfo":{"auth":{"k":"` + hostileKey + `"}}}`,
			"GET", "/companies/" + sdkCompanyID + "/connections/cn-1",
			func(c *codat.Client) (any, error) {
				return c.Connections.Get(context.Background(), sdkCompanyID, "cn-1")
			}, false},
		{"pull operation id", `{"id":"` + hostileKey + `","companyId":"` + sdkCompanyID + `","status":"Complete"}`,
			"GET", "/companies/" + sdkCompanyID + "/data/history/ds-1",
			func(c *codat.Client) (any, error) {
				return c.PullOperations.Get(context.Background(), sdkCompanyID, "ds-1")
			}, false},
		{"a page's next link", `{"results":[{"id":"co-1","name":"x"}],"pageNumber":1,"pageSize":1,"totalResults":2,"_links":{"next":{"href":"/companies?page=2&k=` + hostileKey + `"}}}`,
			"GET", "/companies", func(c *codat.Client) (any, error) { return c.Companies.List(context.Background(), nil) }, false},
		{"a data type named after the key", `{"` + hostileKey + `":{"dataType":"invoices","currentStatus":"Complete"}}`,
			"GET", "/companies/" + sdkCompanyID + "/dataStatus",
			func(c *codat.Client) (any, error) { return c.Sync.Status(context.Background(), sdkCompanyID) }, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHostile(t, hostilePolicy(), func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(200)
				_, _ = io.WriteString(w, tc.body)
			})
			got, err := tc.call(h.client)
			assertClearError(t, h, err, tc.method, tc.path)
			var se *codat.SecretEchoError
			require.ErrorAs(t, err, &se)
			assert.ErrorIs(t, err, codat.ErrSecretEcho)
			assert.Equal(t, 200, se.StatusCode)
			assert.Contains(t, err.Error(), "the API key")
			assert.Equal(t, tc.write, codat.IsAmbiguous(err), "a write answered with a withheld body may have taken effect")
			assert.Equal(t, int32(1), h.hits.Load(), "not retried")
			for what, text := range map[string]string{"%+v of the error": fmt.Sprintf("%+v", err), "%#v of the error": fmt.Sprintf("%#v", err),
				"returned value": fmt.Sprintf("%+v", got), "logs": h.logs.String()} {
				testutil.AssertNoSecrets(t, what, text, hostileKey, header, hostileKey[:12])
			}
			assert.Contains(t, h.logs.String(), "answer withheld", "the refusal is logged")
		})
	}
}

// Codat's answer to the token PUT is refused like the API key when it
// echoes a credential of the body (a token, whole, cut short or in base64):
// the caller never holds it. Identifiers the body carries (a realm id, a
// tenant UUID, an expiry) may come back, as Codat keeps them.
func TestHostileAnswerEchoesToken(t *testing.T) {
	const (
		access  = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJjdXN0LTcifQ.c2lnbmF0dXJl-echo"
		refresh = "RT1-echoed-refresh-7f6e5d4c3b2a1908"
		realm   = "9130350000000001"
		tenant  = "3f2b1c9a-0d4e-4f5a-8b6c-7d8e9f0a1b2c"
		expires = "2099-01-01T00:00:00Z"
	)
	auth := integrations.Generic{Key: "qhyg", Fields: map[string]codat.Secret{
		"accessToken": access, "refreshToken": refresh, "realmId": realm, "tenantId": tenant, "expiresAt": expires}}
	conn := func(extra string) string {
		return `{"id":"cn-1","integrationKey":"qhyg","status":"Linked","linkUrl":"https://link.example/start"` + extra + `}`
	}
	tests := []struct {
		name   string
		body   string
		echoes bool
	}{
		{"access token in connectionInfo", conn(`,"connectionInfo":{"accessToken":"` + access + `"}`), true},
		{"refresh token in linkUrl", `{"id":"cn-1","status":"Linked","linkUrl":"https://link.example/start?rt=` + refresh + `"}`, true},
		{"base64 of the access token as the id", `{"id":"` + base64.StdEncoding.EncodeToString([]byte(access)) + `","status":"Linked"}`, true},
		{"the refresh token cut short", conn(`,"platformName":"` + refresh[:14] + `"`), true},
		{"realm, tenant and expiry echoed", conn(`,"connectionInfo":{"realmId":"` + realm + `","tenantId":"` + tenant + `","expiresAt":"` + expires + `"}`), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHostile(t, hostilePolicy(), func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(200)
				_, _ = io.WriteString(w, tc.body)
			})
			got, err := h.client.Connections.UpdateAuthorization(context.Background(), sdkCompanyID, "cn-1", auth)
			if !tc.echoes {
				require.NoError(t, err, "identifiers are not credentials")
				assert.Equal(t, "cn-1", got.ID)
				return
			}
			assertClearError(t, h, err, "PUT", "/companies/"+sdkCompanyID+"/connections/cn-1/authorization")
			var se *codat.SecretEchoError
			require.ErrorAs(t, err, &se)
			assert.Contains(t, err.Error(), "the authorization body")
			assert.True(t, codat.IsAmbiguous(err), "the token may be installed")
			assert.Equal(t, int32(1), h.hits.Load(), "not retried")
			assert.Equal(t, codat.Connection{}, got)
			for what, text := range map[string]string{"error": err.Error(), "%+v of the error": fmt.Sprintf("%+v", err),
				"returned value": fmt.Sprintf("%+v", got), "logs": h.logs.String()} {
				testutil.AssertNoSecrets(t, what, text, access, refresh, refresh[:14])
			}
		})
	}
}
