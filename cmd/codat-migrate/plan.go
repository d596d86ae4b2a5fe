package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/codat-migrate/codat"
	"github.com/codat-migrate/codat/bulk"
	"github.com/codat-migrate/codat/bulk/pgstore"
)

func planCommand() *command {
	c := &command{
		exits: []int{exitOK, exitRowsFailed, exitUsage, exitFatal},
		exitText: map[int]string{exitOK: "the plan is printed", exitRowsFailed: "no row is valid: nothing to migrate",
			exitFatal: "the input or the journal cannot be read, or Codat cannot be reached"},
		name:     "plan",
		summary:  "show what a migration would do, the requests it needs and how many days the quota makes it take",
		synopsis: "[flags] [--input] FILE",
		help: `Reads the export and the journal (if a run already started) and says what
'migrate' would do: rows valid, invalid and duplicate, rows already migrated or
to resume, the canary, the requests needed, and a day-by-day schedule under
Codat's quota (1,000 + 1,000 per active connected company a day, reset 00:00
UTC). Nothing is migrated.

With an API key it sends read-only requests only. When some row's ref is not
in the journal, it makes the account check 'migrate' would make: it lists the
account's companies (GET /companies?pageSize=5000, one request per 5,000
companies) and counts the rows whose ref is already on a company in Codat
("in Codat": continued from that company, never created twice); the run
repeats that listing, and its requests are in the total. Otherwise it sends
one request (GET /companies?pageSize=1) to read the account's quota. Without
a key, or with --offline, it sends nothing and assumes a fresh account (1,000
requests today).`,
	}
	c.run = func(a *app, args []string) int {
		fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
		var cf connFlags
		var lf logFlags
		var inf inputFlags
		var o planOptions
		o.store.register(fs)
		cf.register(fs)
		lf.register(fs)
		inf.register(fs)
		fs.StringVar(&o.journal, "journal", "", "journal `file` of a run to continue (default <input>.journal, read if it exists)")
		fs.IntVar(&o.canary, "canary", bulk.DefaultCanary, "canary cohort size, as for migrate (0: none)")
		fs.StringVar(&o.sync, "sync", "queue", "sync mode, as for migrate: queue, wait or none")
		fs.IntVar(&o.perMinute, "requests-per-minute", bulk.DefaultRequestsPerMinute, "request pace, as for migrate")
		fs.BoolVar(&o.offline, "offline", false, "send nothing, even with an API key; assume a fresh quota")
		fs.BoolVar(&o.skipAccount, "skip-account-check", false, "as for migrate: do not list the account's companies to find refs already in Codat")
		fs.BoolVar(&o.asJSON, "json", false, "print the plan as JSON")
		if ok, code := a.parse(c, fs, args); !ok {
			return code
		}
		return a.plan(c, fs, &cf, &lf, &inf, &o)
	}
	return c
}

// planOptions are plan's own flags.
type planOptions struct {
	journal, sync                string
	canary, perMinute            int
	offline, asJSON, skipAccount bool
	store                        storeFlags
}

// plan checks the flags, reads the export and the run's state (journal or
// store), and prints what a migration would do.
func (a *app) plan(c *command, fs *flag.FlagSet, cf *connFlags, lf *logFlags, inf *inputFlags, o *planOptions) int {
	if err := inf.resolveInput(fs); err != nil {
		return a.exitForSetupError(c, err)
	}
	mode, err := parseSyncMode(o.sync)
	if err != nil {
		return a.exitForSetupError(c, err)
	}
	if o.canary < 0 {
		return a.exitForSetupError(c, usageError{fmt.Errorf("--canary %d: want 0 or more", o.canary)})
	}
	if _, err := o.store.resolveBeside(a, o.journal); err != nil {
		return a.exitForSetupError(c, err)
	}
	logger, err := lf.logger(a.stderr)
	if err != nil {
		return a.exitForSetupError(c, err)
	}
	in, err := inf.open(a)
	if err != nil {
		return a.exitForSetupError(c, err)
	}
	defer in.Close()
	journal := o.journal
	if journal == "" && !in.Stdin {
		journal = in.Path + ".journal"
	}
	reg, err := loadRegistry(inf.spec, a.stderr)
	if err != nil {
		return a.exitForSetupError(c, err)
	}
	client, note, err := a.planClient(cf, logger, o.offline)
	if err != nil {
		return a.exitForSetupError(c, err)
	}
	runCanary := o.canary
	if runCanary == 0 {
		runCanary = -1 // bulk: negative means no canary
	}
	r := &bulk.Runner{Client: client, Registry: reg, JournalPath: journal, Canary: runCanary, Sync: mode,
		RequestsPerMinute: o.perMinute, SkipAccountCheck: o.skipAccount, Logger: logger}
	st, err := a.planStore(&o.store, in, r)
	if err != nil {
		return a.exitForSetupError(c, err)
	}
	if st != nil {
		defer st.Close()
	}
	p, err := r.Plan(context.Background(), in.bulkInput())
	if err != nil {
		a.errorf(c, "%s", operatorMessage(err))
		return exitFatal
	}
	return a.showPlan(c, fs, inf.input, p, note, o.asJSON)
}

// planClient is the client plan reads the account with: nil, with a note
// saying what the plan assumes instead, with --offline or without an API
// key.
func (a *app) planClient(cf *connFlags, logger *slog.Logger, offline bool) (*codat.Client, string, error) {
	if offline {
		return nil, "offline: assuming a fresh quota (1,000 requests today, no active connected company)", nil
	}
	client, err := a.newClient(cf, logger)
	switch {
	case errors.Is(err, errNoAPIKey) && cf.apiKeyFile == "":
		return nil, "no API key: assuming a fresh quota (1,000 requests today, no active connected company)", nil
	case err != nil:
		return nil, "", err
	}
	return client, "", nil
}

// planStore points r at the shared store, when one is given: the run's
// state is read from it (never changed) instead of the journal. A run not
// in the store yet is a fresh start: r gets no store and planStore returns
// nil. The caller closes the store returned.
func (a *app) planStore(sf *storeFlags, in *inputFile, r *bulk.Runner) (*pgstore.Store, error) {
	shared, err := sf.resolve(a)
	if err != nil || !shared {
		return nil, err
	}
	r.JournalPath = ""
	st, err := sf.openStore(context.Background(), in, "", "", true)
	switch {
	case errors.Is(err, pgstore.ErrNoRun):
		return nil, nil
	case err != nil:
		return nil, err
	}
	r.Store = st
	return st, nil
}

// showPlan prints p, as JSON or for people with the migrate command that
// carries it out, and returns plan's exit code: exitRowsFailed when no row
// is valid.
func (a *app) showPlan(c *command, fs *flag.FlagSet, input string, p *bulk.Plan, note string, asJSON bool) int {
	code := exitOK
	if p.Valid == 0 {
		code = exitRowsFailed
	}
	if asJSON {
		if code := a.printJSON(c, planJSON(p)); code != exitOK {
			return code
		}
		return code
	}
	printPlan(a.stdout, p, note, "", time.Now())
	if code != exitOK {
		fmt.Fprintln(a.stdout, "\nNo row is valid: there is nothing to migrate. Run 'codat-migrate validate' to list the problems.")
		return code
	}
	next, stdinNote := nextMigrate(fs, input)
	fmt.Fprintf(a.stdout, "\nNext: stop the old system's syncing for these customers, then\n  %s\n", next)
	if stdinNote != "" {
		fmt.Fprintf(a.stdout, "  (%s)\n", stdinNote)
	}
	return code
}

// planOnlyFlags are plan's flags that migrate does not accept.
var planOnlyFlags = map[string]bool{"offline": true, "json": true}

// nextMigrate is the migrate command that carries out the plan: the flags
// given to plan that migrate accepts, and the input. With standard input it
// adds the --journal migrate requires, and a note to pipe the export again.
func nextMigrate(fs *flag.FlagSet, input string) (string, string) {
	var args []string
	journal := false
	fs.Visit(func(f *flag.Flag) {
		if planOnlyFlags[f.Name] || f.Name == "input" {
			return
		}
		journal = journal || f.Name == "journal"
		args = append(args, "--"+f.Name+"="+f.Value.String())
	})
	note := ""
	if input == "-" {
		if !journal {
			args = append(args, "--journal=migration.journal")
		}
		note = "pipe the same export in again; a rerun needs the same --journal to resume"
	}
	args = append(args, "--input", input)
	return commandLine("migrate", withoutStorePassword(args)), note
}

// printPlan writes a plan for people.
func printPlan(w io.Writer, p *bulk.Plan, note, ind string, now time.Time) {
	fmt.Fprintf(w, "%sPlan for %s: %d rows\n", ind, p.Input, p.Rows)
	line := func(label string, n int, why string) {
		if n == 0 && label != "valid" && label != "  new" {
			return
		}
		fmt.Fprintf(w, "%s  %-18s %6d  %s\n", ind, label, n, why)
	}
	line("invalid", p.Invalid, "cannot be used as they are (run 'validate' to list them)")
	line("duplicate", p.Duplicate, "same ref or tenant as another row; none of them is migrated")
	line("valid", p.Valid, "pass every offline check (as 'validate' counts them); of them:")
	line("  already migrated", p.AlreadyMigrated, "finished per the journal; nothing sent")
	line("  token changed", p.TokenChanged, "migrated earlier with another token (--relink)")
	line("  token rejected", p.TokenRejected, "this token was rejected before; not sent again")
	line("  failed canary", p.CanaryFailed, "a canary that failed before; not retried (a new canary runs first)")
	line("  resume", p.Resume, "started by an earlier run; continued")
	line("    in Codat", p.InCodat, "of them: not in the journal, but their ref is on a company in Codat")
	line("  new", p.New, "migrated from scratch")
	if p.Canary > 0 {
		line("canary", p.Canary, "of those migrated, run first; they wait for their first sync and gate the rest")
	}
	fmt.Fprintf(w, "%sRequests: about %d needed: %d migrations × %d = %d", ind, p.RequestsNeeded, p.ToMigrate(), p.RequestsPerCompany,
		p.ToMigrate()*p.RequestsPerCompany)
	if extra := p.RequestsNeeded - p.ToMigrate()*p.RequestsPerCompany - p.AccountCheckRequests; extra != 0 {
		what := "the canary's first-sync polls (an estimate)"
		if p.Resume > 0 {
			what = "the canary's first-sync polls (an estimate) and the resumed rows' look-ups and steps left"
		}
		fmt.Fprintf(w, ", %+d for %s", extra, what)
	}
	if p.AccountCheckRequests > 0 {
		fmt.Fprintf(w, ", +%d for the account check", p.AccountCheckRequests)
	}
	fmt.Fprintln(w)
	if p.AccountCheckError != "" {
		fmt.Fprintf(w, "%sAccount check failed (%s): rows already in Codat are not counted; 'migrate' stops if it fails too\n", ind, p.AccountCheckError)
	}
	switch {
	case p.Quota.Known():
		fmt.Fprintf(w, "%sQuota: %s\n", ind, quotaLine(p.Quota, now))
	case note != "":
		fmt.Fprintf(w, "%sQuota: %s\n", ind, note)
	case p.QuotaError != "":
		fmt.Fprintf(w, "%sQuota: unknown (%s); assuming a fresh quota\n", ind, p.QuotaError)
	}
	if len(p.Estimate.Days) > 0 {
		fmt.Fprintf(w, "%sSchedule under Codat's quota rules:\n", ind)
		for i, d := range p.Estimate.Days {
			fmt.Fprintf(w, "%s  day %-3d %s  ACC %-5d quota %-6d %5d companies  %6d requests\n",
				ind, i+1, d.Start.UTC().Format("2006-01-02 15:04"), d.ACC, d.Quota, d.Companies, d.Requests)
		}
	}
	printNameChanges(w, p, ind)
	if !p.Estimate.Finish.IsZero() && p.ToMigrate() > 0 {
		fmt.Fprintf(w, "%sExpected to finish %s (in %s)", ind, p.Estimate.Finish.UTC().Format("2006-01-02 15:04 MST"), humanDuration(p.Estimate.Duration))
		if n := len(p.Estimate.Days); n > 1 {
			fmt.Fprintf(w, ": %d quota days; 'migrate' stops with exit code 75 at each reset unless --wait", n)
		}
		fmt.Fprintln(w)
	}
}
