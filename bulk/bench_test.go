package bulk

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

// genReader produces n CSV rows on the fly, so that the input itself takes
// no memory and the benchmarks measure the package's own.
type genReader struct {
	n, i int
	buf  []byte
}

func (g *genReader) Read(p []byte) (int, error) {
	for len(g.buf) < len(p) && g.i <= g.n {
		if g.i == 0 {
			g.buf = append(g.buf, csvHeader...)
		} else {
			g.buf = append(g.buf, csvRow(fmt.Sprintf("gen-%07d", g.i), 1000000+g.i)...)
		}
		g.i++
	}
	if len(g.buf) == 0 {
		return 0, io.EOF
	}
	n := copy(p, g.buf)
	g.buf = g.buf[n:]
	return n, nil
}

func genInput(n int) Input {
	return Input{Name: "generated.csv", Format: FormatCSV, Open: func() (io.ReadCloser, error) {
		return io.NopCloser(&genReader{n: n}), nil
	}}
}

// peakHeap samples the heap while fn runs and returns the largest HeapInuse.
func peakHeap(fn func()) uint64 {
	runtime.GC()
	var peak atomic.Uint64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	fn()
	close(stop)
	<-done
	return peak.Load()
}

// BenchmarkValidate reads and checks every row twice (pre-pass and report).
// The peak heap grows only by the pre-pass index: 32 bytes a valid row once
// sealed, about twice that while the pre-pass fills it.
func BenchmarkValidate(b *testing.B) {
	for _, n := range []int{10000, 100000} {
		b.Run(fmt.Sprintf("rows=%d", n), func(b *testing.B) {
			r := &Runner{Registry: testRegistry()}
			var peak uint64
			for b.Loop() {
				peak = max(peak, peakHeap(func() {
					if _, err := r.Validate(context.Background(), genInput(n), DiscardReport); err != nil {
						b.Fatal(err)
					}
				}))
			}
			b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
		})
	}
}

// BenchmarkRun migrates every row against an instant stand-in for Codat:
// what is measured is the runner's own cost, fsynced journal included (about
// seven lines a company).
func BenchmarkRun(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("rows=%d", n), func(b *testing.B) {
			var peak uint64
			for b.Loop() {
				clk := newFakeClock(t0)
				f := newFakeCodat(clk)
				r := &Runner{Registry: testRegistry(), JournalPath: b.TempDir() + "/j", RequestsPerMinute: -1, Canary: -1,
					Concurrency: 8, now: clk.Now, sleep: clk.Sleep, migrate: f.migrate, quota: f.quotaSnapshot}
				peak = max(peak, peakHeap(func() {
					sum, err := r.Run(context.Background(), genInput(n), DiscardReport)
					if err != nil || sum.Count(StatusMigrated) != n {
						b.Fatal(err, sum.Counts)
					}
				}))
			}
			b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
		})
	}
}
