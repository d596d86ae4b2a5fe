package bulk

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/codat-migrate/codat"
	"github.com/codat-migrate/codat/codattest"
	"github.com/codat-migrate/codat/integrations"
)

// End-to-end tests, on codattest and the real Client.Migrate, of what a rerun
// does with what an earlier run left: token replacements, rejected tokens,
// refs of another journal, expired tokens, failed canaries, rate limits and
// failures that created nothing.

const routePUTAuth = "PUT /companies/{companyId}/connections/{connectionId}/authorization"

// newLoggedE2E is newE2E with the fake's request log kept in full.
func newLoggedE2E(t *testing.T, opts ...codattest.Option) *e2e {
	return newE2E(t, append(opts, codattest.WithRequestLog(-1))...)
}

// requestsTo counts the logged requests on route, only those under
// /companies/{companyID} when companyID is set.
func (e *e2e) requestsTo(route, companyID string) int {
	n := 0
	for _, r := range e.srv.RequestLog() {
		if r.Route == route && (companyID == "" || strings.HasPrefix(r.Path, "/companies/"+companyID)) {
			n++
		}
	}
	return n
}

// only returns the one company tagged with ref and its one connection.
func (e *e2e) only(t *testing.T, ref string) (codattest.Company, codattest.Connection) {
	t.Helper()
	cos := e.srv.CompaniesWithTag(codat.RefTagKey, ref)
	require.Len(t, cos, 1, "companies tagged %s", ref)
	cns := e.srv.Connections(cos[0].ID)
	require.Len(t, cns, 1, "connections of %s", ref)
	return cos[0], cns[0]
}

// spy records every Migration the runner asks Client.Migrate for.
type spy struct {
	mu   sync.Mutex
	runs map[string][]codat.Migration
}

func (e *e2e) spy() *spy {
	s := &spy{runs: map[string][]codat.Migration{}}
	e.r.migrate = func(ctx context.Context, m codat.Migration) (*codat.MigrationResult, error) {
		s.mu.Lock()
		s.runs[m.Ref] = append(s.runs[m.Ref], m)
		s.mu.Unlock()
		return e.c.Migrate(ctx, m)
	}
	return s
}

func (s *spy) last(ref string) codat.Migration {
	s.mu.Lock()
	defer s.mu.Unlock()
	ms := s.runs[ref]
	if len(ms) == 0 {
		return codat.Migration{}
	}
	return ms[len(ms)-1]
}

// qboFingerprint is the fake's fingerprint of the body a QuickBooks row of
// csvRow's shape sends.
func qboFingerprint(t *testing.T, realm int, access, refresh string) string {
	t.Helper()
	a, err := testRegistry().FromRecord("qhyg", map[string]string{"realmId": strconv.Itoa(realm), "accessToken": access, "refreshToken": refresh})
	require.NoError(t, err)
	body, err := a.Body()
	require.NoError(t, err)
	return codattest.Fingerprint(body)
}

// withToken is csvRow with another access token.
func withToken(ref string, realm int, token string) string {
	return strings.Replace(csvRow(ref, realm), tokenOf(ref), token, 1)
}

func csvInput(rows ...string) Input {
	return BytesInput("in.csv", FormatCSV, []byte(csvHeader+strings.Join(rows, "")))
}

func TestE2ERelinkSendsTheNewTokenOnce(t *testing.T) {
	e := newLoggedE2E(t, codattest.WithoutQuota())
	e.r.Canary = -1
	_, err := e.r.Run(context.Background(), csvInput(csvRow("rl-a", 1), csvRow("rl-b", 2), csvRow("rl-c", 3)), &memReport{})
	require.NoError(t, err)

	// a and b come back with new tokens; c with its own.
	spy := e.spy()
	e.srv.ResetRequestLog()
	e.r.Relink = true
	newTok := map[string]string{"rl-a": "tok-rl-a-new-s3cr3t", "rl-b": "tok-rl-b-new-s3cr3t"}
	rep := &memReport{}
	_, err = e.r.Run(context.Background(), csvInput(withToken("rl-a", 1, newTok["rl-a"]), withToken("rl-b", 2, newTok["rl-b"]), csvRow("rl-c", 3)), rep)
	require.NoError(t, err)
	for i, ref := range []string{"rl-a", "rl-b"} {
		co, cn := e.only(t, ref)
		assert.Equal(t, 1, e.requestsTo(routePUTAuth, co.ID), "%s: exactly one token PUT", ref)
		assert.Equal(t, qboFingerprint(t, i+1, newTok[ref], "refresh-"+ref+"-s3cr3t"), cn.AuthFingerprint, "%s: the new token is installed", ref)
		assert.Equal(t, codattest.StatusLinked, cn.Status)
		assert.Equal(t, StatusMigrated, rep.byRef(ref)[0].Status)
		assert.True(t, spy.last(ref).Relink, ref)
	}
	co, _ := e.only(t, "rl-c")
	assert.Zero(t, e.requestsTo(routePUTAuth, co.ID), "an unchanged token is not sent")
	assert.Equal(t, StatusAlreadyMigrated, rep.byRef("rl-c")[0].Status)
	assert.Zero(t, e.requestsTo("POST /companies", ""), "no company is created again")
	requireNoSecret(t, "journal", readFile(t, e.r.JournalPath), newTok["rl-a"], newTok["rl-b"])
}

// cutAfterLastStart truncates the journal right after ref's last start line,
// as a crash just after writing it would leave it.
func cutAfterLastStart(t *testing.T, path, ref string) {
	t.Helper()
	b := readFile(t, path)
	end := -1
	dec := newLineDecoder(newCodecState())
	for off := len(journalHeader); off < len(b); {
		n := bytes.IndexByte(b[off:], '\n')
		require.GreaterOrEqual(t, n, 0)
		e, _, err := dec.decode(b[off:off+n+1], int64(off))
		require.NoError(t, err)
		if e.Ref == ref && e.Step == stepStart {
			end = off + n + 1
		}
		off += n + 1
	}
	require.Positive(t, end, "a start line of %s", ref)
	require.NoError(t, os.WriteFile(path, b[:end], 0o600))
}

func TestE2ERelinkIntentSurvivesACrash(t *testing.T) {
	for _, relinkAgain := range []bool{true, false} {
		t.Run(fmt.Sprintf("rerun with Relink %t", relinkAgain), func(t *testing.T) {
			e := newLoggedE2E(t, codattest.WithoutQuota())
			e.r.Canary = -1
			_, err := e.r.Run(context.Background(), csvInput(csvRow("rx", 1)), &memReport{})
			require.NoError(t, err)

			// The token replacement is cut short before its first request
			// leaves, and the process dies right after the start line.
			const fresh = "tok-rx-replacement-s3cr3t"
			in := csvInput(withToken("rx", 1, fresh))
			e.r.Relink = true
			ctx, cancel := context.WithCancel(context.Background())
			e.cancel.Store(&cancel)
			e.cancelAt.Store(e.sent.Load() + 1)
			_, err = e.r.Run(ctx, in, &memReport{})
			cancel()
			require.ErrorIs(t, err, context.Canceled)
			e.cancelAt.Store(0)
			cutAfterLastStart(t, e.r.JournalPath, "rx")
			lines := journalLines(t, e.r.JournalPath)
			last := lines[len(lines)-1]
			require.Equal(t, stepStart, last.Step)
			assert.True(t, last.Relink, "the start line records the intent")

			spy := e.spy()
			e.srv.ResetRequestLog()
			e.r.Relink = relinkAgain
			rep := &memReport{}
			_, err = e.r.Run(context.Background(), in, rep)
			require.NoError(t, err)
			co, cn := e.only(t, "rx")
			assert.True(t, spy.last("rx").Relink, "the resume sends the token")
			assert.Equal(t, 1, e.requestsTo(routePUTAuth, co.ID), "exactly one token PUT")
			assert.Equal(t, qboFingerprint(t, 1, fresh, "refresh-rx-s3cr3t"), cn.AuthFingerprint, "the new token is installed")
			assert.Equal(t, StatusMigrated, rep.byRef("rx")[0].Status)
		})
	}
}

func TestE2ENewTokenForARejectedOneIsSent(t *testing.T) {
	const rejected = "tok-rejected-by-codat"
	e := newLoggedE2E(t, codattest.WithoutQuota(), codattest.WithRejectedToken(rejected))
	e.r.Canary = -1
	rep := &memReport{}
	_, err := e.r.Run(context.Background(), csvInput(withToken("rj-a", 1, rejected), withToken("rj-b", 2, rejected)), rep)
	require.NoError(t, err)
	require.Equal(t, StatusTokenRejected, rep.byRef("rj-a")[0].Status)
	require.Equal(t, StatusTokenRejected, rep.byRef("rj-b")[0].Status)
	// Meanwhile the customer of b re-linked through the link URL.
	cob, cnb := e.only(t, "rj-b")
	require.NoError(t, e.srv.SetConnectionStatus(cob.ID, cnb.ID, codattest.StatusLinked))

	spy := e.spy()
	e.srv.ResetRequestLog()
	rep = &memReport{}
	_, err = e.r.Run(context.Background(), csvInput(withToken("rj-a", 1, "tok-rj-a-fresh-s3cr3t"), withToken("rj-b", 2, "tok-rj-b-fresh-s3cr3t")), rep)
	require.NoError(t, err)
	for i, ref := range []string{"rj-a", "rj-b"} {
		co, cn := e.only(t, ref)
		assert.True(t, spy.last(ref).Relink, ref)
		assert.Equal(t, 1, e.requestsTo(routePUTAuth, co.ID), "%s: exactly one token PUT", ref)
		assert.Equal(t, qboFingerprint(t, i+1, "tok-"+ref+"-fresh-s3cr3t", "refresh-"+ref+"-s3cr3t"), cn.AuthFingerprint, ref)
		assert.Equal(t, codattest.StatusLinked, cn.Status, ref)
		assert.Equal(t, StatusMigrated, rep.byRef(ref)[0].Status, ref)
	}
	assert.Zero(t, e.requestsTo("POST /companies", ""))
}

func TestE2EAccountCheckFindsRefsOfAnotherJournal(t *testing.T) {
	e := newLoggedE2E(t, codattest.WithoutQuota())
	e.r.Canary = -1
	e.r.Concurrency = 1
	// The first row's token PUT fails: its company and connection exist.
	require.NoError(t, e.srv.AddFault(codattest.Fault{Route: routePUTAuth, Kind: codattest.FaultBeforeCommit, Status: 400, Times: 1}))
	_, err := e.r.Run(context.Background(), csvInput(csvRow("ac-half", 1), csvRow("ac-1", 2), csvRow("ac-2", 3)), &memReport{})
	require.NoError(t, err)
	require.Len(t, e.companiesByRef(), 3)

	// The same refs under another journal (a new path, or the old one lost).
	e.r.JournalPath = t.TempDir() + "/other.journal"
	in := csvInput(csvRow("ac-half", 1), csvRow("ac-1", 2), csvRow("ac-2", 3), csvRow("ac-new", 4))
	p, err := e.r.Plan(context.Background(), in)
	require.NoError(t, err)
	assert.Equal(t, 3, p.InCodat)
	assert.Equal(t, 3, p.Resume)
	assert.Equal(t, 1, p.New)
	assert.Equal(t, 1, p.AccountCheckRequests)
	assert.Empty(t, p.AccountCheckError)

	e.srv.ResetRequestLog()
	rep := &memReport{}
	sum, err := e.r.Run(context.Background(), in, rep)
	require.NoError(t, err)
	assert.Equal(t, 1, sum.AccountCheckRequests, "one page of companies")
	assert.Equal(t, 1, e.requestsTo("POST /companies", ""), "a company is created for the new ref only")
	for ref, n := range e.companiesByRef() {
		assert.Equal(t, 1, n, "companies tagged %s", ref)
	}
	assert.Len(t, e.companiesByRef(), 4)
	assert.Equal(t, StatusAlreadyMigrated, rep.byRef("ac-1")[0].Status)
	assert.Equal(t, StatusAlreadyMigrated, rep.byRef("ac-2")[0].Status)
	assert.Equal(t, StatusMigrated, rep.byRef("ac-half")[0].Status, "continued on its company and connection")
	assert.Equal(t, StatusMigrated, rep.byRef("ac-new")[0].Status)
	_, cn := e.only(t, "ac-half")
	assert.Equal(t, codattest.StatusLinked, cn.Status)

	// Turned off, nothing is listed.
	e.r.SkipAccountCheck = true
	e.r.JournalPath = t.TempDir() + "/third.journal"
	p, err = e.r.Plan(context.Background(), in)
	require.NoError(t, err)
	assert.Zero(t, p.AccountCheckRequests)
	assert.Zero(t, p.InCodat)
	assert.Equal(t, 4, p.New)
}

// fakeJWT returns an unsigned JWT that expires at exp.
func fakeJWT(exp time.Time) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"RS256","typ":"JWT"}`)) + "." + enc([]byte(fmt.Sprintf(`{"exp":%d,"sub":"s3cr3t"}`, exp.Unix()))) + ".c2ln"
}

func TestE2EExpiredTokenResumesFromTheJournal(t *testing.T) {
	e := newLoggedE2E(t, codattest.WithoutQuota())
	var clock atomic.Pointer[time.Time]
	now := e.clk.Now()
	clock.Store(&now)
	reg, err := integrations.NewRegistry(integrations.WithClock(func() time.Time { return *clock.Load() }))
	require.NoError(t, err)
	e.r.Registry = reg
	e.r.Canary = -1
	e.r.Concurrency = 1
	// Shopify: the access token is the only credential, so once it expires
	// the row no longer validates.
	tok := fakeJWT(now.Add(time.Hour))
	row := func(ref string) string {
		return fmt.Sprintf("%s,Company %s,fztf,%s.myshopify.com,%s\n", ref, ref, ref, tok)
	}
	const header = "ref,company_name,platform,shop,accessToken\n"
	// The first migration's data/all is refused: it stops at step sync.
	require.NoError(t, e.srv.AddFault(codattest.Fault{Route: "POST /companies/{companyId}/data/all", Kind: codattest.FaultBeforeCommit, Status: 400, Times: 1}))
	rep := &memReport{}
	_, err = e.r.Run(context.Background(), BytesInput("in.csv", FormatCSV, []byte(header+row("ex-sync")+row("ex-done"))), rep)
	require.NoError(t, err)
	require.Equal(t, StatusFailed, rep.byRef("ex-sync")[0].Status)
	require.Equal(t, StatusMigrated, rep.byRef("ex-done")[0].Status)

	// Two hours later the token has expired.
	later := now.Add(2 * time.Hour)
	clock.Store(&later)
	e.srv.ResetRequestLog()
	rep = &memReport{}
	sum, err := e.r.Run(context.Background(), BytesInput("in.csv", FormatCSV, []byte(header+row("ex-sync")+row("ex-done")+row("ex-new"))), rep)
	require.NoError(t, err)
	done := rep.byRef("ex-done")[0]
	assert.Equal(t, StatusAlreadyMigrated, done.Status, "finished per the journal, whatever the token")
	assert.NotEmpty(t, done.CompanyID)
	resumed := rep.byRef("ex-sync")[0]
	assert.Equal(t, StatusMigrated, resumed.Status, "past the token step: resumed without it")
	co, _ := e.only(t, "ex-sync")
	assert.Equal(t, co.ID, resumed.CompanyID)
	assert.Equal(t, 1, e.requestsTo("POST /companies/{companyId}/data/all", co.ID), "its data/all is sent")
	assert.Zero(t, e.requestsTo(routePUTAuth, ""), "no token is sent")
	assert.Zero(t, e.requestsTo("POST /companies", ""))
	fresh := rep.byRef("ex-new")[0]
	assert.Equal(t, StatusInvalid, fresh.Status, "a new row still needs a valid token")
	assert.Contains(t, fresh.Error, "expired")
	assert.Equal(t, 1, sum.Count(StatusInvalid))
	requireNoSecret(t, "journal", readFile(t, e.r.JournalPath), tok)
}

// failSync makes every dataStatus the client reads show one data type in
// FetchError: a canary's first sync then ends with errors although its
// migration succeeds.
func failSync(req *http.Request, resp *http.Response) {
	if req.Method != http.MethodGet || !strings.HasSuffix(req.URL.Path, "/dataStatus") || resp.StatusCode != http.StatusOK {
		return
	}
	b, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	var st map[string]map[string]any
	if err == nil && json.Unmarshal(b, &st) == nil {
		for _, ds := range st {
			ds["currentStatus"] = "FetchError"
			break
		}
		b, _ = json.Marshal(st)
	}
	resp.Body = io.NopCloser(bytes.NewReader(b))
	resp.ContentLength = int64(len(b))
	resp.Header.Del("Content-Length")
}

func TestE2ECanaryFailureIsNotBypassedOnRerun(t *testing.T) {
	e := newLoggedE2E(t, codattest.WithoutQuota())
	spy := e.spy()
	hook := failSync
	e.onResponse.Store(&hook)
	in := csvInput(csvRow("cf-1", 1), csvRow("cf-2", 2), csvRow("cf-3", 3), csvRow("cf-4", 4))

	// The canary links, but its first sync ends in errors.
	rep := &memReport{}
	_, err := e.r.Run(context.Background(), in, rep)
	require.ErrorIs(t, err, ErrCanaryFailed)
	assert.Equal(t, "canary", rep.byRef("cf-1")[0].ErrorClass)
	for _, ref := range []string{"cf-2", "cf-3", "cf-4"} {
		assert.Equal(t, StatusNotStarted, rep.byRef(ref)[0].Status, ref)
	}
	js, err := ReadJournal(e.r.JournalPath)
	require.NoError(t, err)
	assert.True(t, js.CanaryFailed)
	assert.Equal(t, 1, js.Counts[StatusFailed])

	// A rerun does not count it as a passed canary: a new canary runs first
	// and, failing too, stops the run again.
	rep = &memReport{}
	_, err = e.r.Run(context.Background(), in, rep)
	require.ErrorIs(t, err, ErrCanaryFailed)
	first := rep.byRef("cf-1")[0]
	assert.Equal(t, StatusFailed, first.Status, "the failed canary is reported with its failure")
	assert.Equal(t, "canary", first.ErrorClass)
	assert.Contains(t, first.Error, "data types in error", "with the earlier failure")
	assert.Zero(t, first.Requests)
	assert.Equal(t, codat.SyncWait, spy.last("cf-2").Sync, "cf-2 is the new canary")
	assert.Equal(t, "canary", rep.byRef("cf-2")[0].ErrorClass)
	assert.Equal(t, StatusNotStarted, rep.byRef("cf-3")[0].Status)
	assert.Equal(t, StatusNotStarted, rep.byRef("cf-4")[0].Status)

	// With syncs healthy again, a new canary passes and opens the gate.
	e.onResponse.Store(nil)
	rep = &memReport{}
	_, err = e.r.Run(context.Background(), in, rep)
	require.NoError(t, err)
	assert.Equal(t, StatusFailed, rep.byRef("cf-1")[0].Status)
	assert.Equal(t, StatusFailed, rep.byRef("cf-2")[0].Status)
	assert.Equal(t, codat.SyncWait, spy.last("cf-3").Sync, "cf-3 is the canary of this run")
	assert.Equal(t, StatusMigrated, rep.byRef("cf-3")[0].Status)
	assert.Equal(t, codat.SyncQueue, spy.last("cf-4").Sync)
	assert.Equal(t, StatusMigrated, rep.byRef("cf-4")[0].Status)
	js, err = ReadJournal(e.r.JournalPath)
	require.NoError(t, err)
	assert.True(t, js.CanaryPassed)
	assert.False(t, js.CanaryFailed)
}

func TestE2EShortRateLimitPausesInsteadOfStoppingForTheDay(t *testing.T) {
	if time.Until(codat.NextQuotaReset(time.Now())) < 10*time.Minute {
		t.Skip("too close to 00:00 UTC: a 90 s Retry-After would reach the daily reset")
	}
	e := newLoggedE2E(t, codattest.WithQuota(codattest.Quota{Daily: 10000, PerMinute: -1, ConcurrentPerACC: -1}))
	e.r.Canary = -1
	e.r.Concurrency = 2
	// One 429 with Retry-After 90 s, while the daily quota has thousands left.
	require.NoError(t, e.srv.AddFault(codattest.Fault{Route: "POST /companies", Kind: codattest.FaultRateLimit, RetryAfter: 90 * time.Second, Times: 1}))
	start := e.clk.Now()
	rep := &memReport{}
	sum, err := e.r.Run(context.Background(), csvInput(csvRow("rate-1", 1), csvRow("rate-2", 2), csvRow("rate-3", 3), csvRow("rate-4", 4)), rep)
	require.NoError(t, err, "the run does not stop until midnight")
	assert.Equal(t, 4, sum.Count(StatusMigrated))
	waited := e.clk.Now().Sub(start)
	assert.GreaterOrEqual(t, waited, 90*time.Second, "it paused for the Retry-After")
	assert.Less(t, waited, 10*time.Minute, "and no longer")
	assert.Len(t, e.companiesByRef(), 4)
	for ref, n := range e.companiesByRef() {
		assert.Equal(t, 1, n, ref)
	}
}

func TestE2ENoLookUpAfterAFailureThatCreatedNothing(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fault codattest.Fault
		first Status
	}{
		{"a 400", codattest.Fault{Route: "POST /companies", Kind: codattest.FaultBeforeCommit, Status: 400, Times: 1}, StatusFailed},
		{"a 429 for hours", codattest.Fault{Route: "POST /companies", Kind: codattest.FaultRateLimit, RetryAfter: 3 * time.Hour, Times: 1}, StatusPendingQuota},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newLoggedE2E(t, codattest.WithoutQuota())
			e.r.Canary = -1
			e.r.Concurrency = 1
			require.NoError(t, e.srv.AddFault(tc.fault))
			in := csvInput(csvRow("nw-a", 1))
			rep := &memReport{}
			_, _ = e.r.Run(context.Background(), in, rep)
			require.Equal(t, tc.first, rep.byRef("nw-a")[0].Status)
			require.Zero(t, e.srv.CompanyCount())
			lines := journalLines(t, e.r.JournalPath)
			assert.True(t, lines[len(lines)-1].NoWrite || lines[len(lines)-2].NoWrite, "the journal says nothing was created")

			e.clk.Advance(4 * time.Hour)
			e.srv.ResetRequestLog()
			rep = &memReport{}
			sum, err := e.r.Run(context.Background(), in, rep)
			require.NoError(t, err)
			assert.Equal(t, StatusMigrated, rep.byRef("nw-a")[0].Status)
			assert.Equal(t, 4, rep.byRef("nw-a")[0].Requests, "the four requests, no look-up")
			assert.Zero(t, e.requestsTo("GET /companies", ""))
			assert.Zero(t, sum.AccountCheckRequests, "the journal knows the ref")
		})
	}
}

// Many 429s of a short limit (requests remain today) never end the run as
// if the daily quota were spent: every one pauses new starts and the
// migration is retried, however often it happens.
func TestE2EManyShortRateLimitsNeverStopTheRun(t *testing.T) {
	if time.Until(codat.NextQuotaReset(time.Now())) < 30*time.Minute {
		t.Skip("too close to 00:00 UTC: the pauses would reach the daily reset")
	}
	e := newLoggedE2E(t, codattest.WithQuota(codattest.Quota{Daily: 10000, PerMinute: -1, ConcurrentPerACC: -1}))
	e.r.Canary = -1
	e.r.Concurrency = 1
	// Retry-After 2 s is beyond the client's MaxWait (1 s): each 429 comes
	// back to the runner, twelve times in a row for the same migration.
	require.NoError(t, e.srv.AddFault(codattest.Fault{Route: "POST /companies", Kind: codattest.FaultRateLimit,
		RetryAfter: 2 * time.Second, Times: 12}))
	rep := &memReport{}
	sum, err := e.r.Run(context.Background(), csvInput(csvRow("short-1", 1), csvRow("short-2", 2), csvRow("short-3", 3)), rep)
	require.NoError(t, err, "a short limit never stops the run")
	var qe *QuotaError
	assert.False(t, errors.As(err, &qe))
	assert.Equal(t, 3, sum.Count(StatusMigrated))
	assert.Zero(t, sum.Count(StatusPendingQuota))
	for ref, n := range e.companiesByRef() {
		assert.Equal(t, 1, n, ref)
	}
	assert.Len(t, e.companiesByRef(), 3)
}

// 429s without the rate-limit headers Codat always sends are not known to
// be short: after a few pauses for the same migration the run stops as for
// the quota, resumably, instead of retrying for ever.
func TestE2EHeaderless429sStopAfterAFewPauses(t *testing.T) {
	e := newLoggedE2E(t, codattest.WithoutQuota())
	e.r.Canary = -1
	e.r.Concurrency = 1
	require.NoError(t, e.srv.AddFault(codattest.Fault{Route: "POST /companies", Kind: codattest.FaultRateLimit,
		RetryAfter: 2 * time.Second, Times: 1000}))
	rep := &memReport{}
	sum, err := e.r.Run(context.Background(), csvInput(csvRow("bare-1", 1), csvRow("bare-2", 2)), rep)
	var qe *QuotaError
	require.ErrorAs(t, err, &qe)
	assert.True(t, qe.NotDaily, "not reported as the daily quota")
	assert.Contains(t, qe.Error(), "not known to be the daily quota")
	assert.NotContains(t, qe.Error(), "daily request quota is spent")
	assert.Equal(t, 2, sum.Count(StatusPendingQuota))
	assert.LessOrEqual(t, e.requestsTo("POST /companies", ""), maxUnknownPauses+1, "one try per pause, then the stop")
	assert.Zero(t, e.srv.CompanyCount())
}
