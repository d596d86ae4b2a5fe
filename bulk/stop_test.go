package bulk

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/codat-migrate/codat"
	"github.com/codat-migrate/codat/codattest"
)

// stopInput is n valid rows s00, s01, …; lines are 2..n+1.
func stopInput(n int) (Input, []int) {
	var b strings.Builder
	b.WriteString(csvHeader)
	lines := make([]int, n)
	for i := range n {
		b.WriteString(csvRow(fmt.Sprintf("s%02d", i), 3000+i))
		lines[i] = i + 2
	}
	return BytesInput("in.csv", FormatCSV, []byte(b.String())), lines
}

// doneInJournal reports whether the journal records ref's migration as done.
func doneInJournal(t *testing.T, path, ref string) bool {
	t.Helper()
	for _, e := range journalLines(t, path) {
		if e.Ref == ref && e.Step == string(codat.StepDone) {
			return true
		}
	}
	return false
}

func TestStopLetsInFlightMigrationsFinish(t *testing.T) {
	const n, conc = 20, 3
	clk := newFakeClock(t0)
	f := newFakeCodat(clk)
	in, lines := stopInput(n)
	r := testRunner(t, f, clk)
	r.Canary = -1
	r.Concurrency = conc
	r.StopGrace = -1 // no bound: the test must not depend on timing

	// The first step of each of the first conc migrations waits until all
	// are in flight; then Stop is called (as a signal handler would, from
	// another goroutine than the run's) and they go on.
	var mu sync.Mutex
	steps := map[string]int{}
	arrived := 0
	release := make(chan struct{})
	f.hook = func(ref string) {
		mu.Lock()
		steps[ref]++
		first := steps[ref] == 1
		if first {
			arrived++
		}
		last := first && arrived == conc
		mu.Unlock()
		if last {
			stopped := make(chan struct{})
			go func() { r.Stop(); close(stopped) }()
			<-stopped
			close(release)
		}
		if first {
			<-release
		}
	}
	rep := &memReport{}
	sum, err := r.Run(context.Background(), in, rep)
	require.ErrorIs(t, err, ErrStopped)
	require.NotErrorIs(t, err, context.Canceled, "a clean stop is not a cancellation")
	requireExactlyOnce(t, rep, lines)

	assert.Equal(t, conc, f.calls, "no migration starts after Stop")
	assert.Equal(t, conc, sum.Count(StatusMigrated), "the migrations in flight finished: %v", sum.Counts)
	assert.Equal(t, n-conc, sum.Count(StatusNotStarted), "%v", sum.Counts)
	assert.Zero(t, sum.Count(StatusIncomplete), "nothing in flight was cut short: %v", sum.Counts)
	migrated := []string{}
	for _, row := range rep.rows {
		switch row.Status {
		case StatusMigrated:
			migrated = append(migrated, row.Ref)
			assert.NotEmpty(t, row.CompanyID)
			assert.NotEmpty(t, row.ConnectionID)
			assert.True(t, doneInJournal(t, r.JournalPath, row.Ref), "%s is journaled done", row.Ref)
		case StatusNotStarted:
			assert.Equal(t, "stopped", row.ErrorClass, row.Ref)
			assert.Contains(t, row.Error, ErrStopped.Error(), row.Ref)
			assert.True(t, row.Status.Resumable())
		}
	}
	assert.Len(t, migrated, conc)

	// Stop is final for this Runner: a second Run starts nothing.
	rep = &memReport{}
	_, err = r.Run(context.Background(), in, rep)
	require.ErrorIs(t, err, ErrStopped)
	requireExactlyOnce(t, rep, lines)
	assert.Equal(t, conc, f.calls, "a stopped Runner starts nothing")
	assert.Equal(t, conc, statusCount(rep, StatusAlreadyMigrated))
	assert.Equal(t, n-conc, statusCount(rep, StatusNotStarted))

	// A new Runner on the same journal finishes without duplicates, and
	// without a look-up for the rows that finished before the stop.
	f.hook = nil
	r2 := *r // a copy is a new Runner, not stopped
	rep = &memReport{}
	sum, err = r2.Run(context.Background(), in, rep)
	require.NoError(t, err)
	requireExactlyOnce(t, rep, lines)
	assert.Equal(t, conc, sum.Count(StatusAlreadyMigrated))
	assert.Equal(t, n-conc, sum.Count(StatusMigrated))
	assert.Zero(t, f.resumes, "nothing was left half done to resume")
	for i := range n {
		ref := fmt.Sprintf("s%02d", i)
		assert.Equal(t, 1, f.created[ref], ref)
	}
}

func statusCount(rep *memReport, st Status) int {
	rep.mu.Lock()
	defer rep.mu.Unlock()
	n := 0
	for _, r := range rep.rows {
		if r.Status == st {
			n++
		}
	}
	return n
}

// slowRunner is a Runner whose migration of ref "s00" calls Stop at its
// second step and then blocks until its context is cancelled (with what
// cancel, when set, does next).
func slowRunner(t *testing.T, f *fakeCodat, clk *fakeClock, cancel func()) *Runner {
	r := testRunner(t, f, clk)
	r.Canary = -1
	r.Concurrency = 1
	var mu sync.Mutex
	ctxs := map[string]context.Context{}
	steps := map[string]int{}
	migrate := f.migrate
	r.migrate = func(ctx context.Context, m codat.Migration) (*codat.MigrationResult, error) {
		mu.Lock()
		ctxs[m.Ref] = ctx
		mu.Unlock()
		return migrate(ctx, m)
	}
	f.hook = func(ref string) {
		mu.Lock()
		steps[ref]++
		stuck := ref == "s00" && steps[ref] == 2
		ctx := ctxs[ref]
		mu.Unlock()
		if stuck {
			r.Stop()
			if cancel != nil {
				cancel()
			}
			<-ctx.Done()
		}
	}
	return r
}

func TestStopGraceCancelsMigrationsStillInFlight(t *testing.T) {
	const n = 5
	clk := newFakeClock(t0)
	f := newFakeCodat(clk)
	in, lines := stopInput(n)
	r := slowRunner(t, f, clk, nil)
	r.StopGrace = 10 * time.Millisecond
	rep := &memReport{}
	sum, err := r.Run(context.Background(), in, rep)
	require.ErrorIs(t, err, ErrStopped)
	requireExactlyOnce(t, rep, lines)
	assert.Equal(t, 1, f.calls)
	row := rep.byLine()[2]
	assert.Equal(t, StatusIncomplete, row.Status, "cut short by the grace period")
	assert.Equal(t, "canceled", row.ErrorClass)
	assert.Equal(t, "co-s00-1", row.CompanyID, "the step done before the stop is reported")
	assert.Equal(t, n-1, sum.Count(StatusNotStarted))

	// The rerun resumes the incomplete one from the journal.
	f.hook = nil
	r2 := testRunner(t, f, clk)
	r2.JournalPath = r.JournalPath
	r2.Canary = -1
	rep = &memReport{}
	sum, err = r2.Run(context.Background(), in, rep)
	require.NoError(t, err)
	requireExactlyOnce(t, rep, lines)
	assert.Equal(t, n, sum.Count(StatusMigrated))
	assert.Equal(t, 1, f.resumes)
	for i := range n {
		assert.Equal(t, 1, f.created[fmt.Sprintf("s%02d", i)])
	}
}

func TestCancelAfterStopIsTheHardStop(t *testing.T) {
	clk := newFakeClock(t0)
	f := newFakeCodat(clk)
	in, lines := stopInput(4)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := slowRunner(t, f, clk, cancel)
	r.StopGrace = -1 // only the context can end the migration in flight
	rep := &memReport{}
	sum, err := r.Run(ctx, in, rep)
	require.True(t, errors.Is(err, ErrStopped) || errors.Is(err, context.Canceled), "%v", err)
	requireExactlyOnce(t, rep, lines)
	assert.Equal(t, StatusIncomplete, rep.byLine()[2].Status)
	assert.Equal(t, 3, sum.Count(StatusNotStarted))
}

func TestStopBeforeRun(t *testing.T) {
	clk := newFakeClock(t0)
	f := newFakeCodat(clk)
	in, lines := stopInput(3)
	r := testRunner(t, f, clk)
	r.Stop()
	r.Stop() // idempotent
	rep := &memReport{}
	sum, err := r.Run(context.Background(), in, rep)
	require.ErrorIs(t, err, ErrStopped)
	requireExactlyOnce(t, rep, lines)
	assert.Equal(t, 3, sum.Count(StatusNotStarted))
	assert.Zero(t, f.calls)
}

func TestStopAfterEveryRowStartedIsNotAnError(t *testing.T) {
	clk := newFakeClock(t0)
	f := newFakeCodat(clk)
	in, lines := stopInput(3)
	r := testRunner(t, f, clk)
	r.Canary = -1
	r.Concurrency = 3
	r.StopGrace = -1
	var once sync.Once
	f.hook = func(ref string) {
		if ref == "s02" { // the last row: every row has been started
			once.Do(r.Stop)
		}
	}
	rep := &memReport{}
	sum, err := r.Run(context.Background(), in, rep)
	require.NoError(t, err, "every row was decided")
	requireExactlyOnce(t, rep, lines)
	assert.Equal(t, 3, sum.Count(StatusMigrated))
}

func TestStopEndsTheQuotaWait(t *testing.T) {
	clk := newFakeClock(time.Now().UTC().Truncate(time.Second))
	f := newFakeCodat(clk)
	f.quota, f.daily = 6, 6 // one company (4 requests), then the quota is spent
	f.reset = codat.NextQuotaReset(clk.Now())
	in, lines := stopInput(4)
	r := testRunner(t, f, clk)
	r.Canary = -1
	r.Concurrency = 1
	r.WaitForQuota = true
	sleeping := make(chan struct{}, 1)
	r.sleep = func(ctx context.Context, d time.Duration) error {
		select {
		case sleeping <- struct{}{}:
		default:
		}
		<-ctx.Done() // a reset hours away: only a stop ends the sleep
		return ctx.Err()
	}
	go func() {
		<-sleeping
		r.Stop()
	}()
	rep := &memReport{}
	sum, err := r.Run(context.Background(), in, rep)
	require.ErrorIs(t, err, ErrStopped)
	requireExactlyOnce(t, rep, lines)
	assert.Equal(t, 1, sum.Count(StatusMigrated), "%v", sum.Counts)
	for _, row := range rep.rows {
		if row.Status != StatusMigrated {
			assert.True(t, row.Status.Resumable(), "%s: %s", row.Ref, row.Status)
		}
	}
	assert.Zero(t, sum.Count(StatusIncomplete)+sum.Count(StatusFailed), "%v", sum.Counts)
}

func TestE2EStopFinishesInFlightAndResumes(t *testing.T) {
	e := newE2E(t, codattest.WithoutQuota(), codattest.WithLatency(5*time.Millisecond))
	e.r.Canary = -1
	e.r.Concurrency = 4
	e.r.StopGrace = time.Minute // the bound is not what this test is about
	const n = 40
	var b strings.Builder
	b.WriteString(csvHeader)
	lines := make([]int, n)
	for i := range n {
		b.WriteString(csvRow(fmt.Sprintf("st-%02d", i), 7000+i))
		lines[i] = i + 2
	}
	in := BytesInput("in.csv", FormatCSV, []byte(b.String()))

	// Stop as the 30th request leaves: a few companies are done, others
	// are part way.
	stop := context.CancelFunc(e.r.Stop)
	e.cancel.Store(&stop)
	e.cancelAt.Store(30)
	rep := &memReport{}
	sum, err := e.r.Run(context.Background(), in, rep)
	require.ErrorIs(t, err, ErrStopped)
	requireExactlyOnce(t, rep, lines)
	migrated := sum.Count(StatusMigrated)
	assert.Positive(t, migrated)
	assert.Positive(t, sum.Count(StatusNotStarted))
	assert.Equal(t, n, migrated+sum.Count(StatusNotStarted), "in flight means finished, not incomplete: %v", sum.Counts)
	// Every company Codat has belongs to a finished migration.
	assert.Equal(t, migrated, e.srv.CompanyCount())
	assert.Equal(t, migrated, e.srv.ConnectionCount())
	for _, cn := range e.srv.AllConnections() {
		assert.Equal(t, "Linked", string(cn.Status))
	}

	// A new Runner on the journal sends the four requests of each row not
	// started, nothing for the finished ones, and one request for the
	// account check (the rows not started are unknown to the journal).
	r2 := *e.r
	before := e.sent.Load()
	rep = &memReport{}
	sum, err = r2.Run(context.Background(), in, rep)
	require.NoError(t, err)
	requireExactlyOnce(t, rep, lines)
	assert.Equal(t, migrated, sum.Count(StatusAlreadyMigrated))
	assert.Equal(t, n-migrated, sum.Count(StatusMigrated))
	assert.Equal(t, 1, sum.AccountCheckRequests)
	assert.Equal(t, int64(4*(n-migrated)+1), e.sent.Load()-before)
	byRef := e.companiesByRef()
	assert.Len(t, byRef, n)
	for ref, c := range byRef {
		assert.Equal(t, 1, c, ref)
	}
}
