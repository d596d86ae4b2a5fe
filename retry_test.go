package codat_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/codat-migrate/codat"
	"github.com/codat-migrate/codat/internal/testutil"
)

// sdkSuccess is a contract-valid success response for an endpoint.
func sdkSuccess(w http.ResponseWriter, endpoint string) {
	switch endpoint {
	case "Companies.Delete", "Sync.RefreshAll":
		w.WriteHeader(204)
	case "Connections.UpdateAuthorization", "Connections.Create", "Connections.Unlink", "Connections.Get":
		testutil.WriteJSON(w, 200, testutil.Connection(sdkCompanyID, sdkConnectionID, "qhyg", "Linked"))
	case "Sync.RefreshDataType", "PullOperations.Get":
		testutil.WriteJSON(w, 200, testutil.PullOperation(sdkCompanyID, sdkConnectionID, sdkDatasetID, "invoices", "Queued", false))
	default:
		testutil.WriteJSON(w, 200, testutil.Company(sdkCompanyID, "Acme", nil))
	}
}

func sdkFindEndpoint(t *testing.T, name string) sdkEndpoint {
	for _, ep := range sdkEndpoints() {
		if ep.Name == name {
			return ep
		}
	}
	t.Fatalf("no endpoint %s", name)
	return sdkEndpoint{}
}

// TestRetryClasses checks how many attempts each retry class makes for
// each failure status, and the outcome.
func TestRetryClasses(t *testing.T) {
	type tc struct {
		endpoint     string
		statuses     []int // answered in order; then success
		wantAttempts int
		wantStatus   int // 0: the call succeeds
	}
	var cases []tc
	// Reads (GET, DELETE): transport errors, 408, 429, 500, 502, 503, 504.
	for _, s := range []int{408, 429, 500, 502, 503, 504} {
		cases = append(cases, tc{"Companies.Get", []int{s}, 2, 0})
		cases = append(cases, tc{"Companies.Delete", []int{s}, 2, 0})
	}
	cases = append(cases,
		tc{"Companies.Get", []int{503, 500}, 3, 0},
		tc{"Companies.Get", []int{500, 500, 500}, 3, 500}, // MaxAttempts is 3
	)
	for _, s := range []int{400, 401, 402, 403, 404, 409, 422} {
		cases = append(cases, tc{"Companies.Get", []int{s}, 1, s})
		cases = append(cases, tc{"Companies.Delete", []int{s}, 1, s})
	}
	// Keyed writes (POST create, refresh; PATCH): 409 and 429; never a 5xx.
	for _, ep := range []string{"Companies.Create", "Connections.Create", "Sync.RefreshAll", "Sync.RefreshDataType", "Companies.Update", "Connections.Unlink"} {
		cases = append(cases, tc{ep, []int{409}, 2, 0}, tc{ep, []int{429}, 2, 0}, tc{ep, []int{409, 429}, 3, 0})
		for _, s := range []int{400, 401, 403, 404, 408, 422, 500, 502, 503, 504} {
			cases = append(cases, tc{ep, []int{s}, 1, s})
		}
	}
	// Authorization PUT: 429 only.
	cases = append(cases, tc{"Connections.UpdateAuthorization", []int{429}, 2, 0}, tc{"Connections.UpdateAuthorization", []int{429, 429, 429}, 3, 429})
	for _, s := range []int{400, 401, 403, 404, 408, 409, 422, 500, 502, 503, 504} {
		cases = append(cases, tc{"Connections.UpdateAuthorization", []int{s}, 1, s})
	}

	for _, c := range cases {
		t.Run(fmt.Sprintf("%s %v", c.endpoint, c.statuses), func(t *testing.T) {
			ep := sdkFindEndpoint(t, c.endpoint)
			h := newSDKHarness(t)
			var n atomic.Int32
			h.handleAll(func(w http.ResponseWriter, r *http.Request) {
				i := int(n.Add(1)) - 1
				if i < len(c.statuses) {
					testutil.CodatError(w, c.statuses[i], "failure "+strconv.Itoa(i), "corr-"+strconv.Itoa(i))
					return
				}
				sdkSuccess(w, c.endpoint)
			})
			err := ep.Call(context.Background(), h.client)
			assert.Len(t, h.requests(), c.wantAttempts)
			assert.EqualValues(t, c.wantAttempts, h.client.Requests())
			if c.wantStatus == 0 {
				assert.NoError(t, err)
				return
			}
			var ae *codat.APIError
			require.ErrorAs(t, err, &ae)
			assert.Equal(t, c.wantStatus, ae.StatusCode)
			assert.Equal(t, "corr-"+strconv.Itoa(c.wantAttempts-1), ae.CorrelationID, "the last answer is returned")
			if c.wantStatus >= 500 {
				assert.True(t, codat.IsAmbiguous(err))
			}
		})
	}
}

func TestIdempotencyKeys(t *testing.T) {
	h := newSDKHarness(t)
	var n atomic.Int32
	h.handle("POST /companies", func(w http.ResponseWriter, r *http.Request) {
		switch n.Add(1) {
		case 1:
			testutil.CodatError(w, 409, "in progress", "c1")
		case 2:
			testutil.CodatError(w, 429, "slow down", "c2")
		default:
			testutil.WriteJSON(w, 200, testutil.Company(sdkCompanyID, "Acme", nil))
		}
	})
	_, err := h.client.Companies.Create(context.Background(), codat.CreateCompanyRequest{Name: "Acme", Tags: map[string]string{"a": "b"}})
	require.NoError(t, err)
	_, err = h.client.Companies.Create(context.Background(), codat.CreateCompanyRequest{Name: "Acme", Tags: map[string]string{"a": "b"}})
	require.NoError(t, err)

	reqs := h.requests()
	require.Len(t, reqs, 4)
	first := reqs[0].Header.Get("Idempotency-Key")
	_, err = uuid.Parse(first)
	require.NoError(t, err)
	for i := 1; i < 3; i++ {
		assert.Equal(t, first, reqs[i].Header.Get("Idempotency-Key"), "attempt %d of one call re-sends the key", i+1)
		assert.Equal(t, reqs[0].Body, reqs[i].Body, "attempt %d re-sends the same bytes", i+1)
	}
	assert.NotEqual(t, first, reqs[3].Header.Get("Idempotency-Key"), "another call gets another key")
}

func TestIdempotencyKeysDifferAcrossConcurrentCalls(t *testing.T) {
	h := newSDKHarness(t)
	h.handle("POST /companies/{companyId}/data/all", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) })
	var wg sync.WaitGroup
	for i := 0; i < 10; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			assert.NoError(t, h.client.Sync.RefreshAll(context.Background(), sdkCompanyID))
		}()
	}
	wg.Wait()
	keys := map[string]bool{}
	for _, r := range h.requests() {
		keys[r.Header.Get("Idempotency-Key")] = true
	}
	assert.Len(t, keys, 10)
}

// sdkDroppingServer closes the connection without answering for the first
// drops requests, then answers with ok. It is not contract-wrapped: a
// dropped connection cannot pass through a buffering middleware.
func sdkDroppingServer(t *testing.T, drops int, ok http.HandlerFunc) (*httptest.Server, func() []string) {
	var mu sync.Mutex
	var keys []string
	var n int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.ReadAll(r.Body)
		mu.Lock()
		n++
		i := n
		keys = append(keys, r.Header.Get("Idempotency-Key"))
		mu.Unlock()
		if i <= drops {
			conn, _, err := w.(http.Hijacker).Hijack()
			require.NoError(t, err)
			_ = conn.Close()
			return
		}
		ok(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), keys...)
	}
}

func TestTransportErrorsByClass(t *testing.T) {
	tests := []struct {
		endpoint      string
		wantAttempts  int
		wantSuccess   bool
		wantAmbiguous bool
	}{
		{"Companies.Get", 2, true, false},
		{"Companies.Create", 2, true, false},
		{"Sync.RefreshAll", 2, true, false},
		// The token PUT may have been applied: return, do not resend.
		{"Connections.UpdateAuthorization", 1, false, true},
	}
	for _, tc := range tests {
		t.Run(tc.endpoint, func(t *testing.T) {
			ep := sdkFindEndpoint(t, tc.endpoint)
			srv, keysOf := sdkDroppingServer(t, 1, func(w http.ResponseWriter, r *http.Request) { sdkSuccess(w, tc.endpoint) })
			c, err := codat.NewClient(sdkAPIKey, codat.WithBaseURL(srv.URL+sdkPrefix), codat.WithRetryPolicy(sdkFastPolicy()))
			require.NoError(t, err)
			err = ep.Call(context.Background(), c)
			keys := keysOf()
			assert.Len(t, keys, tc.wantAttempts)
			assert.EqualValues(t, tc.wantAttempts, c.Requests())
			if tc.wantSuccess {
				require.NoError(t, err)
				if ep.Class == "keyed" {
					assert.NotEmpty(t, keys[0])
					assert.Equal(t, keys[0], keys[1], "the retry after a dropped connection re-sends the key")
				}
				return
			}
			var te *codat.TransportError
			require.ErrorAs(t, err, &te)
			assert.Equal(t, tc.wantAmbiguous, codat.IsAmbiguous(err))
			assert.Equal(t, "PUT", te.Method)
			assert.Equal(t, "/companies/"+sdkCompanyID+"/connections/"+sdkConnectionID+"/authorization", te.Path)
		})
	}
}

func TestAmbiguityCarriesAcrossAttempts(t *testing.T) {
	// The first attempt is dropped (it may have created the company); the
	// retry finds the same key in flight. The 409 that ends the call must
	// still report the write as ambiguous.
	srv, keysOf := sdkDroppingServer(t, 1, func(w http.ResponseWriter, r *http.Request) {
		testutil.CodatError(w, 409, "request in progress", "corr-409")
	})
	c, err := codat.NewClient(sdkAPIKey, codat.WithBaseURL(srv.URL+sdkPrefix), codat.WithRetryPolicy(sdkFastPolicy()))
	require.NoError(t, err)
	_, err = c.Companies.Create(context.Background(), codat.CreateCompanyRequest{Name: "Acme"})
	assert.ErrorIs(t, err, codat.ErrConflict)
	assert.True(t, codat.IsAmbiguous(err))
	assert.Len(t, keysOf(), 3)
}

func TestRetryAfterHonoured(t *testing.T) {
	h := newSDKHarness(t, codat.WithRetryPolicy(codat.RetryPolicy{MaxAttempts: 2, MinBackoff: time.Millisecond, MaxBackoff: time.Millisecond, MaxWait: 5 * time.Second}))
	var n atomic.Int32
	var times []time.Time
	var mu sync.Mutex
	h.handle("GET /companies/{companyId}", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		times = append(times, time.Now())
		mu.Unlock()
		if n.Add(1) == 1 {
			w.Header().Set("Retry-After", "1")
			testutil.CodatError(w, 429, "slow down", "c1")
			return
		}
		testutil.WriteJSON(w, 200, testutil.Company(sdkCompanyID, "Acme", nil))
	})
	_, err := h.client.Companies.Get(context.Background(), sdkCompanyID)
	require.NoError(t, err)
	require.Len(t, times, 2)
	assert.GreaterOrEqual(t, times[1].Sub(times[0]), 900*time.Millisecond, "Retry-After: 1 replaces the 1ms backoff")
}

func TestRetryAfterBeyondMaxWait(t *testing.T) {
	for _, name := range []string{"Companies.Get", "Companies.Create", "Connections.UpdateAuthorization"} {
		t.Run(name, func(t *testing.T) {
			ep := sdkFindEndpoint(t, name)
			h := newSDKHarness(t, codat.WithRetryPolicy(codat.RetryPolicy{MaxAttempts: 5, MinBackoff: time.Millisecond, MaxBackoff: time.Millisecond, MaxWait: 10 * time.Second}))
			h.handleAll(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Retry-After", "3600")
				testutil.CodatError(w, 429, "daily quota exceeded", "corr-q")
			})
			start := time.Now()
			err := ep.Call(context.Background(), h.client)
			assert.Less(t, time.Since(start), 5*time.Second, "the client does not sleep for an hour")
			assert.Len(t, h.requests(), 1)
			var ae *codat.APIError
			require.ErrorAs(t, err, &ae)
			assert.Equal(t, 429, ae.StatusCode)
			assert.Equal(t, time.Hour, ae.RetryAfter)
			assert.ErrorIs(t, err, codat.ErrRateLimited)
			assert.False(t, codat.IsAmbiguous(err))
			assert.Contains(t, err.Error(), "retry after 1h0m0s")
			reset, ok := codat.IsQuotaExhausted(err)
			require.True(t, ok)
			assert.WithinDuration(t, start.Add(time.Hour), reset, 5*time.Second)
		})
	}
}

func TestRetryAfterBeyondMaxWaitOn503(t *testing.T) {
	h := newSDKHarness(t)
	h.handleAll(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "600")
		testutil.CodatError(w, 503, "maintenance", "corr-m")
	})
	_, err := h.client.Companies.Get(context.Background(), sdkCompanyID)
	var ae *codat.APIError
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, 10*time.Minute, ae.RetryAfter)
	assert.Len(t, h.requests(), 1)
	_, ok := codat.IsQuotaExhausted(err)
	assert.False(t, ok, "a 503 is maintenance, not quota")
}

func TestQuotaExhaustedFromRateLimitHeaders(t *testing.T) {
	reset := time.Now().Add(3 * time.Hour).UTC().Truncate(time.Second)
	h := newSDKHarness(t)
	h.handleAll(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Rate-Limit-Limit", "1000")
		w.Header().Set("X-Rate-Limit-Remaining", "0")
		w.Header().Set("X-Rate-Limit-Reset", reset.Format(time.RFC3339))
		testutil.CodatError(w, 429, "quota", "corr-q")
	})
	_, err := h.client.Companies.Get(context.Background(), sdkCompanyID)
	require.Error(t, err)
	assert.Len(t, h.requests(), 3, "a 429 without Retry-After is retried with backoff")
	got, ok := codat.IsQuotaExhausted(err)
	require.True(t, ok)
	assert.True(t, reset.Equal(got), "reset %s, got %s", reset, got)
	q := h.client.Quota()
	assert.Equal(t, 1000, q.Limit)
	assert.Equal(t, 0, q.Remaining)
}

func TestCancelDuringBackoff(t *testing.T) {
	tests := []struct {
		name    string
		policy  codat.RetryPolicy
		respond func(w http.ResponseWriter)
		ctx     func() (context.Context, context.CancelFunc)
		cancel  bool // cancel 50ms after the first answer
		want    error
	}{
		{
			name:    "cancel during exponential backoff",
			policy:  codat.RetryPolicy{MaxAttempts: 3, MinBackoff: 30 * time.Second, MaxBackoff: 30 * time.Second, MaxWait: time.Minute},
			respond: func(w http.ResponseWriter) { testutil.CodatError(w, 503, "busy", "c") },
			ctx:     func() (context.Context, context.CancelFunc) { return context.WithCancel(context.Background()) },
			cancel:  true,
			want:    context.Canceled,
		},
		{
			name:   "cancel during a Retry-After wait",
			policy: codat.RetryPolicy{MaxAttempts: 3, MinBackoff: time.Millisecond, MaxBackoff: time.Millisecond, MaxWait: time.Minute},
			respond: func(w http.ResponseWriter) {
				w.Header().Set("Retry-After", "45")
				testutil.CodatError(w, 429, "slow down", "c")
			},
			ctx:    func() (context.Context, context.CancelFunc) { return context.WithCancel(context.Background()) },
			cancel: true,
			want:   context.Canceled,
		},
		{
			name:    "deadline during backoff",
			policy:  codat.RetryPolicy{MaxAttempts: 3, MinBackoff: 30 * time.Second, MaxBackoff: 30 * time.Second, MaxWait: time.Minute},
			respond: func(w http.ResponseWriter) { testutil.CodatError(w, 502, "bad gateway", "c") },
			ctx: func() (context.Context, context.CancelFunc) {
				return context.WithTimeout(context.Background(), 150*time.Millisecond)
			},
			want: context.DeadlineExceeded,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newSDKHarness(t, codat.WithRetryPolicy(tc.policy))
			answered := make(chan struct{}, 10)
			h.handleAll(func(w http.ResponseWriter, r *http.Request) {
				tc.respond(w)
				answered <- struct{}{}
			})
			ctx, cancel := tc.ctx()
			defer cancel()
			if tc.cancel {
				go func() {
					<-answered
					time.Sleep(50 * time.Millisecond)
					cancel()
				}()
			}
			start := time.Now()
			_, err := h.client.Companies.Get(ctx, sdkCompanyID)
			assert.Less(t, time.Since(start), 5*time.Second, "the wait ends with the context")
			require.Error(t, err)
			assert.ErrorIs(t, err, tc.want)
			var te *codat.TransportError
			assert.ErrorAs(t, err, &te)
			assert.Len(t, h.requests(), 1)
		})
	}
}

func TestCancelWhileWaitingForRequestRate(t *testing.T) {
	h := newSDKHarness(t, codat.WithRequestRate(1, time.Hour))
	h.handle("GET /companies/{companyId}", func(w http.ResponseWriter, r *http.Request) {
		testutil.WriteJSON(w, 200, testutil.Company(sdkCompanyID, "Acme", nil))
	})
	_, err := h.client.Companies.Get(context.Background(), sdkCompanyID)
	require.NoError(t, err, "the first request uses the burst")
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = h.client.Companies.Get(ctx, sdkCompanyID)
	assert.Less(t, time.Since(start), 5*time.Second)
	require.Error(t, err)
	assert.True(t, errors.Is(err, context.DeadlineExceeded), "got %v", err)
	assert.False(t, codat.IsAmbiguous(err))
	assert.Len(t, h.requests(), 1, "the second request was never sent")
	assert.EqualValues(t, 1, h.client.Requests())
}

func TestRequestRatePacesAttempts(t *testing.T) {
	h := newSDKHarness(t, codat.WithRequestRate(20, time.Second)) // one per 50ms
	var n atomic.Int32
	h.handle("GET /companies/{companyId}", func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			testutil.CodatError(w, 503, "busy", "c")
			return
		}
		testutil.WriteJSON(w, 200, testutil.Company(sdkCompanyID, "Acme", nil))
	})
	start := time.Now()
	for i := 0; i < 3; i++ {
		_, err := h.client.Companies.Get(context.Background(), sdkCompanyID)
		require.NoError(t, err)
	}
	// 4 attempts (one retry included) at 20/s: at least 3 gaps of 50ms.
	assert.EqualValues(t, 4, h.client.Requests())
	assert.GreaterOrEqual(t, time.Since(start), 140*time.Millisecond)
}

// A 2xx that arrives just as the context ends is used: the write took
// effect, and a bare context error would say nothing was done. If its body
// can no longer be read, the error is ambiguous. A context that ends while
// the request is in flight gives an ambiguous error too.
func TestAnswerAtCancellation(t *testing.T) {
	type result struct {
		err error
		id  string
	}
	run := func(t *testing.T, endpoint string, buffer bool, call func(context.Context, *codat.Client) result) result {
		t.Helper()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		hc := &http.Client{Transport: sdkRoundTrip(func(r *http.Request) (*http.Response, error) {
			resp, err := http.DefaultTransport.RoundTrip(r)
			if err != nil {
				return resp, err
			}
			if buffer {
				b, rerr := io.ReadAll(resp.Body)
				resp.Body.Close()
				require.NoError(t, rerr)
				resp.Body = io.NopCloser(bytes.NewReader(b))
			}
			cancel() // the answer is here; the caller gives up at this very moment
			return resp, nil
		})}
		h := newSDKHarness(t, codat.WithHTTPClient(hc))
		h.handleAll(func(w http.ResponseWriter, r *http.Request) { sdkSuccess(w, endpoint) })
		res := call(ctx, h.client)
		assert.Len(t, h.requests(), 1, "no retry")
		return res
	}
	create := func(ctx context.Context, c *codat.Client) result {
		co, err := c.Companies.Create(ctx, codat.CreateCompanyRequest{Name: "Acme"})
		return result{err, co.ID}
	}
	refresh := func(ctx context.Context, c *codat.Client) result {
		return result{err: c.Sync.RefreshAll(ctx, sdkCompanyID)}
	}

	t.Run("204 is a success", func(t *testing.T) {
		r := run(t, "Sync.RefreshAll", false, refresh)
		require.NoError(t, r.err)
	})
	t.Run("200 with its body read is a success", func(t *testing.T) {
		r := run(t, "Companies.Create", true, create)
		require.NoError(t, r.err)
		assert.Equal(t, sdkCompanyID, r.id)
	})
	t.Run("200 whose body is cut off is ambiguous", func(t *testing.T) {
		r := run(t, "Companies.Create", false, create)
		if r.err != nil { // the body may still have been read before the cancellation took hold
			assert.True(t, codat.IsAmbiguous(r.err), "a write that may have taken effect: %v", r.err)
			assert.ErrorIs(t, r.err, context.Canceled)
		} else {
			assert.Equal(t, sdkCompanyID, r.id)
		}
	})
	t.Run("cancelled in flight is ambiguous", func(t *testing.T) {
		arrived := make(chan struct{})
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.ReadAll(r.Body) // so the server notices the client hanging up
			close(arrived)
			select { // never answers
			case <-r.Context().Done():
			case <-time.After(10 * time.Second):
			}
		}))
		defer srv.Close()
		c, err := codat.NewClient(sdkAPIKey, codat.WithBaseURL(srv.URL), codat.WithRetryPolicy(sdkFastPolicy()))
		require.NoError(t, err)
		ctx, cancel := context.WithCancel(context.Background())
		go func() { <-arrived; cancel() }()
		_, err = c.Companies.Create(ctx, codat.CreateCompanyRequest{Name: "Acme"})
		require.ErrorIs(t, err, context.Canceled)
		assert.True(t, codat.IsAmbiguous(err))
	})
}
