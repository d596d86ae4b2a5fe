package codat_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/codat-migrate/codat"
)

// migStatusServer serves GET /companies/{id}/dataStatus from a script: poll i
// gets script[min(i, len-1)].
type migStatusServer struct {
	mu     sync.Mutex
	polls  int
	script []map[string]string // data type → currentStatus ("" = never synced)
}

func (s *migStatusServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet || r.URL.Path != "/companies/co-1/dataStatus" {
		http.Error(w, `{"statusCode":404,"error":"not found"}`, http.StatusNotFound)
		return
	}
	s.mu.Lock()
	step := s.script[min(s.polls, len(s.script)-1)]
	s.polls++
	s.mu.Unlock()
	out := map[string]map[string]string{}
	for k, v := range step {
		ds := map[string]string{"dataType": k}
		if v != "" {
			ds["currentStatus"] = v
		}
		out[k] = ds
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}

func (s *migStatusServer) Polls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.polls
}

// migAfter is a clock for WaitOptions.After: it fires at once and records
// every wait asked for.
type migAfter struct {
	mu    sync.Mutex
	waits []time.Duration
}

func (f *migAfter) After(d time.Duration) <-chan time.Time {
	f.mu.Lock()
	f.waits = append(f.waits, d)
	f.mu.Unlock()
	ch := make(chan time.Time, 1)
	ch <- time.Time{}
	return ch
}

func (f *migAfter) Waits() []time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]time.Duration(nil), f.waits...)
}

func migRetries() codat.RetryPolicy {
	return codat.RetryPolicy{MaxAttempts: 3, MinBackoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond, MaxWait: 50 * time.Millisecond}
}

func TestSyncWait(t *testing.T) {
	tests := []struct {
		name      string
		script    []map[string]string
		opts      codat.WaitOptions
		wantPolls int
		wantWaits []time.Duration
		wantErr   error
		wantFinal map[string]string
	}{
		{
			name: "progresses to complete",
			script: []map[string]string{
				{"invoices": "Queued", "bills": "Queued", "suppliers": ""},
				{"invoices": "Fetching", "bills": "Complete", "suppliers": ""},
				{"invoices": "Complete", "bills": "Complete", "suppliers": ""},
			},
			opts:      codat.WaitOptions{Interval: 7 * time.Second},
			wantPolls: 3,
			wantWaits: []time.Duration{7 * time.Second, 10500 * time.Millisecond}, // each wait 1.5× the last
			wantFinal: map[string]string{"invoices": "Complete", "bills": "Complete", "suppliers": ""},
		},
		{
			name:      "already final: one poll, no wait, default interval unused",
			script:    []map[string]string{{"invoices": "Complete", "items": "NotSupported", "bills": "FetchError", "journals": "PrerequisiteNotMet", "x": "Cancelled"}},
			wantPolls: 1,
			wantWaits: nil,
			wantFinal: map[string]string{"invoices": "Complete", "items": "NotSupported", "bills": "FetchError", "journals": "PrerequisiteNotMet", "x": "Cancelled"},
		},
		{
			name: "default interval is 5s",
			script: []map[string]string{
				{"invoices": "Queued"},
				{"invoices": "Complete"},
			},
			wantPolls: 2,
			wantWaits: []time.Duration{5 * time.Second},
			wantFinal: map[string]string{"invoices": "Complete"},
		},
		{
			name: "AuthError stops at once with ErrTokenRejected",
			script: []map[string]string{
				{"invoices": "Queued", "bills": "Queued"},
				{"invoices": "AuthError", "bills": "Fetching"},
				{"invoices": "AuthError", "bills": "Complete"},
			},
			opts:      codat.WaitOptions{Interval: time.Second},
			wantPolls: 2,
			wantWaits: []time.Duration{time.Second},
			wantErr:   codat.ErrTokenRejected,
		},
		{
			name: "explicit data types wait for a type that has no status yet",
			script: []map[string]string{
				{"invoices": "Complete", "bills": ""},
				{"invoices": "Complete", "bills": "Queued"},
				{"invoices": "Complete", "bills": "Complete", "items": "Fetching"},
			},
			opts:      codat.WaitOptions{Interval: time.Second, DataTypes: []string{"bills"}},
			wantPolls: 3,
			wantWaits: []time.Duration{time.Second, 1500 * time.Millisecond},
			wantFinal: map[string]string{"invoices": "Complete", "bills": "Complete", "items": "Fetching"},
		},
		{
			name: "empty status right after data/all: not started, keep polling",
			script: []map[string]string{
				{},
				{},
				{"invoices": "Queued"},
				{"invoices": "Complete"},
			},
			opts:      codat.WaitOptions{Interval: time.Second},
			wantPolls: 4,
			wantWaits: []time.Duration{time.Second, 1500 * time.Millisecond, 2250 * time.Millisecond},
			wantFinal: map[string]string{"invoices": "Complete"},
		},
		{
			name: "data types listed without a currentStatus: not started, keep polling",
			script: []map[string]string{
				{"invoices": "", "bills": ""},
				{"invoices": "Complete", "bills": ""},
			},
			opts:      codat.WaitOptions{Interval: time.Second},
			wantPolls: 2,
			wantWaits: []time.Duration{time.Second},
			wantFinal: map[string]string{"invoices": "Complete", "bills": ""},
		},
		{
			name: "waits grow by half up to MaxInterval",
			script: []map[string]string{
				{"invoices": "Queued"}, {"invoices": "Queued"}, {"invoices": "Fetching"},
				{"invoices": "Fetching"}, {"invoices": "Complete"},
			},
			opts:      codat.WaitOptions{Interval: 10 * time.Second, MaxInterval: 20 * time.Second},
			wantPolls: 5,
			wantWaits: []time.Duration{10 * time.Second, 15 * time.Second, 20 * time.Second, 20 * time.Second},
			wantFinal: map[string]string{"invoices": "Complete"},
		},
		{
			name: "default MaxInterval is one minute",
			script: []map[string]string{
				{"invoices": "Queued"}, {"invoices": "Queued"}, {"invoices": "Queued"},
				{"invoices": "Queued"}, {"invoices": "Complete"},
			},
			opts:      codat.WaitOptions{Interval: 30 * time.Second},
			wantPolls: 5,
			wantWaits: []time.Duration{30 * time.Second, 45 * time.Second, time.Minute, time.Minute},
			wantFinal: map[string]string{"invoices": "Complete"},
		},
		{
			name: "Interval above MaxInterval is kept",
			script: []map[string]string{
				{"invoices": "Queued"}, {"invoices": "Queued"}, {"invoices": "Complete"},
			},
			opts:      codat.WaitOptions{Interval: 2 * time.Minute, MaxInterval: time.Minute, Timeout: time.Hour},
			wantPolls: 3,
			wantWaits: []time.Duration{2 * time.Minute, 2 * time.Minute},
			wantFinal: map[string]string{"invoices": "Complete"},
		},
		{
			name:      "Timeout: the last poll is at the bound, then ErrSyncTimeout",
			script:    []map[string]string{{"invoices": "Queued", "bills": "Complete"}},
			opts:      codat.WaitOptions{Interval: 2 * time.Second, Timeout: 3 * time.Second},
			wantPolls: 3,
			wantWaits: []time.Duration{2 * time.Second, time.Second},
			wantErr:   codat.ErrSyncTimeout,
		},
		{
			name:      "Timeout while nothing has started",
			script:    []map[string]string{{}},
			opts:      codat.WaitOptions{Interval: time.Second, MaxInterval: time.Second, Timeout: 2 * time.Second},
			wantPolls: 3,
			wantWaits: []time.Duration{time.Second, time.Second},
			wantErr:   codat.ErrSyncTimeout,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := &migStatusServer{script: tt.script}
			ts := httptest.NewServer(srv)
			defer ts.Close()
			c, err := codat.NewClient("key", codat.WithBaseURL(ts.URL), codat.WithRetryPolicy(migRetries()))
			require.NoError(t, err)
			clock := &migAfter{}
			opts := tt.opts
			opts.After = clock.After

			st, err := c.Sync.Wait(context.Background(), "co-1", &opts)

			assert.Equal(t, tt.wantPolls, srv.Polls(), "polls")
			assert.Equal(t, tt.wantWaits, clock.Waits(), "waits")
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				if len(tt.script[0]) > 0 {
					assert.Contains(t, err.Error(), "invoices")
					assert.NotNil(t, st, "the last statuses come back with the error")
				} else {
					assert.Contains(t, err.Error(), "no data type has started")
				}
				return
			}
			require.NoError(t, err)
			got := map[string]string{}
			for k, ds := range st {
				got[k] = ds.CurrentStatus
			}
			assert.Equal(t, tt.wantFinal, got)
		})
	}
}

func TestSyncWaitContext(t *testing.T) {
	srv := &migStatusServer{script: []map[string]string{{"invoices": "Queued"}}}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	c, err := codat.NewClient("key", codat.WithBaseURL(ts.URL), codat.WithRetryPolicy(migRetries()))
	require.NoError(t, err)

	ctx, cancel := context.WithCancel(context.Background())
	never := func(time.Duration) <-chan time.Time {
		cancel() // the context ends while Wait sleeps
		return make(chan time.Time)
	}
	_, err = c.Sync.Wait(ctx, "co-1", &codat.WaitOptions{After: never})
	require.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, 1, srv.Polls())

	// Real time, short interval, deadline: stops by the deadline.
	ctx2, cancel2 := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel2()
	_, err = c.Sync.Wait(ctx2, "co-1", &codat.WaitOptions{Interval: 5 * time.Millisecond})
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Greater(t, srv.Polls(), 1)
}

func TestSyncWaitStatusError(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"statusCode":404,"error":"No company was found"}`))
	}))
	defer ts.Close()
	c, err := codat.NewClient("key", codat.WithBaseURL(ts.URL), codat.WithRetryPolicy(migRetries()))
	require.NoError(t, err)
	_, err = c.Sync.Wait(context.Background(), "co-1", &codat.WaitOptions{After: (&migAfter{}).After})
	require.ErrorIs(t, err, codat.ErrNotFound)
}

func TestIsTerminalSyncStatus(t *testing.T) {
	terminal := []string{"Complete", "NotSupported", "Cancelled", "PrerequisiteNotMet",
		"FetchError", "MapError", "InternalError", "ProcessingError", "ValidationError",
		"AuthError", "RateLimitError", "PermissionsError"}
	running := []string{"Initial", "Queued", "Fetching", "MapQueued", "Mapping",
		"ProcessingQueued", "Processing", "ValidationQueued", "Validating", ""}
	for _, s := range terminal {
		assert.True(t, codat.IsTerminalSyncStatus(s), s)
	}
	for _, s := range running {
		assert.False(t, codat.IsTerminalSyncStatus(s), s)
	}
}

// The default bound: about half an hour of polling, never more than a minute
// apart, then ErrSyncTimeout.
func TestSyncWaitDefaultBound(t *testing.T) {
	srv := &migStatusServer{script: []map[string]string{{"invoices": "Queued"}}}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	c, err := codat.NewClient("key", codat.WithBaseURL(ts.URL), codat.WithRetryPolicy(migRetries()))
	require.NoError(t, err)
	clock := &migAfter{}

	st, err := c.Sync.Wait(context.Background(), "co-1", &codat.WaitOptions{After: clock.After})

	require.ErrorIs(t, err, codat.ErrSyncTimeout)
	assert.Contains(t, err.Error(), "invoices (Queued)")
	assert.Equal(t, "Queued", st["invoices"].CurrentStatus)
	waits := clock.Waits()
	var total time.Duration
	for i, d := range waits {
		total += d
		assert.LessOrEqual(t, d, codat.DefaultWaitMaxInterval, "wait %d", i)
		if i > 0 && i < len(waits)-1 {
			assert.GreaterOrEqual(t, d, waits[i-1], "waits never shrink before the last")
		}
	}
	assert.Equal(t, 5*time.Second, waits[0])
	assert.Equal(t, codat.DefaultWaitTimeout, total, "the waits add up to the bound")
	assert.Equal(t, len(waits)+1, srv.Polls())
	assert.Equal(t, 36, srv.Polls())

	// A negative Timeout waits for ctx only.
	srv2 := &migStatusServer{script: make([]map[string]string, 60)}
	for i := range srv2.script {
		srv2.script[i] = map[string]string{"invoices": "Queued"}
	}
	srv2.script = append(srv2.script, map[string]string{"invoices": "Complete"})
	ts2 := httptest.NewServer(srv2)
	defer ts2.Close()
	c2, err := codat.NewClient("key", codat.WithBaseURL(ts2.URL), codat.WithRetryPolicy(migRetries()))
	require.NoError(t, err)
	_, err = c2.Sync.Wait(context.Background(), "co-1", &codat.WaitOptions{Timeout: -1, After: (&migAfter{}).After})
	require.NoError(t, err)
	assert.Equal(t, 61, srv2.Polls(), "an hour of polls, unbounded")
}
