package codat_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/codat-migrate/codat"
	"github.com/codat-migrate/codat/internal/endpoints"
	"github.com/codat-migrate/codat/internal/testutil"
)

// The test server serves the API under a path prefix, so a request built
// with an absolute path (dropping the base URL's path) misses every route.
const sdkPrefix = "/api/v1"

const (
	sdkAPIKey       = "sdk-test-KEY-7c2f1e0d9b8a"
	sdkCompanyID    = endpoints.CompanyID
	sdkConnectionID = endpoints.ConnectionID
	sdkDatasetID    = endpoints.DatasetID
)

func sdkFastPolicy() codat.RetryPolicy {
	return codat.RetryPolicy{MaxAttempts: 3, MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond, MaxWait: 2 * time.Second}
}

// sdkRequest is one request as the test server received it.
type sdkRequest struct {
	Method, Path, RawQuery string
	Header                 http.Header
	Body                   []byte
}

// sdkHarness is an httptest server under sdkPrefix that records every
// request. (The contracttest module checks every request the SDK can send
// against Codat's OpenAPI contract.)
type sdkHarness struct {
	t      *testing.T
	mux    *http.ServeMux
	srv    *httptest.Server
	client *codat.Client
	logs   *testutil.LogBuffer

	mu   sync.Mutex
	reqs []sdkRequest
}

func newSDKHarness(t *testing.T, opts ...codat.Option) *sdkHarness {
	t.Helper()
	h := &sdkHarness{t: t, mux: http.NewServeMux(), logs: &testutil.LogBuffer{}}
	record := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		h.mu.Lock()
		h.reqs = append(h.reqs, sdkRequest{Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery, Header: r.Header.Clone(), Body: body})
		h.mu.Unlock()
		h.mux.ServeHTTP(w, r)
	})
	h.srv = httptest.NewServer(record)
	t.Cleanup(h.srv.Close)
	all := append([]codat.Option{
		codat.WithBaseURL(h.srv.URL + sdkPrefix),
		codat.WithRetryPolicy(sdkFastPolicy()),
		codat.WithLogger(h.logs.JSONLogger()),
	}, opts...)
	c, err := codat.NewClient(sdkAPIKey, all...)
	require.NoError(t, err)
	h.client = c
	return h
}

// handle registers fn for a route given without the prefix, e.g. "GET /companies/{companyId}".
func (h *sdkHarness) handle(route string, fn http.HandlerFunc) {
	method, path, _ := strings.Cut(route, " ")
	h.mux.HandleFunc(method+" "+sdkPrefix+path, fn)
}

// handleAll answers every request with fn.
func (h *sdkHarness) handleAll(fn http.HandlerFunc) { h.mux.HandleFunc("/", fn) }

func (h *sdkHarness) requests() []sdkRequest {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]sdkRequest(nil), h.reqs...)
}

// sdkExchange is one endpoint call and what must go over the wire.
type sdkExchange struct {
	name      string
	call      func(t *testing.T, ctx context.Context, c *codat.Client)
	method    string
	path      string     // without the prefix
	query     url.Values // nil: no query string
	body      string     // JSON the request must carry; "" for none
	keyed     bool       // an Idempotency-Key must be sent
	status    int
	response  any // JSON response body; nil for none
	rawHeader http.Header
}

// sdkRunExchanges runs each exchange on a fresh server and asserts the method,
// path, query, headers and body of the single request it sent.
func sdkRunExchanges(t *testing.T, cases []sdkExchange) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newSDKHarness(t)
			h.handleAll(func(w http.ResponseWriter, r *http.Request) {
				for k, vs := range tc.rawHeader {
					w.Header()[k] = vs
				}
				if tc.response == nil {
					w.WriteHeader(tc.status)
					return
				}
				testutil.WriteJSON(w, tc.status, tc.response)
			})
			tc.call(t, context.Background(), h.client)

			reqs := h.requests()
			require.Len(t, reqs, 1, "one call, one request")
			r := reqs[0]
			assert.Equal(t, tc.method, r.Method)
			assert.Equal(t, sdkPrefix+tc.path, r.Path)
			gotQuery, err := url.ParseQuery(r.RawQuery)
			require.NoError(t, err)
			if tc.query == nil {
				assert.Empty(t, r.RawQuery)
			} else {
				assert.Equal(t, tc.query, gotQuery)
			}
			assert.Equal(t, "Basic "+base64.StdEncoding.EncodeToString([]byte(sdkAPIKey)), r.Header.Get("Authorization"))
			assert.Equal(t, "application/json", r.Header.Get("Accept"))
			assert.Equal(t, codat.DefaultUserAgent, r.Header.Get("User-Agent"))
			if tc.body == "" {
				assert.Empty(t, r.Body)
				assert.Empty(t, r.Header.Get("Content-Type"))
			} else {
				assert.JSONEq(t, tc.body, string(r.Body))
				assert.Equal(t, "application/json", r.Header.Get("Content-Type"))
			}
			key := r.Header.Get("Idempotency-Key")
			if tc.keyed {
				_, err := uuid.Parse(key)
				assert.NoError(t, err, "Idempotency-Key must be a GUID")
			} else {
				assert.Empty(t, key)
			}
			assert.EqualValues(t, 1, h.client.Requests())
		})
	}
}

func TestNewClientOptions(t *testing.T) {
	okRate := codat.WithRequestRate(10, time.Second)
	tests := []struct {
		name    string
		key     string
		opts    []codat.Option
		wantErr string
	}{
		{"defaults", sdkAPIKey, nil, ""},
		{"empty key", "  ", nil, "empty API key"},
		{"key with newline", "abc\ndef", nil, "control characters"},
		{"https base URL with prefix", sdkAPIKey, []codat.Option{codat.WithBaseURL("https://example.com/api/v1/")}, ""},
		{"http localhost", sdkAPIKey, []codat.Option{codat.WithBaseURL("http://localhost:8080")}, ""},
		{"http 127.0.0.2", sdkAPIKey, []codat.Option{codat.WithBaseURL("http://127.0.0.2:8080/x")}, ""},
		{"http ::1", sdkAPIKey, []codat.Option{codat.WithBaseURL("http://[::1]:8080")}, ""},
		{"http remote host", sdkAPIKey, []codat.Option{codat.WithBaseURL("http://api.codat.io")}, "http is allowed only for loopback"},
		{"http private address", sdkAPIKey, []codat.Option{codat.WithBaseURL("http://10.0.0.1")}, "http is allowed only for loopback"},
		{"http localhost lookalike", sdkAPIKey, []codat.Option{codat.WithBaseURL("http://localhost.example.com")}, "http is allowed only for loopback"},
		{"ftp", sdkAPIKey, []codat.Option{codat.WithBaseURL("ftp://127.0.0.1")}, "not supported"},
		{"relative", sdkAPIKey, []codat.Option{codat.WithBaseURL("/api")}, "absolute"},
		{"empty base URL", sdkAPIKey, []codat.Option{codat.WithBaseURL("")}, "empty URL"},
		{"user info", sdkAPIKey, []codat.Option{codat.WithBaseURL("https://user:pass@api.codat.io")}, "user information"},
		{"query", sdkAPIKey, []codat.Option{codat.WithBaseURL("https://api.codat.io?x=1")}, "query"},
		{"fragment", sdkAPIKey, []codat.Option{codat.WithBaseURL("https://api.codat.io#x")}, "fragment"},
		{"unparsable", sdkAPIKey, []codat.Option{codat.WithBaseURL("https://[::1")}, "not a valid URL"},
		{"nil http client", sdkAPIKey, []codat.Option{codat.WithHTTPClient(nil)}, "nil *http.Client"},
		{"http client", sdkAPIKey, []codat.Option{codat.WithHTTPClient(&http.Client{})}, ""},
		{"zero attempts", sdkAPIKey, []codat.Option{codat.WithRetryPolicy(codat.RetryPolicy{})}, "MaxAttempts"},
		{"negative wait", sdkAPIKey, []codat.Option{codat.WithRetryPolicy(codat.RetryPolicy{MaxAttempts: 1, MaxWait: -1})}, "negative"},
		{"max below min", sdkAPIKey, []codat.Option{codat.WithRetryPolicy(codat.RetryPolicy{MaxAttempts: 2, MinBackoff: time.Second, MaxBackoff: time.Millisecond})}, "less than MinBackoff"},
		{"no retries", sdkAPIKey, []codat.Option{codat.WithRetryPolicy(codat.NoRetries())}, ""},
		{"nil logger", sdkAPIKey, []codat.Option{codat.WithLogger(nil)}, "nil *slog.Logger"},
		{"empty user agent", sdkAPIKey, []codat.Option{codat.WithUserAgent(" ")}, "empty user agent"},
		{"user agent with newline", sdkAPIKey, []codat.Option{codat.WithUserAgent("a\r\nX-Evil: 1")}, "control characters"},
		{"rate n zero", sdkAPIKey, []codat.Option{codat.WithRequestRate(0, time.Second)}, "n must be positive"},
		{"rate per zero", sdkAPIKey, []codat.Option{codat.WithRequestRate(1, 0)}, "period must be positive"},
		{"rate ok", sdkAPIKey, []codat.Option{okRate}, ""},
		{"nil option", sdkAPIKey, []codat.Option{nil}, "option 0 is nil"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := codat.NewClient(tc.key, tc.opts...)
			if tc.wantErr == "" {
				require.NoError(t, err)
				require.NotNil(t, c)
				assert.NotNil(t, c.Companies)
				assert.NotNil(t, c.Connections)
				assert.NotNil(t, c.Sync)
				assert.NotNil(t, c.Integrations)
				return
			}
			require.Error(t, err)
			assert.Nil(t, c)
			assert.Contains(t, err.Error(), tc.wantErr)
			assert.True(t, strings.HasPrefix(err.Error(), "codat: "), err.Error())
			testutil.AssertNoSecrets(t, "option error", err.Error(), sdkAPIKey, "pass")
		})
	}
}

func TestDefaultBaseURL(t *testing.T) {
	c, err := codat.NewClient(sdkAPIKey)
	require.NoError(t, err)
	assert.Equal(t, "https://api.codat.io", c.BaseURL())
}

func TestAuthorizationHeader(t *testing.T) {
	tests := []struct{ name, key, want string }{
		{"raw key is base64 encoded", "my-key", "Basic " + base64.StdEncoding.EncodeToString([]byte("my-key"))},
		{"surrounding space is trimmed", "  my-key\n", "Basic " + base64.StdEncoding.EncodeToString([]byte("my-key"))},
		{"ready-made header is sent unchanged", "Basic bXkta2V5", "Basic bXkta2V5"},
		{"ready-made header, any case", "basic bXkta2V5", "Basic bXkta2V5"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				got = r.Header.Get("Authorization")
				testutil.WriteJSON(w, 200, testutil.Company(sdkCompanyID, "Acme", nil))
			}))
			defer srv.Close()
			c, err := codat.NewClient(tc.key, codat.WithBaseURL(srv.URL))
			require.NoError(t, err)
			_, err = c.Companies.Get(context.Background(), sdkCompanyID)
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestUserAgentAndHTTPClient(t *testing.T) {
	var transportUsed bool
	hc := &http.Client{Transport: sdkRoundTrip(func(r *http.Request) (*http.Response, error) {
		transportUsed = true
		return http.DefaultTransport.RoundTrip(r)
	})}
	h := newSDKHarness(t, codat.WithUserAgent("acme-migrator/1.0"), codat.WithHTTPClient(hc))
	h.handle("GET /companies/{companyId}", func(w http.ResponseWriter, r *http.Request) {
		testutil.WriteJSON(w, 200, testutil.Company(r.PathValue("companyId"), "Acme", nil))
	})
	_, err := h.client.Companies.Get(context.Background(), sdkCompanyID)
	require.NoError(t, err)
	assert.True(t, transportUsed, "the given http.Client's transport carries requests")
	assert.IsType(t, sdkRoundTrip(nil), hc.Transport, "the caller's client is not modified")
	assert.Equal(t, "acme-migrator/1.0", h.requests()[0].Header.Get("User-Agent"))
}

type sdkRoundTrip func(*http.Request) (*http.Response, error)

func (f sdkRoundTrip) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestPathEscaping(t *testing.T) {
	// Not on the contract server: an ID holding "/" and "?" is not a uuid.
	var rawPath string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rawPath = r.URL.EscapedPath()
		testutil.WriteJSON(w, 200, testutil.Company(sdkCompanyID, "Acme", nil))
	}))
	defer srv.Close()
	c, err := codat.NewClient(sdkAPIKey, codat.WithBaseURL(srv.URL+sdkPrefix))
	require.NoError(t, err)
	_, err = c.Companies.Get(context.Background(), "a/b?c")
	require.NoError(t, err)
	assert.Equal(t, sdkPrefix+"/companies/a%2Fb%3Fc", rawPath, "an ID is one escaped path segment")
}

func TestRequestsCountsAttempts(t *testing.T) {
	h := newSDKHarness(t)
	var n int
	h.handle("GET /companies/{companyId}", func(w http.ResponseWriter, r *http.Request) {
		n++
		if n < 3 {
			testutil.CodatError(w, 503, "maintenance", "c1")
			return
		}
		testutil.WriteJSON(w, 200, testutil.Company(sdkCompanyID, "Acme", nil))
	})
	assert.EqualValues(t, 0, h.client.Requests())
	_, err := h.client.Companies.Get(context.Background(), sdkCompanyID)
	require.NoError(t, err)
	assert.EqualValues(t, 3, h.client.Requests(), "every attempt is counted")
	_, err = h.client.Companies.Get(context.Background(), sdkCompanyID)
	require.NoError(t, err)
	assert.EqualValues(t, 4, h.client.Requests())
}

func TestClientConcurrentUse(t *testing.T) {
	h := newSDKHarness(t)
	h.handle("GET /companies/{companyId}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Rate-Limit-Remaining", "10")
		testutil.WriteJSON(w, 200, testutil.Company(r.PathValue("companyId"), "Acme", nil))
	})
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := h.client.Companies.Get(context.Background(), uuid.NewString())
			assert.NoError(t, err)
			_ = h.client.Quota()
		}()
	}
	wg.Wait()
	assert.EqualValues(t, 20, h.client.Requests())
}

// sdkEndpoint is one SDK method, for tables that run every method.
type sdkEndpoint = endpoints.Endpoint

func sdkEndpoints() []sdkEndpoint { return endpoints.All() }

// sdkFirst returns the first error of an iterator, reading it to the end.
func sdkFirst[T any](seq func(func(T, error) bool)) error {
	for _, err := range seq {
		if err != nil {
			return err
		}
	}
	return nil
}

// sdkAuth is a minimal Authorization.
type sdkAuth struct {
	key  string
	body map[string]string
	err  error
}

func (a sdkAuth) PlatformKey() string              { return a.key }
func (a sdkAuth) Body() (map[string]string, error) { return a.body, a.err }

// sdkClosedURL returns a loopback base URL on which nothing listens.
func sdkClosedURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return "http://" + addr + sdkPrefix
}

// TestFailurePaths runs every SDK method through the same failures.
func TestFailurePaths(t *testing.T) {
	policy := sdkFastPolicy()
	for _, ep := range sdkEndpoints() {
		t.Run(ep.Name, func(t *testing.T) {
			t.Run("unreachable base URL", func(t *testing.T) {
				c, err := codat.NewClient(sdkAPIKey, codat.WithBaseURL(sdkClosedURL(t)), codat.WithRetryPolicy(policy))
				require.NoError(t, err)
				err = ep.Call(context.Background(), c)
				var te *codat.TransportError
				require.ErrorAs(t, err, &te)
				assert.Equal(t, ep.Method, te.Method)
				assert.False(t, codat.IsAmbiguous(err), "a refused dial never reached Codat")
				assert.EqualValues(t, policy.MaxAttempts, c.Requests(), "dial errors are retried in every class")
				assert.Contains(t, err.Error(), "codat: "+ep.Method+" /")
				assert.NotContains(t, err.Error(), sdkPrefix+"/", "the path is relative to the base URL")
			})

			t.Run("4xx with Codat body", func(t *testing.T) {
				h := newSDKHarness(t)
				h.handleAll(func(w http.ResponseWriter, r *http.Request) {
					testutil.CodatError(w, 404, "No company was found with ID x", "corr-404")
				})
				err := ep.Call(context.Background(), h.client)
				var ae *codat.APIError
				require.ErrorAs(t, err, &ae)
				assert.Equal(t, 404, ae.StatusCode)
				assert.Equal(t, ep.Method, ae.Method)
				assert.Equal(t, "No company was found with ID x", ae.Message)
				assert.Equal(t, "PublicApi", ae.Service)
				assert.Equal(t, "corr-404", ae.CorrelationID)
				assert.Equal(t, "Unknown", ae.CanBeRetried)
				assert.ErrorIs(t, err, codat.ErrNotFound)
				assert.NotErrorIs(t, err, codat.ErrValidation)
				assert.False(t, codat.IsAmbiguous(err))
				assert.Contains(t, err.Error(), "404 Not Found: No company was found with ID x (service PublicApi, correlation id corr-404)")
				assert.Len(t, h.requests(), 1, "a 404 is never retried")
			})

			t.Run("non-JSON 5xx", func(t *testing.T) {
				h := newSDKHarness(t)
				h.handleAll(func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("Content-Type", "text/html")
					w.WriteHeader(502)
					_, _ = io.WriteString(w, "<html><body>Bad Gateway SECRET-BODY</body></html>")
				})
				err := ep.Call(context.Background(), h.client)
				var ae *codat.APIError
				require.ErrorAs(t, err, &ae)
				assert.Equal(t, 502, ae.StatusCode)
				assert.Empty(t, ae.Message)
				assert.NotContains(t, err.Error(), "SECRET-BODY", "Error() never quotes a body")
				assert.NotContains(t, err.Error(), "html")
				assert.True(t, codat.IsAmbiguous(err), "a 5xx leaves a write in an unknown state")
				want := 1
				if ep.Class == "read" {
					want = policy.MaxAttempts
				}
				assert.Len(t, h.requests(), want, "retry class %s", ep.Class)
			})

			t.Run("empty body", func(t *testing.T) {
				h := newSDKHarness(t)
				h.handleAll(func(w http.ResponseWriter, r *http.Request) {
					w.WriteHeader(200)
				})
				err := ep.Call(context.Background(), h.client)
				if !ep.Decodes {
					assert.NoError(t, err, "the method expects no body")
					return
				}
				var de *codat.DecodeError
				require.ErrorAs(t, err, &de)
				assert.Equal(t, 200, de.StatusCode)
				assert.Contains(t, err.Error(), "empty body")
			})

			t.Run("empty error body", func(t *testing.T) {
				h := newSDKHarness(t)
				h.handleAll(func(w http.ResponseWriter, r *http.Request) {
					w.WriteHeader(403)
				})
				err := ep.Call(context.Background(), h.client)
				var ae *codat.APIError
				require.ErrorAs(t, err, &ae)
				assert.Equal(t, 403, ae.StatusCode)
				assert.ErrorIs(t, err, codat.ErrUnauthorized)
				assert.Equal(t, "codat: "+ae.Method+" "+ae.Path+": 403 Forbidden", err.Error())
			})

			t.Run("malformed JSON", func(t *testing.T) {
				h := newSDKHarness(t)
				h.handleAll(func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("Content-Type", "application/json")
					_, _ = io.WriteString(w, `{"id": "SECRET-BODY`)
				})
				err := ep.Call(context.Background(), h.client)
				if !ep.Decodes {
					assert.NoError(t, err)
					return
				}
				var de *codat.DecodeError
				require.ErrorAs(t, err, &de)
				assert.NotContains(t, err.Error(), "SECRET-BODY")
			})

			t.Run("cancelled context", func(t *testing.T) {
				h := newSDKHarness(t)
				h.handleAll(func(w http.ResponseWriter, r *http.Request) { t.Error("no request may be sent") })
				ctx, cancel := context.WithCancel(context.Background())
				cancel()
				err := ep.Call(ctx, h.client)
				require.Error(t, err)
				assert.ErrorIs(t, err, context.Canceled)
				assert.False(t, codat.IsAmbiguous(err), "nothing was sent")
				assert.Empty(t, h.requests())
			})

			t.Run("base URL without the API prefix", func(t *testing.T) {
				// A server that serves the API only under sdkPrefix: a base
				// URL missing it reaches no route, and the failure is loud.
				srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if strings.HasPrefix(r.URL.Path, sdkPrefix+"/") {
						t.Error("the request must not reach the API prefix")
					}
					testutil.CodatError(w, 404, "no such route", "corr-route")
				}))
				defer srv.Close()
				c, err := codat.NewClient(sdkAPIKey, codat.WithBaseURL(srv.URL+"/wrong"), codat.WithRetryPolicy(policy))
				require.NoError(t, err)
				err = ep.Call(context.Background(), c)
				assert.ErrorIs(t, err, codat.ErrNotFound)
			})
		})
	}
}

func TestEmptyIDsSendNothing(t *testing.T) {
	h := newSDKHarness(t)
	h.handleAll(func(w http.ResponseWriter, r *http.Request) { t.Error("no request may be sent") })
	ctx := context.Background()
	c := h.client
	calls := map[string]func() error{
		"Companies.Get":    func() error { _, err := c.Companies.Get(ctx, ""); return err },
		"Companies.Create": func() error { _, err := c.Companies.Create(ctx, codat.CreateCompanyRequest{}); return err },
		"Companies.Update": func() error {
			_, err := c.Companies.Update(ctx, " ", codat.UpdateCompanyRequest{Name: "x"})
			return err
		},
		"Companies.Delete":   func() error { return c.Companies.Delete(ctx, "") },
		"Connections.Create": func() error { _, err := c.Connections.Create(ctx, "", "qhyg"); return err },
		"Connections.Create bad key": func() error {
			_, err := c.Connections.Create(ctx, sdkCompanyID, "QuickBooks")
			return err
		},
		"Connections.Get":    func() error { _, err := c.Connections.Get(ctx, sdkCompanyID, ""); return err },
		"Connections.List":   func() error { _, err := c.Connections.List(ctx, "", nil); return err },
		"Connections.All":    func() error { return sdkFirst(c.Connections.All(ctx, "", nil)) },
		"Connections.Delete": func() error { return c.Connections.Delete(ctx, "", sdkConnectionID) },
		"Connections.Unlink": func() error { _, err := c.Connections.Unlink(ctx, sdkCompanyID, ""); return err },
		"Connections.UpdateAuthorization": func() error {
			_, err := c.Connections.UpdateAuthorization(ctx, sdkCompanyID, "", sdkAuth{key: "qhyg"})
			return err
		},
		"Connections.UpdateAuthorization nil auth": func() error {
			_, err := c.Connections.UpdateAuthorization(ctx, sdkCompanyID, sdkConnectionID, nil)
			return err
		},
		"Connections.UpdateAuthorization invalid body": func() error {
			_, err := c.Connections.UpdateAuthorization(ctx, sdkCompanyID, sdkConnectionID, sdkAuth{key: "qhyg", err: errors.New("realmId is required")})
			return err
		},
		"Sync.RefreshAll":      func() error { return c.Sync.RefreshAll(ctx, "") },
		"Sync.RefreshDataType": func() error { _, err := c.Sync.RefreshDataType(ctx, sdkCompanyID, "", nil); return err },
		"Sync.Status":          func() error { _, err := c.Sync.Status(ctx, ""); return err },
		"PullOperations.List":  func() error { _, err := c.PullOperations.List(ctx, "", nil); return err },
		"PullOperations.All":   func() error { return sdkFirst(c.PullOperations.All(ctx, "", nil)) },
		"PullOperations.Get":   func() error { _, err := c.PullOperations.Get(ctx, sdkCompanyID, ""); return err },
		"Integrations.Get":     func() error { _, err := c.Integrations.Get(ctx, "QBO"); return err },
		"Connections.List tags": func() error {
			_, err := c.Connections.List(ctx, sdkCompanyID, &codat.ListOptions{Tags: "a=b"})
			return err
		},
		"Companies.List page size": func() error {
			_, err := c.Companies.List(ctx, &codat.ListOptions{PageSize: codat.MaxPageSize + 1})
			return err
		},
		"Companies.List negative page": func() error {
			_, err := c.Companies.List(ctx, &codat.ListOptions{Page: -1})
			return err
		},
		"nil context": func() error {
			_, err := c.Companies.Get(sdkNilContext(), sdkCompanyID)
			return err
		},
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			err := call()
			require.Error(t, err)
			assert.True(t, strings.HasPrefix(err.Error(), "codat: "), err.Error())
		})
	}
	assert.Empty(t, h.requests())
	assert.EqualValues(t, 0, c.Requests())
}

func sdkNilContext() context.Context { return nil }

func TestClientStringHidesCredentials(t *testing.T) {
	c, err := codat.NewClient(sdkAPIKey, codat.WithBaseURL("https://example.com/v1"))
	require.NoError(t, err)
	s := c.String()
	assert.Contains(t, s, "https://example.com/v1")
	assert.Contains(t, s, codat.Redacted)
	testutil.AssertNoSecrets(t, "Client.String", s, sdkAPIKey)
}

// sdkDecodeJSON is a helper for handlers.
func sdkDecodeJSON(t *testing.T, r *http.Request, v any) {
	t.Helper()
	require.NoError(t, json.NewDecoder(r.Body).Decode(v))
}

func TestQuotaFromResponses(t *testing.T) {
	h := newSDKHarness(t)
	h.handle("GET /companies/{companyId}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Rate-Limit-Limit", "2000")
		w.Header().Set("X-Rate-Limit-Remaining", "1234")
		w.Header().Set("X-Rate-Limit-Reset", "Mon, 02 Mar 2026 00:00:00 GMT")
		testutil.WriteJSON(w, 200, testutil.Company(sdkCompanyID, "Acme", nil))
	})
	assert.False(t, h.client.Quota().Known(), "nothing seen yet")
	before := time.Now()
	_, err := h.client.Companies.Get(context.Background(), sdkCompanyID)
	require.NoError(t, err)
	q := h.client.Quota()
	assert.True(t, q.Known())
	assert.Equal(t, 2000, q.Limit)
	assert.Equal(t, 1234, q.Remaining)
	assert.Equal(t, time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC), q.Reset)
	assert.False(t, q.Observed.Before(before))
}

// The client never follows a redirect: a 307 would re-send the token body
// (and the API key) to whatever host it names. The 3xx comes back as an
// *APIError and the other host receives nothing. The caller's http.Client is
// not modified.
func TestRedirectsNotFollowed(t *testing.T) {
	var elsewhere atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		elsewhere.Add(1)
		testutil.WriteJSON(w, 200, testutil.Connection(sdkCompanyID, sdkConnectionID, "qhyg", "Linked"))
	}))
	defer other.Close()
	var here atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		here.Add(1)
		http.Redirect(w, r, other.URL+r.URL.Path, http.StatusTemporaryRedirect)
	}))
	defer srv.Close()

	follow := func(*http.Request, []*http.Request) error { return nil } // the caller's client follows everything
	hc := &http.Client{CheckRedirect: follow}
	for _, opts := range [][]codat.Option{nil, {codat.WithHTTPClient(hc)}} {
		c, err := codat.NewClient(sdkAPIKey, append([]codat.Option{codat.WithBaseURL(srv.URL), codat.WithRetryPolicy(sdkFastPolicy())}, opts...)...)
		require.NoError(t, err)
		here.Store(0)

		_, err = c.Connections.UpdateAuthorization(context.Background(), sdkCompanyID, sdkConnectionID,
			sdkAuth{key: "qhyg", body: map[string]string{"accessToken": "tok-REDIRECT-0123456789"}})
		var ae *codat.APIError
		require.ErrorAs(t, err, &ae)
		assert.Equal(t, http.StatusTemporaryRedirect, ae.StatusCode)
		assert.False(t, codat.IsAmbiguous(err))
		assert.NotContains(t, err.Error(), other.URL, "the Location is not quoted")

		_, err = c.Companies.Get(context.Background(), sdkCompanyID)
		require.ErrorAs(t, err, &ae)
		assert.Equal(t, http.StatusTemporaryRedirect, ae.StatusCode)

		assert.EqualValues(t, 2, here.Load(), "one attempt per call: a 3xx is not retried")
		assert.Zero(t, elsewhere.Load(), "the other host received nothing")
	}
	assert.NotNil(t, hc.CheckRedirect, "the caller's client is not modified")
	assert.Nil(t, hc.CheckRedirect(nil, nil))
}
