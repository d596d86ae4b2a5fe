package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"github.com/codat-migrate/codat"
	"github.com/codat-migrate/codat/bulk"
	"github.com/codat-migrate/codat/bulk/pgstore"
)

// migrateOptions are the migrate command's own flags.
type migrateOptions struct {
	journal       string
	report        string
	concurrency   int
	canary        int
	wait          bool
	sync          string
	relink        bool
	skipAccount   bool
	maxFailures   int
	perMinute     int
	canaryPoll    time.Duration
	settleWindow  time.Duration
	progressEvery time.Duration
	quiet         bool
	store         storeFlags
}

// migrateExits are the exit codes of migrate.
var migrateExits = []int{exitOK, exitRowsFailed, exitUsage, exitFatal, exitQuota, exitInterrupted}

var migrateExitText = map[int]string{exitOK: "every row migrated (or was already migrated)"}

// migrateHelp is the help text of migrate.
const migrateHelp = `Migrates every row of a CSV or JSONL export: for each customer it creates the
Codat company (tagged migrationRef=<ref>), creates the connection, sends the
tokens (PUT …/authorization), checks the connection is Linked, and queues the
first sync (POST data/all) — 4 requests per company on the happy path.

Before any request, every row is checked offline and duplicates (the same ref,
or the same provider tenant under two refs) are set aside. An access token
that has expired is fine when the row also has a refresh token (Codat
refreshes it); when the access token is the only credential, the row is
invalid. Every step is journaled (--journal, default <input>.journal; IDs and
token fingerprints only), so rerunning the same command after a failure,
Ctrl-C or a spent quota resumes without creating anything twice. A rerun
decides each row the journal knows from the journal first: a finished row is
already-migrated and one whose token Codat already accepted resumes, even if
its token has expired since. The report (--report, default
<input>.report.csv; .csv, .json or .jsonl) has one line per input row, in
input order (a row is written once every row before it is decided); it is
replaced only once the run holds the journal and has written to it, so a
second run started by mistake on the same journal, or a run that cannot
write its journal, leaves the earlier report alone. Its company_name is the
name Codat stores (accents folded, characters Codat drops dropped; the
input's name is in input_company_name when it differs).

Account check: before it migrates the first row whose ref is not in the
journal, the run lists the account's companies once (GET
/companies?pageSize=5000, one request per 5,000 companies) and continues any
such ref already on a company in Codat from that company (one look-up)
instead of creating a second one. That protects refs
migrated with another journal (a different --journal, a lost or renamed
one). --skip-account-check turns it off; use it only when this journal
records every earlier run of these refs.

Canary: a cohort (--canary, default 1) runs first and waits for its first
sync; the rest start only if every canary ends Linked with its first sync
complete. The canary queues that sync and waits for it whatever --sync says
(--sync none included): checking the first sync is what it is for; --canary 0
turns it off. A canary that fails stops the run (exit 3). It is not retried: a
rerun reports it failed again and migrates a new canary cohort from the rows
not yet done, starting the rest only if that cohort passes.

A new token for a ref migrated with another one is reported token-changed and
not sent, unless --relink: then it is sent even though the connection is
Linked, and a rerun after a crash still sends it. A new token for a ref whose
token Codat rejected is always sent.

A 429 that outlasts the client's retries stops the run until 00:00 UTC (exit
75, or waits with --wait) only when the daily quota is spent; a shorter rate
limit (up to 15 minutes) pauses new migrations and retries.

Before migrating production customers, stop the old system's syncing for them:
refresh tokens rotate, and two systems refreshing one grant invalidate each
other. Run 'codat-migrate plan' first.

Ctrl-C stops cleanly: no new migration starts, the migrations in flight go on
to their end (for up to 30s; one still running then is cut short and resumed
by the rerun), every step is journaled, and the command prints how to resume
and exits 130. A second Ctrl-C cuts the migrations in flight short at once:
they are journaled and reported incomplete, and the report is still complete.
A third quits at once (the journal is safe; the report may lack rows).

Input: the columns are matched ignoring case, spaces, '_' and '-' ("Company
Name" is company_name); the CSV delimiter (',', ';' or tab) is detected; a
column that is not for Codat is left out with --ignore-columns. A CSV record
is at most 1 MiB and a field 16 KiB: a longer one is reported invalid with
its line and the run goes on.`

func migrateCommand() *command {
	c := &command{
		exits:    migrateExits,
		exitText: migrateExitText,
		name:     "migrate",
		summary:  "migrate every row of an export into Codat (resumable)",
		synopsis: "[flags] [--input] FILE",
		help:     migrateHelp,
	}
	c.run = func(a *app, args []string) int {
		fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
		var cf connFlags
		var lf logFlags
		var inf inputFlags
		var o migrateOptions
		cf.register(fs)
		lf.register(fs)
		inf.register(fs)
		registerRunFlags(fs, &o)
		o.store.register(fs)
		if ok, code := a.parse(c, fs, args); !ok {
			return code
		}
		return a.migrate(c, fs, args, &cf, &lf, &inf, &o)
	}
	return c
}

func registerRunFlags(fs *flag.FlagSet, o *migrateOptions) {
	fs.StringVar(&o.journal, "journal", "", "journal `file`; a rerun with the same journal resumes (default <input>.journal; required with --input -)")
	fs.StringVar(&o.report, "report", "", "report `file`, one line per input row: .csv, .json or .jsonl (default <input>.report.csv)")
	fs.IntVar(&o.concurrency, "concurrency", bulk.DefaultConcurrency, "migrations in flight at once")
	fs.IntVar(&o.canary, "canary", bulk.DefaultCanary, "migrate this many companies first and wait for their first sync; the rest start only if they pass (0: no canary)")
	fs.BoolVar(&o.wait, "wait", false, "when the daily quota is spent, wait for the reset (00:00 UTC) instead of stopping with exit code 75")
	fs.StringVar(&o.sync, "sync", "queue", "after linking: queue the first sync (queue), wait for it to finish (wait), or send nothing (none); the canary queues and waits for its first sync whatever this says")
	fs.BoolVar(&o.relink, "relink", false, "send a row's token even when the journal shows the ref migrated with a different one")
	fs.BoolVar(&o.skipAccount, "skip-account-check", false, "do not list the account's companies to find refs already in Codat (only when the journal records every earlier run)")
	fs.IntVar(&o.maxFailures, "max-failures", bulk.DefaultMaxConsecutiveFailures, "stop after this many failed migrations in a row (-1: never)")
	fs.IntVar(&o.perMinute, "requests-per-minute", bulk.DefaultRequestsPerMinute, "pace migrations so their requests stay under this rate (-1: no pacing); with --store, the budget of all the live runners into the account, each taking its share")
	fs.DurationVar(&o.canaryPoll, "canary-poll", codat.DefaultWaitInterval, "how often a canary (or --sync wait) polls its sync status")
	fs.DurationVar(&o.settleWindow, "settle-window", codat.DefaultSettleWindow, "after a token send whose outcome is unknown (a cut connection, a killed run), how long a rerun waits before it may send the token again")
	fs.DurationVar(&o.progressEvery, "progress-interval", 5*time.Second, "interval of the progress lines when stderr is not a terminal")
	fs.BoolVar(&o.quiet, "quiet", false, "no progress display")
}

func (o *migrateOptions) check() error {
	if o.concurrency < 1 {
		return usageError{fmt.Errorf("--concurrency %d: want at least 1", o.concurrency)}
	}
	if o.canary < 0 {
		return usageError{fmt.Errorf("--canary %d: want 0 or more", o.canary)}
	}
	if _, err := parseSyncMode(o.sync); err != nil {
		return err
	}
	if o.canaryPoll <= 0 {
		return usageError{fmt.Errorf("--canary-poll %s: want a positive duration", o.canaryPoll)}
	}
	return nil
}

func parseSyncMode(s string) (codat.SyncMode, error) {
	switch strings.ToLower(s) {
	case "queue", "":
		return codat.SyncQueue, nil
	case "wait":
		return codat.SyncWait, nil
	case "none":
		return codat.SyncNone, nil
	}
	return 0, usageError{fmt.Errorf("--sync %q: want queue, wait or none", s)}
}

// runner builds the bulk.Runner for the options.
func (o *migrateOptions) runner(client *codat.Client, logger *slog.Logger) *bulk.Runner {
	mode, _ := parseSyncMode(o.sync)
	canary := o.canary
	if canary == 0 {
		canary = -1 // bulk: negative means no canary
	}
	return &bulk.Runner{
		Client:                 client,
		Concurrency:            o.concurrency,
		Canary:                 canary,
		Sync:                   mode,
		WaitInterval:           o.canaryPoll,
		SettleWindow:           o.settleWindow,
		WaitForQuota:           o.wait,
		Relink:                 o.relink,
		SkipAccountCheck:       o.skipAccount,
		RequestsPerMinute:      o.perMinute,
		MaxConsecutiveFailures: o.maxFailures,
		Logger:                 logger,
	}
}

func (a *app) migrate(c *command, fs *flag.FlagSet, args []string, cf *connFlags, lf *logFlags, inf *inputFlags, o *migrateOptions) int {
	if err := inf.resolveInput(fs); err != nil {
		return a.exitForSetupError(c, err)
	}
	if err := o.check(); err != nil {
		return a.exitForSetupError(c, err)
	}
	logger, err := lf.logger(a.stderr)
	if err != nil {
		return a.exitForSetupError(c, err)
	}
	if err := checkReportPath(o.report); err != nil {
		return a.exitForSetupError(c, err)
	}
	shared, err := o.store.resolveBeside(a, o.journal)
	if err != nil {
		return a.exitForSetupError(c, err)
	}
	if inf.input == "-" && o.journal == "" && !shared {
		return a.exitForSetupError(c, usageError{errors.New("--journal is required with --input -: a rerun needs the same journal to resume")})
	}
	in, err := inf.open(a)
	if err != nil {
		return a.exitForSetupError(c, err)
	}
	defer in.Close()
	a.onHardExit(in.Close)
	journal, reportPath, err := migratePaths(in, o, shared)
	if err != nil {
		return a.exitForSetupError(c, err)
	}
	reg, err := loadRegistry(inf.spec, a.stderr)
	if err != nil {
		return a.exitForSetupError(c, err)
	}
	client, key, err := a.newClientKey(cf, logger)
	if err != nil {
		return a.exitForSetupError(c, err)
	}
	store, release, code := a.holdRunState(c, o, shared, in, key, client.BaseURL(), journal)
	if release == nil {
		return code
	}
	defer release()
	if o.canary == 0 {
		a.warnf("--canary 0: no canary; every migration starts without a first company proving the field names and the sync")
	}
	fmt.Fprintf(a.stderr, "Migrating %s (%s) into Codat at %s\n", in.Name, in.Format, client.BaseURL())
	if isProduction(client.BaseURL()) {
		fmt.Fprintln(a.stderr, "Production: the old system must no longer refresh these customers' tokens (they rotate).")
	}

	r := o.runner(client, logger)
	r.Registry = reg
	r.JournalPath = journal
	if store != nil {
		r.Store = store
	}
	res := a.execRun(runSpec{
		cmd:        c,
		resumeArgs: withoutStorePassword(args),
		stdin:      in.Stdin,
		runner:     r,
		input:      in.bulkInput(),
		reportPath: reportPath,
		client:     client,
		quiet:      o.quiet,
		interval:   o.progressEvery,
		out:        a.stdout,
	})
	return res.code
}

// migratePaths are the run's journal (empty with a shared store) and report
// files, their defaults applied, once they are known to be distinct files.
func migratePaths(in *inputFile, o *migrateOptions, shared bool) (journal, report string, err error) {
	journal = o.journal
	if journal == "" && !shared {
		journal = in.Path + ".journal"
	}
	report = o.report
	if report == "" {
		report = defaultSidecar(in, journal, ".report.csv")
	}
	inputPath := in.Path
	if in.Stdin {
		inputPath = ""
	}
	if err := bulk.DistinctFiles(bulk.NamedFile{Role: "input", Path: inputPath}, bulk.NamedFile{Role: "journal", Path: journal},
		bulk.NamedFile{Role: "report", Path: report}); err != nil {
		return "", "", usageError{err}
	}
	return journal, report, nil
}

// holdRunState takes the machine's lock on the account, shared with the
// store's other runners and opening the store (shared), or exclusive for
// the journal. It returns the store (nil without one)
// and the function that closes or releases what it took; when that is nil
// the command exits with code.
func (a *app) holdRunState(c *command, o *migrateOptions, shared bool, in *inputFile, key codat.Secret, baseURL, journal string) (*pgstore.Store, func() error, int) {
	if !shared {
		release, err := a.lockAccount(key, baseURL, "journal "+absPath(journal), false)
		if err != nil {
			return nil, nil, a.exitForAccountLock(c, err)
		}
		return nil, release, exitOK
	}
	// Runners of one store share its claims: they hold the machine's lock
	// shared, which keeps out a journal's run but not one another.
	release, err := a.lockAccount(key, baseURL, "", true)
	if err != nil {
		return nil, nil, a.exitForAccountLock(c, err)
	}
	store, err := o.store.openStore(context.Background(), in, key, baseURL, false)
	if err != nil {
		_ = release()
		return nil, nil, a.exitForSetupError(c, err)
	}
	return store, func() error { return errors.Join(store.Close(), release()) }, exitOK
}

// exitForAccountLock reports that the machine's lock on the account could
// not be taken and returns the exit code.
func (a *app) exitForAccountLock(c *command, err error) int {
	a.errorf(c, "%v", err)
	var le *bulk.AccountLockedError
	if errors.As(err, &le) {
		if le.Holder == "" {
			fmt.Fprintln(a.stderr, "The running migration uses a shared store (--store); a run with a journal file would not see its claims.")
		}
		fmt.Fprintln(a.stderr, "Two migrations into one account would each create the other's companies. Wait for the running one to finish (or stop it), then rerun.")
	}
	return exitFatal
}

// runSpec is one bulk run and how to present it.
type runSpec struct {
	cmd        *command
	resumeArgs []string // the arguments that rerun it, for resume messages
	resumeCmd  string   // overrides the command line built from resumeArgs
	noResume   bool     // nothing can resume this run (the demo's fake lives in memory)
	stdin      bool
	runner     *bulk.Runner
	input      bulk.Input
	reportPath string
	client     *codat.Client
	quiet      bool
	interval   time.Duration
	indent     string
	out        io.Writer
	now        func() time.Time // the clock for quota messages (nil: real time)
}

// runResult is what execRun did.
type runResult struct {
	code    int
	summary *bulk.Summary
	tee     *reportTee
	err     error
}

// execRun runs a migration with a progress display and Ctrl-C handling,
// prints its summary on spec.out and returns the exit code.
func (a *app) execRun(spec runSpec) runResult {
	c := spec.cmd
	rep, err := bulk.CreateReport(spec.reportPath)
	if err != nil {
		a.errorf(c, "report: %v", err)
		return runResult{code: exitFatal, err: err}
	}
	tee := newReportTee(rep)
	view := a.newProgressView(spec.quiet, spec.interval)
	spec.runner.OnProgress = func(p bulk.Progress) { view.Update(snapshotOf(p)) }

	resume := spec.resumeCmd
	if resume == "" {
		resume = commandLine(c.name, spec.resumeArgs)
		if spec.stdin {
			resume = "(pipe the same export in again) " + resume
		}
	}
	// The first Ctrl-C is the runner's clean stop (no new migration starts;
	// those in flight finish, within StopGrace); the second cancels the
	// migrations in flight, which are journaled and reported incomplete, so
	// the report is still complete; a third ends the process, which the
	// journal survives.
	grace := spec.runner.StopGrace
	if grace == 0 {
		grace = bulk.DefaultStopGrace
	}
	firstMsg := "Stopping: no new migration will start; the migrations in flight finish and are journaled."
	if grace > 0 {
		firstMsg = fmt.Sprintf("Stopping: no new migration will start; the migrations in flight finish (for up to %s) and are journaled.", humanDuration(grace))
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	watch := a.watchInterrupts(spec.runner.Stop, cancel,
		firstMsg+"\nPress Ctrl-C again to cut the migrations in flight short (the run stays resumable).",
		"Cutting the migrations in flight short: they are journaled and reported incomplete, and the report is completed.\n"+
			"Press Ctrl-C once more to quit at once.",
		"Quitting now. The journal is safe; resume with:\n  "+resume)
	sum, runErr := spec.runner.Run(ctx, spec.input, tee)
	interrupted := watch.Interrupted()
	watch.Stop()
	view.Finish()
	if err := tee.Close(); err != nil {
		a.errorf(c, "report %s: %v", spec.reportPath, err)
		if runErr == nil {
			runErr = err
		}
	}

	now := time.Now()
	if spec.now != nil {
		now = spec.now()
	}
	printRunSummary(spec, sum, tee, now)
	return a.runOutcome(spec, sum, tee, runErr, interrupted, resume, now)
}

// printRunSummary prints the run's counts, requests, quota, the rows that
// need attention and where the report and the journal are.
func printRunSummary(spec runSpec, sum *bulk.Summary, tee *reportTee, now time.Time) {
	w := spec.out
	ind := spec.indent
	if sum != nil {
		elapsed := sum.Finished.Sub(sum.Started)
		if elapsed < 0 || sum.Finished.IsZero() {
			elapsed = 0
		}
		fmt.Fprintf(w, "%s%d rows in %s:\n", ind, sum.Rows, elapsed.Round(10*time.Millisecond))
		printCounts(w, sum.Counts, ind+"  ")
		reqs := fmt.Sprintf("%sRequests: %d sent", ind, sum.Requests+sum.AccountCheckRequests)
		if sum.AccountCheckRequests > 0 {
			reqs += fmt.Sprintf(" (%d by the migrations, %d for the account check)", sum.Requests, sum.AccountCheckRequests)
		}
		if per := tee.requestsPerCompany(); per != "" {
			reqs += "; per migrated company: " + per
		}
		fmt.Fprintln(w, reqs)
		if q := quotaLine(spec.client.Quota(), now); q != "" {
			fmt.Fprintf(w, "%sQuota: %s\n", ind, q)
		}
		tee.printAttention(w, ind)
		// (Without a summary the run never began, and the report was left
		// as it was.)
		fmt.Fprintf(w, "%sReport:  %s\n", ind, absPath(spec.reportPath))
	}
	if spec.runner.Store != nil {
		fmt.Fprintf(w, "%sStore: %s\n", ind, storeName(spec.runner.Store))
	} else {
		fmt.Fprintf(w, "%sJournal: %s\n", ind, absPath(spec.runner.JournalPath))
	}
}

// runOutcome says on stderr how the run ended and what to do next, and
// returns its exit code.
func (a *app) runOutcome(spec runSpec, sum *bulk.Summary, tee *reportTee, runErr error, interrupted bool, resume string, now time.Time) runResult {
	c := spec.cmd
	res := runResult{summary: sum, tee: tee, err: runErr}
	var qe *bulk.QuotaError
	switch {
	case runErr == nil:
		res.code = exitForCounts(sum)
		if interrupted {
			fmt.Fprintln(a.stderr, "Interrupted after every row was decided; nothing is left to resume.")
		}
	case errors.As(runErr, &qe):
		res.code = exitQuota
		reset := qe.Reset
		// A stop for a rate limit that is not known to be the daily quota
		// (429s without Codat's rate-limit headers) is not called one.
		what, ends := "Codat's daily request quota is spent", "resets"
		if qe.NotDaily {
			what, ends = "Codat kept refusing requests with a rate limit not known to be the daily quota", "ends"
		}
		fmt.Fprintf(a.stderr, "\n%s; %d row(s) are pending.\n", what, qe.Pending)
		switch {
		case spec.noResume && !reset.IsZero():
			fmt.Fprintf(a.stderr, "It %s at %s (in %s).\n", ends, reset.UTC().Format("2006-01-02 15:04:05 MST"), humanDuration(reset.Sub(now)))
		case spec.noResume:
		case !reset.IsZero():
			fmt.Fprintf(a.stderr, "It %s at %s (in %s). Resume then with:\n", ends, reset.UTC().Format("2006-01-02 15:04:05 MST"), humanDuration(reset.Sub(now)))
		case qe.NotDaily:
			fmt.Fprintln(a.stderr, "Resume in a few minutes with:")
		default:
			fmt.Fprintln(a.stderr, "Resume after the reset (00:00 UTC) with:")
		}
		if !spec.noResume {
			fmt.Fprintf(a.stderr, "  %s\n", resume)
			fmt.Fprintln(a.stderr, "(or add --wait to wait for the reset instead of stopping)")
		}
	case interrupted || errors.Is(runErr, bulk.ErrStopped) || errors.Is(runErr, context.Canceled):
		res.code = exitInterrupted
		pending := 0
		if sum != nil {
			for st, n := range sum.Counts {
				if st.Resumable() {
					pending += n
				}
			}
		}
		if spec.noResume {
			fmt.Fprintf(a.stderr, "\nInterrupted: %d row(s) left to do.\n", pending)
		} else {
			fmt.Fprintf(a.stderr, "\nInterrupted: %d row(s) left to do. Resume with:\n  %s\n", pending, resume)
		}
	case errors.Is(runErr, bulk.ErrCanaryFailed):
		res.code = exitFatal
		a.errorf(c, "%v", runErr)
		fmt.Fprintln(a.stderr, "The canary did not pass, so no other migration was started. See the report for why;")
		fmt.Fprintln(a.stderr, "if Codat rejected the body, correct the field names (--spec; 'codat-migrate integrations'),")
		fmt.Fprintln(a.stderr, "then rerun. The rerun does not retry a canary that linked but whose sync failed: it")
		fmt.Fprintln(a.stderr, "migrates a new canary first, and the rest only if that one passes:")
		fmt.Fprintf(a.stderr, "  %s\n", resume)
	case errors.Is(runErr, bulk.ErrTooManyFailures):
		res.code = exitFatal
		a.errorf(c, "%v", runErr)
		fmt.Fprintf(a.stderr, "Stopped to save the quota: something systematic is wrong (see the report). Fix it, then rerun:\n  %s\n", resume)
	case errors.Is(runErr, bulk.ErrJournalLocked):
		res.code = exitFatal
		a.errorf(c, "%v: another codat-migrate is running with %s", runErr, spec.runner.JournalPath)
	case errors.Is(runErr, codat.ErrUnauthorized):
		res.code = exitFatal
		a.errorf(c, "Codat refused the API key (401 Unauthorized): check CODAT_API_KEY (or --api-key-file) and --base-url")
		fmt.Fprintf(a.stderr, "  (%s)\n", operatorMessage(runErr))
	default:
		res.code = exitFatal
		a.errorf(c, "%v", runErr)
		if sum != nil && sum.Requests > 0 {
			fmt.Fprintf(a.stderr, "The journal holds what was done; rerun to resume:\n  %s\n", resume)
		}
	}
	return res
}

// exitForCounts is 0 when every row was migrated (now or before) and 1 when
// any row was not.
func exitForCounts(sum *bulk.Summary) int {
	if sum == nil {
		return exitFatal
	}
	for st, n := range sum.Counts {
		if n == 0 {
			continue
		}
		switch st {
		case bulk.StatusMigrated, bulk.StatusAlreadyMigrated, bulk.StatusValid:
		default:
			return exitRowsFailed
		}
	}
	return exitOK
}

// snapshotOf converts bulk's progress for the display.
func snapshotOf(p bulk.Progress) progressSnapshot {
	s := progressSnapshot{
		Total:      p.Total,
		Done:       p.Done + p.Failed,
		OK:         p.Done,
		Failed:     p.Failed,
		Skipped:    p.Skipped,
		InFlight:   p.InFlight,
		RatePerMin: p.Rate,
		ETA:        p.ETA,
		Quota:      quotaShort(p.Quota),
		Phase:      p.Phase,
		PhaseSince: p.PhaseSince,
	}
	switch p.Phase {
	case bulk.PhaseQuotaWait:
		s.Until = p.QuotaReset
	case bulk.PhaseRateLimited:
		s.Until = p.PauseUntil
	}
	return s
}

// lockAccount takes the machine-wide lock of the Codat account (the API key
// with the base URL; see bulk.LockAccount) in $XDG_STATE_HOME, or the
// default state directory: exclusive for a journal's run, shared (see
// bulk.LockAccountShared) for a store's runner.
func (a *app) lockAccount(key codat.Secret, baseURL, holder string, shared bool) (func() error, error) {
	dir := ""
	if state := a.getenv("XDG_STATE_HOME"); state != "" {
		dir = filepath.Join(state, "codat-migrate", "locks")
	} else {
		var err error
		if dir, err = bulk.AccountLockDir(); err != nil {
			return nil, err
		}
	}
	if shared {
		return bulk.LockAccountShared(dir, key, baseURL)
	}
	return bulk.LockAccount(dir, key, baseURL, holder)
}
