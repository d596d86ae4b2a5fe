package proof_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/codat-migrate/codat"
	"github.com/codat-migrate/codat/bulk"
	"github.com/codat-migrate/codat/codattest"
)

// The benchmarks report their figures with b.ReportMetric, each beside the
// limit it is measured against (a metric whose unit starts with "limit-"
// or "bound-") and the ratio. Run them with:
//
//	go test -run='^$' -bench='RequestsPerCompany|DayOneQuota|PerMinuteLimit|BulkPeakMemory' -benchtime=1x ./proof
//	go test -run='^$' -bench=SDKOverhead -benchmem -count=5 ./proof
//
// The first set fixes its sizes inside (one iteration is a whole run); the
// SDK overhead is per request.

// happyPathRequests is the documented flow's request count per company:
// create company, create connection, PUT authorization, POST data/all.
const happyPathRequests = 4

// qboAuth is the QuickBooks Online authorization of generated row i.
func qboAuth(tb testing.TB, g genExport, i int) codat.Authorization {
	a, err := registry.FromRecord("qhyg", g.fields(i))
	if err != nil {
		tb.Fatal(err)
	}
	return a
}

// companiesPerOp is how many companies one iteration of
// BenchmarkRequestsPerCompany migrates.
const companiesPerOp = 1000

// BenchmarkRequestsPerCompany migrates companiesPerOp companies per
// iteration with Client.Migrate, 8 at a time, and reports the HTTP attempts
// per migrated company against the happy path's 4. Under faults a migration
// that fails is resumed (as the bulk runner does on a rerun) until it
// succeeds; its retries and reconciliation look-ups are what the figure adds.
func BenchmarkRequestsPerCompany(b *testing.B) {
	b.Run("happy", func(b *testing.B) { benchRequestsPerCompany(b, nil) })
	b.Run("faults=10%", func(b *testing.B) {
		faults, err := codattest.ChaosFaults(0.10, "before", "after", "drop", "latency", "rate-limit")
		if err != nil {
			b.Fatal(err)
		}
		for i := range faults {
			if faults[i].Kind == codattest.FaultLatency {
				faults[i].Latency = 20 * time.Millisecond
			}
		}
		benchRequestsPerCompany(b, faults)
	})
	// Only faults that spoil a request (no latency), so that every fault
	// costs at least one more request: extra-req/fault has 1.00 as its floor.
	b.Run("spoiling-faults=10%", func(b *testing.B) {
		faults, err := codattest.ChaosFaults(0.10, "before", "after", "drop", "rate-limit")
		if err != nil {
			b.Fatal(err)
		}
		benchRequestsPerCompany(b, faults)
	})
}

func benchRequestsPerCompany(b *testing.B, faults []codattest.Fault) {
	const apiKey = "bench-key-0b7d4e1f9a2c"
	srv := codattest.NewServer(codattest.WithAPIKey(apiKey), codattest.WithSeed(11), codattest.WithoutQuota(),
		codattest.WithSyncTiming(0, 0), codattest.WithRequestLog(0), codattest.WithFaults(faults...))
	defer srv.Close()
	c := newClient(b, srv.URL(), apiKey, codat.WithRetryPolicy(fastRetries()),
		codat.WithHTTPClient(&http.Client{Timeout: 10 * time.Second, Transport: pooledTransport(16)}))
	var total int
	var resumes atomic.Int64
	for b.Loop() {
		g := newGenExport(companiesPerOp)
		g.TokenSalt += "-" + itoa(total)
		var next, failed atomic.Int64
		var wg sync.WaitGroup
		for w := 0; w < 8; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					i := int(next.Add(1)) - 1
					if i >= g.Rows {
						return
					}
					m := codat.Migration{Ref: fmt.Sprintf("op%d-%s", total, g.ref(i)),
						Company: codat.CreateCompanyRequest{Name: fmt.Sprintf("Company %d", i)},
						Auth:    qboAuth(b, g, i), Sync: codat.SyncQueue}
					res, err := c.Migrate(context.Background(), m)
					for try := 1; err != nil && try < 10; try++ {
						resumes.Add(1)
						m.Resume = res
						res, err = c.Migrate(context.Background(), m)
					}
					if err != nil {
						failed.Add(1)
					}
				}
			}()
		}
		wg.Wait()
		if failed.Load() > 0 {
			b.Fatalf("%d of %d migrations did not finish after 10 tries", failed.Load(), g.Rows)
		}
		total += g.Rows
	}
	if n := srv.CompanyCount(); n != total {
		b.Fatalf("%d companies for %d migrations", n, total)
	}
	per := float64(c.Requests()) / float64(total)
	b.ReportMetric(per, "req/company")
	b.ReportMetric(happyPathRequests, "limit-req/company")
	b.ReportMetric(per/happyPathRequests, "x-limit")
	b.ReportMetric(float64(resumes.Load())/float64(total), "resumes/company")
	if faults != nil {
		b.ReportMetric(float64(srv.FaultsFired())/float64(srv.RequestCount()), "fault-rate")
		// Each injected fault costs at least the one request it spoiled
		// (a retry, or the look-up that reconciles it): 1.00 is the floor.
		extra := float64(c.Requests()) - happyPathRequests*float64(total)
		b.ReportMetric(extra/float64(srv.FaultsFired()), "extra-req/fault")
	}
}

// BenchmarkDayOneQuota runs the bulk runner, as the CLI does (plan, then a
// canary of one that waits for its first sync, then the rest, 4 at a time),
// against a fake whose daily quota is Q with no active connected company
// (Codat's day one: 1,000), until the quota stops it. It reports the
// companies migrated that day against ⌊(Q − overhead)/4⌋, where overhead is
// every request outside the four of a company's happy path (the plan's
// quota probe, the canary's sync polls, look-ups). Requests of migrations
// cut short by the quota count against the figure, not the bound.
func BenchmarkDayOneQuota(b *testing.B) {
	for _, q := range []int{1000, 5000} {
		b.Run(fmt.Sprintf("Q=%d", q), func(b *testing.B) {
			for b.Loop() {
				benchDayOne(b, q)
			}
		})
	}
}

func benchDayOne(b *testing.B, q int) {
	const apiKey = "bench-key-day-one-52a9"
	clk := codattest.NewFakeClock(time.Date(2025, 3, 3, 9, 0, 0, 0, time.UTC))
	srv := codattest.NewServer(codattest.WithAPIKey(apiKey), codattest.WithClock(clk), codattest.WithSeed(12),
		codattest.WithQuota(codattest.Quota{Daily: q, PerMinute: -1}), codattest.WithSyncTiming(0, 0),
		codattest.WithRequestLog(-1))
	defer srv.Close()
	c := newClient(b, srv.URL(), apiKey, codat.WithHTTPClient(&http.Client{Timeout: 10 * time.Second, Transport: pooledTransport(8)}))
	g := newGenExport(q/happyPathRequests + 50) // more than the day can take
	r := &bulk.Runner{Client: c, JournalPath: filepath.Join(b.TempDir(), "day1.journal"), WaitInterval: 10 * time.Millisecond,
		RequestsPerMinute: -1}
	ctx := context.Background()
	plan, err := r.Plan(ctx, g.Input())
	if err != nil {
		b.Fatal(err)
	}
	counter := &statusCounter{}
	_, err = r.Run(ctx, g.Input(), counter)
	var qe *bulk.QuotaError
	if !errors.As(err, &qe) {
		b.Fatalf("want the run to stop on the quota, got %v", err)
	}
	overhead, used := 0, 0
	overheadRoutes := map[string]int{}
	for _, req := range srv.RequestLog() {
		if req.Status == http.StatusTooManyRequests {
			continue // refused: uses no quota
		}
		used++
		if !happyRoutes[req.Route] {
			overhead++
			overheadRoutes[req.Route]++
		}
	}
	b.Logf("Q=%d: overhead requests by route: %v", q, overheadRoutes)
	st := srv.QuotaStatus()
	if st.Used != used || st.Used > q {
		b.Fatalf("quota accounting: fake says %d used, request log %d, limit %d", st.Used, used, q)
	}
	migrated := counter.get(bulk.StatusMigrated)
	bound := (q - overhead) / happyPathRequests
	b.ReportMetric(float64(migrated), "companies/day1")
	b.ReportMetric(float64(bound), "bound-companies")
	b.ReportMetric(float64(migrated)/float64(bound), "x-bound")
	b.ReportMetric(float64(overhead), "overhead-req")
	b.ReportMetric(float64(used), "quota-used")
	if len(plan.Estimate.Days) > 0 {
		b.ReportMetric(float64(plan.Estimate.Days[0].Companies), "plan-day1-companies")
	}
}

// statusCounter is a bulk.ReportWriter that counts rows per status.
type statusCounter struct {
	mu sync.Mutex
	n  map[bulk.Status]int
}

func (s *statusCounter) Write(r bulk.ReportRow) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.n == nil {
		s.n = map[bulk.Status]int{}
	}
	s.n[r.Status]++
	return nil
}

func (s *statusCounter) Close() error { return nil }

func (s *statusCounter) get(st bulk.Status) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n[st]
}

// BenchmarkPerMinuteLimit migrates N companies with the bulk runner's
// default settings (4 migrations in flight, starts paced to 1,000 requests a
// minute) against a fake that enforces Codat's 1,000 requests a minute per
// address and 10 in flight, answering each request after 200 ms, all on a
// clock that runs scale times faster than real time (the runner's
// pacing and the latency are scaled with it; a Retry-After is scaled back to
// real time on its way to the client). It reports the simulated wall time
// against the bound N × 4 / 1,000 minutes and the number of 429s received.
//
// The scale multiplies this process's own time per request (the client, the
// journal's fsyncs) as well, so it is run at several scales: at scale 1
// nothing is scaled.
func BenchmarkPerMinuteLimit(b *testing.B) {
	for _, tc := range []struct{ scale, n int }{{20, 1000}, {5, 1000}, {1, 250}} {
		b.Run(fmt.Sprintf("scale=%d/companies=%d", tc.scale, tc.n), func(b *testing.B) {
			for b.Loop() {
				benchPerMinute(b, tc.n, tc.scale)
			}
		})
	}
}

func benchPerMinute(b *testing.B, n, scale int) {
	const apiKey = "bench-key-per-minute-77c3"
	clk := newSpeedClock(time.Date(2025, 3, 3, 9, 0, 0, 0, time.UTC), float64(scale))
	srv := codattest.NewServer(codattest.WithAPIKey(apiKey), codattest.WithClock(clk), codattest.WithSeed(13),
		codattest.WithQuota(codattest.Quota{Daily: -1, PerMinute: 1000, ConcurrentPerACC: 10}),
		codattest.WithLatency(200*time.Millisecond/time.Duration(scale)), codattest.WithSyncTiming(0, 0), codattest.WithRequestLog(-1))
	defer srv.Close()
	tr := &scaleRetryAfter{base: pooledTransport(16), scale: float64(scale)}
	c := newClient(b, srv.URL(), apiKey, codat.WithHTTPClient(&http.Client{Timeout: 10 * time.Second, Transport: tr}))
	g := newGenExport(n)
	r := &bulk.Runner{Client: c, JournalPath: filepath.Join(b.TempDir(), "pm.journal"), Canary: -1,
		RequestsPerMinute: bulk.DefaultRequestsPerMinute * scale}
	start := time.Now()
	sum, err := r.Run(context.Background(), g.Input(), bulk.DiscardReport)
	wall := time.Since(start)
	if err != nil {
		b.Fatal(err)
	}
	if got := sum.Count(bulk.StatusMigrated); got != n {
		b.Fatalf("%d of %d migrated: %v", got, n, sum.Counts)
	}
	n429 := 0
	for _, req := range srv.RequestLog() {
		if req.Status == http.StatusTooManyRequests {
			n429++
		}
	}
	simMin := wall.Minutes() * float64(scale)
	bound := float64(n*happyPathRequests) / 1000
	b.ReportMetric(simMin, "sim-min")
	b.ReportMetric(bound, "bound-min")
	b.ReportMetric(simMin/bound, "x-bound")
	b.ReportMetric(float64(n429), "429s")
	b.ReportMetric(float64(sum.Requests)/float64(n), "req/company")
}

// scaleRetryAfter divides the Retry-After of responses by scale, so that a
// wait the fake asks for on its fast clock lasts as long in real time as it
// would on that clock.
type scaleRetryAfter struct {
	base  http.RoundTripper
	scale float64
}

func (s *scaleRetryAfter) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := s.base.RoundTrip(req)
	if err == nil {
		if v := resp.Header.Get("Retry-After"); v != "" {
			if secs, perr := strconv.ParseFloat(v, 64); perr == nil {
				resp.Header.Set("Retry-After", strconv.FormatFloat(secs/s.scale, 'f', 3, 64))
			}
		}
	}
	return resp, err
}

// pooledTransport keeps up to n idle connections to the one host, so that
// n concurrent callers reuse connections instead of opening new ones.
func pooledTransport(n int) *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = n
	t.MaxIdleConnsPerHost = n
	return t
}

// companyJSON is a typical Codat company as GET /companies/{id} returns it.
const companyJSON = `{"id":"0498e921-9b53-4396-a412-4f2f5983b0a2","name":"Acme Ltd","description":"migrated","platform":"",` +
	`"redirect":"https://link.codat.io/company/0498e921-9b53-4396-a412-4f2f5983b0a2","lastSync":"2025-03-01T09:00:00Z",` +
	`"created":"2025-03-01T08:59:00.1234567Z","createdByUserName":"api","products":["accounting"],` +
	`"tags":{"migrationRef":"crm-42","region":"uk"},"dataConnections":[{"id":"51baa045-4836-4317-a42e-3542e991e581",` +
	`"integrationId":"bf083d72-62c7-493e-aec9-81b4dbba7e2c","integrationKey":"qhyg","sourceId":"a6f7d1c4-2c0b-4b3a-9c4e-0f2f0b6c9e1d",` +
	`"sourceType":"Accounting","platformName":"QuickBooks Online","linkUrl":"https://link-api.codat.io/x","status":"Linked",` +
	`"lastSync":"2025-03-01T09:00:00Z","created":"2025-03-01T08:59:30Z","dataConnectionErrors":[]}]}`

// BenchmarkSDKOverhead sends the same request to a local server with the
// SDK and with plain net/http (same headers, same JSON decoding into
// codat.Company, a pooled connection each), so that ns/op and allocs/op
// side by side show what the SDK adds: retry machinery, the idempotency key,
// the quota snapshot, attempt logging, error decoding. The server's own
// cost is in both.
func BenchmarkSDKOverhead(b *testing.B) {
	mux := http.NewServeMux()
	reply := func(w http.ResponseWriter) {
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("X-Rate-Limit-Limit", "1000")
		h.Set("X-Rate-Limit-Remaining", "998")
		h.Set("X-Rate-Limit-Reset", "2025-03-02T00:00:00Z")
		io.WriteString(w, companyJSON)
	}
	mux.HandleFunc("GET /companies/{id}", func(w http.ResponseWriter, r *http.Request) { reply(w) })
	mux.HandleFunc("POST /companies", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		reply(w)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	const apiKey = "bench-key-overhead-3e8f"
	ctx := context.Background()
	const id = "0498e921-9b53-4396-a412-4f2f5983b0a2"

	sdk := newClient(b, srv.URL, apiKey, codat.WithHTTPClient(&http.Client{Timeout: 10 * time.Second, Transport: pooledTransport(4)}))
	plain := &http.Client{Timeout: 10 * time.Second, Transport: pooledTransport(4)}
	auth := "Basic " + base64.StdEncoding.EncodeToString([]byte(apiKey))
	plainDo := func(method, path string, body []byte) error {
		var rd io.Reader
		if body != nil {
			rd = strings.NewReader(string(body))
		}
		req, err := http.NewRequestWithContext(ctx, method, srv.URL+path, rd)
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", auth)
		req.Header.Set("Accept", "application/json")
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := plain.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		var co codat.Company
		return json.NewDecoder(resp.Body).Decode(&co)
	}
	create := codat.CreateCompanyRequest{Name: "Acme Ltd", Tags: map[string]string{"migrationRef": "crm-42"}}

	b.Run("get/sdk", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := sdk.Companies.Get(ctx, id); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("get/net-http", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := plainDo(http.MethodGet, "/companies/"+id, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("create/sdk", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := sdk.Companies.Create(ctx, create); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("create/net-http", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			body, err := json.Marshal(create)
			if err != nil {
				b.Fatal(err)
			}
			if err := plainDo(http.MethodPost, "/companies", body); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkBulkPeakMemory migrates 10,000, 30,000 and 100,000 generated rows
// (streamed from an io.Reader, never held in memory or on disk) with the
// bulk runner against `codat-migrate fake` in a subprocess, so this
// process's heap holds only the client, the runner, the journal's index and
// the report writer. A goroutine samples the heap in use
// (runtime/metrics: heap objects + unused heap spans, i.e. HeapInuse) and
// the live heap marked by the last GC every 5 ms. It reports the peaks for
// each size, the ratio of the peak heap in use at 100k to 10k rows (1.0
// would be flat), and the fake's own peak resident set, which grows with the
// companies it stores.
func BenchmarkBulkPeakMemory(b *testing.B) {
	for b.Loop() {
		var peaks []float64
		for _, n := range []int{10_000, 30_000, 100_000} {
			p := benchBulkMemory(b, n)
			peaks = append(peaks, p)
		}
		ratio := peaks[2] / peaks[0]
		b.ReportMetric(ratio, "x-100k/10k")
		if ratio > 1.5 {
			b.Logf("the peak heap grows with the row count: %.1f× from 10k to 100k rows (flat would be about 1)", ratio)
		}
	}
}

func benchBulkMemory(b *testing.B, n int) float64 {
	const apiKey = "bench-key-memory-a41c"
	fake := startFakeProc(b, apiKey, "--no-quota", "--request-log", "0", "--seed", "3",
		"--sync-fetch-after", "0", "--sync-complete-after", "0")
	defer fake.stop()
	c := newClient(b, fake.URL, apiKey, codat.WithHTTPClient(&http.Client{Timeout: 30 * time.Second, Transport: pooledTransport(16)}))
	dir := b.TempDir()
	rep, err := bulk.CreateReport(filepath.Join(dir, "report.csv"))
	if err != nil {
		b.Fatal(err)
	}
	r := &bulk.Runner{Client: c, JournalPath: filepath.Join(dir, "mem.journal"), Concurrency: 8, Canary: -1,
		Sync: codat.SyncQueue, RequestsPerMinute: -1}
	g := newGenExport(n)

	runtime.GC()
	base, _ := heapNow()
	stop := sampleHeap()
	start := time.Now()
	sum, err := r.Run(context.Background(), g.Input(), rep)
	elapsed := time.Since(start)
	peak, live := stop()
	if cerr := rep.Close(); cerr != nil && err == nil {
		err = cerr
	}
	if err != nil {
		b.Fatal(err)
	}
	if got := sum.Count(bulk.StatusMigrated); got != n {
		b.Fatalf("%d of %d migrated: %v", got, n, sum.Counts)
	}
	fakeRSS := peakRSS(fake.cmd.Process.Pid)
	k := n / 1000
	b.ReportMetric(float64(peak)/(1<<20), fmt.Sprintf("peak-heap-MiB-%dk", k))
	b.ReportMetric(float64(live)/(1<<20), fmt.Sprintf("peak-live-MiB-%dk", k))
	b.ReportMetric(float64(base)/(1<<20), fmt.Sprintf("base-heap-MiB-%dk", k))
	b.ReportMetric(float64(peak-base)/float64(n), fmt.Sprintf("B/row-above-base-%dk", k))
	b.ReportMetric(float64(fakeRSS)/(1<<20), fmt.Sprintf("fake-peak-RSS-MiB-%dk", k))
	b.ReportMetric(float64(n)/elapsed.Seconds(), fmt.Sprintf("rows/s-%dk", k))
	return float64(peak)
}

// heapNow reads the heap in use (runtime/metrics: heap objects + unused
// heap spans, which is MemStats.HeapInuse) and the live heap marked by the
// last GC, without stopping the world.
func heapNow() (inUse, live uint64) {
	s := []metrics.Sample{
		{Name: "/memory/classes/heap/objects:bytes"},
		{Name: "/memory/classes/heap/unused:bytes"},
		{Name: "/gc/heap/live:bytes"},
	}
	metrics.Read(s)
	get := func(x metrics.Sample) uint64 {
		if x.Value.Kind() == metrics.KindUint64 {
			return x.Value.Uint64()
		}
		return 0
	}
	return get(s[0]) + get(s[1]), get(s[2])
}

// sampleHeap samples heapNow every 5 ms until the returned function is
// called, which returns the peaks.
func sampleHeap() func() (inUse, live uint64) {
	var peakInUse, peakLive atomic.Uint64
	sample := func() {
		in, live := heapNow()
		if in > peakInUse.Load() {
			peakInUse.Store(in)
		}
		if live > peakLive.Load() {
			peakLive.Store(live)
		}
	}
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			sample()
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() (uint64, uint64) {
		close(done)
		<-stopped
		sample()
		return peakInUse.Load(), peakLive.Load()
	}
}
