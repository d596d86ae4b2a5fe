package codat_test

import (
	"context"
	"errors"
	"fmt"
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

// migConcurrentRefs runs two Migrate calls for each of n refs at once,
// through the clients given (the same one twice, or two), and returns every
// call's error by ref. A call refused with ErrMigrationInProgress resumes
// from its result once the other has returned, as a caller would.
func migConcurrentRefs(t *testing.T, n int, clients [2]*codat.Client) map[string][]error {
	t.Helper()
	var mu sync.Mutex
	errs := map[string][]error{}
	var wg sync.WaitGroup
	for i := range n {
		ref := fmt.Sprintf("crm-race-%02d", i)
		start := make(chan struct{})
		var done sync.WaitGroup
		for g := range 2 {
			wg.Add(1)
			done.Add(1)
			go func() {
				defer wg.Done()
				m := newMigration(ref)
				<-start
				res, err := clients[g].Migrate(context.Background(), m)
				done.Done()
				if errors.Is(err, codat.ErrMigrationInProgress) {
					done.Wait() // the other call has returned
					m.Resume = res
					_, err = clients[g].Migrate(context.Background(), m)
				}
				mu.Lock()
				errs[ref] = append(errs[ref], err)
				mu.Unlock()
			}()
		}
		close(start)
	}
	wg.Wait()
	return errs
}

// Two goroutines × the same ref × 50 refs on one Client: one company and one
// connection per ref, and the token PUT at most once per connection. The
// second call for a ref is refused while the first runs
// (ErrMigrationInProgress) or, once it has returned, finds the customer
// already migrated.
func TestMigrateSameRefTwoGoroutines(t *testing.T) {
	f := newMigFake(t, codattest.WithoutQuota())
	const n = 50
	errs := migConcurrentRefs(t, n, [2]*codat.Client{f.c, f.c})
	require.Len(t, errs, n)
	for ref, es := range errs {
		require.Len(t, es, 2)
		for _, err := range es {
			assert.NoError(t, err, ref)
		}
	}
	byRef := map[string]int{}
	for _, co := range f.srv.Companies() {
		byRef[co.Tags[codat.RefTagKey]]++
		conns := f.srv.Connections(co.ID)
		require.Len(t, conns, 1, "one connection for %s", co.Tags[codat.RefTagKey])
		assert.Equal(t, 1, conns[0].AuthAttempts, "the token PUT once for %s", co.Tags[codat.RefTagKey])
		assert.Equal(t, codattest.StatusLinked, conns[0].Status)
	}
	assert.Len(t, byRef, n)
	for ref, c := range byRef {
		assert.Equal(t, 1, c, ref)
	}
	assert.Equal(t, n, f.count(migPutAuth), "one token PUT per ref")
}

// Two Client values (two processes) × the same ref × 50 refs, within the
// replay window: the derived Idempotency-Keys make the racing creates
// collapse at Codat, so there is one company and one connection per ref.
func TestMigrateSameRefTwoClients(t *testing.T) {
	f := newMigFake(t, codattest.WithoutQuota())
	other := newMigClient(t, f.srv, migClientOpt{})
	const n = 50
	errs := migConcurrentRefs(t, n, [2]*codat.Client{f.c, other})
	// A call that lost the race may stop with a resumable error (it found
	// no company while the other's create was in flight); resume it.
	for ref, es := range errs {
		for _, err := range es {
			if err == nil {
				continue
			}
			var me *codat.MigrationError
			require.ErrorAs(t, err, &me, ref)
			m := newMigration(ref)
			m.Resume = &codat.MigrationResult{Ref: ref}
			_, err := other.Migrate(context.Background(), m)
			require.NoError(t, err, ref)
		}
	}
	byRef := map[string]int{}
	for _, co := range f.srv.Companies() {
		byRef[co.Tags[codat.RefTagKey]]++
		require.Len(t, f.srv.Connections(co.ID), 1, "one connection for %s", co.Tags[codat.RefTagKey])
		assert.Equal(t, codattest.StatusLinked, f.srv.Connections(co.ID)[0].Status)
	}
	assert.Len(t, byRef, n)
	for ref, c := range byRef {
		assert.Equal(t, 1, c, "one company for %s", ref)
	}
}

// A call for a ref already in flight on the same Client sends nothing and
// returns ErrMigrationInProgress; the entry goes when the first call returns.
func TestMigrateInProgress(t *testing.T) {
	f := newMigFake(t)
	m := newMigration("crm-busy")
	inHook := make(chan struct{})
	release := make(chan struct{})
	var once sync.Once
	m.OnStep = func(context.Context, codat.MigrationResult) error {
		once.Do(func() {
			close(inHook)
			<-release
		})
		return nil
	}
	first := make(chan error, 1)
	go func() {
		_, err := f.c.Migrate(context.Background(), m)
		first <- err
	}()
	<-inHook
	sent := f.srv.RequestCount()

	second := newMigration("crm-busy")
	res, err := f.c.Migrate(context.Background(), second)
	require.ErrorIs(t, err, codat.ErrMigrationInProgress)
	var me *codat.MigrationError
	require.ErrorAs(t, err, &me)
	assert.Equal(t, codat.StepCompany, me.Step)
	assert.Zero(t, res.Requests)
	assert.Equal(t, sent, f.srv.RequestCount(), "the refused call sent nothing")

	other, err := f.c.Migrate(context.Background(), newMigration("crm-other"))
	require.NoError(t, err, "another ref is not held up")
	assert.True(t, other.HasStep(codat.StepDone))

	close(release)
	require.NoError(t, <-first)
	// The ref is free again: a resume runs (and finds nothing to send).
	second.Resume = res
	res, err = f.c.Migrate(context.Background(), second)
	require.NoError(t, err)
	assert.True(t, res.AlreadyMigrated || res.HasStep(codat.StepDone))
	f.assertOneOfEachRef(t, "crm-busy")
}

// assertOneOfEachRef checks one company with one connection, token PUT once,
// for ref.
func (f *migFake) assertOneOfEachRef(t *testing.T, ref string) {
	t.Helper()
	cos := f.srv.CompaniesWithTag(codat.RefTagKey, ref)
	require.Len(t, cos, 1)
	conns := f.srv.Connections(cos[0].ID)
	require.Len(t, conns, 1)
	assert.Equal(t, 1, conns[0].AuthAttempts)
}

// A second call for a ref, without Resume, after the first completed within
// Codat's replay window: the derived key is answered 422 (the company body
// carries another call's id), the look-up finds the company and its Linked
// connection, and no token is sent.
func TestMigrateRerunWithoutResume(t *testing.T) {
	f := newMigFake(t)
	_, err := f.c.Migrate(context.Background(), newMigration("crm-again"))
	require.NoError(t, err)
	f.srv.ResetRequestLog()

	other := newMigClient(t, f.srv, migClientOpt{}) // another process
	res, err := other.Migrate(context.Background(), newMigration("crm-again"))
	require.NoError(t, err)
	assert.Equal(t, []string{migCreateCompany, migListCompanies, migListConns, migDataStatus}, f.routes())
	assert.True(t, res.AlreadyMigrated)
	f.assertOneOfEachRef(t, "crm-again")
}

// A process killed during the token PUT and resumed at once: the resume
// reads the connection, and while it is not Linked it sends no PUT until the
// settle window has passed; after it, one read and one PUT.
func TestMigrateKilledDuringTokenPut(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// The "kill": the PUT leaves, and the process dies before any answer.
	var killed atomic.Bool
	kill := func(next http.RoundTripper) http.RoundTripper {
		return migRT(func(r *http.Request) (*http.Response, error) {
			if r.Method == http.MethodPut && killed.CompareAndSwap(false, true) {
				cancel()
				return nil, &net.OpError{Op: "read", Net: "tcp", Err: os.ErrDeadlineExceeded}
			}
			return next.RoundTrip(r)
		})
	}
	f := newMigFakeWith(t, migClientOpt{wrap: kill})
	m := newMigration("crm-kill")
	var journal codat.MigrationResult
	m.OnStep = func(_ context.Context, r codat.MigrationResult) error { journal = r; return nil }
	_, err := f.c.Migrate(ctx, m)
	require.Error(t, err)
	require.NotNil(t, journal.TokenSend, "the send intent was journaled before the PUT left")
	assert.False(t, journal.HasStep(codat.StepAuthorize))
	sentAt := journal.TokenSend.At

	// Resumed at once, in a new process: no PUT.
	f.srv.ResetRequestLog()
	c2 := newMigClient(t, f.srv, migClientOpt{})
	m.OnStep = nil
	m.Resume = &journal
	res, err := c2.Migrate(context.Background(), m)
	require.ErrorIs(t, err, codat.ErrTokenSendUnsettled)
	var me *codat.MigrationError
	require.ErrorAs(t, err, &me)
	assert.Equal(t, codat.StepAuthorize, me.Step)
	assert.Equal(t, sentAt.Add(codat.DefaultSettleWindow), me.RetryAt)
	assert.Contains(t, err.Error(), me.RetryAt.UTC().Format(time.RFC3339), "the error says when to retry")
	assert.Equal(t, []string{migGetConn}, f.routes(), "one read, no PUT")
	assert.NotContains(t, err.Error(), migToken.Reveal())

	// Again at once: still nothing sent but the read.
	f.srv.ResetRequestLog()
	m.Resume = res
	_, err = c2.Migrate(context.Background(), m)
	require.ErrorIs(t, err, codat.ErrTokenSendUnsettled)
	assert.Equal(t, []string{migGetConn}, f.routes())

	// After the window: one read, one PUT.
	f.srv.ResetRequestLog()
	m.Resume = migAfterSettle(res)
	res, err = c2.Migrate(context.Background(), m)
	require.NoError(t, err)
	assert.Equal(t, []string{migGetConn, migPutAuth, migDataAll}, f.routes())
	assert.Nil(t, res.TokenSend)
	f.assertOneOfEachRef(t, "crm-kill")
}

// The platform of a row corrected between two attempts (QuickBooks → Xero):
// the token never goes to the QuickBooks connection, whatever the route.
func TestMigratePlatformChanged(t *testing.T) {
	tests := []struct {
		name   string
		resume func(first *codat.MigrationResult) *codat.MigrationResult
		relink bool
		routes []string
	}{
		{"resume records the platform", func(r *codat.MigrationResult) *codat.MigrationResult {
			return &codat.MigrationResult{Ref: r.Ref, CompanyID: r.CompanyID, ConnectionID: r.ConnectionID, PlatformKey: r.PlatformKey,
				Steps: []codat.Step{codat.StepCompany, codat.StepConnection}}
		}, false, nil},
		{"resume without the platform reads the connection", func(r *codat.MigrationResult) *codat.MigrationResult {
			return &codat.MigrationResult{Ref: r.Ref, CompanyID: r.CompanyID, ConnectionID: r.ConnectionID,
				Steps: []codat.Step{codat.StepCompany, codat.StepConnection}}
		}, false, []string{migGetConn}},
		{"relink without the platform reads the connection", func(r *codat.MigrationResult) *codat.MigrationResult {
			return &codat.MigrationResult{Ref: r.Ref, CompanyID: r.CompanyID, ConnectionID: r.ConnectionID,
				Steps: []codat.Step{codat.StepCompany, codat.StepConnection}}
		}, true, []string{migGetConn}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newMigFake(t)
			m := newMigration("crm-platform")
			m.Sync = codat.SyncNone
			ctx, cancel := context.WithCancel(context.Background())
			m.OnStep = func(_ context.Context, r codat.MigrationResult) error {
				if r.HasStep(codat.StepConnection) {
					cancel() // stop before the token
				}
				return nil
			}
			first, err := f.c.Migrate(ctx, m)
			require.ErrorIs(t, err, context.Canceled)
			require.Equal(t, "qhyg", first.PlatformKey)
			f.srv.ResetRequestLog()

			m = newMigration("crm-platform")
			m.Auth = migAuth{key: "xero", token: migToken}
			m.Relink = tt.relink
			m.Resume = tt.resume(first)
			_, err = f.c.Migrate(context.Background(), m)
			require.ErrorIs(t, err, codat.ErrPlatformMismatch)
			assert.Equal(t, tt.routes, f.routes(), "no PUT")
			assert.NotContains(t, err.Error(), migToken.Reveal())
			co := f.srv.CompaniesWithTag(codat.RefTagKey, "crm-platform")
			require.Len(t, co, 1)
			conns := f.srv.Connections(co[0].ID)
			require.Len(t, conns, 1)
			assert.Zero(t, conns[0].AuthAttempts, "the QuickBooks connection never got the token")
		})
	}
}

// codattest answers 409 for an Idempotency-Key in flight, also under load:
// many requests with one key at once give one company, and every one that
// is not the first is answered 409 or the replay.
func TestCodattestKeyInFlightUnderLoad(t *testing.T) {
	srv := codattest.NewServer(codattest.WithoutQuota(), codattest.WithLatency(20*time.Millisecond))
	t.Cleanup(srv.Close)
	const callers = 40
	body := `{"name":"Acme Ltd"}`
	var wg sync.WaitGroup
	codes := make(chan int, callers)
	for range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, err := http.NewRequest(http.MethodPost, srv.URL()+"/companies", strings.NewReader(body))
			if !assert.NoError(t, err) {
				return
			}
			req.Header.Set("Authorization", srv.AuthorizationHeader())
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Idempotency-Key", "7b0e6f1c-2d4a-4b8e-9c3f-5a6b7c8d9e0f")
			resp, err := http.DefaultClient.Do(req)
			if !assert.NoError(t, err) {
				return
			}
			resp.Body.Close()
			codes <- resp.StatusCode
		}()
	}
	wg.Wait()
	close(codes)
	seen := map[int]int{}
	for c := range codes {
		seen[c]++
	}
	assert.Len(t, srv.Companies(), 1, "one company for one key")
	assert.Positive(t, seen[http.StatusConflict], "some requests met the key in flight: %v", seen)
	assert.Equal(t, callers, seen[http.StatusOK]+seen[http.StatusConflict], "only 200 (first or replay) and 409: %v", seen)
}

// A company Resume records that was deleted in Codat meanwhile: its
// connections read 404, the company step's key generation moves on, and
// the migration creates the company again (after a look-up by tag) instead
// of being answered with the deleted one.
func TestMigrateResumedCompanyDeleted(t *testing.T) {
	f := newMigFake(t)
	m := newMigration("crm-gone")
	ctx, cancel := context.WithCancel(context.Background())
	m.OnStep = func(_ context.Context, r codat.MigrationResult) error {
		if r.HasStep(codat.StepCompany) {
			cancel()
		}
		return nil
	}
	first, err := f.c.Migrate(ctx, m)
	require.ErrorIs(t, err, context.Canceled)
	require.NotEmpty(t, first.CompanyID)
	require.NoError(t, f.c.Companies.Delete(context.Background(), first.CompanyID))
	f.srv.ResetRequestLog()

	m.OnStep = nil
	m.Resume = first
	res, err := f.c.Migrate(context.Background(), m)
	require.NoError(t, err)
	assert.Equal(t, []string{migListConns, migListCompanies, migCreateCompany, migCreateConn, migPutAuth, migDataAll}, f.routes())
	assert.NotEqual(t, first.CompanyID, res.CompanyID)
	assert.Equal(t, 1, res.KeyGen[codat.StepCompany])
	f.assertOneOfEachRef(t, "crm-gone")
}
