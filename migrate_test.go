package codat_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/codat-migrate/codat"
	"github.com/codat-migrate/codat/codattest"
)

// Route names as the fake logs them, and short aliases for expected sequences.
const (
	migCreateCompany = "POST " + codattest.RouteCompanies
	migListCompanies = "GET " + codattest.RouteCompanies
	migCreateConn    = "POST " + codattest.RouteConnections
	migListConns     = "GET " + codattest.RouteConnections
	migGetConn       = "GET " + codattest.RouteConnection
	migPutAuth       = "PUT " + codattest.RouteAuthorization
	migDataAll       = "POST " + codattest.RouteDataAll
	migDataStatus    = "GET " + codattest.RouteDataStatus
)

var migHappyRoutes = []string{migCreateCompany, migCreateConn, migPutAuth, migDataAll}

// migFake is a codattest server plus a client for it.
type migFake struct {
	srv *codattest.Server
	c   *codat.Client
}

type migClientOpt struct {
	policy  codat.RetryPolicy
	timeout time.Duration
	wrap    func(http.RoundTripper) http.RoundTripper
	logger  *slog.Logger
}

func newMigFake(t *testing.T, opts ...codattest.Option) *migFake {
	return newMigFakeWith(t, migClientOpt{}, opts...)
}

func newMigFakeWith(t *testing.T, co migClientOpt, opts ...codattest.Option) *migFake {
	t.Helper()
	srv := codattest.NewServer(opts...)
	t.Cleanup(srv.Close)
	return &migFake{srv: srv, c: newMigClient(t, srv, co)}
}

func newMigClient(t *testing.T, srv *codattest.Server, co migClientOpt) *codat.Client {
	t.Helper()
	if co.policy.MaxAttempts == 0 {
		co.policy = migRetries()
	}
	hc := &http.Client{Timeout: co.timeout}
	if co.wrap != nil {
		hc.Transport = co.wrap(http.DefaultTransport)
	}
	opts := []codat.Option{codat.WithBaseURL(srv.URL()), codat.WithRetryPolicy(co.policy), codat.WithHTTPClient(hc)}
	if co.logger != nil {
		opts = append(opts, codat.WithLogger(co.logger))
	}
	c, err := codat.NewClient(srv.APIKey(), opts...)
	require.NoError(t, err)
	return c
}

// routes returns the routes the fake has logged since the last reset.
func (f *migFake) routes() []string {
	var out []string
	for _, r := range f.srv.RequestLog() {
		out = append(out, r.Route)
	}
	return out
}

func (f *migFake) count(route string) int {
	n := 0
	for _, r := range f.srv.RequestLog() {
		if r.Route == route {
			n++
		}
	}
	return n
}

// assertOneOfEach checks the invariant of every migration: exactly one
// company carries the Ref and it has exactly one connection.
func (f *migFake) assertOneOfEach(t *testing.T, ref string, res *codat.MigrationResult) codattest.Connection {
	t.Helper()
	cos := f.srv.CompaniesWithTag(codat.RefTagKey, ref)
	require.Len(t, cos, 1, "exactly one company for the ref")
	assert.Len(t, f.srv.Companies(), 1, "no other company was created")
	assert.Equal(t, cos[0].ID, res.CompanyID)
	conns := f.srv.Connections(cos[0].ID)
	require.Len(t, conns, 1, "exactly one connection for the ref")
	assert.Equal(t, conns[0].ID, res.ConnectionID)
	return conns[0]
}

func TestMigrateHappyPath(t *testing.T) {
	tests := []struct {
		name   string
		sync   codat.SyncMode
		routes []string
		steps  []codat.Step
	}{
		{"queue (default)", codat.SyncQueue, migHappyRoutes,
			[]codat.Step{codat.StepCompany, codat.StepConnection, codat.StepAuthorize, codat.StepVerify, codat.StepSync, codat.StepDone}},
		{"none", codat.SyncNone, []string{migCreateCompany, migCreateConn, migPutAuth},
			[]codat.Step{codat.StepCompany, codat.StepConnection, codat.StepAuthorize, codat.StepVerify, codat.StepDone}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newMigFake(t)
			m := newMigration("crm-42")
			m.Sync = tt.sync
			var journal []codat.MigrationResult
			m.OnStep = func(_ context.Context, r codat.MigrationResult) error { journal = append(journal, r); return nil }

			res, err := f.c.Migrate(context.Background(), m)

			require.NoError(t, err)
			assert.Equal(t, tt.routes, f.routes())
			assert.Equal(t, len(tt.routes), res.Requests)
			assert.Equal(t, f.srv.RequestCount(), res.Requests)
			assert.Equal(t, tt.steps, res.Steps)
			assert.Equal(t, "crm-42", res.Ref)
			assert.True(t, res.Status.Is(codat.StatusLinked))
			assert.False(t, res.AlreadyMigrated)
			assert.NotEmpty(t, res.LinkURL)
			cn := f.assertOneOfEach(t, "crm-42", res)
			assert.Equal(t, codattest.StatusLinked, cn.Status)
			assert.Equal(t, 1, cn.AuthAttempts)
			co := f.srv.CompaniesWithTag(codat.RefTagKey, "crm-42")[0]
			assert.Regexp(t, `^[0-9a-f-]{36}$`, co.Tags[codat.CallTagKey], "the creating call.s id travels with the company")
			delete(co.Tags, codat.CallTagKey)
			assert.Equal(t, map[string]string{codat.RefTagKey: "crm-42", "region": "uk"}, co.Tags)
			assert.Equal(t, "Acme Ltd", co.Name)
			assert.Equal(t, map[string]string{"region": "uk"}, m.Company.Tags, "the caller's tags are not modified")

			// OnStep saw every step, each snapshot a prefix of the final
			// steps, plus the token's send intent before the PUT: one call
			// with the steps of the connection and TokenSend set.
			require.Len(t, journal, len(tt.steps)+1)
			for _, j := range journal {
				assert.Equal(t, res.Steps[:len(j.Steps)], j.Steps)
			}
			intent := journal[2]
			assert.Equal(t, []codat.Step{codat.StepCompany, codat.StepConnection}, intent.Steps)
			require.NotNil(t, intent.TokenSend, "the intent is journaled before the PUT")
			assert.WithinDuration(t, time.Now(), intent.TokenSend.At, time.Minute)
			assert.NotEmpty(t, intent.TokenSend.Fingerprint)
			assert.NotContains(t, intent.TokenSend.Fingerprint, migToken.Reveal())
			assert.Nil(t, res.TokenSend, "settled by the PUT's answer")
			assert.Equal(t, res.Steps, journal[len(journal)-1].Steps)
		})
	}
}

// SyncWait: the fake's pull operations move with its clock, which the
// transport advances by one second at every data status poll.
func TestMigrateSyncWait(t *testing.T) {
	clock := codattest.NewFakeClock(time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC))
	advance := func(next http.RoundTripper) http.RoundTripper {
		return migRT(func(r *http.Request) (*http.Response, error) {
			if strings.HasSuffix(r.URL.Path, "/dataStatus") {
				clock.Advance(time.Second)
			}
			return next.RoundTrip(r)
		})
	}
	f := newMigFakeWith(t, migClientOpt{wrap: advance}, codattest.WithClock(clock),
		codattest.WithDataTypes("qhyg", "invoices", "bills", "customers"))
	m := newMigration("crm-wait")
	m.Sync = codat.SyncWait
	m.WaitInterval = time.Millisecond

	res, err := f.c.Migrate(context.Background(), m)

	require.NoError(t, err)
	assert.Equal(t, []codat.Step{codat.StepCompany, codat.StepConnection, codat.StepAuthorize, codat.StepVerify,
		codat.StepSync, codat.StepWait, codat.StepDone}, res.Steps)
	routes := f.routes()
	require.Greater(t, len(routes), 4)
	assert.Equal(t, migHappyRoutes, routes[:4])
	for _, r := range routes[4:] {
		assert.Equal(t, migDataStatus, r)
	}
	// The fake fetches after 1s and completes after 5s: polls at +1…+5s.
	assert.Len(t, routes[4:], 5)
	assert.Equal(t, len(routes), res.Requests)
	assert.Empty(t, res.SyncErrors)
	f.assertOneOfEach(t, "crm-wait", res)
}

// A sync that ends in AuthError fails the wait step with ErrTokenRejected.
// The platform revokes the token just after it was linked.
func TestMigrateSyncWaitAuthError(t *testing.T) {
	clock := codattest.NewFakeClock(time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC))
	var srv *codattest.Server
	revoke := func(next http.RoundTripper) http.RoundTripper {
		return migRT(func(r *http.Request) (*http.Response, error) {
			if strings.HasSuffix(r.URL.Path, "/dataStatus") {
				clock.Advance(2 * time.Second)
			}
			if strings.HasSuffix(r.URL.Path, "/data/all") {
				for _, cn := range srv.AllConnections() {
					if err := srv.SetConnectionStatus(cn.CompanyID, cn.ID, codattest.StatusDeauthorized); err != nil {
						return nil, err
					}
				}
			}
			return next.RoundTrip(r)
		})
	}
	f := newMigFakeWith(t, migClientOpt{wrap: revoke}, codattest.WithClock(clock))
	srv = f.srv
	m := newMigration("crm-autherr")
	m.Sync = codat.SyncWait
	m.WaitInterval = time.Millisecond

	res, err := f.c.Migrate(context.Background(), m)

	require.ErrorIs(t, err, codat.ErrTokenRejected)
	var me *codat.MigrationError
	require.ErrorAs(t, err, &me)
	assert.Equal(t, codat.StepWait, me.Step)
	cn := f.assertOneOfEach(t, "crm-autherr", res)
	assert.Equal(t, cn.LinkURL, me.LinkURL)
	assert.True(t, res.HasStep(codat.StepSync))
	assert.False(t, res.HasStep(codat.StepWait))
	// Queued at +0, fetching at +2s and +4s, AuthError at +6s.
	assert.Equal(t, 3, f.count(migDataStatus))
}

type migRT func(*http.Request) (*http.Response, error)

func (f migRT) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestMigrateTokenRejected(t *testing.T) {
	f := newMigFake(t, codattest.WithRejectedToken(migToken.Reveal()))
	m := newMigration("crm-bad")

	res, err := f.c.Migrate(context.Background(), m)

	require.Error(t, err)
	require.ErrorIs(t, err, codat.ErrTokenRejected)
	var me *codat.MigrationError
	require.ErrorAs(t, err, &me)
	assert.Equal(t, codat.StepAuthorize, me.Step)
	cn := f.assertOneOfEach(t, "crm-bad", res)
	assert.Equal(t, cn.LinkURL, me.LinkURL, "the error carries the connection's linkUrl")
	assert.Equal(t, cn.LinkURL, res.LinkURL)
	assert.Equal(t, res.CompanyID, me.CompanyID)
	assert.Equal(t, res.ConnectionID, me.ConnectionID)
	assert.Equal(t, codattest.StatusDeauthorized, cn.Status)
	assert.True(t, res.Status.Is(codat.StatusDeauthorized))
	assert.Equal(t, []string{migCreateCompany, migCreateConn, migPutAuth}, f.routes(), "no sync after a rejected token")
	assert.Equal(t, []codat.Step{codat.StepCompany, codat.StepConnection, codat.StepAuthorize}, res.Steps)
	assert.NotContains(t, err.Error(), migToken.Reveal())

	// A corrected token on resume: one GET, then the PUT, then the sync.
	f.srv.ResetRequestLog()
	m.Auth = migAuth{key: "qhyg", token: "tok-fixed"}
	m.Resume = res
	res2, err := f.c.Migrate(context.Background(), m)
	require.NoError(t, err)
	assert.Equal(t, []string{migGetConn, migPutAuth, migDataAll}, f.routes())
	assert.Equal(t, 3, res2.Requests)
	cn = f.assertOneOfEach(t, "crm-bad", res2)
	assert.Equal(t, codattest.StatusLinked, cn.Status)
}

func TestMigrateAlreadyLinked(t *testing.T) {
	f := newMigFake(t)
	first, err := f.c.Migrate(context.Background(), newMigration("crm-7"))
	require.NoError(t, err)

	tests := []struct {
		name      string
		relink    bool
		routes    []string
		already   bool
		authCount int
	}{
		// The data status shows the first run's sync: nothing is queued.
		{"stops without sending the token", false, []string{migListCompanies, migListConns, migDataStatus}, true, 1},
		{"relink sends it", true, []string{migListCompanies, migListConns, migPutAuth, migDataAll}, false, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f.srv.ResetRequestLog()
			m := newMigration("crm-7")
			m.Relink = tt.relink
			m.Resume = &codat.MigrationResult{Ref: "crm-7"} // no record of the earlier run
			res, err := f.c.Migrate(context.Background(), m)
			require.NoError(t, err)
			assert.Equal(t, tt.routes, f.routes())
			assert.Equal(t, len(tt.routes), res.Requests)
			assert.Equal(t, tt.already, res.AlreadyMigrated)
			assert.Equal(t, first.CompanyID, res.CompanyID)
			assert.Equal(t, first.ConnectionID, res.ConnectionID)
			assert.True(t, res.Status.Is(codat.StatusLinked))
			assert.True(t, res.HasStep(codat.StepDone))
			assert.True(t, res.HasStep(codat.StepVerify))
			assert.Equal(t, !tt.already, res.HasStep(codat.StepAuthorize))
			cn := f.assertOneOfEach(t, "crm-7", res)
			assert.Equal(t, tt.authCount, cn.AuthAttempts)
		})
	}
}

// Resume from every point a journal can hold: the exact look-ups each costs.
func TestMigrateResumeCosts(t *testing.T) {
	all := []codat.Step{codat.StepCompany, codat.StepConnection, codat.StepAuthorize, codat.StepVerify, codat.StepSync}
	tests := []struct {
		name      string
		stopAfter codat.Step // cancel the first run once this step is recorded ("" = before any)
		failStep  codat.Step
		resume    []string
	}{
		{"nothing done", "", codat.StepCompany, []string{migListCompanies, migCreateCompany, migCreateConn, migPutAuth, migDataAll}},
		{"company done", codat.StepCompany, codat.StepConnection, []string{migListConns, migCreateConn, migPutAuth, migDataAll}},
		{"connection done", codat.StepConnection, codat.StepAuthorize, []string{migGetConn, migPutAuth, migDataAll}},
		{"verified", codat.StepVerify, codat.StepSync, []string{migDataAll}},
		{"synced", codat.StepSync, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newMigFake(t)
			ctx, cancel := context.WithCancel(context.Background())
			m := newMigration("crm-r")
			if tt.stopAfter == "" {
				cancel()
			}
			m.OnStep = func(_ context.Context, r codat.MigrationResult) error {
				if r.HasStep(tt.stopAfter) {
					cancel()
				}
				return nil
			}
			res, err := f.c.Migrate(ctx, m)
			cancel()
			if tt.failStep == "" {
				require.NoError(t, err, "nothing was left to do when the context ended")
				assert.Equal(t, append(all, codat.StepDone), res.Steps)
				return
			}
			require.Error(t, err)
			require.ErrorIs(t, err, context.Canceled)
			var me *codat.MigrationError
			require.ErrorAs(t, err, &me)
			assert.Equal(t, tt.failStep, me.Step)
			require.NotNil(t, res)
			assert.Equal(t, f.srv.RequestCount(), res.Requests)

			// The result round-trips through JSON, as a journal would keep it.
			raw, err := json.Marshal(res)
			require.NoError(t, err)
			assert.NotContains(t, string(raw), migToken.Reveal())
			var back codat.MigrationResult
			require.NoError(t, json.Unmarshal(raw, &back))

			f.srv.ResetRequestLog()
			m.OnStep = nil
			m.Resume = &back
			res2, err := f.c.Migrate(context.Background(), m)
			require.NoError(t, err)
			assert.Equal(t, tt.resume, f.routes())
			assert.Equal(t, len(tt.resume), res2.Requests)
			assert.Equal(t, append(all, codat.StepDone), res2.Steps)
			f.assertOneOfEach(t, "crm-r", res2)
		})
	}
}

// A process that dies after Codat created an object but before the step was
// journaled: the resume finds the object instead of creating another.
func TestMigrateCrashBeforeJournal(t *testing.T) {
	tests := []struct {
		name   string
		route  string // the request whose answer is lost with the process
		resume []string
	}{
		{"company created", "/companies", []string{migListCompanies, migListConns, migCreateConn, migPutAuth, migDataAll}},
		{"connection created", "/connections", []string{migListConns, migPutAuth, migDataAll}},
		{"token installed", "/authorization", []string{migGetConn, migDataAll}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			// The "crash": the response arrives, then the context dies
			// before the client can use it.
			crash := func(next http.RoundTripper) http.RoundTripper {
				return migRT(func(r *http.Request) (*http.Response, error) {
					resp, err := next.RoundTrip(r)
					if err == nil && r.Method != http.MethodGet && strings.HasSuffix(r.URL.Path, tt.route) {
						resp.Body.Close()
						cancel()
						return nil, context.Canceled
					}
					return resp, err
				})
			}
			f := newMigFakeWith(t, migClientOpt{wrap: crash})
			m := newMigration("crm-crash")
			var journal *codat.MigrationResult
			m.OnStep = func(_ context.Context, r codat.MigrationResult) error { journal = &r; return nil }

			_, err := f.c.Migrate(ctx, m)
			require.ErrorIs(t, err, context.Canceled)

			f.srv.ResetRequestLog()
			m.OnStep = nil
			m.Resume = journal
			if journal == nil {
				m.Resume = &codat.MigrationResult{Ref: m.Ref} // started, nothing journaled
			}
			c2 := newMigClient(t, f.srv, migClientOpt{}) // the restarted process
			res, err := c2.Migrate(context.Background(), m)
			require.NoError(t, err)
			assert.Equal(t, tt.resume, f.routes())
			cn := f.assertOneOfEach(t, "crm-crash", res)
			assert.Equal(t, 1, cn.AuthAttempts, "the token is not sent twice")
			assert.True(t, res.HasStep(codat.StepSync))
		})
	}
}

// A journal that lost every step after the company (say, its last writes
// never reached the disk) while the token had already linked the connection:
// the resume must not mistake its own connection for an earlier migration's
// and skip the sync, nor send the token again.
func TestMigrateResumeOwnLinkedConnection(t *testing.T) {
	f := newMigFake(t)
	m := newMigration("crm-lost")
	var journal []codat.MigrationResult
	m.OnStep = func(_ context.Context, r codat.MigrationResult) error { journal = append(journal, r); return nil }
	first, err := f.c.Migrate(context.Background(), m)
	require.NoError(t, err)
	require.NotEmpty(t, journal)
	companyOnly := journal[0]
	require.Equal(t, []codat.Step{codat.StepCompany}, companyOnly.Steps)

	f.srv.ResetRequestLog()
	m.OnStep = nil
	m.Resume = &companyOnly
	res, err := f.c.Migrate(context.Background(), m)
	require.NoError(t, err)
	assert.Equal(t, []string{migListConns, migDataAll}, f.routes())
	assert.False(t, res.AlreadyMigrated, "the connection is this migration's own")
	assert.True(t, res.HasStep(codat.StepSync))
	assert.Equal(t, first.ConnectionID, res.ConnectionID)
	cn := f.assertOneOfEach(t, "crm-lost", res)
	assert.Equal(t, 1, cn.AuthAttempts, "the token is not sent twice")
}

func TestMigrateDuplicateRef(t *testing.T) {
	f := newMigFake(t)
	for range 2 {
		_, err := f.c.Companies.Create(context.Background(), codat.CreateCompanyRequest{
			Name: "Dup", Tags: map[string]string{codat.RefTagKey: "crm-dup"}})
		require.NoError(t, err)
	}
	f.srv.ResetRequestLog()
	m := newMigration("crm-dup")
	m.Resume = &codat.MigrationResult{Ref: "crm-dup"}
	res, err := f.c.Migrate(context.Background(), m)
	require.ErrorIs(t, err, codat.ErrDuplicateRef)
	var me *codat.MigrationError
	require.ErrorAs(t, err, &me)
	assert.Equal(t, codat.StepCompany, me.Step)
	assert.Empty(t, res.CompanyID, "no company is picked")
	assert.Equal(t, []string{migListCompanies}, f.routes())
	assert.Len(t, f.srv.Companies(), 2)
}

// A company already holding two unlinked connections for the platform is not
// guessed at either.
func TestMigrateDuplicateConnection(t *testing.T) {
	f := newMigFake(t)
	co, err := f.c.Companies.Create(context.Background(), codat.CreateCompanyRequest{
		Name: "Dup", Tags: map[string]string{codat.RefTagKey: "crm-dupc"}})
	require.NoError(t, err)
	for range 2 {
		_, err := f.c.Connections.Create(context.Background(), co.ID, "qhyg")
		require.NoError(t, err)
	}
	m := newMigration("crm-dupc")
	m.Resume = &codat.MigrationResult{Ref: "crm-dupc"}
	res, err := f.c.Migrate(context.Background(), m)
	require.ErrorIs(t, err, codat.ErrDuplicateRef)
	var me *codat.MigrationError
	require.ErrorAs(t, err, &me)
	assert.Equal(t, codat.StepConnection, me.Step)
	assert.Equal(t, co.ID, res.CompanyID)
	assert.Empty(t, res.ConnectionID)
	assert.Len(t, f.srv.Connections(co.ID), 2)
}

// A spent daily quota comes back as a resumable MigrationError wrapping the
// 429; after the reset the resume finishes.
func TestMigrateQuotaExhausted(t *testing.T) {
	clock := codattest.NewFakeClock(time.Date(2026, 3, 2, 22, 0, 0, 0, time.UTC))
	f := newMigFake(t, codattest.WithClock(clock), codattest.WithQuota(codattest.Quota{Daily: 3}))
	m := newMigration("crm-q")

	res, err := f.c.Migrate(context.Background(), m)

	require.Error(t, err)
	var me *codat.MigrationError
	require.ErrorAs(t, err, &me)
	assert.Equal(t, codat.StepSync, me.Step)
	var ae *codat.APIError
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, http.StatusTooManyRequests, ae.StatusCode)
	reset, ok := codat.IsQuotaExhausted(err)
	require.True(t, ok)
	assert.False(t, reset.IsZero())
	assert.True(t, res.HasStep(codat.StepVerify))
	assert.False(t, res.HasStep(codat.StepSync))
	assert.Equal(t, []string{migCreateCompany, migCreateConn, migPutAuth}, f.routes()[:3])
	assert.Equal(t, 4, f.srv.RequestCount(), "no look-up is wasted on a spent quota")
	last := f.srv.RequestLog()[3]
	assert.Equal(t, http.StatusTooManyRequests, last.Status)
	assert.True(t, strings.HasSuffix(last.Path, "/data/all"))

	clock.Advance(3 * time.Hour) // past 00:00 UTC
	f.srv.ResetRequestLog()
	m.Resume = res
	res2, err := f.c.Migrate(context.Background(), m)
	require.NoError(t, err)
	assert.Equal(t, []string{migDataAll}, f.routes())
	f.assertOneOfEach(t, "crm-q", res2)
}

// No token reaches logs, errors or results.
func TestMigrateNoSecretLeaks(t *testing.T) {
	var logs bytes.Buffer
	var mu sync.Mutex
	logger := slog.New(slog.NewTextHandler(migLockedWriter{&mu, &logs}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	f := newMigFakeWith(t, migClientOpt{logger: logger}, codattest.WithRejectedToken(migToken.Reveal()))
	f.srv.InjectFault(codattest.Fault{Route: migPutAuth, Kind: codattest.FaultBeforeCommit, Times: 1})
	res, err := f.c.Migrate(context.Background(), newMigration("crm-s"))
	require.Error(t, err)
	raw, jerr := json.Marshal(res)
	require.NoError(t, jerr)
	mu.Lock()
	defer mu.Unlock()
	require.NotEmpty(t, logs.String(), "the client logged")
	for _, s := range []string{logs.String(), err.Error(), string(raw)} {
		assert.NotContains(t, s, migToken.Reveal())
		assert.NotContains(t, s, f.srv.APIKey())
	}
}

type migLockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l migLockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// Many migrations share one client: each counts its own requests.
func TestMigrateConcurrent(t *testing.T) {
	f := newMigFake(t, codattest.WithQuota(codattest.Quota{ConcurrentPerACC: 100}))
	const n = 12
	results := make([]*codat.MigrationResult, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			m := newMigration("crm-c" + string(rune('a'+i)))
			results[i], errs[i] = f.c.Migrate(context.Background(), m)
		})
	}
	wg.Wait()
	total := 0
	for i := range n {
		require.NoError(t, errs[i])
		assert.Equal(t, 4, results[i].Requests, "a migration counts its own requests only")
		total += results[i].Requests
		assert.Len(t, f.srv.CompaniesWithTag(codat.RefTagKey, results[i].Ref), 1)
	}
	assert.Equal(t, f.srv.RequestCount(), total)
	assert.Len(t, f.srv.Companies(), n)
}

// A token body Codat refuses as malformed (400) is not a rejected token and is
// not sent again.
func TestMigrateAuthorizationInvalid(t *testing.T) {
	f := newMigFake(t, codattest.WithRequiredFields("qhyg", "realmId"))
	res, err := f.c.Migrate(context.Background(), newMigration("crm-400"))
	require.Error(t, err)
	assert.ErrorIs(t, err, codat.ErrValidation)
	assert.NotErrorIs(t, err, codat.ErrTokenRejected)
	var me *codat.MigrationError
	require.ErrorAs(t, err, &me)
	assert.Equal(t, codat.StepAuthorize, me.Step)
	assert.Equal(t, []string{migCreateCompany, migCreateConn, migPutAuth}, f.routes())
	assert.Equal(t, []codat.Step{codat.StepCompany, codat.StepConnection}, res.Steps)
	f.assertOneOfEach(t, "crm-400", res)
}

// A Resume that holds ids but no steps (a hand-made or minimal journal) is
// read as having done the steps that produced them.
func TestMigrateResumeFromIDs(t *testing.T) {
	f := newMigFake(t)
	m := newMigration("crm-ids")
	m.Sync = codat.SyncNone
	ctx, cancel := context.WithCancel(context.Background())
	m.OnStep = func(_ context.Context, r codat.MigrationResult) error {
		if r.HasStep(codat.StepConnection) {
			cancel()
		}
		return nil
	}
	first, err := f.c.Migrate(ctx, m)
	require.ErrorIs(t, err, context.Canceled)
	f.srv.ResetRequestLog()

	m.OnStep = nil
	m.Resume = &codat.MigrationResult{CompanyID: first.CompanyID, ConnectionID: first.ConnectionID}
	res, err := f.c.Migrate(context.Background(), m)
	require.NoError(t, err)
	assert.Equal(t, []string{migGetConn, migPutAuth}, f.routes())
	assert.Equal(t, "crm-ids", res.Ref)
	assert.Equal(t, []codat.Step{codat.StepCompany, codat.StepConnection, codat.StepAuthorize, codat.StepVerify, codat.StepDone}, res.Steps)
	f.assertOneOfEach(t, "crm-ids", res)
}

// A customer found already migrated on a company this migration has no
// record of (a rerun without a journal) is not sent the token, but gets the
// first sync if none was ever queued: the earlier run may have been cut off
// between its token PUT and data/all.
func TestMigrateAlreadyMigratedQueuesMissingSync(t *testing.T) {
	tests := []struct {
		name      string
		firstSync codat.SyncMode // the earlier run's mode: SyncNone stands for a cut-off run
		sync      codat.SyncMode
		routes    []string
		steps     []codat.Step
	}{
		{"never synced: queue it", codat.SyncNone, codat.SyncQueue,
			[]string{migListCompanies, migListConns, migDataStatus, migDataAll},
			[]codat.Step{codat.StepCompany, codat.StepConnection, codat.StepVerify, codat.StepSync, codat.StepDone}},
		{"never synced, SyncWait: queue it and wait", codat.SyncNone, codat.SyncWait,
			nil, // pinned below: the wait polls
			[]codat.Step{codat.StepCompany, codat.StepConnection, codat.StepVerify, codat.StepSync, codat.StepWait, codat.StepDone}},
		{"synced before: nothing queued", codat.SyncQueue, codat.SyncQueue,
			[]string{migListCompanies, migListConns, migDataStatus},
			[]codat.Step{codat.StepCompany, codat.StepConnection, codat.StepVerify, codat.StepDone}},
		{"SyncNone: no data status read", codat.SyncNone, codat.SyncNone,
			[]string{migListCompanies, migListConns},
			[]codat.Step{codat.StepCompany, codat.StepConnection, codat.StepVerify, codat.StepDone}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newMigFake(t, codattest.WithSyncTiming(0, 0))
			first := newMigration("crm-am")
			first.Sync = tt.firstSync
			_, err := f.c.Migrate(context.Background(), first)
			require.NoError(t, err)
			opsBefore := len(f.srv.PullOperations(f.srv.Companies()[0].ID))

			f.srv.ResetRequestLog()
			m := newMigration("crm-am")
			m.Sync = tt.sync
			m.WaitInterval = time.Millisecond
			m.Resume = &codat.MigrationResult{Ref: "crm-am"} // no record of the earlier run
			res, err := f.c.Migrate(context.Background(), m)

			require.NoError(t, err)
			assert.True(t, res.AlreadyMigrated)
			assert.Equal(t, tt.steps, res.Steps)
			routes := f.routes()
			if tt.routes != nil {
				assert.Equal(t, tt.routes, routes)
			} else {
				require.GreaterOrEqual(t, len(routes), 5)
				assert.Equal(t, []string{migListCompanies, migListConns, migDataStatus, migDataAll, migDataStatus}, routes[:5])
			}
			assert.Equal(t, len(routes), res.Requests)
			cn := f.assertOneOfEach(t, "crm-am", res)
			assert.Equal(t, 1, cn.AuthAttempts, "no token is sent")
			ops := len(f.srv.PullOperations(res.CompanyID))
			if res.HasStep(codat.StepSync) {
				assert.Greater(t, ops, opsBefore, "the sync was queued")
			} else {
				assert.Equal(t, opsBefore, ops, "nothing was queued")
			}
		})
	}
}

// A journal-less rerun that finds the company already migrated but is
// refused the data status read stops with a resumable error; the resume
// reads it again and queues the missing sync.
func TestMigrateAlreadyMigratedResume(t *testing.T) {
	f := newMigFake(t)
	first := newMigration("crm-amr")
	first.Sync = codat.SyncNone
	_, err := f.c.Migrate(context.Background(), first)
	require.NoError(t, err)

	f.srv.ResetRequestLog()
	f.srv.InjectFault(codattest.Fault{Route: migDataStatus, Kind: codattest.FaultRateLimit, RetryAfter: time.Hour, Times: 1})
	m := newMigration("crm-amr")
	m.Resume = &codat.MigrationResult{Ref: "crm-amr"}
	res, err := f.c.Migrate(context.Background(), m)
	require.Error(t, err)
	_, quota := codat.IsQuotaExhausted(err)
	assert.True(t, quota)
	var me *codat.MigrationError
	require.ErrorAs(t, err, &me)
	assert.Equal(t, codat.StepSync, me.Step)
	assert.True(t, res.AlreadyMigrated)

	f.srv.ResetRequestLog()
	m.Resume = res
	res, err = f.c.Migrate(context.Background(), m)
	require.NoError(t, err)
	assert.Equal(t, []string{migDataStatus, migDataAll}, f.routes())
	assert.True(t, res.AlreadyMigrated)
	assert.True(t, res.HasStep(codat.StepSync))
	cn := f.assertOneOfEach(t, "crm-amr", res)
	assert.Equal(t, 1, cn.AuthAttempts)
}

// Relink on a resume that starts at the token step sends the token, even
// though the connection is Linked: that is what Relink asks for.
func TestMigrateRelinkResume(t *testing.T) {
	tests := []struct {
		name   string
		relink bool
		routes []string
		auths  int
	}{
		{"relink sends the new token", true, []string{migPutAuth, migDataAll}, 2},
		{"without relink the Linked connection is kept", false, []string{migGetConn, migDataAll}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newMigFake(t)
			first, err := f.c.Migrate(context.Background(), newMigration("crm-rl"))
			require.NoError(t, err)
			require.True(t, first.TokenSent)

			f.srv.ResetRequestLog()
			m := newMigration("crm-rl")
			m.Auth = migAuth{key: "qhyg", token: "tok-NEW-1a2b3c4d"}
			m.Relink = tt.relink
			// The earlier result cut back to before the token, as a journal
			// replaying a new token would pass it.
			m.Resume = &codat.MigrationResult{Ref: "crm-rl", CompanyID: first.CompanyID, ConnectionID: first.ConnectionID,
				PlatformKey: first.PlatformKey, Steps: []codat.Step{codat.StepCompany, codat.StepConnection}}
			res, err := f.c.Migrate(context.Background(), m)

			require.NoError(t, err)
			assert.Equal(t, tt.routes, f.routes())
			assert.Equal(t, len(tt.routes), res.Requests)
			assert.False(t, res.AlreadyMigrated)
			assert.True(t, res.HasStep(codat.StepVerify))
			assert.True(t, res.Status.Is(codat.StatusLinked))
			cn := f.assertOneOfEach(t, "crm-rl", res)
			assert.Equal(t, tt.auths, cn.AuthAttempts)
			assert.Equal(t, codattest.StatusLinked, cn.Status)
		})
	}
}

// A Relink migration whose token PUT lost its answer (the token may be
// installed) does not send it again on resume when the connection reads back
// Linked: TokenSent carries that across calls.
func TestMigrateRelinkAfterLostPut(t *testing.T) {
	var lose atomic.Bool
	lose.Store(true)
	wrap := func(next http.RoundTripper) http.RoundTripper {
		return migRT(func(r *http.Request) (*http.Response, error) {
			if r.Method == http.MethodPut && lose.CompareAndSwap(true, false) {
				return nil, &net.OpError{Op: "read", Net: "tcp", Err: os.ErrDeadlineExceeded}
			}
			return next.RoundTrip(r)
		})
	}
	f := newMigFakeWith(t, migClientOpt{wrap: wrap})
	m := newMigration("crm-rlost")
	m.Relink = true
	res, err := f.c.Migrate(context.Background(), m)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "resume later")
	assert.True(t, res.TokenSent, "the lost PUT may have installed the token")
	assert.False(t, res.HasStep(codat.StepAuthorize))

	// The lost PUT lands at Codat after all.
	_, err = f.c.Connections.UpdateAuthorization(context.Background(), res.CompanyID, res.ConnectionID, m.Auth)
	require.NoError(t, err)

	f.srv.ResetRequestLog()
	raw, err := json.Marshal(res)
	require.NoError(t, err)
	var back codat.MigrationResult
	require.NoError(t, json.Unmarshal(raw, &back))
	m.Resume = &back
	res, err = f.c.Migrate(context.Background(), m)
	require.NoError(t, err)
	assert.Equal(t, []string{migGetConn, migDataAll}, f.routes())
	cn := f.assertOneOfEach(t, "crm-rlost", res)
	assert.Equal(t, 1, cn.AuthAttempts, "the token is not sent twice")
}

// A SyncWait migration whose sync never finishes stops at the wait bound
// with ErrSyncTimeout; the resume polls again and finishes.
func TestMigrateSyncWaitTimeout(t *testing.T) {
	clock := codattest.NewFakeClock(time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC))
	f := newMigFake(t, codattest.WithClock(clock)) // the clock stands still: the sync stays Queued
	m := newMigration("crm-slow")
	m.Sync = codat.SyncWait
	m.WaitInterval = time.Millisecond
	m.WaitTimeout = 20 * time.Millisecond

	res, err := f.c.Migrate(context.Background(), m)

	require.ErrorIs(t, err, codat.ErrSyncTimeout)
	var me *codat.MigrationError
	require.ErrorAs(t, err, &me)
	assert.Equal(t, codat.StepWait, me.Step)
	assert.False(t, codat.IsAmbiguous(err))
	assert.True(t, res.HasStep(codat.StepSync))
	assert.False(t, res.HasStep(codat.StepWait))
	assert.Greater(t, f.count(migDataStatus), 1)

	clock.Advance(time.Hour)
	f.srv.ResetRequestLog()
	m.Resume = res
	res, err = f.c.Migrate(context.Background(), m)
	require.NoError(t, err)
	assert.Equal(t, []string{migDataStatus}, f.routes())
	assert.True(t, res.HasStep(codat.StepWait))
}
