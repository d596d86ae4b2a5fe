package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// envMemoryFigures turns on TestMemoryPerRowFigures, which measures the
// peak memory figures in BENCHMARKS.md (it takes several minutes).
const envMemoryFigures = "CODAT_MIGRATE_MEMORY_FIGURES"

// gcTraceLine matches a GODEBUG=gctrace=1 line's heap sizes: the heap at the
// start of the cycle, at its end, and the heap marked live, in MB.
var gcTraceLine = regexp.MustCompile(`(\d+)->(\d+)->(\d+) MB`)

// memoryFigures is what one `codat-migrate migrate` process used.
type memoryFigures struct {
	rows     int
	maxRSS   int64 // bytes: VmHWM, the peak resident set
	peakHeap int64 // bytes: the largest heap a GC cycle started at
	peakLive int64 // bytes: the largest heap a GC cycle marked live
	gcs      int
	elapsed  time.Duration
}

// TestMemoryPerRowFigures runs `codat-migrate migrate` over generated
// exports of 10,000 and 100,000 rows, with the file store and with the
// PostgreSQL store, each against a new `codat-migrate fake --no-quota` in its
// own process, and reports the migrate process's peak resident set
// (VmHWM) and Go heap high-water marks (GODEBUG=gctrace=1), and the
// growth per row between the two sizes.
func TestMemoryPerRowFigures(t *testing.T) {
	if os.Getenv(envMemoryFigures) == "" {
		t.Skipf("%s is not set: the memory figures are measured on request", envMemoryFigures)
	}
	if runtime.GOOS != "linux" {
		t.Skip("reads the peak resident set from Linux's rusage")
	}
	dsn := os.Getenv(envTestDSN)
	sizes := []int{10_000, 100_000}
	if s := os.Getenv(envMemoryFigures); s != "1" {
		sizes = nil
		for _, f := range regexp.MustCompile(`\d+`).FindAllString(s, -1) {
			n, err := strconv.Atoi(f)
			require.NoError(t, err)
			sizes = append(sizes, n)
		}
	}
	stores := []string{"file"}
	if dsn != "" {
		stores = append(stores, "postgres")
	} else {
		t.Logf("%s is not set: the PostgreSQL store is not measured", envTestDSN)
	}
	dir := t.TempDir()
	exports := map[int]string{}
	for _, n := range sizes {
		sub := filepath.Join(dir, strconv.Itoa(n))
		require.NoError(t, os.Mkdir(sub, 0o700))
		exports[n] = writeExport(t, sub, sampleOptions{Customers: n, Clean: true}).Path
	}
	results := map[string][]memoryFigures{}
	for _, store := range stores {
		for _, n := range sizes {
			m := measureMigrate(t, store, dsn, exports[n], n)
			results[store] = append(results[store], m)
			t.Logf("%-8s %7d rows: max RSS %6.1f MiB (%5.0f B a row in all), peak heap %6.1f MiB, peak live %6.1f MiB, %d GCs, %s (%.0f rows/s)",
				store, n, mib(m.maxRSS), float64(m.maxRSS)/float64(n), mib(m.peakHeap), mib(m.peakLive), m.gcs,
				m.elapsed.Round(time.Second), float64(n)/m.elapsed.Seconds())
		}
	}
	for _, store := range stores {
		rs := results[store]
		for i := 1; i < len(rs); i++ {
			a, b := rs[i-1], rs[i]
			d := float64(b.rows - a.rows)
			t.Logf("%-8s %d → %d rows: max RSS %s (%+.0f B/row), peak heap %s (%+.0f B/row), peak live %s (%+.0f B/row)",
				store, a.rows, b.rows, ratio(b.maxRSS, a.maxRSS), float64(b.maxRSS-a.maxRSS)/d,
				ratio(b.peakHeap, a.peakHeap), float64(b.peakHeap-a.peakHeap)/d,
				ratio(b.peakLive, a.peakLive), float64(b.peakLive-a.peakLive)/d)
		}
	}
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

// ratio is b/a as "×r", or "×?" when a is zero.
func ratio(b, a int64) string {
	if a == 0 {
		return "×?"
	}
	return fmt.Sprintf("×%.2f", float64(b)/float64(a))
}

// measureMigrate migrates the export of n rows with one `codat-migrate
// migrate` process and returns what it used; every row must end migrated
// (the generated export gives every row a tenant of its own).
func measureMigrate(t *testing.T, store, dsn, export string, n int) memoryFigures {
	t.Helper()
	f := startFake(t, append(fastSync, "--no-quota", "--request-log", "0", "--seed", "5")...)
	work := t.TempDir()
	report := filepath.Join(work, "report.csv")
	args := migrateArgs(f, export, "--concurrency", "8", "--canary", "0", "--quiet", "--report", report)
	if store == "postgres" {
		args = append(args, "--store", dsn, "--run", fmt.Sprintf("memory-%d-%d", n, time.Now().UnixNano()))
	} else {
		args = append(args, "--journal", filepath.Join(work, "journal"))
	}
	cmd := exec.Command(binary, args...)
	cmd.Env = append(baseEnv(t, t.TempDir()), append(keyEnv(), "GODEBUG=gctrace=1")...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	require.NoError(t, cmd.Start())
	// VmHWM is the peak resident set of the process's own address space.
	// (The rusage's maxrss is not used: on Linux it keeps the parent's
	// resident set at the fork, which is this test's.) It only grows, so the
	// last read before the exit is the peak but for the last few ms.
	var hwm int64
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	tick := time.NewTicker(10 * time.Millisecond)
	var err error
wait:
	for {
		select {
		case err = <-exited:
			break wait
		case <-tick.C:
			hwm = max(hwm, vmHWM(cmd.Process.Pid))
		}
	}
	tick.Stop()
	elapsed := time.Since(start)
	_ = f.cmd.Process.Signal(os.Interrupt) // the fake's memory goes with it
	require.NoError(t, err, "migrate: %s", stdout.String())
	m := memoryFigures{rows: n, elapsed: elapsed}
	require.Positive(t, hwm, "VmHWM read from /proc")
	m.maxRSS = hwm
	sc := bufio.NewScanner(&stderr)
	for sc.Scan() {
		mm := gcTraceLine.FindStringSubmatch(sc.Text())
		if mm == nil {
			continue
		}
		m.gcs++
		start, _ := strconv.ParseInt(mm[1], 10, 64)
		live, _ := strconv.ParseInt(mm[3], 10, 64)
		m.peakHeap = max(m.peakHeap, start<<20)
		m.peakLive = max(m.peakLive, live<<20)
	}
	require.Positive(t, m.gcs, "gctrace lines on stderr")
	rows := readReport(t, report)
	require.Len(t, rows, n, "the report has every row")
	counts := map[string]int{}
	for _, r := range rows {
		counts[r["status"]]++
	}
	assert.Equal(t, map[string]int{"migrated": n}, counts, "every row migrated")
	return m
}

// vmHWM reads a process's peak resident set (VmHWM in /proc/PID/status) in
// bytes; 0 when it cannot be read (the process has exited).
func vmHWM(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err == nil {
				return kb << 10
			}
		}
	}
	return 0
}
