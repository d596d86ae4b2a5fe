package proof_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/codat-migrate/codat"
	"github.com/codat-migrate/codat/bulk"
	"github.com/codat-migrate/codat/codattest"
)

// chaosSeed fixes the fake's fault draws and ids, so a failure can be replayed.
const chaosSeed = 20250301

// chaosCompanies is the size of the chaos run (about 30 s under -race on 2 cores).
const chaosCompanies = 1000

// chaosMaxRuns bounds how often the chaos run is resumed: each run finishes
// all but the rows whose migration failed every retry, so the remainder
// shrinks geometrically.
const chaosMaxRuns = 6

// TestChaos migrates chaosCompanies companies through a fake Codat that fails
// about 10% of requests with every kind of fault (5xx before and after the
// write commits, a dropped connection after commit, latency, 429), resuming
// with the journal until every row is done, as a user would. Every run must
// report every row exactly once; in the end each ref has exactly one company
// with exactly one Linked connection holding the row's token, sent to it at
// most twice, and nothing else exists. It also runs with debug logging and checks that no API key or
// token reached the log, the reports or the journal.
func TestChaos(t *testing.T) {
	if testing.Short() {
		t.Skip("chaos test: skipped under -short")
	}
	const apiKey = "chaos-api-key-6c1f0e9a7d2b4853"
	gen := newGenExport(chaosCompanies)

	faults, err := codattest.ChaosFaults(0.10, "before", "after", "drop", "latency", "rate-limit")
	require.NoError(t, err)
	for i := range faults {
		if faults[i].Kind == codattest.FaultLatency {
			faults[i].Latency = 50 * time.Millisecond // enough to reorder concurrent requests
		}
	}
	srv := codattest.NewServer(
		codattest.WithAPIKey(apiKey),
		codattest.WithSeed(chaosSeed),
		codattest.WithoutQuota(), // 429s come from the rate-limit faults
		codattest.WithSyncTiming(5*time.Millisecond, 20*time.Millisecond),
		codattest.WithFaults(faults...),
	)
	defer srv.Close()

	var logs lockedBuffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	client := newClient(t, srv.URL(), apiKey,
		codat.WithLogger(logger),
		codat.WithRetryPolicy(fastRetries()),
		codat.WithHTTPClient(&http.Client{Timeout: 10 * time.Second}))

	dir := t.TempDir()
	journal := filepath.Join(dir, "chaos.journal")
	in := bulk.BytesInput("chaos.csv", bulk.FormatCSV, gen.Bytes())
	runner := &bulk.Runner{
		Client:            client,
		JournalPath:       journal,
		Concurrency:       8,
		WaitInterval:      10 * time.Millisecond,
		Sync:              codat.SyncQueue,
		RequestsPerMinute: -1, // the fake has no per-minute limit here
		Logger:            logger,
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var reports []string
	var outputs = map[string]string{}
	runs := 0
	for {
		runs++
		require.LessOrEqual(t, runs, chaosMaxRuns, "the chaos run did not finish in %d runs", chaosMaxRuns)
		reportPath := filepath.Join(dir, "report-"+itoa(runs)+".csv")
		rep, err := bulk.CreateReport(reportPath)
		require.NoError(t, err)
		sum, runErr := runner.Run(ctx, in, rep)
		require.NoError(t, rep.Close())
		reports = append(reports, reportPath)
		if runErr != nil {
			outputs["run "+itoa(runs)+" error"] = runErr.Error()
			// Stops a user would rerun after: a failed canary, a streak of
			// failures. Anything else is a defect.
			require.True(t, errors.Is(runErr, bulk.ErrCanaryFailed) || errors.Is(runErr, bulk.ErrTooManyFailures),
				"run %d: %v", runs, runErr)
		}
		rows := readCSVReport(t, reportPath)
		requireEachLineOnce(t, rows, gen.Rows, runs)
		counts := map[string]int{}
		for _, r := range rows {
			counts[r["status"]]++
		}
		require.NotNil(t, sum)
		t.Logf("run %d: %v, %d requests, err=%v", runs, counts, sum.Requests, runErr)
		if counts[string(bulk.StatusMigrated)]+counts[string(bulk.StatusAlreadyMigrated)] == gen.Rows {
			break
		}
		for st := range counts {
			switch bulk.Status(st) {
			case bulk.StatusMigrated, bulk.StatusAlreadyMigrated, bulk.StatusFailed, bulk.StatusNotStarted, bulk.StatusIncomplete:
			default:
				t.Fatalf("run %d: status %q cannot come from faults on valid rows: %v", runs, st, counts)
			}
		}
	}

	// Exactly one company per ref, one connection per company, Linked, with
	// the row's own token; nothing else.
	assert.Equal(t, gen.Rows, srv.CompanyCount(), "companies in the fake (duplicates or strays if more)")
	assert.Equal(t, gen.Rows, srv.ConnectionCount(), "connections in the fake")
	authAttempts := map[int]int{}
	for i := 0; i < gen.Rows; i++ {
		cos := srv.CompaniesWithTag(codat.RefTagKey, gen.ref(i))
		if !assert.Len(t, cos, 1, "companies tagged %s", gen.ref(i)) {
			continue
		}
		cns := srv.Connections(cos[0].ID)
		if !assert.Len(t, cns, 1, "connections of %s", gen.ref(i)) {
			continue
		}
		assert.Equal(t, codattest.StatusLinked, cns[0].Status, "%s", gen.ref(i))
		assert.Equal(t, gen.bodyFingerprint(t, i), cns[0].AuthFingerprint, "%s holds the row's token", gen.ref(i))
		assert.NotEmpty(t, srv.PullOperations(cos[0].ID), "%s: the first sync was queued", gen.ref(i))
		assert.LessOrEqual(t, cns[0].AuthAttempts, 2, "%s: the token PUT at most twice", gen.ref(i))
		authAttempts[cns[0].AuthAttempts]++
	}
	t.Logf("%d runs; %d faults fired over %d requests; token PUTs per connection: %v",
		runs, srv.FaultsFired(), srv.RequestCount(), authAttempts)
	require.Positive(t, srv.FaultsFired(), "faults were injected")

	// Secret scan: the debug log, every report, the journal, the errors.
	secrets := &secretSet{}
	secrets.addAPIKey(apiKey)
	secrets.add("token salt", gen.TokenSalt)
	outputs["debug log"] = logs.String()
	require.Contains(t, outputs["debug log"], "codat attempt", "the debug log was written")
	requireNoSecrets(t, secrets, outputs, append(reports, journal)...)
}

// readCSVReport reads a CSV report into maps keyed by column name.
func readCSVReport(t *testing.T, path string) []map[string]string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	recs, err := csvRecords(b)
	require.NoError(t, err)
	require.NotEmpty(t, recs, "the report has a header")
	out := make([]map[string]string, 0, len(recs)-1)
	for _, rec := range recs[1:] {
		m := map[string]string{}
		for i, h := range recs[0] {
			if i < len(rec) {
				m[h] = rec[i]
			}
		}
		out = append(out, m)
	}
	return out
}

// requireEachLineOnce checks that a report has exactly one row for each of
// the n data lines of a generated export (lines 2…n+1) and no other.
func requireEachLineOnce(t *testing.T, rows []map[string]string, n, run int) {
	t.Helper()
	seen := map[string]int{}
	for _, r := range rows {
		seen[r["line"]]++
	}
	var bad []string
	for l := 2; l <= n+1; l++ {
		if c := seen[itoa(l)]; c != 1 {
			bad = append(bad, "line "+itoa(l)+" reported "+itoa(c)+" times")
		}
		delete(seen, itoa(l))
	}
	for l := range seen {
		bad = append(bad, "unknown line "+l+" reported")
	}
	sort.Strings(bad)
	if len(bad) > 5 {
		bad = append(bad[:5], "…")
	}
	require.Empty(t, bad, "run %d: every row is reported exactly once: %s", run, strings.Join(bad, "; "))
}
