package bulk

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/codat-migrate/codat"
	"github.com/codat-migrate/codat/codattest"
)

// e2e is a codattest server, a client on it and a Runner over both.
type e2e struct {
	srv *codattest.Server
	clk *codattest.FakeClock
	c   *codat.Client
	r   *Runner
	// sent counts HTTP requests; cancelAt, when set, cancels cancel at that count.
	sent     atomic.Int64
	cancelAt atomic.Int64
	cancel   atomic.Pointer[context.CancelFunc]
	// onResponse, when set, may change a response before the client sees it.
	onResponse atomic.Pointer[func(*http.Request, *http.Response)]
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func newE2E(t *testing.T, opts ...codattest.Option) *e2e {
	t.Helper()
	// The fake clock starts at the real time, so that the client's quota
	// arithmetic (Retry-After from the time a response arrived) and the
	// server's (its clock) agree.
	clk := codattest.NewFakeClock(time.Now().UTC().Truncate(time.Second))
	opts = append([]codattest.Option{codattest.WithClock(clk), codattest.WithSeed(7), codattest.WithSyncTiming(0, 0),
		codattest.WithRequestLog(0)}, opts...)
	srv := codattest.NewServer(opts...)
	t.Cleanup(srv.Close)
	e := &e2e{srv: srv, clk: clk}
	hc := &http.Client{Timeout: 10 * time.Second, Transport: roundTripper(func(req *http.Request) (*http.Response, error) {
		if n := e.sent.Add(1); n == e.cancelAt.Load() {
			if c := e.cancel.Load(); c != nil {
				(*c)()
			}
		}
		resp, err := http.DefaultTransport.RoundTrip(req)
		if f := e.onResponse.Load(); f != nil && err == nil {
			(*f)(req, resp)
		}
		return resp, err
	})}
	c, err := codat.NewClient(srv.APIKey(), codat.WithBaseURL(srv.URL()), codat.WithHTTPClient(hc),
		codat.WithRetryPolicy(codat.RetryPolicy{MaxAttempts: 3, MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond, MaxWait: time.Second}))
	require.NoError(t, err)
	e.c = c
	e.r = &Runner{
		Client:            c,
		Registry:          testRegistry(),
		JournalPath:       t.TempDir() + "/journal.jsonl",
		RequestsPerMinute: -1,
		WaitInterval:      5 * time.Millisecond,
		now:               clk.Now,
		sleep: func(ctx context.Context, d time.Duration) error {
			clk.Advance(d)
			return ctx.Err()
		},
	}
	return e
}

// companiesByRef counts the fake's companies per ref tag.
func (e *e2e) companiesByRef() map[string]int {
	out := map[string]int{}
	for _, co := range e.srv.Companies() {
		out[co.Tags[codat.RefTagKey]]++
	}
	return out
}

// bigInput builds n rows: mostly valid, with invalid rows, exact repeats,
// tenant conflicts and tokens Codat rejects. It returns the input, the refs
// that must end with exactly one company, and the refs that must have none.
func bigInput(n int, rejected string) (data string, migrate, none map[string]bool, lines []int) {
	migrate, none = map[string]bool{}, map[string]bool{}
	var b strings.Builder
	b.WriteString(csvHeader)
	line := 1
	add := func(s string) {
		b.WriteString(s)
		line++
		lines = append(lines, line)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; line-1 < n; i++ {
		ref := fmt.Sprintf("big-%04d", i)
		switch k := rng.IntN(100); {
		case k < 4: // invalid: no refresh token
			add(fmt.Sprintf("%s,Company %s,qhyg,%d,%s,\n", ref, ref, 10000+i, tokenOf(ref)))
			none[ref] = true
		case k < 6: // invalid: a realm that is not digits
			add(fmt.Sprintf("%s,Company %s,qhyg,x%d,%s,r\n", ref, ref, i, tokenOf(ref)))
			none[ref] = true
		case k < 9: // an exact repeat: migrated once
			add(csvRow(ref, 10000+i))
			add(csvRow(ref, 10000+i))
			migrate[ref] = true
		case k < 11: // one tenant under two refs: neither
			add(csvRow(ref, 10000+i))
			add(csvRow(ref+"-twin", 10000+i))
			none[ref], none[ref+"-twin"] = true, true
		case k < 13: // a token Codat rejects: the company and connection exist
			add(strings.Replace(csvRow(ref, 10000+i), tokenOf(ref), rejected, 1))
			migrate[ref] = true
		default:
			add(csvRow(ref, 10000+i))
			migrate[ref] = true
		}
	}
	return b.String(), migrate, none, lines
}

func TestE2EThousandRowsWithFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end run of 1,000 rows")
	}
	const rejected = "tok-rejected-by-codat"
	e := newE2E(t, codattest.WithoutQuota(), codattest.WithRejectedToken(rejected))
	for _, f := range []codattest.Fault{
		{Route: "POST /companies", Kind: codattest.FaultAfterCommit, Status: 500, Rate: 0.03},
		{Route: "POST /companies", Kind: codattest.FaultBeforeCommit, Status: 503, Rate: 0.02},
		{Route: "POST /companies/{companyId}/connections", Kind: codattest.FaultDropAfterCommit, Rate: 0.03},
		{Route: "PUT /companies/{companyId}/connections/{connectionId}/authorization", Kind: codattest.FaultAfterCommit, Status: 502, Rate: 0.03},
		{Route: "POST /companies/{companyId}/data/all", Kind: codattest.FaultBeforeCommit, Status: 500, Rate: 0.03},
	} {
		require.NoError(t, e.srv.AddFault(f))
	}
	data, migrate, none, lines := bigInput(1000, rejected)
	in := BytesInput("big.csv", FormatCSV, []byte(data))
	e.r.Concurrency = 6
	e.r.MaxConsecutiveFailures = -1

	var last *Summary
	for run := 1; run <= 6; run++ {
		if run == 4 {
			e.srv.ClearFaults()
		}
		rep := &memReport{}
		sum, err := e.r.Run(context.Background(), in, rep)
		require.NoError(t, err, "run %d", run)
		requireExactlyOnce(t, rep, lines)
		last = sum
		resumable := 0
		for st, n := range sum.Counts {
			if st.Resumable() {
				resumable += n
			}
		}
		t.Logf("run %d: %v, %d requests", run, sum.Counts, sum.Requests)
		if resumable == 0 {
			break
		}
	}
	require.NotNil(t, last)
	for st := range last.Counts {
		assert.False(t, st.Resumable(), "after the reruns nothing is left to resume: %v", last.Counts)
	}
	assert.Equal(t, 1000, last.Rows)

	byRef := e.companiesByRef()
	for ref := range migrate {
		assert.Equal(t, 1, byRef[ref], "ref %s", ref)
	}
	for ref := range none {
		assert.Zero(t, byRef[ref], "ref %s", ref)
	}
	assert.Len(t, byRef, len(migrate), "no company without a valid ref")
	journal := readFile(t, e.r.JournalPath)
	requireNoSecret(t, "journal", journal, rejected, "-s3cr3t")
}

func TestE2ECancelledAndResumed(t *testing.T) {
	e := newE2E(t, codattest.WithoutQuota())
	var b strings.Builder
	b.WriteString(csvHeader)
	const n = 120
	lines := make([]int, n)
	for i := range n {
		b.WriteString(csvRow(fmt.Sprintf("cx-%03d", i), 5000+i))
		lines[i] = i + 2
	}
	in := BytesInput("in.csv", FormatCSV, []byte(b.String()))
	e.r.Concurrency = 4
	// A cancel can cut a token PUT off in flight; the next run comes after
	// the window in which that PUT might still be running.
	e.r.SettleWindow = time.Nanosecond
	rng := rand.New(rand.NewPCG(3, 4))
	var err error
	runs := 0
	for runs = 1; runs <= 40; runs++ {
		ctx, cancel := context.WithCancel(context.Background())
		e.cancel.Store(&cancel)
		e.cancelAt.Store(e.sent.Load() + 1 + int64(rng.IntN(60)))
		rep := &memReport{}
		_, err = e.r.Run(ctx, in, rep)
		cancel()
		requireExactlyOnce(t, rep, lines)
		if err == nil {
			break
		}
		require.ErrorIs(t, err, context.Canceled)
	}
	require.NoError(t, err, "the run finished after %d tries", runs)
	assert.Greater(t, runs, 2, "the run was interrupted several times")
	byRef := e.companiesByRef()
	assert.Len(t, byRef, n)
	for ref, c := range byRef {
		assert.Equal(t, 1, c, ref)
	}
	for _, cn := range e.srv.AllConnections() {
		assert.Equal(t, "Linked", string(cn.Status))
	}
	assert.Equal(t, n, e.srv.ConnectionCount())

	// One more run: everything is already migrated, nothing is sent.
	before := e.sent.Load()
	rep := &memReport{}
	sum, err := e.r.Run(context.Background(), in, rep)
	require.NoError(t, err)
	assert.Equal(t, n, sum.Count(StatusAlreadyMigrated))
	assert.Equal(t, before, e.sent.Load())
}

func TestE2EQuotaExhaustion(t *testing.T) {
	rows := func(n int) (Input, []int) {
		var b strings.Builder
		b.WriteString(csvHeader)
		lines := make([]int, n)
		for i := range n {
			b.WriteString(csvRow(fmt.Sprintf("qx-%03d", i), 7000+i))
			lines[i] = i + 2
		}
		return BytesInput("in.csv", FormatCSV, []byte(b.String())), lines
	}
	quota := codattest.Quota{Daily: 100, PerMinute: -1, ConcurrentPerACC: -1}

	t.Run("stops resumably and finishes after midnight", func(t *testing.T) {
		e := newE2E(t, codattest.WithQuota(quota))
		in, lines := rows(60)
		rep := &memReport{}
		sum, err := e.r.Run(context.Background(), in, rep)
		var qe *QuotaError
		require.ErrorAs(t, err, &qe)
		requireExactlyOnce(t, rep, lines)
		midnight := codat.NextQuotaReset(e.clk.Now())
		assert.WithinDuration(t, midnight, qe.Reset, 2*time.Second)
		migrated := sum.Count(StatusMigrated)
		assert.Positive(t, migrated)
		assert.Less(t, migrated, 60)
		assert.Equal(t, 60-migrated, sum.Count(StatusPendingQuota))
		assert.LessOrEqual(t, e.srv.QuotaStatus().Used, 100)

		// After midnight the quota is 100 × (1 + ACC): enough for the rest.
		e.clk.Set(midnight.Add(time.Minute))
		rep = &memReport{}
		sum, err = e.r.Run(context.Background(), in, rep)
		require.NoError(t, err)
		requireExactlyOnce(t, rep, lines)
		assert.Equal(t, migrated, sum.Count(StatusAlreadyMigrated))
		assert.Equal(t, 60-migrated, sum.Count(StatusMigrated))
		byRef := e.companiesByRef()
		assert.Len(t, byRef, 60)
		for ref, c := range byRef {
			assert.Equal(t, 1, c, ref)
		}
	})

	t.Run("waits for the reset when asked", func(t *testing.T) {
		e := newE2E(t, codattest.WithQuota(quota))
		e.r.WaitForQuota = true
		in, lines := rows(60)
		rep := &memReport{}
		start := e.clk.Now()
		sum, err := e.r.Run(context.Background(), in, rep)
		require.NoError(t, err)
		requireExactlyOnce(t, rep, lines)
		assert.Equal(t, 60, sum.Count(StatusMigrated))
		assert.True(t, e.clk.Now().After(codat.NextQuotaReset(start)), "the fake clock passed midnight")
		assert.Len(t, e.companiesByRef(), 60)
	})
}

func TestE2EPlanReadsQuota(t *testing.T) {
	e := newE2E(t, codattest.WithQuota(codattest.Quota{Daily: 1000, PerMinute: -1, InitialACC: 2}))
	in := BytesInput("in.csv", FormatCSV, []byte(csvHeader+csvRow("p1", 1)+csvRow("p2", 2)))
	p, err := e.r.Plan(context.Background(), in)
	require.NoError(t, err)
	assert.Empty(t, p.QuotaError)
	assert.Equal(t, 3000, p.Quota.Limit)
	assert.Equal(t, 2999, p.Quota.Remaining, "Plan sends one request")
	assert.Equal(t, 2, p.New)
	assert.Equal(t, 1, p.Canary)
	require.Len(t, p.Estimate.Days, 1)
	assert.Equal(t, 2, p.Estimate.Days[0].Companies)
	assert.Equal(t, 2, p.Estimate.Days[0].ACC)
	assert.Zero(t, e.srv.CompanyCount())
}

func TestE2EJSONLAndJournalSteps(t *testing.T) {
	e := newE2E(t, codattest.WithoutQuota())
	e.r.Canary = -1
	data := `{"ref":"js-1","company":{"name":"Acme","description":"from JSONL","tags":{"region":"eu"}},"platform":"QuickBooks Online","authorization":{"realm_id":"4620816365","access_token":"tok-js-1-s3cr3t","refresh_token":"rt-js-1-s3cr3t"}}` + "\n" +
		`{"ref":"js-2","company":{"name":"Beta"},"platform":"qhyg","authorization":{"realmId":4620816366}}` + "\n"
	rep := &memReport{}
	sum, err := e.r.Run(context.Background(), BytesInput("in.jsonl", FormatJSONL, []byte(data)), rep)
	require.NoError(t, err)
	assert.Equal(t, 1, sum.Count(StatusMigrated))
	assert.Equal(t, StatusInvalid, rep.byLine()[2].Status)
	assert.Equal(t, 4, rep.byLine()[1].Requests, "the happy path is four requests")

	cos := e.srv.CompaniesWithTag(codat.RefTagKey, "js-1")
	require.Len(t, cos, 1)
	assert.Equal(t, "from JSONL", cos[0].Description)
	assert.Equal(t, "eu", cos[0].Tags["region"])

	var steps []string
	for _, l := range journalLines(t, e.r.JournalPath) {
		if l.Ref == "js-1" {
			steps = append(steps, l.Step)
			assert.Len(t, l.Fingerprint, 12)
			if l.Step == stepState {
				require.NotNil(t, l.TokenSend, "the state line before the token PUT is its send intent")
				assert.False(t, l.TokenSend.At.IsZero())
				assert.Len(t, l.TokenSend.Fingerprint, 12)
			}
			if l.Step == "authorize" {
				assert.Nil(t, l.TokenSend, "Codat's answer settles the send")
			}
		}
	}
	assert.Equal(t, []string{"start", "company", "connection", stepState, "authorize", "verify", "sync", "done"}, steps,
		"one journal line per step transition, and the token PUT's send intent before it leaves")
	requireNoSecret(t, "journal", readFile(t, e.r.JournalPath), "tok-js-1-s3cr3t", "rt-js-1-s3cr3t")
}

// A server that says its quota resets in the year 9999, or asks to retry in
// ten years, is not believed: the run stops until the next 00:00 UTC at the
// latest, and with WaitForQuota sleeps no longer than that.
func TestE2EAbsurdResetIsDistrusted(t *testing.T) {
	quota := codattest.Quota{Daily: 100, PerMinute: -1, ConcurrentPerACC: -1}
	absurd := func(_ *http.Request, resp *http.Response) {
		if resp.Header.Get("X-Rate-Limit-Reset") != "" {
			resp.Header.Set("X-Rate-Limit-Reset", "9999-12-31T23:59:59Z")
		}
		if resp.StatusCode == http.StatusTooManyRequests {
			resp.Header.Set("Retry-After", strconv.Itoa(10*365*24*3600))
		}
	}
	var b strings.Builder
	b.WriteString(csvHeader)
	for i := range 40 {
		b.WriteString(csvRow(fmt.Sprintf("ab-%03d", i), 8000+i))
	}
	in := BytesInput("in.csv", FormatCSV, []byte(b.String()))
	for _, wait := range []bool{false, true} {
		t.Run(fmt.Sprintf("wait=%t", wait), func(t *testing.T) {
			e := newE2E(t, codattest.WithQuota(quota))
			e.onResponse.Store(&absurd)
			e.r.WaitForQuota = wait
			start := e.clk.Now()
			sum, err := e.r.Run(context.Background(), in, &memReport{})
			if !wait {
				var qe *QuotaError
				require.ErrorAs(t, err, &qe)
				assert.False(t, qe.Reset.Before(start), "the reset is ahead")
				assert.False(t, qe.NotDaily, "X-Rate-Limit-Remaining: 0 is the daily quota")
				assert.LessOrEqual(t, qe.Reset.Sub(start), codat.MaxResetWait, "not in the year 9999: %s", qe.Reset)
				assert.Positive(t, sum.Count(StatusPendingQuota))
				return
			}
			require.NoError(t, err)
			assert.Equal(t, 40, sum.Count(StatusMigrated))
			assert.Less(t, e.clk.Now().Sub(start), codat.MaxResetWait+time.Hour, "slept until a reset within a day, not for years")
		})
	}
}

// The same tenant under a new ref in a later export, with another journal:
// the account check finds the tenant's tag on the company of the first
// export's ref, and the row is reported duplicate with nothing sent for it.
func TestE2ETenantAcrossExports(t *testing.T) {
	e := newE2E(t)
	e.r.Canary = -1
	first := csvHeader + csvRow("crm-1", 4620000001) + csvRow("crm-2", 4620000002)
	_, err := e.r.Run(context.Background(), BytesInput("june.csv", FormatCSV, []byte(first)), &memReport{})
	require.NoError(t, err)
	require.Len(t, e.srv.CompaniesWithTag(codat.TenantTagKey, codat.TenantTag("qhyg", "4620000001")), 1,
		"the company carries its tenant's tag")

	// A new export, a new journal: crm-100 is crm-1's QuickBooks realm.
	e.r.JournalPath = t.TempDir() + "/july.journal"
	later := csvHeader + csvRow("crm-100", 4620000001) + csvRow("crm-3", 4620000003)
	rep := &memReport{}
	_, err = e.r.Run(context.Background(), BytesInput("july.csv", FormatCSV, []byte(later)), rep)
	require.NoError(t, err)
	dup := rep.byRef("crm-100")
	require.Len(t, dup, 1)
	assert.Equal(t, StatusDuplicate, dup[0].Status)
	assert.Contains(t, dup[0].Error, `"crm-1"`, "the report names the ref that holds the tenant in Codat")
	assert.Equal(t, StatusMigrated, rep.byRef("crm-3")[0].Status)
	assert.Empty(t, e.srv.CompaniesWithTag(codat.RefTagKey, "crm-100"), "no company for the duplicate")
	assert.Equal(t, 3, e.srv.CompanyCount(), "one company created by the later export: crm-3's")
	assert.Equal(t, 3, e.srv.ConnectionCount())
}
