package bulk

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/codat-migrate/codat"
	"github.com/codat-migrate/codat/integrations"
)

func testRegistry() *integrations.Registry {
	reg, err := integrations.NewRegistry()
	if err != nil {
		panic(err)
	}
	return reg
}

const csvHeader = "ref,company_name,platform,realmId,accessToken,refreshToken\n"

// tokenOf is the access token of ref in generated inputs; tests check that it
// appears in no report, journal or error.
func tokenOf(ref string) string { return "tok-" + ref + "-s3cr3t" }

// csvRow is a valid QuickBooks row for ref, with realm as its tenant.
func csvRow(ref string, realm int) string {
	return fmt.Sprintf("%s,Company %s,qhyg,%d,%s,refresh-%s-s3cr3t\n", ref, ref, realm, tokenOf(ref), ref)
}

// memReport collects report rows.
type memReport struct {
	mu     sync.Mutex
	rows   []ReportRow
	closed bool
}

func (m *memReport) Write(r ReportRow) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.rows = append(m.rows, r)
	return nil
}

func (m *memReport) Close() error { m.closed = true; return nil }

func (m *memReport) byLine() map[int]ReportRow {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[int]ReportRow{}
	for _, r := range m.rows {
		out[r.Line] = r
	}
	return out
}

func (m *memReport) byRef(ref string) []ReportRow {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []ReportRow
	for _, r := range m.rows {
		if r.Ref == ref {
			out = append(out, r)
		}
	}
	return out
}

// requireExactlyOnce checks that the report has one row per line in lines
// and no other.
func requireExactlyOnce(t *testing.T, rep *memReport, lines []int) {
	t.Helper()
	rep.mu.Lock()
	defer rep.mu.Unlock()
	seen := map[int]int{}
	for _, r := range rep.rows {
		seen[r.Line]++
	}
	for _, l := range lines {
		require.Equal(t, 1, seen[l], "line %d reported %d times", l, seen[l])
		delete(seen, l)
	}
	require.Empty(t, seen, "lines reported that are not input rows")
}

// requireNoSecret fails when any of the values appears in b.
func requireNoSecret(t *testing.T, what string, b []byte, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if bytes.Contains(b, []byte(s)) {
			t.Fatalf("%s contains a token", what)
		}
	}
}

// fakeClock is a settable clock whose Sleep advances it.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
	// slept records every Sleep.
	slept []time.Duration
	// onSleep, if set, is called after the clock moved.
	onSleep func(now time.Time)
}

func newFakeClock(t time.Time) *fakeClock { return &fakeClock{now: t} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.slept = append(c.slept, d)
	now, f := c.now, c.onSleep
	c.mu.Unlock()
	if f != nil {
		f(now)
	}
	return nil
}

// fakeCodat stands in for Client.Migrate in the runner's unit tests: it
// walks the steps, one request each, keeps one company per ref, and can
// reject tokens, fail steps and run out of quota.
type fakeCodat struct {
	mu        sync.Mutex
	clock     *fakeClock
	companies map[string]string // ref → company id
	created   map[string]int    // ref → companies created (must stay ≤ 1)
	sentFP    map[string]string // ref → access token last sent
	calls     int
	requests  int
	quota     int // requests left today; <0 unlimited
	daily     int // quota after a reset
	reset     time.Time
	reject    map[string]bool  // access tokens Codat rejects
	fail      map[string]error // ref → error at the connection step
	syncErr   bool             // SyncWait reports a data type in error
	hook      func(ref string) // called at every step, to cancel mid-run
	onMigrate func(m codat.Migration)
	resumes   int
}

func newFakeCodat(clk *fakeClock) *fakeCodat {
	return &fakeCodat{clock: clk, companies: map[string]string{}, created: map[string]int{}, sentFP: map[string]string{},
		quota: -1, reject: map[string]bool{}, fail: map[string]error{}}
}

func (f *fakeCodat) quotaSnapshot() codat.Quota {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.quota < 0 {
		return codat.Quota{}
	}
	f.rollLocked()
	return codat.Quota{Limit: f.daily, Remaining: f.quota, Reset: f.reset, Observed: f.clock.Now()}
}

func (f *fakeCodat) rollLocked() {
	if f.quota >= 0 && !f.clock.Now().Before(f.reset) {
		f.quota = f.daily
		f.reset = codat.NextQuotaReset(f.clock.Now())
	}
}

// request spends one request, or returns the quota error.
func (f *fakeCodat) request() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rollLocked()
	if f.quota == 0 {
		return &codat.APIError{StatusCode: 429, Message: "quota", RetryAfter: f.reset.Sub(f.clock.Now())}
	}
	if f.quota > 0 {
		f.quota--
	}
	f.requests++
	return nil
}

func (f *fakeCodat) migrate(ctx context.Context, m codat.Migration) (*codat.MigrationResult, error) {
	f.mu.Lock()
	f.calls++
	if m.Resume != nil {
		f.resumes++
	}
	onMigrate := f.onMigrate
	f.mu.Unlock()
	if onMigrate != nil {
		onMigrate(m)
	}
	res := &codat.MigrationResult{Ref: m.Ref}
	if m.Resume != nil {
		c := *m.Resume
		c.Steps = append([]codat.Step(nil), m.Resume.Steps...)
		res = &c
	}
	res.Requests = 0
	fail := func(step codat.Step, err error) (*codat.MigrationResult, error) {
		return res, &codat.MigrationError{Ref: m.Ref, Step: step, CompanyID: res.CompanyID, ConnectionID: res.ConnectionID, LinkURL: res.LinkURL, Err: err}
	}
	do := func(step codat.Step, fn func() error) error {
		if res.HasStep(step) {
			return nil
		}
		if f.hook != nil {
			f.hook(m.Ref)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := f.request(); err != nil {
			return err
		}
		res.Requests++
		if err := fn(); err != nil {
			return err
		}
		res.Steps = append(res.Steps, step)
		if m.OnStep != nil {
			c := *res
			c.Steps = append([]codat.Step(nil), res.Steps...)
			if err := m.OnStep(ctx, c); err != nil {
				return fmt.Errorf("%w: %w", codat.ErrOnStep, err)
			}
		}
		return nil
	}
	steps := []struct {
		step codat.Step
		fn   func() error
	}{
		{codat.StepCompany, func() error {
			f.mu.Lock()
			defer f.mu.Unlock()
			if id, ok := f.companies[m.Ref]; ok && m.Resume != nil {
				res.CompanyID = id // found by tag
				return nil
			}
			f.created[m.Ref]++
			id := fmt.Sprintf("co-%s-%d", m.Ref, f.created[m.Ref])
			f.companies[m.Ref] = id
			res.CompanyID = id
			return nil
		}},
		{codat.StepConnection, func() error {
			f.mu.Lock()
			defer f.mu.Unlock()
			if err := f.fail[m.Ref]; err != nil {
				return err
			}
			res.ConnectionID, res.Status = "cn-"+m.Ref, codat.StatusPendingAuth
			res.LinkURL = "https://link.example/" + m.Ref
			return nil
		}},
		{codat.StepAuthorize, func() error {
			body, _ := m.Auth.Body()
			f.mu.Lock()
			defer f.mu.Unlock()
			f.sentFP[m.Ref] = body["accessToken"]
			if f.reject[body["accessToken"]] {
				res.Status = codat.StatusDeauthorized
				return codat.ErrTokenRejected
			}
			res.Status = codat.StatusLinked
			return nil
		}},
	}
	for _, s := range steps {
		if err := do(s.step, s.fn); err != nil {
			return fail(s.step, err)
		}
	}
	if !res.HasStep(codat.StepVerify) {
		res.Steps = append(res.Steps, codat.StepVerify)
	}
	if m.Sync != codat.SyncNone {
		if err := do(codat.StepSync, func() error { return nil }); err != nil {
			return fail(codat.StepSync, err)
		}
	}
	if m.Sync == codat.SyncWait {
		if err := do(codat.StepWait, func() error {
			if f.syncErr {
				res.SyncErrors = []string{"invoices"}
			}
			return nil
		}); err != nil {
			return fail(codat.StepWait, err)
		}
	}
	res.Steps = append(res.Steps, codat.StepDone)
	if m.OnStep != nil {
		if err := m.OnStep(ctx, *res); err != nil {
			return res, &codat.MigrationError{Ref: m.Ref, Step: codat.StepDone, Err: fmt.Errorf("%w: %w", codat.ErrOnStep, err)}
		}
	}
	return res, nil
}

// testRunner is a Runner over f with the fake clock.
func testRunner(t *testing.T, f *fakeCodat, clk *fakeClock) *Runner {
	return &Runner{
		Registry:          testRegistry(),
		JournalPath:       t.TempDir() + "/journal.jsonl",
		RequestsPerMinute: -1,
		now:               clk.Now,
		sleep:             clk.Sleep,
		migrate:           f.migrate,
		quota:             f.quotaSnapshot,
	}
}

// journalLines decodes the journal's records (the header line apart): each
// line as the whole Record it stands for.
func journalLines(t *testing.T, path string) []Record {
	t.Helper()
	b := readFile(t, path)
	require.True(t, strings.HasPrefix(string(b), journalHeader), "the journal starts with its header")
	dec := newLineDecoder(newCodecState())
	var out []Record
	for off := len(journalHeader); off < len(b); {
		n := bytes.IndexByte(b[off:], '\n')
		require.GreaterOrEqual(t, n, 0, "every line ends with a newline")
		e, _, err := dec.decode(b[off:off+n+1], int64(off))
		require.NoError(t, err, string(b[off:off+n]))
		out = append(out, *e)
		off += n + 1
	}
	return out
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return b
}
