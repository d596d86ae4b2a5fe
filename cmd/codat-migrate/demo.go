package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/codat-migrate/codat"
	"github.com/codat-migrate/codat/bulk"
	"github.com/codat-migrate/codat/codattest"
	"github.com/codat-migrate/codat/integrations"
)

// demoRejectedToken is the access token the demo's platforms reject.
const demoRejectedToken = "demo_at_revoked_by_the_customer_0000000000"

// demoClockSpeed is how much faster than real time the demo's fake Codat
// clock runs, so its pull operations finish in a blink.
const demoClockSpeed = 60

func demoCommand() *command {
	c := &command{
		exits: []int{exitOK, exitUsage, exitFatal, exitQuota, exitInterrupted},
		exitText: map[int]string{exitOK: "the demo ran to its end", exitQuota: "the fake's daily quota ran out (--customers over ~240)",
			exitInterrupted: "interrupted (Ctrl-C)"},
		name:     "demo",
		summary:  "run a complete migration against a fake Codat in this process (no key, no network)",
		synopsis: "[flags]",
		help: `Starts a fake Codat in this process (package codattest: Codat's quota of 1,000
requests a day, idempotency keys, token rejection), writes a sample export of
customers across QuickBooks Online, Xero, FreeAgent, Shopify and Wave — with a
few bad rows, one tenant exported twice and one token the platform rejects —
and runs the whole migration: validate → plan → canary → migrate → report,
then runs it again to show that a rerun sends nothing twice.

Nothing leaves this machine and no API key is needed. The export, journal and
reports stay in --dir (default: a new temporary directory) for you to read.`,
	}
	c.run = func(a *app, args []string) int {
		fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
		var dir, format string
		var customers, concurrency, canary int
		var latency time.Duration
		var quiet bool
		fs.StringVar(&dir, "dir", "", "write the sample export, journal and reports in this `directory` (default: a new temporary one)")
		fs.IntVar(&customers, "customers", 200, "customers in the sample export (20 or more; over ~240 the day's quota runs out: exit code 75)")
		fs.StringVar(&format, "format", "csv", "sample export format: csv or jsonl")
		fs.IntVar(&concurrency, "concurrency", bulk.DefaultConcurrency, "migrations in flight at once")
		fs.IntVar(&canary, "canary", bulk.DefaultCanary, "canary cohort size")
		fs.DurationVar(&latency, "latency", 10*time.Millisecond, "latency the fake adds to each request, to make the run watchable")
		fs.BoolVar(&quiet, "quiet", false, "no progress display")
		if ok, code := a.parse(c, fs, args); !ok {
			return code
		}
		if fs.NArg() > 0 {
			return a.exitForSetupError(c, usageError{fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))})
		}
		if format != "csv" && format != "jsonl" {
			return a.exitForSetupError(c, usageError{fmt.Errorf("--format %q: want csv or jsonl", format)})
		}
		if customers < 20 {
			return a.exitForSetupError(c, usageError{fmt.Errorf("--customers %d: want 20 or more", customers)})
		}
		if concurrency < 1 || canary < 0 || latency < 0 {
			return a.exitForSetupError(c, usageError{fmt.Errorf("--concurrency must be ≥ 1, --canary and --latency ≥ 0")})
		}
		return a.demo(c, demoOptions{dir: dir, format: format, customers: customers, concurrency: concurrency,
			canary: canary, latency: latency, quiet: quiet})
	}
	return c
}

type demoOptions struct {
	dir, format                    string
	customers, concurrency, canary int
	latency                        time.Duration
	quiet                          bool
}

// speedClock runs from start at speed times real time.
type speedClock struct {
	start, real time.Time
	speed       int
}

func (c speedClock) Now() time.Time {
	return c.start.Add(time.Since(c.real) * time.Duration(c.speed))
}

func (a *app) demo(c *command, o demoOptions) int {
	began := time.Now()
	w := a.stdout
	dir := o.dir
	if dir == "" {
		d, err := os.MkdirTemp("", "codat-migrate-demo-*")
		if err != nil {
			a.errorf(c, "%v", err)
			return exitFatal
		}
		dir = d
	} else if err := os.MkdirAll(dir, 0o700); err != nil {
		a.errorf(c, "%v", err)
		return exitFatal
	}
	exportPath := filepath.Join(dir, "export."+o.format)
	journal := exportPath + ".journal"
	reportPath := exportPath + ".report.csv"
	for _, p := range []string{journal, reportPath} {
		if err := os.Remove(p); err != nil && !os.IsNotExist(err) {
			a.errorf(c, "%v", err)
			return exitFatal
		}
	}

	// The fake Codat, on a clock that runs demoClockSpeed times faster than
	// real time.
	clk := speedClock{start: time.Now(), real: time.Now(), speed: demoClockSpeed}
	srv, err := codattest.Start(
		codattest.WithClock(clk),
		codattest.WithQuota(codattest.DefaultQuota()),
		codattest.WithRejectedToken(demoRejectedToken),
		codattest.WithLatency(o.latency),
		codattest.WithSeed(7),
	)
	if err != nil {
		a.errorf(c, "starting the fake Codat: %v", err)
		return exitFatal
	}
	defer srv.Close()

	fmt.Fprintln(w, "codat-migrate demo: a complete token migration against a fake Codat running in this process.")
	fmt.Fprintln(w, "No API key, no network: nothing leaves this machine.")
	fmt.Fprintf(w, "Fake Codat at %s: %d requests a day (Codat's quota with no active company yet), clock %d× real time.\n\n",
		srv.URL(), srv.QuotaStatus().Limit, demoClockSpeed)

	// 1. The sample export.
	reg := integrations.Default()
	ex, err := generateSample(exportPath, reg, sampleOptions{Customers: o.customers, Format: o.format, Seed: 2024,
		Now: time.Now(), RejectedToken: demoRejectedToken})
	if err != nil {
		a.errorf(c, "writing the sample export: %v", err)
		return exitFatal
	}
	fmt.Fprintf(w, "1. Sample export: %d customers → %s\n", ex.Rows, exportPath)
	fmt.Fprintf(w, "   %s\n", platformMix(ex.Platforms))
	fmt.Fprintln(w, "   It holds live-looking tokens, so it is written mode 0600. Wrong on purpose:")
	lines := make([]int, 0, len(ex.Special))
	for l := range ex.Special {
		lines = append(lines, l)
	}
	sort.Ints(lines)
	for _, l := range lines {
		fmt.Fprintf(w, "     line %-4d %s\n", l, ex.Special[l])
	}
	fmt.Fprintln(w)

	input := bulk.FileInput(exportPath, bulk.Format(o.format))
	input.Name = filepath.Base(exportPath)

	// 2. Validate, offline.
	fmt.Fprintln(w, "2. Validate (offline: every row checked, nothing sent)")
	lister := &badRowLister{next: bulk.DiscardReport, w: indentWriter{w: w, prefix: "     "}}
	vr := &bulk.Runner{Registry: reg}
	vsum, err := vr.Validate(context.Background(), input, lister)
	if err != nil {
		a.errorf(c, "validate: %v", err)
		return exitFatal
	}
	fmt.Fprintf(w, "   %d valid, %d invalid, %d duplicate; %d requests sent\n\n", vsum.Count(bulk.StatusValid),
		vsum.Count(bulk.StatusInvalid), vsum.Count(bulk.StatusDuplicate), srv.RequestCount())

	// 3. Plan.
	client, err := codat.NewClient(srv.APIKey(), codat.WithBaseURL(srv.URL()),
		codat.WithUserAgent(userAgent()))
	if err != nil {
		a.errorf(c, "%v", err)
		return exitFatal
	}
	runner := func() *bulk.Runner {
		canary := o.canary
		if canary == 0 {
			canary = -1
		}
		return &bulk.Runner{Client: client, Registry: reg, JournalPath: journal, Concurrency: o.concurrency,
			Canary: canary, Sync: codat.SyncQueue, WaitInterval: 100 * time.Millisecond,
			// The fake's minute passes 60 times faster, and so does its
			// per-minute limit: pacing to real minutes would only slow
			// the demo down.
			RequestsPerMinute: -1}
	}
	fmt.Fprintln(w, "3. Plan (read-only: one GET /companies, the account check, which also reads the quota)")
	plan, err := runner().Plan(context.Background(), input)
	if err != nil {
		a.errorf(c, "plan: %v", err)
		return exitFatal
	}
	printPlan(w, plan, "", "   ", clk.Now())
	fmt.Fprintln(w)

	// 4. Canary, then the rest.
	fmt.Fprintf(w, "4. Migrate: a canary of %d first (it waits for its first sync), then the rest, %d at a time\n", o.canary, o.concurrency)
	fmt.Fprintln(w, "   Each company: POST /companies → POST …/connections → PUT …/authorization → POST …/data/all")
	before := srv.RequestCount()
	res := a.execRun(runSpec{
		cmd: c, noResume: true, runner: runner(), input: input,
		reportPath: reportPath, client: client, quiet: o.quiet, interval: 2 * time.Second,
		indent: "   ", out: w, now: clk.Now,
	})
	if res.code != exitOK && res.code != exitRowsFailed && res.code != exitQuota {
		return res.code
	}
	fmt.Fprintln(w)

	// 5. What the fake Codat saw.
	fmt.Fprintln(w, "5. What Codat saw")
	fmt.Fprintf(w, "   %d requests for the migration:\n", srv.RequestCount()-before)
	log := srv.RequestLog()
	if before <= len(log) {
		log = log[before:]
	}
	for _, rc := range routeCounts(log) {
		fmt.Fprintf(w, "     %5d  %s\n", rc.n, rc.route)
	}
	linked, deauth := 0, 0
	for _, cn := range srv.AllConnections() {
		switch cn.Status {
		case codattest.StatusLinked:
			linked++
		case codattest.StatusDeauthorized:
			deauth++
		}
	}
	fmt.Fprintf(w, "   %d companies, %d connections Linked, %d Deauthorized (the rejected token)\n", srv.CompanyCount(), linked, deauth)
	q := srv.QuotaStatus()
	fmt.Fprintf(w, "   Quota: %d of %d used today (%.0f%%); tomorrow's limit grows with every linked company\n\n",
		q.Used, q.Limit, 100*float64(q.Used)/float64(max(q.Limit, 1)))
	if res.code == exitQuota {
		fmt.Fprintln(w, "The day's quota ran out before every row was migrated. In a real migration, rerun the same")
		fmt.Fprintln(w, "'codat-migrate migrate' command after the reset: the journal makes it resume where it stopped")
		fmt.Fprintln(w, "(or pass --wait to sleep until the reset). The demo's fake Codat forgets everything when the demo ends.")
		fmt.Fprintf(w, "Everything is in %s.\n", dir)
		return exitQuota
	}

	// 6. Run again: the journal makes it a no-op.
	fmt.Fprintln(w, "6. Run the same migration again (same journal): nothing is sent twice")
	before = srv.RequestCount()
	rerunReport := exportPath + ".rerun.report.csv"
	res2 := a.execRun(runSpec{
		cmd: c, noResume: true, runner: runner(), input: input,
		reportPath: rerunReport, client: client, quiet: true, indent: "   ", out: io.Discard, now: clk.Now,
	})
	if res2.summary != nil {
		fmt.Fprintf(w, "   %d requests sent; %d rows already migrated, %d token-rejected rows not resent\n\n",
			srv.RequestCount()-before, res2.summary.Count(bulk.StatusAlreadyMigrated), res2.summary.Count(bulk.StatusTokenRejected))
	}

	fmt.Fprintf(w, "Done in %s. Everything is in %s:\n", time.Since(began).Round(100*time.Millisecond), dir)
	fmt.Fprintf(w, "  %-22s the sample export (CSV: ref, company_name, platform, description, tag:*, one column per field)\n", filepath.Base(exportPath))
	fmt.Fprintf(w, "  %-22s one line per input row: status, Codat IDs, re-link URL, error\n", filepath.Base(reportPath))
	fmt.Fprintf(w, "  %-22s the journal: step transitions, IDs and token fingerprints only\n", filepath.Base(journal))
	fmt.Fprintln(w, "\nNext, with your own export:")
	fmt.Fprintln(w, "  codat-migrate integrations                       the platforms and the fields each needs")
	fmt.Fprintln(w, "  codat-migrate validate --input export.csv        offline checks")
	fmt.Fprintln(w, "  CODAT_API_KEY=… codat-migrate plan --input export.csv")
	fmt.Fprintln(w, "  CODAT_API_KEY=… codat-migrate migrate --input export.csv")
	return exitOK
}

// platformMix is "QuickBooks Online 70, Xero 50, …", largest first.
func platformMix(m map[string]int) string {
	type kv struct {
		k string
		v int
	}
	var kvs []kv
	for k, v := range m {
		kvs = append(kvs, kv{k, v})
	}
	sort.Slice(kvs, func(i, j int) bool { return kvs[i].v > kvs[j].v || kvs[i].v == kvs[j].v && kvs[i].k < kvs[j].k })
	parts := make([]string, len(kvs))
	for i, e := range kvs {
		parts[i] = fmt.Sprintf("%s %d", e.k, e.v)
	}
	return strings.Join(parts, ", ")
}

type routeCount struct {
	route string
	n     int
}

// routeCounts groups the fake's request log by route, busiest first.
func routeCounts(reqs []codattest.Request) []routeCount {
	m := map[string]int{}
	for _, r := range reqs {
		route := r.Route
		if route == "" {
			route = r.Method + " " + r.Path + " (no route)"
		}
		m[route]++
	}
	out := make([]routeCount, 0, len(m))
	for k, v := range m {
		out = append(out, routeCount{k, v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].n > out[j].n || out[i].n == out[j].n && out[i].route < out[j].route })
	return out
}

// indentWriter prefixes every line written through it.
type indentWriter struct {
	w      io.Writer
	prefix string
}

func (iw indentWriter) Write(p []byte) (int, error) {
	s := string(p)
	lines := strings.SplitAfter(s, "\n")
	var b strings.Builder
	for _, l := range lines {
		if l == "" {
			continue
		}
		b.WriteString(iw.prefix)
		b.WriteString(l)
	}
	if _, err := io.WriteString(iw.w, b.String()); err != nil {
		return 0, err
	}
	return len(p), nil
}
