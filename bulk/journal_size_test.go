package bulk

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/codat-migrate/codat"
	"github.com/codat-migrate/codat/codattest"
)

// TestJournalBytesPerRow measures the journal's size a migrated row: 1,000
// rows migrated against codattest (Concurrency 8, no canary, no pacing),
// without latency and with 200 ms on every request (the times between an
// attempt's lines are then longer numbers). The figures are in
// BENCHMARKS.md; the journal must stay within 300 bytes a row.
func TestJournalBytesPerRow(t *testing.T) {
	if testing.Short() {
		t.Skip("migrates 1,000 rows twice")
	}
	for _, latency := range []time.Duration{0, 200 * time.Millisecond} {
		t.Run(fmt.Sprintf("latency %s", latency), func(t *testing.T) {
			opts := []codattest.Option{codattest.WithSyncTiming(0, 0), codattest.WithoutQuota()}
			if latency > 0 {
				opts = append(opts, codattest.WithLatency(latency))
			}
			srv := codattest.NewServer(opts...)
			defer srv.Close()
			client, err := codat.NewClient(srv.APIKey(), codat.WithBaseURL(srv.URL()))
			require.NoError(t, err)
			const rows = 1000
			var b strings.Builder
			b.WriteString("ref,company_name,platform,realmId,accessToken,refreshToken\n")
			for i := 1; i <= rows; i++ {
				fmt.Fprintf(&b, "crm-%d,Company %d,qhyg,%d,access-%d,refresh-%d\n", i, i, 4620000000+i, i, i)
			}
			path := filepath.Join(t.TempDir(), "journal")
			conc := 8
			if latency > 0 {
				conc = 50 // the same lines, sooner
			}
			r := &Runner{Client: client, JournalPath: path, Concurrency: conc, Canary: -1, RequestsPerMinute: -1}
			rep := &memReport{}
			_, err = r.Run(context.Background(), BytesInput("export.csv", FormatCSV, []byte(b.String())), rep)
			require.NoError(t, err)
			require.Equal(t, rows, srv.CompanyCount())
			sum, err := ReadJournal(path)
			require.NoError(t, err)
			require.Equal(t, rows, sum.Counts[StatusMigrated], "every row migrated")
			fi, err := os.Stat(path)
			require.NoError(t, err)
			perRow := float64(fi.Size()) / rows
			t.Logf("file journal: %d migrated rows, %d bytes, %d lines: %.0f bytes a row", rows, fi.Size(), sum.Lines, perRow)
			assert.LessOrEqual(t, perRow, 300.0, "bytes a migrated row")
		})
	}
}
