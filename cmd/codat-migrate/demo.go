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

// demoRun is one run of the demo: its files, its fake Codat and where it
// writes.
type demoRun struct {
	a                                    *app
	c                                    *command
	o                                    demoOptions
	w                                    io.Writer
	dir, exportPath, journal, reportPath string
	srv                                  *codattest.Server
	clk                                  speedClock
	reg                                  *integrations.Registry
	input                                bulk.Input
	client                               *codat.Client
}

// demo runs the demo's steps in order: the sample export, validate, plan,
// the migration, what the fake saw, and a rerun that sends nothing twice.
func (a *app) demo(c *command, o demoOptions) int {
	began := time.Now()
	d := &demoRun{a: a, c: c, o: o, w: a.stdout, reg: integrations.Default()}
	if err := d.prepareDir(); err != nil {
		a.errorf(c, "%v", err)
		return exitFatal
	}
	if err := d.startFake(); err != nil {
		a.errorf(c, "starting the fake Codat: %v", err)
		return exitFatal
	}
	defer d.srv.Close()
	d.intro()
	if err := d.sample(); err != nil {
		a.errorf(c, "writing the sample export: %v", err)
		return exitFatal
	}
	if err := d.validate(); err != nil {
		a.errorf(c, "validate: %v", err)
		return exitFatal
	}
	client, err := codat.NewClient(d.srv.APIKey(), codat.WithBaseURL(d.srv.URL()),
		codat.WithUserAgent(userAgent()))
	if err != nil {
		a.errorf(c, "%v", err)
		return exitFatal
	}
	d.client = client
	if err := d.plan(); err != nil {
		a.errorf(c, "plan: %v", err)
		return exitFatal
	}
	code := d.migrate()
	if code != exitOK && code != exitRowsFailed && code != exitQuota {
		return code
	}
	if code == exitQuota {
		return d.quotaSpent()
	}
	d.rerun()
	d.outro(time.Since(began))
	return exitOK
}

// prepareDir makes the demo's directory (a new temporary one unless
// --dir) and removes the journal and report of an earlier demo in it.
func (d *demoRun) prepareDir() error {
	d.dir = d.o.dir
	if d.dir == "" {
		dir, err := os.MkdirTemp("", "codat-migrate-demo-*")
		if err != nil {
			return err
		}
		d.dir = dir
	} else if err := os.MkdirAll(d.dir, 0o700); err != nil {
		return err
	}
	d.exportPath = filepath.Join(d.dir, "export."+d.o.format)
	d.journal = d.exportPath + ".journal"
	d.reportPath = d.exportPath + ".report.csv"
	for _, p := range []string{d.journal, d.reportPath} {
		if err := os.Remove(p); err != nil && !os.IsNotExist(err) {
			return err
		}
	}
	return nil
}

// startFake starts the fake Codat, on a clock that runs demoClockSpeed
// times faster than real time.
func (d *demoRun) startFake() error {
	d.clk = speedClock{start: time.Now(), real: time.Now(), speed: demoClockSpeed}
	srv, err := codattest.Start(
		codattest.WithClock(d.clk),
		codattest.WithQuota(codattest.DefaultQuota()),
		codattest.WithRejectedToken(demoRejectedToken),
		codattest.WithLatency(d.o.latency),
		codattest.WithSeed(7),
	)
	d.srv = srv
	return err
}

func (d *demoRun) intro() {
	fmt.Fprintln(d.w, "codat-migrate demo: a complete token migration against a fake Codat running in this process.")
	fmt.Fprintln(d.w, "No API key, no network: nothing leaves this machine.")
	fmt.Fprintf(d.w, "Fake Codat at %s: %d requests a day (Codat's quota with no active company yet), clock %d× real time.\n\n",
		d.srv.URL(), d.srv.QuotaStatus().Limit, demoClockSpeed)
}

// sample is step 1: it writes the sample export and lists its rows wrong
// on purpose.
func (d *demoRun) sample() error {
	w := d.w
	ex, err := generateSample(d.exportPath, d.reg, sampleOptions{Customers: d.o.customers, Format: d.o.format, Seed: 2024,
		Now: time.Now(), RejectedToken: demoRejectedToken})
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "1. Sample export: %d customers → %s\n", ex.Rows, d.exportPath)
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
	d.input = bulk.FileInput(d.exportPath, bulk.Format(d.o.format))
	d.input.Name = filepath.Base(d.exportPath)
	return nil
}

// validate is step 2: every row checked offline.
func (d *demoRun) validate() error {
	w := d.w
	fmt.Fprintln(w, "2. Validate (offline: every row checked, nothing sent)")
	lister := &badRowLister{next: bulk.DiscardReport, w: indentWriter{w: w, prefix: "     "}}
	vr := &bulk.Runner{Registry: d.reg}
	vsum, err := vr.Validate(context.Background(), d.input, lister)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "   %d valid, %d invalid, %d duplicate; %d requests sent\n\n", vsum.Count(bulk.StatusValid),
		vsum.Count(bulk.StatusInvalid), vsum.Count(bulk.StatusDuplicate), d.srv.RequestCount())
	return nil
}

// runner is the demo's migration runner.
func (d *demoRun) runner() *bulk.Runner {
	canary := d.o.canary
	if canary == 0 {
		canary = -1
	}
	return &bulk.Runner{Client: d.client, Registry: d.reg, JournalPath: d.journal, Concurrency: d.o.concurrency,
		Canary: canary, Sync: codat.SyncQueue, WaitInterval: 100 * time.Millisecond,
		// The fake's minute passes 60 times faster, and so does its
		// per-minute limit: pacing to real minutes would only slow
		// the demo down.
		RequestsPerMinute: -1}
}

// plan is step 3.
func (d *demoRun) plan() error {
	fmt.Fprintln(d.w, "3. Plan (read-only: one GET /companies, the account check, which also reads the quota)")
	plan, err := d.runner().Plan(context.Background(), d.input)
	if err != nil {
		return err
	}
	printPlan(d.w, plan, "", "   ", d.clk.Now())
	fmt.Fprintln(d.w)
	return nil
}

// migrate is steps 4 and 5: the canary, then the rest, then what the fake
// Codat saw. It returns the run's exit code.
func (d *demoRun) migrate() int {
	w := d.w
	fmt.Fprintf(w, "4. Migrate: a canary of %d first (it waits for its first sync), then the rest, %d at a time\n", d.o.canary, d.o.concurrency)
	fmt.Fprintln(w, "   Each company: POST /companies → POST …/connections → PUT …/authorization → POST …/data/all")
	before := d.srv.RequestCount()
	res := d.a.execRun(runSpec{
		cmd: d.c, noResume: true, runner: d.runner(), input: d.input,
		reportPath: d.reportPath, client: d.client, quiet: d.o.quiet, interval: 2 * time.Second,
		indent: "   ", out: w, now: d.clk.Now,
	})
	if res.code != exitOK && res.code != exitRowsFailed && res.code != exitQuota {
		return res.code
	}
	fmt.Fprintln(w)
	d.saw(before)
	return res.code
}

// saw is step 5: the requests the fake received since before, by route,
// its companies and connections, and its quota.
func (d *demoRun) saw(before int) {
	w := d.w
	fmt.Fprintln(w, "5. What Codat saw")
	fmt.Fprintf(w, "   %d requests for the migration:\n", d.srv.RequestCount()-before)
	log := d.srv.RequestLog()
	if before <= len(log) {
		log = log[before:]
	}
	for _, rc := range routeCounts(log) {
		fmt.Fprintf(w, "     %5d  %s\n", rc.n, rc.route)
	}
	linked, deauth := 0, 0
	for _, cn := range d.srv.AllConnections() {
		switch cn.Status {
		case codattest.StatusLinked:
			linked++
		case codattest.StatusDeauthorized:
			deauth++
		}
	}
	fmt.Fprintf(w, "   %d companies, %d connections Linked, %d Deauthorized (the rejected token)\n", d.srv.CompanyCount(), linked, deauth)
	q := d.srv.QuotaStatus()
	fmt.Fprintf(w, "   Quota: %d of %d used today (%.0f%%); tomorrow's limit grows with every linked company\n\n",
		q.Used, q.Limit, 100*float64(q.Used)/float64(max(q.Limit, 1)))
}

// quotaSpent ends a demo whose migration ran out of the day's quota.
func (d *demoRun) quotaSpent() int {
	w := d.w
	fmt.Fprintln(w, "The day's quota ran out before every row was migrated. In a real migration, rerun the same")
	fmt.Fprintln(w, "'codat-migrate migrate' command after the reset: the journal makes it resume where it stopped")
	fmt.Fprintln(w, "(or pass --wait to sleep until the reset). The demo's fake Codat forgets everything when the demo ends.")
	fmt.Fprintf(w, "Everything is in %s.\n", d.dir)
	return exitQuota
}

// rerun is step 6: the same migration again, which the journal makes a
// no-op.
func (d *demoRun) rerun() {
	fmt.Fprintln(d.w, "6. Run the same migration again (same journal): nothing is sent twice")
	before := d.srv.RequestCount()
	res := d.a.execRun(runSpec{
		cmd: d.c, noResume: true, runner: d.runner(), input: d.input,
		reportPath: d.exportPath + ".rerun.report.csv", client: d.client, quiet: true, indent: "   ", out: io.Discard, now: d.clk.Now,
	})
	if res.summary != nil {
		fmt.Fprintf(d.w, "   %d requests sent; %d rows already migrated, %d token-rejected rows not resent\n\n",
			d.srv.RequestCount()-before, res.summary.Count(bulk.StatusAlreadyMigrated), res.summary.Count(bulk.StatusTokenRejected))
	}
}

// outro lists the demo's files and what to run next.
func (d *demoRun) outro(took time.Duration) {
	w := d.w
	fmt.Fprintf(w, "Done in %s. Everything is in %s:\n", took.Round(100*time.Millisecond), d.dir)
	fmt.Fprintf(w, "  %-22s the sample export (CSV: ref, company_name, platform, description, tag:*, one column per field)\n", filepath.Base(d.exportPath))
	fmt.Fprintf(w, "  %-22s one line per input row: status, Codat IDs, re-link URL, error\n", filepath.Base(d.reportPath))
	fmt.Fprintf(w, "  %-22s the journal: step transitions, IDs and token fingerprints only\n", filepath.Base(d.journal))
	fmt.Fprintln(w, "\nNext, with your own export:")
	fmt.Fprintln(w, "  codat-migrate integrations                       the platforms and the fields each needs")
	fmt.Fprintln(w, "  codat-migrate validate --input export.csv        offline checks")
	fmt.Fprintln(w, "  CODAT_API_KEY=… codat-migrate plan --input export.csv")
	fmt.Fprintln(w, "  CODAT_API_KEY=… codat-migrate migrate --input export.csv")
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
