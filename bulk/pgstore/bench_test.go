package pgstore

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/codat-migrate/codat"
	"github.com/codat-migrate/codat/bulk"
	"github.com/codat-migrate/codat/codattest"
)

// envBench turns on TestStoreFigures, which measures the figures in
// BENCHMARKS.md (it takes about a minute).
const envBench = "CODAT_MIGRATE_STORE_BENCH"

// TestStoreFigures measures, against codattest with 200 ms of latency on
// every request and no rate limit: rows a second for 1, 2 and 3 runners on
// one PostgreSQL store, the store's round trips a row, and the file
// journal's bytes a row.
func TestStoreFigures(t *testing.T) {
	if os.Getenv(envBench) == "" {
		t.Skipf("%s is not set: the store's figures are measured on request", envBench)
	}
	dsn := testDSN(t)
	const nRows, concurrency = 120, 8
	data := export(nRows, 1)
	for _, runners := range []int{1, 2, 3} {
		srv := codattest.NewServer(codattest.WithSyncTiming(0, 0), codattest.WithLatency(200*time.Millisecond), codattest.WithoutQuota())
		run := fmt.Sprintf("bench-%d", runners)
		stores := make([]*Store, runners)
		for i := range stores {
			st, err := Open(context.Background(), dsn, Options{Run: run, InputHash: "h", APIKey: codat.Secret(srv.APIKey()), BaseURL: srv.URL()})
			require.NoError(t, err)
			stores[i] = st
		}
		start := time.Now()
		var wg sync.WaitGroup
		errs := make([]error, runners)
		for i := range stores {
			wg.Add(1)
			go func() {
				defer wg.Done()
				client, err := codat.NewClient(srv.APIKey(), codat.WithBaseURL(srv.URL()))
				if err != nil {
					errs[i] = err
					return
				}
				r := &bulk.Runner{Client: client, Store: stores[i], Concurrency: concurrency, Canary: -1, RequestsPerMinute: -1}
				_, errs[i] = r.Run(context.Background(), bulk.BytesInput("export.csv", bulk.FormatCSV, data), &rows{})
			}()
		}
		wg.Wait()
		elapsed := time.Since(start)
		var trips int64
		for i, st := range stores {
			require.NoError(t, errs[i])
			trips += st.RoundTrips()
			require.NoError(t, st.Close())
		}
		require.Equal(t, nRows, srv.CompanyCount())
		t.Logf("postgres, %d runner(s) × concurrency %d: %d rows in %s: %.1f rows/s; %.1f store round trips a row",
			runners, concurrency, nRows, elapsed.Round(time.Millisecond), float64(nRows)/elapsed.Seconds(), float64(trips)/nRows)
		srv.Close()
	}

	// The file journal's size a migrated row.
	_, client := fakeCodat(t, codattest.WithoutQuota())
	const fileRows = 1000
	path := filepath.Join(t.TempDir(), "journal")
	r := &bulk.Runner{Client: client, JournalPath: path, Concurrency: 8, Canary: -1, RequestsPerMinute: -1}
	_, err := r.Run(context.Background(), bulk.BytesInput("export.csv", bulk.FormatCSV, export(fileRows, 1)), &rows{})
	require.NoError(t, err)
	fi, err := os.Stat(path)
	require.NoError(t, err)
	t.Logf("file journal: %d migrated rows, %d bytes: %.0f bytes a row", fileRows, fi.Size(), float64(fi.Size())/fileRows)
}
