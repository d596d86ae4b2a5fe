package bulk

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/codat-migrate/codat"
)

// mixedInput has every kind of row; lines are noted beside each.
func mixedInput() (string, map[int]Status) {
	var b strings.Builder
	b.WriteString(csvHeader)                                                 // 1
	b.WriteString(csvRow("r1", 101))                                         // 2 migrated (canary)
	b.WriteString(csvRow("r2", 102))                                         // 3 migrated
	b.WriteString("r3,Company r3,qhyg,103,,refresh-r3\n")                    // 4 invalid: no access token
	b.WriteString(csvRow("r2", 102))                                         // 5 duplicate: exact repeat of line 3
	b.WriteString(csvRow("r4", 104))                                         // 6 duplicate: r4 conflicts with line 7
	b.WriteString(strings.Replace(csvRow("r4", 104), "tok-r4", "tok-X4", 1)) // 7 duplicate
	b.WriteString(csvRow("r5", 105))                                         // 8 duplicate: tenant 105 also under r6
	b.WriteString(csvRow("r6", 105))                                         // 9 duplicate
	b.WriteString("r7,Company r7,nosuchplatform,1,tok-r7-s3cr3t,x\n")        // 10 invalid
	b.WriteString("r8,\"broken\n")                                           // 11 invalid (unterminated quote to EOF)
	return b.String(), map[int]Status{2: StatusMigrated, 3: StatusMigrated, 4: StatusInvalid, 5: StatusDuplicate,
		6: StatusDuplicate, 7: StatusDuplicate, 8: StatusDuplicate, 9: StatusDuplicate, 10: StatusInvalid, 11: StatusInvalid}
}

func statusesOf(rep *memReport) map[int]Status {
	out := map[int]Status{}
	for l, r := range rep.byLine() {
		out[l] = r.Status
	}
	return out
}

func TestRunMixedInput(t *testing.T) {
	clk := newFakeClock(t0)
	f := newFakeCodat(clk)
	r := testRunner(t, f, clk)
	data, want := mixedInput()
	in := BytesInput("in.csv", FormatCSV, []byte(data))
	rep := &memReport{}
	sum, err := r.Run(context.Background(), in, rep)
	require.NoError(t, err)
	assert.Equal(t, want, statusesOf(rep))
	requireExactlyOnce(t, rep, []int{2, 3, 4, 5, 6, 7, 8, 9, 10, 11})
	assert.Equal(t, 10, sum.Rows)
	assert.Equal(t, 2, sum.Count(StatusMigrated))
	assert.Equal(t, 5, sum.Count(StatusDuplicate))
	assert.Equal(t, 3, sum.Count(StatusInvalid))
	assert.Equal(t, map[string]int{"r1": 1, "r2": 1}, f.created, "one company per valid ref, none for duplicates")
	assert.Equal(t, 9, sum.Requests, "canary: 5 requests (company, connection, authorize, sync, wait); then 4")

	rows := rep.byLine()
	assert.Equal(t, "co-r1-1", rows[2].CompanyID)
	assert.Equal(t, "cn-r1", rows[2].ConnectionID)
	assert.Contains(t, rows[5].Error, "repeats line 3")
	assert.Contains(t, rows[6].Error, "line 7")
	assert.Contains(t, rows[7].Error, "line 6")
	assert.Contains(t, rows[9].Error, "line 8")
	assert.Contains(t, rows[4].Error, "accessToken")

	journal := readFile(t, r.JournalPath)
	var report strings.Builder
	for _, row := range rep.rows {
		fmt.Fprintf(&report, "%+v\n", row)
	}
	for _, ref := range []string{"r1", "r2", "r3", "r4", "X4", "r5", "r6", "r7"} {
		requireNoSecret(t, "journal", journal, tokenOf(ref), "refresh-"+ref+"-s3cr3t")
		requireNoSecret(t, "report", []byte(report.String()), tokenOf(ref), "refresh-"+ref+"-s3cr3t")
	}

	// A rerun with the same journal sends nothing.
	calls := f.calls
	rep2 := &memReport{}
	sum2, err := r.Run(context.Background(), in, rep2)
	require.NoError(t, err)
	assert.Equal(t, calls, f.calls, "finished refs are skipped")
	assert.Equal(t, StatusAlreadyMigrated, rep2.byLine()[2].Status)
	assert.Equal(t, StatusAlreadyMigrated, rep2.byLine()[3].Status)
	assert.Equal(t, "co-r1-1", rep2.byLine()[2].CompanyID)
	assert.Zero(t, sum2.Requests)
}

func TestRunRequiresJournalAndClient(t *testing.T) {
	in := BytesInput("in.csv", FormatCSV, []byte(csvHeader+csvRow("a", 1)))
	_, err := (&Runner{JournalPath: t.TempDir() + "/j"}).Run(context.Background(), in, nil)
	assert.ErrorContains(t, err, "Client is nil")
	clk := newFakeClock(t0)
	r := testRunner(t, newFakeCodat(clk), clk)
	r.JournalPath = ""
	_, err = r.Run(context.Background(), in, nil)
	assert.ErrorContains(t, err, "JournalPath")
}

func TestRunBadInputSendsNothing(t *testing.T) {
	clk := newFakeClock(t0)
	f := newFakeCodat(clk)
	r := testRunner(t, f, clk)
	_, err := r.Run(context.Background(), BytesInput("in.csv", FormatCSV, []byte("ref,platform\n")), &memReport{})
	require.Error(t, err)
	assert.Zero(t, f.calls)
}

func TestRunJournalLockedSendsNothing(t *testing.T) {
	clk := newFakeClock(t0)
	f := newFakeCodat(clk)
	r := testRunner(t, f, clk)
	j, err := openJournal(r.JournalPath)
	require.NoError(t, err)
	defer j.close()
	_, err = r.Run(context.Background(), BytesInput("in.csv", FormatCSV, []byte(csvHeader+csvRow("a", 1))), &memReport{})
	require.ErrorIs(t, err, ErrJournalLocked)
	assert.Zero(t, f.calls)
}

func TestRunFingerprintChange(t *testing.T) {
	clk := newFakeClock(t0)
	f := newFakeCodat(clk)
	r := testRunner(t, f, clk)
	r.Canary = -1
	_, err := r.Run(context.Background(), BytesInput("in.csv", FormatCSV, []byte(csvHeader+csvRow("a", 1))), &memReport{})
	require.NoError(t, err)

	// The same ref with a new token: reported, not sent.
	changed := csvHeader + strings.Replace(csvRow("a", 1), tokenOf("a"), "tok-new-token-value", 1)
	in := BytesInput("in.csv", FormatCSV, []byte(changed))
	rep := &memReport{}
	calls := f.calls
	_, err = r.Run(context.Background(), in, rep)
	require.NoError(t, err)
	assert.Equal(t, calls, f.calls)
	row := rep.byLine()[2]
	assert.Equal(t, StatusTokenChanged, row.Status)
	assert.Contains(t, row.Error, "fingerprint")
	assert.NotContains(t, row.Error, "tok-new")

	// With Relink it is sent, to the same company and connection.
	r.Relink = true
	rep = &memReport{}
	_, err = r.Run(context.Background(), in, rep)
	require.NoError(t, err)
	assert.Equal(t, StatusMigrated, rep.byLine()[2].Status)
	assert.Equal(t, "tok-new-token-value", f.sentFP["a"])
	assert.Equal(t, 1, f.created["a"])

	// Now the journal has the new fingerprint: a plain rerun skips it.
	r.Relink = false
	rep = &memReport{}
	_, err = r.Run(context.Background(), in, rep)
	require.NoError(t, err)
	assert.Equal(t, StatusAlreadyMigrated, rep.byLine()[2].Status)
}

func TestRunTokenRejected(t *testing.T) {
	clk := newFakeClock(t0)
	f := newFakeCodat(clk)
	f.reject[tokenOf("b")] = true
	r := testRunner(t, f, clk)
	r.Canary = -1
	in := BytesInput("in.csv", FormatCSV, []byte(csvHeader+csvRow("a", 1)+csvRow("b", 2)))
	rep := &memReport{}
	sum, err := r.Run(context.Background(), in, rep)
	require.NoError(t, err)
	b := rep.byLine()[3]
	assert.Equal(t, StatusTokenRejected, b.Status)
	assert.Equal(t, "https://link.example/b", b.LinkURL)
	assert.Equal(t, "token-rejected", b.ErrorClass)
	assert.Equal(t, 3, b.Requests)
	assert.Equal(t, 1, sum.Count(StatusTokenRejected))

	// The same token again: nothing is sent.
	calls := f.calls
	rep = &memReport{}
	_, err = r.Run(context.Background(), in, rep)
	require.NoError(t, err)
	assert.Equal(t, calls, f.calls)
	assert.Equal(t, StatusTokenRejected, rep.byLine()[3].Status)
	assert.Equal(t, "https://link.example/b", rep.byLine()[3].LinkURL)

	// A new token for b is sent to the existing connection.
	fixed := csvHeader + csvRow("a", 1) + strings.Replace(csvRow("b", 2), tokenOf("b"), "tok-b-fresh-value", 1)
	rep = &memReport{}
	_, err = r.Run(context.Background(), BytesInput("in.csv", FormatCSV, []byte(fixed)), rep)
	require.NoError(t, err)
	assert.Equal(t, StatusMigrated, rep.byLine()[3].Status)
	assert.Equal(t, 1, f.created["b"], "no second company")
	assert.Equal(t, "tok-b-fresh-value", f.sentFP["b"])
}

func TestCanaryGate(t *testing.T) {
	rows := csvHeader + csvRow("c1", 1) + csvRow("c2", 2) + csvRow("c3", 3) + csvRow("c4", 4) + csvRow("c5", 5)
	in := BytesInput("in.csv", FormatCSV, []byte(rows))

	t.Run("a rejected canary stops the run", func(t *testing.T) {
		clk := newFakeClock(t0)
		f := newFakeCodat(clk)
		f.reject[tokenOf("c1")] = true
		r := testRunner(t, f, clk)
		rep := &memReport{}
		sum, err := r.Run(context.Background(), in, rep)
		require.ErrorIs(t, err, ErrCanaryFailed)
		assert.Contains(t, err.Error(), `"c1"`)
		assert.Equal(t, 1, f.calls, "nothing after the canary")
		assert.Equal(t, StatusTokenRejected, rep.byLine()[2].Status)
		for l := 3; l <= 6; l++ {
			assert.Equal(t, StatusNotStarted, rep.byLine()[l].Status, "line %d", l)
			assert.Contains(t, rep.byLine()[l].Error, "canary")
		}
		requireExactlyOnce(t, rep, []int{2, 3, 4, 5, 6})
		assert.Equal(t, 4, sum.Count(StatusNotStarted))
		js, err := ReadJournal(r.JournalPath)
		require.NoError(t, err)
		assert.True(t, js.CanaryFailed)
	})

	t.Run("a canary with sync errors stops the run", func(t *testing.T) {
		clk := newFakeClock(t0)
		f := newFakeCodat(clk)
		f.syncErr = true
		r := testRunner(t, f, clk)
		r.Canary = 2
		rep := &memReport{}
		_, err := r.Run(context.Background(), in, rep)
		require.ErrorIs(t, err, ErrCanaryFailed)
		assert.Equal(t, 2, f.calls)
		assert.Equal(t, StatusFailed, rep.byLine()[2].Status)
		assert.Equal(t, "canary", rep.byLine()[2].ErrorClass)
		assert.Contains(t, rep.byLine()[2].Error, "invoices")
		assert.Equal(t, StatusNotStarted, rep.byLine()[4].Status)
	})

	t.Run("passed canaries are not rerun", func(t *testing.T) {
		clk := newFakeClock(t0)
		f := newFakeCodat(clk)
		var modes sync.Map
		migrate := f.migrate
		r := testRunner(t, f, clk)
		r.Canary = 2
		r.migrate = func(ctx context.Context, m codat.Migration) (*codat.MigrationResult, error) {
			modes.Store(m.Ref, m.Sync)
			return migrate(ctx, m)
		}
		// The first run stops (cancelled) right after the canaries.
		ctx, cancel := context.WithCancel(context.Background())
		r.OnProgress = func(p Progress) {
			if p.Phase == PhaseMigrate && p.Done == 2 {
				cancel()
			}
		}
		rep := &memReport{}
		_, err := r.Run(ctx, in, rep)
		require.ErrorIs(t, err, context.Canceled)
		requireExactlyOnce(t, rep, []int{2, 3, 4, 5, 6})
		for _, ref := range []string{"c1", "c2"} {
			m, _ := modes.Load(ref)
			assert.Equal(t, codat.SyncWait, m, ref)
		}
		js, err := ReadJournal(r.JournalPath)
		require.NoError(t, err)
		assert.True(t, js.CanaryPassed)

		r.OnProgress = nil
		rep = &memReport{}
		_, err = r.Run(context.Background(), in, rep)
		require.NoError(t, err)
		for _, ref := range []string{"c3", "c4", "c5"} {
			m, _ := modes.Load(ref)
			assert.Equal(t, codat.SyncQueue, m, "%s: the gate passed in the first run", ref)
		}
		assert.Equal(t, StatusAlreadyMigrated, rep.byLine()[2].Status)
		assert.Equal(t, StatusMigrated, rep.byLine()[6].Status)
	})
}

func TestQuotaStopAndResume(t *testing.T) {
	clk := newFakeClock(time.Now().UTC().Truncate(time.Second))
	f := newFakeCodat(clk)
	f.quota, f.daily = 18, 1000 // 4 companies' worth today, with the canary's wait
	f.reset = codat.NextQuotaReset(clk.Now())
	r := testRunner(t, f, clk)
	var b strings.Builder
	b.WriteString(csvHeader)
	for i := range 10 {
		b.WriteString(csvRow(fmt.Sprintf("q%d", i), 100+i))
	}
	in := BytesInput("in.csv", FormatCSV, []byte(b.String()))
	rep := &memReport{}
	sum, err := r.Run(context.Background(), in, rep)
	var qe *QuotaError
	require.ErrorAs(t, err, &qe)
	assert.True(t, errors.Is(err, codat.ErrRateLimited))
	assert.Equal(t, f.reset, qe.Reset)
	assert.Positive(t, sum.Count(StatusPendingQuota))
	assert.Equal(t, sum.Count(StatusPendingQuota), qe.Pending)
	assert.Equal(t, 10, sum.Rows)
	assert.Equal(t, 10, sum.Count(StatusMigrated)+sum.Count(StatusPendingQuota))
	for _, row := range rep.rows {
		if row.Status == StatusPendingQuota {
			assert.Equal(t, "quota", row.ErrorClass)
		}
	}
	js, err := ReadJournal(r.JournalPath)
	require.NoError(t, err)
	assert.Equal(t, f.reset, js.QuotaReset)

	// Before the reset a rerun uses what is left, if anything, and stops
	// again.
	_, err = r.Run(context.Background(), in, &memReport{})
	require.ErrorAs(t, err, &qe)
	assert.Less(t, f.quotaSnapshot().Remaining, RequestsPerCompany(codat.SyncQueue))

	// After midnight it finishes.
	clk.Advance(qe.Reset.Sub(clk.Now()) + time.Second)
	rep = &memReport{}
	sum, err = r.Run(context.Background(), in, rep)
	require.NoError(t, err)
	assert.Equal(t, 10, sum.Count(StatusMigrated)+sum.Count(StatusAlreadyMigrated))
	for i := range 10 {
		assert.Equal(t, 1, f.created[fmt.Sprintf("q%d", i)])
	}
}

func TestWaitForQuota(t *testing.T) {
	clk := newFakeClock(time.Now().UTC().Truncate(time.Second))
	f := newFakeCodat(clk)
	f.quota, f.daily = 10, 10 // two companies a day; the first day starts with the canary
	f.reset = codat.NextQuotaReset(clk.Now())
	r := testRunner(t, f, clk)
	r.WaitForQuota = true
	r.Concurrency = 2
	var phases []Phase
	var mu sync.Mutex
	r.OnProgress = func(p Progress) {
		mu.Lock()
		defer mu.Unlock()
		if len(phases) == 0 || phases[len(phases)-1] != p.Phase {
			phases = append(phases, p.Phase)
		}
		if p.Phase == PhaseQuotaWait {
			assert.False(t, p.QuotaReset.IsZero())
		}
	}
	var b strings.Builder
	b.WriteString(csvHeader)
	for i := range 6 {
		b.WriteString(csvRow(fmt.Sprintf("w%d", i), 200+i))
	}
	rep := &memReport{}
	sum, err := r.Run(context.Background(), BytesInput("in.csv", FormatCSV, []byte(b.String())), rep)
	require.NoError(t, err)
	assert.Equal(t, 6, sum.Count(StatusMigrated))
	assert.NotEmpty(t, clk.slept, "the run slept until the reset")
	assert.Contains(t, phases, PhaseQuotaWait)
	assert.Equal(t, PhaseDone, phases[len(phases)-1])
	for i := range 6 {
		assert.Equal(t, 1, f.created[fmt.Sprintf("w%d", i)])
	}
}

func TestCancelAndResumeManyTimes(t *testing.T) {
	clk := newFakeClock(t0)
	f := newFakeCodat(clk)
	var b strings.Builder
	b.WriteString(csvHeader)
	const n = 60
	for i := range n {
		b.WriteString(csvRow(fmt.Sprintf("k%02d", i), 1000+i))
	}
	in := BytesInput("in.csv", FormatCSV, []byte(b.String()))
	r := testRunner(t, f, clk)
	r.Concurrency = 3
	lines := make([]int, n)
	for i := range lines {
		lines[i] = i + 2
	}
	for attempt := 0; attempt < 20; attempt++ {
		ctx, cancel := context.WithCancel(context.Background())
		var steps int
		var mu sync.Mutex
		f.hook = func(string) {
			mu.Lock()
			defer mu.Unlock()
			steps++
			if steps == 7+attempt*3 {
				cancel()
			}
		}
		rep := &memReport{}
		_, err := r.Run(ctx, in, rep)
		cancel()
		requireExactlyOnce(t, rep, lines)
		if err == nil {
			for _, row := range rep.rows {
				assert.Contains(t, []Status{StatusMigrated, StatusAlreadyMigrated}, row.Status)
			}
			break
		}
		require.ErrorIs(t, err, context.Canceled)
	}
	f.hook = nil
	rep := &memReport{}
	sum, err := r.Run(context.Background(), in, rep)
	require.NoError(t, err)
	assert.Equal(t, n, sum.Count(StatusAlreadyMigrated))
	for i := range n {
		assert.Equal(t, 1, f.created[fmt.Sprintf("k%02d", i)], "k%02d", i)
	}
	assert.Positive(t, f.resumes, "interrupted migrations were resumed")
}

func TestTooManyFailuresStops(t *testing.T) {
	clk := newFakeClock(t0)
	f := newFakeCodat(clk)
	var b strings.Builder
	b.WriteString(csvHeader)
	for i := range 10 {
		ref := fmt.Sprintf("f%d", i)
		f.fail[ref] = &codat.APIError{StatusCode: 500, Message: "boom"}
		b.WriteString(csvRow(ref, i+1))
	}
	r := testRunner(t, f, clk)
	r.Canary = -1
	r.Concurrency = 1
	r.MaxConsecutiveFailures = 3
	rep := &memReport{}
	sum, err := r.Run(context.Background(), BytesInput("in.csv", FormatCSV, []byte(b.String())), rep)
	require.ErrorIs(t, err, ErrTooManyFailures)
	assert.Equal(t, 3, sum.Count(StatusFailed))
	assert.Equal(t, 7, sum.Count(StatusNotStarted))
	assert.Equal(t, "server", rep.byLine()[2].ErrorClass)
}

func TestUnauthorizedStops(t *testing.T) {
	clk := newFakeClock(t0)
	f := newFakeCodat(clk)
	f.fail["a"] = fmt.Errorf("wrapped: %w", codat.ErrUnauthorized)
	r := testRunner(t, f, clk)
	r.Canary = -1
	r.Concurrency = 1
	rep := &memReport{}
	_, err := r.Run(context.Background(), BytesInput("in.csv", FormatCSV, []byte(csvHeader+csvRow("a", 1)+csvRow("b", 2))), rep)
	require.ErrorIs(t, err, codat.ErrUnauthorized)
	assert.Equal(t, StatusFailed, rep.byLine()[2].Status)
	assert.Equal(t, StatusNotStarted, rep.byLine()[3].Status)
}

func TestProgress(t *testing.T) {
	clk := newFakeClock(t0)
	f := newFakeCodat(clk)
	f.hook = func(string) { clk.Advance(time.Second) }
	r := testRunner(t, f, clk)
	var events []Progress
	r.OnProgress = func(p Progress) { events = append(events, p) } // calls are serialized
	data, _ := mixedInput()
	_, err := r.Run(context.Background(), BytesInput("in.csv", FormatCSV, []byte(data)), &memReport{})
	require.NoError(t, err)
	require.NotEmpty(t, events)
	last := events[len(events)-1]
	assert.Equal(t, PhaseDone, last.Phase)
	assert.Equal(t, 10, last.Rows)
	assert.Equal(t, 2, last.Total)
	assert.Equal(t, 2, last.Done)
	assert.Equal(t, 8, last.Skipped)
	assert.Equal(t, 9, last.Requests)
	assert.Positive(t, last.Rate)
	assert.Zero(t, last.ETA)
	for i := 1; i < len(events); i++ {
		assert.GreaterOrEqual(t, events[i].Rows, events[i-1].Rows)
	}
	assert.Equal(t, PhaseScan, events[0].Phase)
}

func TestETA(t *testing.T) {
	now := t0
	assert.Equal(t, time.Duration(0), eta(0, 1, codat.Quota{}, 4, now))
	assert.Equal(t, time.Duration(-1), eta(5, 0, codat.Quota{}, 4, now))
	assert.Equal(t, 5*time.Minute, eta(10, 2, codat.Quota{}, 4, now))
	// The quota, not the rate, bounds it: nothing left until midnight.
	q := codat.Quota{Limit: 1000, Remaining: 0, Reset: codat.NextQuotaReset(now), Observed: now}
	assert.Greater(t, eta(10, 100, q, 4, now), codat.NextQuotaReset(now).Sub(now))
}

func TestValidate(t *testing.T) {
	data, want := mixedInput()
	rep := &memReport{}
	r := &Runner{Registry: testRegistry()}
	sum, err := r.Validate(context.Background(), BytesInput("in.csv", FormatCSV, []byte(data)), rep)
	require.NoError(t, err)
	want[2], want[3] = StatusValid, StatusValid
	assert.Equal(t, want, statusesOf(rep))
	assert.Equal(t, 2, sum.Count(StatusValid))
}

func TestPlan(t *testing.T) {
	clk := newFakeClock(t0)
	f := newFakeCodat(clk)
	r := testRunner(t, f, clk)
	r.Canary = -1
	r.Concurrency = 1
	// Migrate a and b, reject c, leave d half done.
	f.reject[tokenOf("c")] = true
	f.fail["d"] = &codat.APIError{StatusCode: 500}
	first := csvHeader + csvRow("a", 1) + csvRow("b", 2) + csvRow("c", 3) + csvRow("d", 4)
	_, err := r.Run(context.Background(), BytesInput("in.csv", FormatCSV, []byte(first)), &memReport{})
	require.NoError(t, err)

	data := first + strings.Replace(csvRow("b", 2), "crm", "", 1) + // exact repeat
		"bad,,qhyg,1,x,y\n" + // invalid
		csvRow("e", 5) + csvRow("f", 6)
	data = strings.Replace(data, tokenOf("a"), "tok-a-rotated", 1)
	r.Canary = 1
	r.probe = func(context.Context) (codat.Quota, error) {
		return codat.Quota{Limit: 1000, Remaining: 500, Reset: codat.NextQuotaReset(t0), Observed: t0}, nil
	}
	p, err := r.Plan(context.Background(), BytesInput("in.csv", FormatCSV, []byte(data)))
	require.NoError(t, err)
	assert.Equal(t, 8, p.Rows)
	assert.Equal(t, 6, p.Valid, "a duplicate is not valid, as validate counts it")
	assert.Equal(t, p.Rows, p.Valid+p.Invalid+p.Duplicate)
	assert.Equal(t, p.Valid, p.AlreadyMigrated+p.TokenChanged+p.TokenRejected+p.CanaryFailed+p.Resume+p.New)
	assert.Equal(t, 1, p.Invalid)
	assert.Equal(t, 1, p.Duplicate)
	assert.Equal(t, 1, p.AlreadyMigrated, "b")
	assert.Equal(t, 1, p.TokenChanged, "a")
	assert.Equal(t, 1, p.TokenRejected, "c")
	assert.Equal(t, 1, p.Resume, "d")
	assert.Equal(t, 2, p.New, "e, f")
	assert.Equal(t, 3, p.ToMigrate())
	assert.Equal(t, 1, p.Canary)
	// d (company done) resumes as the canary: look-up, connection,
	// authorize, sync, wait polls; e and f need 4 each.
	assert.Equal(t, (1+1+1+1+EstimatedWaitPolls)+4+4, p.RequestsNeeded)
	assert.Equal(t, 500, p.Quota.Remaining)
	require.Len(t, p.Estimate.Days, 1)
	assert.Equal(t, 3, p.Estimate.Days[0].Companies)
	assert.Equal(t, p.RequestsNeeded, p.Estimate.Days[0].Requests, "the schedule's requests are the plan's")

	// Without a client the quota is unknown and said so.
	r.probe = nil
	p, err = r.Plan(context.Background(), BytesInput("in.csv", FormatCSV, []byte(data)))
	require.NoError(t, err)
	assert.NotEmpty(t, p.QuotaError)
	assert.True(t, p.Quota.Observed.IsZero())
}

func TestRunResumesAfterTornJournal(t *testing.T) {
	clk := newFakeClock(t0)
	f := newFakeCodat(clk)
	r := testRunner(t, f, clk)
	r.Canary = -1
	in := BytesInput("in.csv", FormatCSV, []byte(csvHeader+csvRow("a", 1)))
	_, err := r.Run(context.Background(), in, &memReport{})
	require.NoError(t, err)

	// Cut the journal in the middle of its last line (the "done" line), as a
	// crash during the write would.
	b := readFile(t, r.JournalPath)
	require.NoError(t, os.WriteFile(r.JournalPath, b[:len(b)-20], 0o600))
	rep := &memReport{}
	_, err = r.Run(context.Background(), in, rep)
	require.NoError(t, err)
	assert.Equal(t, StatusMigrated, rep.byLine()[2].Status, "the ref is resumed from the line before the torn one")
	assert.Equal(t, 1, f.resumes)
	assert.Equal(t, 1, f.created["a"], "no second company")
	lines := journalLines(t, r.JournalPath)
	assert.Equal(t, "done", lines[len(lines)-1].Step)
}

// A server error that echoes a token stops the run (401, 402); neither Run's
// error nor any report row carries the token.
func TestRunStopErrorsHoldNoToken(t *testing.T) {
	for _, tc := range []struct {
		status int
		is     error
		why    string
	}{
		{401, codat.ErrUnauthorized, "refused the API key"},
		{402, nil, "account limit"},
	} {
		t.Run(fmt.Sprint(tc.status), func(t *testing.T) {
			clk := newFakeClock(t0)
			f := newFakeCodat(clk)
			f.fail["a"] = &codat.APIError{StatusCode: tc.status, Method: "POST", Path: "/companies/co-a-1/connections",
				Message: "credentials " + tokenOf("a") + " and refresh-a-s3cr3t are not accepted"}
			r := testRunner(t, f, clk)
			r.Canary = -1
			r.Concurrency = 1
			rep := &memReport{}
			_, err := r.Run(context.Background(), BytesInput("in.csv", FormatCSV, []byte(csvHeader+csvRow("a", 1)+csvRow("b", 2)+csvRow("c", 3))), rep)
			require.Error(t, err)
			if tc.is != nil {
				require.ErrorIs(t, err, tc.is)
			}
			assert.Contains(t, err.Error(), tc.why)
			assert.Contains(t, err.Error(), codat.Redacted, "the scrubbed text of the failure")
			requireNoSecret(t, "Run's error", []byte(err.Error()), tokenOf("a"), "refresh-a-s3cr3t")
			var report strings.Builder
			for _, row := range rep.rows {
				fmt.Fprintf(&report, "%+v\n", row)
			}
			requireNoSecret(t, "report", []byte(report.String()), tokenOf("a"), "refresh-a-s3cr3t")
			assert.Equal(t, StatusFailed, rep.byLine()[2].Status)
			for _, l := range []int{3, 4} {
				assert.Equal(t, StatusNotStarted, rep.byLine()[l].Status)
				assert.Contains(t, rep.byLine()[l].Error, "the run stopped before this row")
			}
			requireNoSecret(t, "journal", readFile(t, r.JournalPath), tokenOf("a"), "refresh-a-s3cr3t")
		})
	}
}

// A second run refused by the journal lock leaves the first run's report as
// it is: the report is only replaced once the run holds the journal.
func TestRunRefusedByTheJournalLockLeavesTheReport(t *testing.T) {
	clk := newFakeClock(t0)
	f := newFakeCodat(clk)
	r := testRunner(t, f, clk)
	r.Canary = -1
	in := BytesInput("in.csv", FormatCSV, []byte(csvHeader+csvRow("a", 1)))
	dir := t.TempDir()
	path := dir + "/report.csv"
	const first = "line,ref,status\n2,a,migrated\n" // the report of the run holding the journal
	require.NoError(t, os.WriteFile(path, []byte(first), 0o600))

	j, err := openJournal(r.JournalPath) // that run
	require.NoError(t, err)
	rep, err := CreateReport(path)
	require.NoError(t, err)
	_, err = r.Run(context.Background(), in, rep)
	require.ErrorIs(t, err, ErrJournalLocked)
	require.NoError(t, rep.Close())
	assert.Equal(t, first, string(readFile(t, path)), "the first run's report is intact")
	fresh := dir + "/fresh.json"
	rep, err = CreateReport(fresh)
	require.NoError(t, err)
	_, err = r.Run(context.Background(), in, rep)
	require.ErrorIs(t, err, ErrJournalLocked)
	require.NoError(t, rep.Close())
	assert.NoFileExists(t, fresh, "a report the refused run created is removed")
	assert.Zero(t, f.calls)

	// Once the journal is free, a run replaces the report.
	require.NoError(t, j.close())
	rep, err = CreateReport(path)
	require.NoError(t, err)
	_, err = r.Run(context.Background(), in, rep)
	require.NoError(t, err)
	require.NoError(t, rep.Close())
	got := string(readFile(t, path))
	assert.True(t, strings.HasPrefix(got, strings.Join(reportHeader, ",")+"\n"), got)
	assert.Contains(t, got, ",a,Company a,qhyg,migrated,")
	assert.Equal(t, 2, strings.Count(got, "\n"))
}

// A token PUT whose answer was lost (its send intent journaled, no answer)
// and a new token in the export: the row is token-changed, nothing is sent,
// and the advice is to relink; with Relink the new token is sent, the
// earlier send intent handed to Migrate (which waits out the settle window).
func TestRunTokenChangedAfterAnUnknownSend(t *testing.T) {
	clk := newFakeClock(t0)
	f := newFakeCodat(clk)
	r := testRunner(t, f, clk)
	r.Canary = -1
	_, err := r.Run(context.Background(), BytesInput("in.csv", FormatCSV, []byte(csvHeader+csvRow("a", 1))), &memReport{})
	require.NoError(t, err)
	// The journal as a crash between the PUT and its answer leaves it.
	var conn *Record
	for _, l := range journalLines(t, r.JournalPath) {
		if l.Ref == "a" && l.Step == string(codat.StepConnection) {
			conn = &l
		}
	}
	require.NotNil(t, conn)
	conn.Step, conn.TokenSend = stepState, &codat.TokenSend{At: t0, Fingerprint: conn.Fingerprint}
	j, err := openJournal(r.JournalPath)
	require.NoError(t, err)
	require.NoError(t, j.append(conn))
	require.NoError(t, j.close())

	changed := csvHeader + strings.Replace(csvRow("a", 1), tokenOf("a"), "tok-new-token-value", 1)
	in := BytesInput("in.csv", FormatCSV, []byte(changed))
	calls := f.calls
	rep := &memReport{}
	_, err = r.Run(context.Background(), in, rep)
	require.NoError(t, err)
	assert.Equal(t, calls, f.calls, "nothing is sent")
	row := rep.byLine()[2]
	assert.Equal(t, StatusTokenChanged, row.Status, "not migrated: Codat may hold the old token")
	assert.Contains(t, row.Error, "outcome is unknown")
	assert.Contains(t, row.Error, "relink")
	assert.NotContains(t, row.Error, "tok-new")

	var resumed *codat.MigrationResult
	f.onMigrate = func(m codat.Migration) { resumed = m.Resume }
	r.Relink = true
	rep = &memReport{}
	_, err = r.Run(context.Background(), in, rep)
	require.NoError(t, err)
	assert.Equal(t, StatusMigrated, rep.byLine()[2].Status)
	require.NotNil(t, resumed)
	require.NotNil(t, resumed.TokenSend, "Migrate is told of the earlier send, so it waits out its settle window")
	assert.Equal(t, "tok-new-token-value", f.sentFP["a"])
	assert.Equal(t, 1, f.created["a"], "the same company")
}

// A migration refused because an earlier token PUT is not settled yet is
// incomplete (a rerun after the settle window finishes it): not a failure,
// and the run goes on.
func TestRunUnsettledTokenSendIsIncomplete(t *testing.T) {
	clk := newFakeClock(t0)
	f := newFakeCodat(clk)
	f.fail["a"] = fmt.Errorf("%w: sent at %s", codat.ErrTokenSendUnsettled, t0.Format(time.RFC3339))
	r := testRunner(t, f, clk)
	r.Canary = -1
	r.MaxConsecutiveFailures = 1
	rep := &memReport{}
	_, err := r.Run(context.Background(), BytesInput("in.csv", FormatCSV, []byte(csvHeader+csvRow("a", 1)+csvRow("b", 2)+csvRow("c", 3))), rep)
	require.NoError(t, err)
	a := rep.byLine()[2]
	assert.Equal(t, StatusIncomplete, a.Status)
	assert.Equal(t, "unsettled", a.ErrorClass)
	assert.Equal(t, StatusMigrated, rep.byLine()[3].Status, "the run goes on")
	assert.Equal(t, StatusMigrated, rep.byLine()[4].Status)
}

// An input that changes between the pre-pass and the second read (rows
// reordered, a row changed, rows gone) stops the run with ErrInputChanged
// at the first record that differs: nothing is started from it.
func TestRunStopsWhenTheInputChanged(t *testing.T) {
	first := csvHeader + csvRow("a", 1) + csvRow("b", 2) + csvRow("c", 3)
	cases := []struct {
		name   string
		second string
	}{
		{"reordered", csvHeader + csvRow("b", 2) + csvRow("a", 1) + csvRow("c", 3)},
		{"a token changed", csvHeader + csvRow("a", 1) + strings.Replace(csvRow("b", 2), tokenOf("b"), "tok-other-token", 1) + csvRow("c", 3)},
		{"a row gone", csvHeader + csvRow("a", 1) + csvRow("b", 2)},
		{"a row added", first + csvRow("d", 4)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clk := newFakeClock(t0)
			f := newFakeCodat(clk)
			r := testRunner(t, f, clk)
			r.Canary = -1
			r.Concurrency = 1
			opens := 0
			in := Input{Name: "in.csv", Format: FormatCSV, Open: func() (io.ReadCloser, error) {
				opens++
				data := first
				if opens > 1 {
					data = tc.second
				}
				return io.NopCloser(strings.NewReader(data)), nil
			}}
			rep := &memReport{}
			_, err := r.Run(context.Background(), in, rep)
			require.ErrorIs(t, err, ErrInputChanged)
			assert.NotContains(t, err.Error(), "tok-")
			for _, row := range rep.rows {
				assert.NotEqual(t, StatusDuplicate, row.Status, "no row is misreported as a duplicate")
			}
			switch tc.name {
			case "reordered":
				assert.Zero(t, f.calls, "nothing is migrated from the changed input")
			case "a token changed":
				assert.LessOrEqual(t, f.calls, 1, "only the row before the change")
				assert.NotContains(t, f.sentFP, "b")
			}
		})
	}
}
