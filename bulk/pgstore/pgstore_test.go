package pgstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/codat-migrate/codat"
	"github.com/codat-migrate/codat/bulk"
	"github.com/codat-migrate/codat/codattest"
)

// EnvTestDSN names the environment variable with the DSN of a PostgreSQL
// server the tests may create databases on (.ci/run starts one).
const EnvTestDSN = "CODAT_MIGRATE_TEST_PG_DSN"

// testDSN creates a fresh database for the test and returns its DSN; the
// test is skipped when EnvTestDSN is unset.
func testDSN(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv(EnvTestDSN)
	if dsn == "" {
		t.Skipf("%s is not set: no PostgreSQL to test against (.ci/run starts one; see .ci/postgres)", EnvTestDSN)
	}
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, dsn)
	require.NoError(t, err, "connect to %s", EnvTestDSN)
	defer admin.Close(ctx)
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "codat_test_" + hex.EncodeToString(b[:])
	_, err = admin.Exec(ctx, "CREATE DATABASE "+name)
	require.NoError(t, err)
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), dsn)
		if err != nil {
			return
		}
		defer c.Close(context.Background())
		_, _ = c.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	})
	u, err := url.Parse(dsn)
	require.NoError(t, err, "%s must be a postgres:// URL", EnvTestDSN)
	u.Path = "/" + name
	return u.String()
}

const testKey = codat.Secret("test-api-key")

// fakeCodat is a codattest server whose syncs complete at once, with opts,
// and a client of it; the server is closed with the test.
func fakeCodat(t testing.TB, opts ...codattest.Option) (*codattest.Server, *codat.Client) {
	t.Helper()
	srv := codattest.NewServer(append([]codattest.Option{codattest.WithSyncTiming(0, 0)}, opts...)...)
	t.Cleanup(srv.Close)
	client, err := codat.NewClient(srv.APIKey(), codat.WithBaseURL(srv.URL()))
	require.NoError(t, err)
	return srv, client
}

func open(t testing.TB, dsn, run, hash string, lease time.Duration) *Store {
	t.Helper()
	s, err := Open(context.Background(), dsn, Options{Run: run, InputHash: hash, APIKey: testKey, BaseURL: "https://api.codat.io", Lease: lease})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestOpenRecordsTheInput(t *testing.T) {
	dsn := testDSN(t)
	ctx := context.Background()
	a := open(t, dsn, "june", "hash-1", 0)
	b := open(t, dsn, "june", "hash-1", 0) // a second runner, same export
	require.NotNil(t, b)

	_, err := Open(ctx, dsn, Options{Run: "june", InputHash: "hash-2", APIKey: testKey, BaseURL: "https://api.codat.io"})
	require.ErrorIs(t, err, ErrInputChanged, "another export under the same run name is refused")
	_, err = Open(ctx, dsn, Options{Run: "june", InputHash: "hash-1", APIKey: "another-key", BaseURL: "https://api.codat.io"})
	require.Error(t, err, "the run belongs to one account")
	assert.Contains(t, err.Error(), "another Codat account")
	assert.NotContains(t, err.Error(), "another-key")

	_, err = Open(ctx, dsn, Options{Run: "july", ReadOnly: true})
	require.ErrorIs(t, err, ErrNoRun)
	ro, err := Open(ctx, dsn, Options{Run: "june", ReadOnly: true})
	require.NoError(t, err, "status opens a run without the key")
	require.NoError(t, ro.Close())

	var version int
	require.NoError(t, a.pool.QueryRow(ctx, `SELECT version FROM codat_migrate_schema`).Scan(&version))
	assert.Equal(t, schemaVersion, version, "the schema is created on first use")
}

func TestOpenConcurrentlyCreatesTheSchemaOnce(t *testing.T) {
	dsn := testDSN(t)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := Open(context.Background(), dsn, Options{Run: "r", InputHash: "h", APIKey: testKey, BaseURL: "u"})
			if err == nil {
				_ = s.Close()
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for _, err := range errs {
		assert.NoError(t, err)
	}
}

func TestClaimLeaseAndFencing(t *testing.T) {
	dsn := testDSN(t)
	ctx := context.Background()
	const lease = 300 * time.Millisecond
	a := open(t, dsn, "run", "h", lease)
	b := open(t, dsn, "run", "h", lease)

	ca, err := a.Claim(ctx, "crm-1")
	require.NoError(t, err)
	assert.Equal(t, int64(1), ca.Token)
	_, err = b.Claim(ctx, "crm-1")
	require.ErrorIs(t, err, bulk.ErrClaimed, "a live claim is not taken")
	require.NoError(t, a.Append(ctx, ca, &bulk.Record{Ref: "crm-1", Step: "start", Fingerprint: "fp"}))

	// A renews its lease while it lives: past several leases, B still cannot claim.
	time.Sleep(2 * lease)
	_, err = b.Claim(ctx, "crm-1")
	require.ErrorIs(t, err, bulk.ErrClaimed, "a renewed claim is not taken")

	// A stalls (stops renewing): its lease lapses and B takes the ref over.
	close(a.stop)
	<-a.done
	a.stop = nil
	time.Sleep(lease + 100*time.Millisecond)
	cb, err := b.Claim(ctx, "crm-1")
	require.NoError(t, err, "an expired claim is taken over")
	assert.Equal(t, int64(2), cb.Token, "the fencing token grows")

	err = a.Append(ctx, ca, &bulk.Record{Ref: "crm-1", Step: "company", CompanyID: "co-stale"})
	require.ErrorIs(t, err, bulk.ErrFenced, "the stale runner's write is refused")
	require.NoError(t, b.Append(ctx, cb, &bulk.Record{Ref: "crm-1", Step: "company", CompanyID: "co-1"}))
	got, err := b.Get(ctx, "crm-1")
	require.NoError(t, err)
	require.NotNil(t, got)
	assert.Equal(t, "co-1", got.CompanyID)

	require.NoError(t, b.Release(ctx, cb))
	cb2, err := b.Claim(ctx, "crm-1")
	require.NoError(t, err, "a released ref is free")
	assert.Equal(t, int64(3), cb2.Token)
	missing, err := b.Get(ctx, "nobody")
	require.NoError(t, err)
	assert.Nil(t, missing)
}

func TestTenantIsUniqueAcrossRunsOfAnAccount(t *testing.T) {
	dsn := testDSN(t)
	ctx := context.Background()
	first := open(t, dsn, "export-1", "h1", 0)
	c1, err := first.Claim(ctx, "crm-1")
	require.NoError(t, err)
	require.NoError(t, first.Append(ctx, c1, &bulk.Record{Ref: "crm-1", Step: "start", Tenant: "tenant-a"}))
	require.NoError(t, first.Append(ctx, c1, &bulk.Record{Ref: "crm-1", Step: "done", Tenant: "tenant-a"}), "the same ref keeps its tenant")

	second := open(t, dsn, "export-2", "h2", 0) // a later export, same account
	holder, err := second.TenantRef(ctx, "tenant-a")
	require.NoError(t, err)
	assert.Equal(t, "crm-1", holder)
	c2, err := second.Claim(ctx, "crm-9")
	require.NoError(t, err)
	err = second.Append(ctx, c2, &bulk.Record{Ref: "crm-9", Step: "start", Tenant: "tenant-a"})
	require.ErrorIs(t, err, bulk.ErrTenantTaken, "a tenant held by another ref is refused")
	assert.Contains(t, err.Error(), `"crm-1"`)
	got, err := second.Get(ctx, "crm-9")
	require.NoError(t, err)
	assert.Nil(t, got, "nothing is written for the refused ref")
	known, err := second.Get(ctx, "crm-1")
	require.NoError(t, err)
	require.NotNil(t, known, "a ref migrated by another run of the account is known")

	other, err := Open(ctx, dsn, Options{Run: "other-account", InputHash: "h", APIKey: "other-key", BaseURL: "https://api.codat.io"})
	require.NoError(t, err)
	defer other.Close()
	holder, err = other.TenantRef(ctx, "tenant-a")
	require.NoError(t, err)
	assert.Empty(t, holder, "another account does not share the index")
}

func TestCanarySummaryAndQuota(t *testing.T) {
	dsn := testDSN(t)
	ctx := context.Background()
	s := open(t, dsn, "run", "h", 0)
	now := time.Now().UTC().Truncate(time.Second)
	require.NoError(t, s.Append(ctx, bulk.Claim{}, &bulk.Record{Time: now, Event: "run"}))
	c, err := s.Claim(ctx, "canary-1")
	require.NoError(t, err)
	require.NoError(t, s.Append(ctx, c, &bulk.Record{Time: now, Ref: "canary-1", Step: "start", Canary: true}))
	require.NoError(t, s.Append(ctx, c, &bulk.Record{Time: now, Ref: "canary-1", Step: "done", Canary: true, Verdict: "passed",
		Steps: []codat.Step{codat.StepCompany, codat.StepDone}, Requests: 5}))
	require.NoError(t, s.Release(ctx, c))
	require.NoError(t, s.Append(ctx, bulk.Claim{}, &bulk.Record{Time: now, Event: "canary-passed"}))
	c2, err := s.Claim(ctx, "crm-2")
	require.NoError(t, err)
	require.NoError(t, s.Append(ctx, c2, &bulk.Record{Time: now, Ref: "crm-2", Step: "company", Steps: []codat.Step{codat.StepCompany}, Requests: 1}))

	cs, err := s.Canary(ctx)
	require.NoError(t, err)
	assert.True(t, cs.Passed)

	reset, err := s.QuotaReset(ctx)
	require.NoError(t, err)
	assert.True(t, reset.IsZero())
	future := now.Add(time.Hour)
	require.NoError(t, s.Append(ctx, bulk.Claim{}, &bulk.Record{Time: now, Event: "quota-stop", Reset: &future}))
	other := open(t, dsn, "run", "h", 0)
	reset, err = other.QuotaReset(ctx)
	require.NoError(t, err)
	assert.True(t, reset.Equal(future), "one runner's quota stop is every runner's: %v", reset)

	sum, held, err := other.Summary(ctx)
	require.NoError(t, err)
	assert.Equal(t, 2, sum.Refs)
	assert.Equal(t, map[bulk.Status]int{bulk.StatusMigrated: 1, bulk.StatusIncomplete: 1}, sum.Counts)
	assert.Equal(t, 6, sum.Requests)
	assert.Equal(t, 1, sum.Runs)
	assert.True(t, sum.CanaryPassed)
	assert.True(t, sum.QuotaReset.Equal(future))
	assert.Equal(t, 1, held, "crm-2 is held by a live runner")
	assert.Equal(t, 2, sum.Runners, "two runners of the run are open")
}

// rows collects a report.
type rows struct {
	mu   sync.Mutex
	rows []bulk.ReportRow
}

func (r *rows) Write(row bulk.ReportRow) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rows = append(r.rows, row)
	return nil
}
func (r *rows) Close() error { return nil }

func (r *rows) counts() map[bulk.Status]int {
	m := map[bulk.Status]int{}
	for _, row := range r.rows {
		m[row.Status]++
	}
	return m
}

func export(n int, offset int) []byte {
	var b strings.Builder
	b.WriteString("ref,company_name,platform,realmId,accessToken,refreshToken\n")
	for i := offset; i < offset+n; i++ {
		fmt.Fprintf(&b, "crm-%d,Company %d,qhyg,%d,access-%d,refresh-%d\n", i, i, 4620000000+i, i, i)
	}
	return []byte(b.String())
}

// A run on the store migrates every row once; a rerun (another process
// with the same store) finds every ref migrated; a later export with a
// known tenant under a new ref is reported duplicate and sends nothing.
func TestRunnerOnTheStore(t *testing.T) {
	dsn := testDSN(t)
	ctx := context.Background()
	srv, client := fakeCodat(t)
	data := export(20, 1)
	in := bulk.BytesInput("export.csv", bulk.FormatCSV, data)
	hash := "h-" + hex.EncodeToString(data[:8])
	runOnce := func(run, hash string, in bulk.Input) (*rows, *bulk.Summary, error) {
		st, err := Open(ctx, dsn, Options{Run: run, InputHash: hash, APIKey: codat.Secret(srv.APIKey()), BaseURL: srv.URL()})
		require.NoError(t, err)
		defer st.Close()
		r := &bulk.Runner{Client: client, Store: st, Concurrency: 4, RequestsPerMinute: -1, WaitInterval: 5 * time.Millisecond}
		rep := &rows{}
		sum, err := r.Run(ctx, in, rep)
		return rep, sum, err
	}
	rep, _, err := runOnce("june", hash, in)
	require.NoError(t, err)
	assert.Equal(t, map[bulk.Status]int{bulk.StatusMigrated: 20}, rep.counts())
	assert.Equal(t, 20, srv.CompanyCount())

	rep, _, err = runOnce("june", hash, in)
	require.NoError(t, err)
	assert.Equal(t, map[bulk.Status]int{bulk.StatusAlreadyMigrated: 20}, rep.counts(), "a rerun on the store sends no write")
	assert.Equal(t, 20, srv.CompanyCount())

	// A later export: crm-100 carries crm-1's tenant (realmId); crm-101 is new.
	later := "ref,company_name,platform,realmId,accessToken,refreshToken\n" +
		"crm-100,Company 1 again,qhyg,4620000001,access-x,refresh-x\n" +
		"crm-101,Company 101,qhyg,4620000101,access-101,refresh-101\n"
	srv.ResetRequestLog()
	rep, _, err = runOnce("july", "h-july", bulk.BytesInput("later.csv", bulk.FormatCSV, []byte(later)))
	require.NoError(t, err)
	byRef := map[string]bulk.ReportRow{}
	for _, row := range rep.rows {
		byRef[row.Ref] = row
	}
	assert.Equal(t, bulk.StatusDuplicate, byRef["crm-100"].Status, "a known tenant under a new ref is a duplicate")
	assert.Contains(t, byRef["crm-100"].Error, `"crm-1"`, "the report names the ref that holds the tenant")
	assert.Equal(t, bulk.StatusMigrated, byRef["crm-101"].Status)
	assert.Equal(t, 21, srv.CompanyCount())
	assert.Empty(t, srv.CompaniesWithTag(codat.RefTagKey, "crm-100"), "nothing is created for the duplicate")
	creates := 0
	for _, req := range srv.RequestLog() {
		if req.Method == "POST" && req.Path == "/companies" {
			creates++
		}
	}
	assert.Equal(t, 1, creates, "one company created by the later export: crm-101's")

	// No token is in the database.
	var dump string
	st, err := Open(ctx, dsn, Options{Run: "june", ReadOnly: true})
	require.NoError(t, err)
	defer st.Close()
	// Every table's every row, as text: the journal, the refs' records, the
	// tenant index and the runs.
	require.NoError(t, st.pool.QueryRow(ctx, `SELECT string_agg(v, '') FROM (
		SELECT record::text AS v FROM codat_migrate_journal
		UNION ALL SELECT concat_ws(' ', account, ref, run, holder, record::text) FROM codat_migrate_refs
		UNION ALL SELECT concat_ws(' ', account, tenant, ref) FROM codat_migrate_tenants
		UNION ALL SELECT concat_ws(' ', name, account, input_hash) FROM codat_migrate_runs) AS t`).Scan(&dump))
	assert.NotEmpty(t, dump)
	assert.NotContains(t, dump, srv.APIKey(), "the API key is never stored")
	for i := 1; i <= 20; i++ {
		assert.NotContains(t, dump, fmt.Sprintf("access-%d,", i))
		assert.NotContains(t, dump, fmt.Sprintf("refresh-%d\"", i))
	}
	assert.NotContains(t, dump, "refresh-")
	assert.NotContains(t, dump, "access-")
}

// One runner's spent daily quota stops every runner of the run until the
// reset: the next one starts no migration.
func TestQuotaStopIsShared(t *testing.T) {
	dsn := testDSN(t)
	ctx := context.Background()
	srv, client := fakeCodat(t)
	opts := Options{Run: "shared", InputHash: "h", APIKey: codat.Secret(srv.APIKey()), BaseURL: srv.URL()}
	first, err := Open(ctx, dsn, opts)
	require.NoError(t, err)
	defer first.Close()
	reset := time.Now().Add(3 * time.Hour).UTC().Truncate(time.Second)
	require.NoError(t, first.Append(ctx, bulk.Claim{}, &bulk.Record{Time: time.Now(), Event: "quota-stop", Reset: &reset}))

	second, err := Open(ctx, dsn, opts)
	require.NoError(t, err)
	defer second.Close()
	r := &bulk.Runner{Client: client, Store: second, Canary: -1, RequestsPerMinute: -1, SkipAccountCheck: true}
	rep := &rows{}
	_, err = r.Run(ctx, bulk.BytesInput("export.csv", bulk.FormatCSV, export(5, 1)), rep)
	var qe *bulk.QuotaError
	require.ErrorAs(t, err, &qe)
	assert.True(t, qe.Reset.Equal(reset), "the reset is the other runner's: %v", qe.Reset)
	assert.Equal(t, map[bulk.Status]int{bulk.StatusPendingQuota: 5}, rep.counts())
	assert.Zero(t, srv.CompanyCount(), "no migration started")
}

// Three runners on one store, started together on the same export: every
// ref gets one company and one connection, and each row is migrated by one
// runner; the others report it already migrated or in progress elsewhere.
func TestRunnersShareTheWork(t *testing.T) {
	dsn := testDSN(t)
	ctx := context.Background()
	srv := codattest.NewServer(codattest.WithSyncTiming(0, 0), codattest.WithLatency(2*time.Millisecond))
	defer srv.Close()
	const n = 30
	data := export(n, 1)
	reps := make([]*rows, 3)
	errs := make([]error, 3)
	var wg sync.WaitGroup
	for i := range reps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client, err := codat.NewClient(srv.APIKey(), codat.WithBaseURL(srv.URL()))
			if err != nil {
				errs[i] = err
				return
			}
			st, err := Open(ctx, dsn, Options{Run: "together", InputHash: "h", APIKey: codat.Secret(srv.APIKey()), BaseURL: srv.URL()})
			if err != nil {
				errs[i] = err
				return
			}
			defer st.Close()
			r := &bulk.Runner{Client: client, Store: st, Concurrency: 3, Canary: -1, RequestsPerMinute: -1}
			reps[i] = &rows{}
			_, errs[i] = r.Run(ctx, bulk.BytesInput("export.csv", bulk.FormatCSV, data), reps[i])
		}()
	}
	wg.Wait()
	migrated := map[string]int{}
	for i, rep := range reps {
		require.NoError(t, errs[i], "runner %d", i)
		require.Len(t, rep.rows, n, "runner %d reports every row", i)
		for _, row := range rep.rows {
			switch row.Status {
			case bulk.StatusMigrated:
				migrated[row.Ref]++
			case bulk.StatusAlreadyMigrated, bulk.StatusIncomplete:
			default:
				t.Errorf("runner %d: ref %s: %s %s", i, row.Ref, row.Status, row.Error)
			}
		}
	}
	assert.Len(t, migrated, n, "every ref migrated")
	for ref, k := range migrated {
		assert.Equal(t, 1, k, "ref %s migrated by one runner", ref)
	}
	assert.Equal(t, n, srv.CompanyCount(), "one company per ref")
	assert.Equal(t, n, srv.ConnectionCount(), "one connection per ref")
}

// A runner that stalls (its lease lapses) loses its refs to another runner;
// its next journal write is refused, which stops its migration before the
// next request, and every ref still ends with one company and one
// connection.
func TestStalledRunnerIsFenced(t *testing.T) {
	dsn := testDSN(t)
	ctx := context.Background()
	srv := codattest.NewServer(codattest.WithSyncTiming(0, 0), codattest.WithLatency(400*time.Millisecond), codattest.WithoutQuota())
	defer srv.Close()
	data := export(3, 1)
	opts := Options{Run: "stall", InputHash: "h", APIKey: codat.Secret(srv.APIKey()), BaseURL: srv.URL()}
	client := func() *codat.Client {
		c, err := codat.NewClient(srv.APIKey(), codat.WithBaseURL(srv.URL()))
		require.NoError(t, err)
		return c
	}

	stalled := opts
	stalled.Lease = 150 * time.Millisecond
	a, err := Open(ctx, dsn, stalled)
	require.NoError(t, err)
	defer a.Close()
	close(a.stop) // it never renews: as if its process were frozen between requests
	<-a.done
	a.stop = nil
	repA := &rows{}
	doneA := make(chan error, 1)
	go func() {
		r := &bulk.Runner{Client: client(), Store: a, Concurrency: 3, Canary: -1, RequestsPerMinute: -1, SkipAccountCheck: true}
		_, err := r.Run(ctx, bulk.BytesInput("export.csv", bulk.FormatCSV, data), repA)
		doneA <- err
	}()

	time.Sleep(250 * time.Millisecond) // A's first requests are in flight; its leases have lapsed
	b, err := Open(ctx, dsn, opts)
	require.NoError(t, err)
	defer b.Close()
	repB := &rows{}
	r := &bulk.Runner{Client: client(), Store: b, Concurrency: 3, Canary: -1, RequestsPerMinute: -1, SkipAccountCheck: true}
	_, err = r.Run(ctx, bulk.BytesInput("export.csv", bulk.FormatCSV, data), repB)
	require.NoError(t, err)
	require.NoError(t, <-doneA)

	fenced := 0
	for _, row := range repA.rows {
		if row.ErrorClass == "claimed" {
			fenced++
		}
	}
	assert.Positive(t, fenced, "the stalled runner was refused: %+v", repA.rows)
	migrated := map[string]bool{}
	for _, rep := range []*rows{repA, repB} {
		for _, row := range rep.rows {
			if row.Status == bulk.StatusMigrated || row.Status == bulk.StatusAlreadyMigrated {
				migrated[row.Ref] = true
			}
		}
	}
	assert.Len(t, migrated, 3, "every ref finished by one of them")
	assert.Equal(t, 3, srv.CompanyCount(), "one company per ref")
	assert.Equal(t, 3, srv.ConnectionCount(), "one connection per ref")
}

// A ref that a later run took over (an earlier run stopped before it
// finished it; a new export resumed it) stays in the earlier run's status,
// with its latest record.
func TestSummaryKeepsRefsALaterRunTookOver(t *testing.T) {
	dsn := testDSN(t)
	ctx := context.Background()
	june := open(t, dsn, "june", "h1", 0)
	c, err := june.Claim(ctx, "crm-1")
	require.NoError(t, err)
	require.NoError(t, june.Append(ctx, c, &bulk.Record{Ref: "crm-1", Step: "company", Steps: []codat.Step{codat.StepCompany}, Requests: 1}))
	require.NoError(t, june.Release(ctx, c))

	july := open(t, dsn, "july", "h2", 0)
	c, err = july.Claim(ctx, "crm-1")
	require.NoError(t, err)
	require.NoError(t, july.Append(ctx, c, &bulk.Record{Ref: "crm-1", Step: "done", Requests: 5,
		Steps: []codat.Step{codat.StepCompany, codat.StepConnection, codat.StepAuthorize, codat.StepSync, codat.StepDone}}))
	require.NoError(t, july.Release(ctx, c))

	for _, st := range []*Store{june, july} {
		sum, held, err := st.Summary(ctx)
		require.NoError(t, err)
		assert.Equal(t, 1, sum.Refs, st.Name())
		assert.Equal(t, map[bulk.Status]int{bulk.StatusMigrated: 1}, sum.Counts, "%s: the ref's latest record", st.Name())
		assert.Zero(t, held)
	}
}

// Runners counts the live runners into one account, of every run: the
// ones that share its per-minute limit. A read-only store is no runner, and
// a closed one stops counting at once.
func TestRunnersShareThePace(t *testing.T) {
	dsn := testDSN(t)
	ctx := context.Background()
	a := open(t, dsn, "june", "h1", 0)
	b := open(t, dsn, "july", "h2", 0)
	other, err := Open(ctx, dsn, Options{Run: "other", InputHash: "h", APIKey: "another-key", BaseURL: "https://api.codat.io"})
	require.NoError(t, err)
	defer other.Close()
	status, err := Open(ctx, dsn, Options{Run: "june", ReadOnly: true})
	require.NoError(t, err)
	defer status.Close()
	n, err := a.Runners(ctx)
	require.NoError(t, err)
	assert.Equal(t, 2, n, "june's and july's runners; not the other account's, nor status")
	require.NoError(t, b.Close())
	n, err = a.Runners(ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, n)
}

// A database at schema version 1 (no runners table) is brought to the
// current version by the first Open.
func TestOpenMigratesVersion1(t *testing.T) {
	dsn := testDSN(t)
	ctx := context.Background()
	s := open(t, dsn, "june", "h1", 0)
	_, err := s.pool.Exec(ctx, `DROP TABLE codat_migrate_runners; UPDATE codat_migrate_schema SET version = 1`)
	require.NoError(t, err)
	require.NoError(t, s.Close())

	s = open(t, dsn, "june", "h1", 0)
	var v int
	require.NoError(t, s.pool.QueryRow(ctx, `SELECT version FROM codat_migrate_schema`).Scan(&v))
	assert.Equal(t, schemaVersion, v)
	n, err := s.Runners(ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, n)
}
