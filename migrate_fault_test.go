package codat_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/codat-migrate/codat"
	"github.com/codat-migrate/codat/codattest"
)

// migFaultKind is one column of the fault matrix.
type migFaultKind string

const (
	migFkBefore     migFaultKind = "5xx before commit"
	migFkAfter      migFaultKind = "5xx after commit"
	migFkDrop       migFaultKind = "dropped after commit"
	migFk429        migFaultKind = "429 Retry-After beyond MaxWait"
	migFk429Waited  migFaultKind = "429 Retry-After waited out"
	migFkTimeout    migFaultKind = "timeout before commit"
	migFkTimeoutAft migFaultKind = "timeout after commit"
	migFaultTimeout              = 400 * time.Millisecond // the client's http.Client.Timeout in timeout cases
)

func (k migFaultKind) fault(route string) (codattest.Fault, bool) {
	f, ok := k.codattestFault(route)
	return f, ok
}

func (k migFaultKind) codattestFault(route string) (codattest.Fault, bool) {
	switch k {
	case migFkTimeoutAft:
		return codattest.Fault{}, false // done on the client side, see client
	case migFkBefore:
		return codattest.Fault{Route: route, Kind: codattest.FaultBeforeCommit, Status: 503, Times: 1}, true
	case migFkAfter:
		return codattest.Fault{Route: route, Kind: codattest.FaultAfterCommit, Status: 500, Times: 1}, true
	case migFkDrop:
		return codattest.Fault{Route: route, Kind: codattest.FaultDropAfterCommit, Times: 1}, true
	case migFk429, migFk429Waited:
		return codattest.Fault{Route: route, Kind: codattest.FaultRateLimit, RetryAfter: time.Second, Times: 1}, true
	case migFkTimeout:
		// The client gives up after migFaultTimeout; the fake notices the
		// closed connection and abandons the request before it commits.
		return codattest.Fault{Route: route, Kind: codattest.FaultLatency, Latency: 10 * time.Second, Times: 1}, true
	}
	panic("unknown fault kind " + string(k))
}

func (k migFaultKind) client(route string) migClientOpt {
	switch k {
	case migFk429Waited:
		p := migRetries()
		p.MaxWait = 2 * time.Second
		return migClientOpt{policy: p}
	case migFkTimeout:
		return migClientOpt{timeout: migFaultTimeout}
	case migFkTimeoutAft:
		// The request commits at the fake, then the answer is lost to a
		// read timeout, once.
		method, pattern, _ := strings.Cut(route, " ")
		suffix := pattern[strings.LastIndex(pattern, "/"):]
		var fired atomic.Bool
		return migClientOpt{wrap: func(next http.RoundTripper) http.RoundTripper {
			return migRT(func(r *http.Request) (*http.Response, error) {
				resp, err := next.RoundTrip(r)
				if err == nil && r.Method == method && strings.HasSuffix(r.URL.Path, suffix) && fired.CompareAndSwap(false, true) {
					resp.Body.Close()
					return nil, &net.OpError{Op: "read", Net: "tcp", Err: os.ErrDeadlineExceeded}
				}
				return resp, err
			})
		}}
	}
	return migClientOpt{}
}

// Short names for the routes, so the request sequences the tests below pin
// read as one line each.
const (
	C  = migCreateCompany
	L  = migListCompanies
	N  = migCreateConn
	LN = migListConns
	G  = migGetConn
	P  = migPutAuth
	S  = migDataAll
	DS = migDataStatus
)

// migAfterSettle returns res as a resume would find it once the settle
// window of an unsettled token PUT has passed (a later run): its TokenSend
// moved back by the default window.
func migAfterSettle(res *codat.MigrationResult) *codat.MigrationResult {
	if res.TokenSend != nil {
		ts := *res.TokenSend
		ts.At = ts.At.Add(-codat.DefaultSettleWindow - time.Second)
		res.TokenSend = &ts
	}
	return res
}

// TestMigrateFaultMatrix injects one fault into each write of the migration
// and checks that the migration completes, or returns a resumable error that
// a second call finishes, with exactly one company and one connection for the
// Ref and the token PUT sent at most twice. Where the outcome is
// deterministic it also pins the exact requests: the cost of reconciling.
func TestMigrateFaultMatrix(t *testing.T) {
	type outcome struct {
		first    []string   // requests of the first call (nil: not pinned)
		failStep codat.Step // "" when the first call succeeds
		resume   []string   // requests of the resuming call
		puts     int        // PUT requests in all (0: not pinned, ≤ 2 checked)
	}
	steps := []struct {
		step  codat.Step
		route string
		want  map[migFaultKind]outcome
	}{
		{codat.StepCompany, migCreateCompany, map[migFaultKind]outcome{
			migFkBefore:     {first: []string{C, L, C, N, P, S}, puts: 1}, // +2: look-up finds nothing, create again
			migFkAfter:      {first: []string{C, L, N, P, S}, puts: 1},    // +1: look-up finds this call's own company: no connection yet
			migFkDrop:       {first: []string{C, C, N, P, S}, puts: 1},    // +1: same key, Codat replays the answer
			migFk429:        {first: []string{C}, failStep: codat.StepCompany, resume: []string{L, C, N, P, S}, puts: 1},
			migFk429Waited:  {first: []string{C, C, N, P, S}, puts: 1},
			migFkTimeout:    {},
			migFkTimeoutAft: {first: []string{C, C, N, P, S}, puts: 1}, // +1: same key replays
		}},
		{codat.StepConnection, migCreateConn, map[migFaultKind]outcome{
			migFkBefore:     {first: []string{C, N, LN, N, P, S}, puts: 1},
			migFkAfter:      {first: []string{C, N, LN, P, S}, puts: 1},
			migFkDrop:       {first: []string{C, N, N, P, S}, puts: 1},
			migFk429:        {first: []string{C, N}, failStep: codat.StepConnection, resume: []string{LN, N, P, S}, puts: 1},
			migFk429Waited:  {first: []string{C, N, N, P, S}, puts: 1},
			migFkTimeout:    {},
			migFkTimeoutAft: {first: []string{C, N, N, P, S}, puts: 1},
		}},
		{codat.StepAuthorize, migPutAuth, map[migFaultKind]outcome{
			migFkBefore:     {first: []string{C, N, P, G, P, S}, puts: 2}, // read back PendingAuth: one re-send
			migFkAfter:      {first: []string{C, N, P, G, S}, puts: 1},    // read back Linked: no re-send
			migFkDrop:       {first: []string{C, N, P, G, S}, puts: 1},
			migFk429:        {first: []string{C, N, P}, failStep: codat.StepAuthorize, resume: []string{G, P, S}, puts: 2},
			migFk429Waited:  {first: []string{C, N, P, P, S}, puts: 2},
			migFkTimeout:    {failStep: codat.StepAuthorize, puts: 2},  // not re-sent while it may be in flight
			migFkTimeoutAft: {first: []string{C, N, P, G, S}, puts: 1}, // read back Linked
		}},
		{codat.StepSync, migDataAll, map[migFaultKind]outcome{
			migFkBefore:     {first: []string{C, N, P, S, DS, S}, puts: 1}, // nothing in progress: queue again
			migFkAfter:      {first: []string{C, N, P, S, DS}, puts: 1},    // a data type is Queued: done
			migFkDrop:       {first: []string{C, N, P, S, S}, puts: 1},
			migFk429:        {first: []string{C, N, P, S}, failStep: codat.StepSync, resume: []string{S}, puts: 1},
			migFk429Waited:  {first: []string{C, N, P, S, S}, puts: 1},
			migFkTimeout:    {},
			migFkTimeoutAft: {first: []string{C, N, P, S, S}, puts: 1},
		}},
	}
	kinds := []migFaultKind{migFkBefore, migFkAfter, migFkDrop, migFk429, migFk429Waited, migFkTimeout, migFkTimeoutAft}
	for _, st := range steps {
		for _, kind := range kinds {
			want := st.want[kind]
			t.Run(string(st.step)+"/"+string(kind), func(t *testing.T) {
				t.Parallel()
				f := newMigFakeWith(t, kind.client(st.route))
				if fault, ok := kind.fault(st.route); ok {
					f.srv.InjectFault(fault)
				}
				ref := "crm-" + string(st.step)
				m := newMigration(ref)

				res, err := f.c.Migrate(context.Background(), m)
				require.NotNil(t, res)
				first := f.routes()
				if want.first != nil {
					assert.Equal(t, want.first, first, "requests of the first call")
					assert.Equal(t, len(first), res.Requests)
				}
				calls := 1
				total := res.Requests
				puts := 0
				if err != nil {
					var me *codat.MigrationError
					require.ErrorAs(t, err, &me, "every failure is a MigrationError")
					if want.failStep != "" {
						assert.Equal(t, want.failStep, me.Step)
					}
					if kind == migFk429 {
						rl, limited := codat.RateLimitOf(err)
						assert.True(t, limited, "the 429 comes back for the caller to wait out")
						assert.Equal(t, codat.RateLimitShort, rl.Kind, "requests remain today: a short limit")
						_, quota := codat.IsQuotaExhausted(err)
						assert.False(t, quota, "a short limit is not the daily quota")
					}
					assert.NotContains(t, err.Error(), migToken.Reveal())
					// Let an abandoned request finish at the fake before resuming,
					// as a later run would.
					require.Eventually(t, func() bool { return f.srv.RequestCount() == total },
						5*time.Second, 5*time.Millisecond, "the migFake logged every attempt the client sent")
					puts += f.count(migPutAuth)
					f.srv.ResetRequestLog()
					m.Resume = migAfterSettle(res)
					res, err = f.c.Migrate(context.Background(), m)
					calls++
					require.NoError(t, err, "the second call finishes the migration")
					if want.resume != nil {
						assert.Equal(t, want.resume, f.routes(), "requests of the resuming call")
					}
					total = res.Requests
				} else {
					assert.Empty(t, want.failStep, "the first call was expected to fail")
				}
				require.Eventually(t, func() bool { return f.srv.RequestCount() == total },
					5*time.Second, 5*time.Millisecond, "Requests matches what the migFake received")
				puts += f.count(migPutAuth)

				if testing.Verbose() {
					t.Logf("calls %d, last call's requests %v", calls, f.routes())
				}
				cn := f.assertOneOfEach(t, ref, res)
				assert.Equal(t, codattest.StatusLinked, cn.Status)
				assert.True(t, res.Status.Is(codat.StatusLinked))
				assert.True(t, res.HasStep(codat.StepSync), "the sync was queued")
				assert.True(t, res.HasStep(codat.StepDone))
				assert.False(t, res.AlreadyMigrated)
				assert.LessOrEqual(t, cn.AuthAttempts, 2, "token bodies processed")
				if want.puts > 0 {
					assert.Equal(t, want.puts, puts, "token PUTs sent over %d call(s)", calls)
				}
				assert.LessOrEqual(t, puts, 2, "token PUTs sent")
			})
		}
	}
}

// After an ambiguous PUT the token is re-sent at most MaxTokenResends times.
func TestMigrateMaxTokenResends(t *testing.T) {
	tests := []struct {
		name     string
		resends  int
		failures int // consecutive 5xx before commit on the PUT
		wantPuts int
		wantErr  bool
	}{
		{"default allows one re-send", 0, 1, 2, false},
		{"default stops after one re-send", 0, 2, 2, true},
		{"negative means never", -1, 1, 1, true},
		{"three re-sends", 3, 3, 4, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newMigFake(t)
			f.srv.InjectFault(codattest.Fault{Route: migPutAuth, Kind: codattest.FaultBeforeCommit, Times: tt.failures})
			m := newMigration("crm-resend")
			m.MaxTokenResends = tt.resends
			res, err := f.c.Migrate(context.Background(), m)
			assert.Equal(t, tt.wantPuts, f.count(migPutAuth))
			assert.Equal(t, min(tt.failures, tt.wantPuts), f.count(migGetConn), "every failed PUT is read back")
			if !tt.wantErr {
				require.NoError(t, err)
				assert.True(t, res.HasStep(codat.StepVerify))
				return
			}
			var me *codat.MigrationError
			require.ErrorAs(t, err, &me)
			assert.Equal(t, codat.StepAuthorize, me.Step)
			assert.True(t, codat.IsAmbiguous(err), "the cause is the ambiguous PUT")
			assert.False(t, errors.Is(err, codat.ErrTokenRejected))
			assert.False(t, res.HasStep(codat.StepAuthorize))
			assert.Equal(t, slices.Index(res.Steps, codat.StepConnection), 1)
		})
	}
}

// A write whose answer is lost every time (the client's retries with the same
// key included) may still be running at Codat. After one look-up that finds
// nothing, Migrate stops with a resumable error rather than sending the write
// again with a new key, which could create a duplicate.
func TestMigrateUnsettledWriteNotRepeated(t *testing.T) {
	tests := []struct {
		step   codat.Step
		method string
		suffix string
		lost   int // attempts that never reached the fake
		first  []string
		resume []string
	}{
		{codat.StepCompany, http.MethodPost, "/companies", 3, []string{L}, []string{L, C, N, P, S}},
		{codat.StepConnection, http.MethodPost, "/connections", 3, []string{C, LN}, []string{LN, N, P, S}},
		{codat.StepAuthorize, http.MethodPut, "/authorization", 1, []string{C, N, G}, []string{G, P, S}},
		{codat.StepSync, http.MethodPost, "/data/all", 3, []string{C, N, P, DS}, []string{S}},
	}
	for _, tt := range tests {
		t.Run(string(tt.step), func(t *testing.T) {
			var broken atomic.Bool
			broken.Store(true)
			lose := func(next http.RoundTripper) http.RoundTripper {
				return migRT(func(r *http.Request) (*http.Response, error) {
					if broken.Load() && r.Method == tt.method && strings.HasSuffix(r.URL.Path, tt.suffix) {
						// Sent, then no answer: a read timeout.
						return nil, &net.OpError{Op: "read", Net: "tcp", Err: os.ErrDeadlineExceeded}
					}
					return next.RoundTrip(r)
				})
			}
			f := newMigFakeWith(t, migClientOpt{wrap: lose})
			m := newMigration("crm-lost")

			res, err := f.c.Migrate(context.Background(), m)

			require.Error(t, err)
			var me *codat.MigrationError
			require.ErrorAs(t, err, &me)
			assert.Equal(t, tt.step, me.Step)
			assert.True(t, codat.IsAmbiguous(err), "the cause is the ambiguous write")
			assert.Contains(t, err.Error(), "resume later")
			assert.Equal(t, tt.first, f.routes())
			assert.Equal(t, f.srv.RequestCount()+tt.lost, res.Requests)

			broken.Store(false)
			f.srv.ResetRequestLog()
			m.Resume = migAfterSettle(res)
			res, err = f.c.Migrate(context.Background(), m)
			require.NoError(t, err)
			assert.Equal(t, tt.resume, f.routes())
			cn := f.assertOneOfEach(t, "crm-lost", res)
			assert.Equal(t, 1, cn.AuthAttempts)
		})
	}
}

// A 5xx that is not Codat's own finished answer — a 502 or 504 from a
// gateway, or a 5xx without Codat's error body — may leave the write running
// behind it. Migrate looks the object up once and, finding nothing, stops
// with a resumable error: no second create, no token re-send.
func TestMigrateUnsettled5xx(t *testing.T) {
	steps := []struct {
		step   codat.Step
		route  string
		method string
		suffix string
		// with the 5xx logged by the fake (502/504), and without (the body-less
		// 500 comes from a proxy in front of it)
		first, firstProxy []string
		resume            []string
	}{
		{codat.StepCompany, migCreateCompany, http.MethodPost, "/companies",
			[]string{C, L}, []string{L}, []string{L, C, N, P, S}},
		{codat.StepConnection, migCreateConn, http.MethodPost, "/connections",
			[]string{C, N, LN}, []string{C, LN}, []string{LN, N, P, S}},
		{codat.StepAuthorize, migPutAuth, http.MethodPut, "/authorization",
			[]string{C, N, P, G}, []string{C, N, G}, []string{G, P, S}},
		{codat.StepSync, migDataAll, http.MethodPost, "/data/all",
			[]string{C, N, P, S, DS}, []string{C, N, P, DS}, []string{S}},
	}
	for _, st := range steps {
		for _, kind := range []string{"502", "504", "500 without Codat's body"} {
			t.Run(string(st.step)+"/"+kind, func(t *testing.T) {
				var co migClientOpt
				proxy := kind == "500 without Codat's body"
				var fired atomic.Bool
				if proxy {
					co.wrap = func(next http.RoundTripper) http.RoundTripper {
						return migRT(func(r *http.Request) (*http.Response, error) {
							if r.Method == st.method && strings.HasSuffix(r.URL.Path, st.suffix) && fired.CompareAndSwap(false, true) {
								return &http.Response{StatusCode: 500, Status: "500 Internal Server Error", Header: http.Header{},
									Body: io.NopCloser(strings.NewReader("")), Request: r}, nil
							}
							return next.RoundTrip(r)
						})
					}
				}
				f := newMigFakeWith(t, co)
				if !proxy {
					status := 502
					if kind == "504" {
						status = 504
					}
					f.srv.InjectFault(codattest.Fault{Route: st.route, Kind: codattest.FaultBeforeCommit, Status: status, Times: 1})
				}
				m := newMigration("crm-gw")

				res, err := f.c.Migrate(context.Background(), m)

				require.Error(t, err)
				var me *codat.MigrationError
				require.ErrorAs(t, err, &me)
				assert.Equal(t, st.step, me.Step)
				assert.True(t, codat.IsAmbiguous(err))
				assert.Contains(t, err.Error(), "resume later")
				want := st.first
				if proxy {
					want = st.firstProxy
				}
				assert.Equal(t, want, f.routes(), "one look-up, no second write")
				puts := f.count(P)

				f.srv.ResetRequestLog()
				m.Resume = migAfterSettle(res)
				res, err = f.c.Migrate(context.Background(), m)
				require.NoError(t, err)
				assert.Equal(t, st.resume, f.routes())
				cn := f.assertOneOfEach(t, "crm-gw", res)
				assert.Equal(t, 1, cn.AuthAttempts)
				if st.step == codat.StepAuthorize && !proxy {
					assert.Equal(t, 1, puts, "the token is not re-sent in the call that got the 5xx")
				}
			})
		}
	}
}

// A 5xx found after the answer to an earlier attempt of the same call was
// lost is not settled either: the lost attempt may still be running.
func TestMigrateSettledStatusAfterLostAttempt(t *testing.T) {
	var lost atomic.Bool
	lost.Store(true)
	wrap := func(next http.RoundTripper) http.RoundTripper {
		return migRT(func(r *http.Request) (*http.Response, error) {
			if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/companies") && lost.CompareAndSwap(true, false) {
				return nil, &net.OpError{Op: "read", Net: "tcp", Err: os.ErrDeadlineExceeded}
			}
			return next.RoundTrip(r)
		})
	}
	f := newMigFakeWith(t, migClientOpt{wrap: wrap})
	f.srv.InjectFault(codattest.Fault{Route: migCreateCompany, Kind: codattest.FaultBeforeCommit, Status: 500, Times: 1})
	m := newMigration("crm-lost500")

	res, err := f.c.Migrate(context.Background(), m)

	require.Error(t, err)
	var ae *codat.APIError
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, 500, ae.StatusCode)
	assert.NotEmpty(t, ae.CorrelationID, "Codat's own 500")
	assert.Contains(t, err.Error(), "resume later")
	assert.Equal(t, []string{migCreateCompany, migListCompanies}, f.routes(), "no second create with a new key")
	assert.Equal(t, 3, res.Requests)

	f.srv.ResetRequestLog()
	m.Resume = res
	res, err = f.c.Migrate(context.Background(), m)
	require.NoError(t, err)
	f.assertOneOfEach(t, "crm-lost500", res)
}

// A spent quota met by the read that reconciles an ambiguous write comes
// first in the error, so errors.As and IsQuotaExhausted see it; the write's
// own failure stays visible to IsAmbiguous.
func TestMigrateQuotaOnReadBack(t *testing.T) {
	tests := []struct {
		step      codat.Step
		write     string
		read      string
		wantFirst []string
		resume    []string
	}{
		{codat.StepAuthorize, migPutAuth, migGetConn,
			[]string{migCreateCompany, migCreateConn, migPutAuth, migGetConn}, []string{migGetConn, migPutAuth, migDataAll}},
		{codat.StepSync, migDataAll, migDataStatus,
			[]string{migCreateCompany, migCreateConn, migPutAuth, migDataAll, migDataStatus}, []string{migDataAll}},
	}
	for _, tt := range tests {
		t.Run(string(tt.step), func(t *testing.T) {
			f := newMigFake(t)
			f.srv.InjectFault(codattest.Fault{Route: tt.write, Kind: codattest.FaultBeforeCommit, Status: 500, Times: 1})
			f.srv.InjectFault(codattest.Fault{Route: tt.read, Kind: codattest.FaultRateLimit, RetryAfter: time.Hour, Times: 1})
			m := newMigration("crm-rq")

			res, err := f.c.Migrate(context.Background(), m)

			require.Error(t, err)
			var me *codat.MigrationError
			require.ErrorAs(t, err, &me)
			assert.Equal(t, tt.step, me.Step)
			reset, ok := codat.IsQuotaExhausted(err)
			require.True(t, ok, "the spent quota is reported: %v", err)
			assert.WithinDuration(t, time.Now().Add(time.Hour), reset, time.Minute)
			var ae *codat.APIError
			require.ErrorAs(t, err, &ae)
			assert.Equal(t, http.StatusTooManyRequests, ae.StatusCode, "errors.As finds the 429 first")
			assert.True(t, codat.IsAmbiguous(err), "the write's 5xx is still visible")
			assert.Equal(t, tt.wantFirst, f.routes())

			f.srv.ResetRequestLog()
			m.Resume = res
			res, err = f.c.Migrate(context.Background(), m)
			require.NoError(t, err)
			assert.Equal(t, tt.resume, f.routes())
			f.assertOneOfEach(t, "crm-rq", res)
		})
	}
}
