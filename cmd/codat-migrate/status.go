package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"maps"
	"os"
	"time"

	"github.com/codat-migrate/codat/bulk"
	"github.com/codat-migrate/codat/bulk/pgstore"
)

func statusCommand() *command {
	c := &command{
		name:     "status",
		exits:    []int{exitOK, exitUsage, exitFatal},
		exitText: map[int]string{exitFatal: "the journal or the export cannot be read"},
		summary:  "summarise a migration's journal (and what is left of the export)",
		synopsis: "[--journal] FILE  |  --input EXPORT [--journal FILE]",
		help: `Reads a journal without changing it (safe while a run is going on) and prints
the latest outcome of every ref it knows: migrated, already migrated, token
rejected, failed, pending the quota reset, or started and not finished; the
requests spent; whether the canary passed; and the last quota stop.

The journal knows only the rows a run started. With --input, the export is
read too (offline) and the rows not yet started are counted.`,
	}
	c.run = func(a *app, args []string) int {
		fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
		var o statusOptions
		o.store.register(fs)
		fs.StringVar(&o.journal, "journal", "", "the journal `file` (default <input>.journal)")
		fs.StringVar(&o.input, "input", "", "the export `file`: count what is left of it")
		fs.StringVar(&o.format, "format", "", "input `format`: csv or jsonl (default: from the file extension)")
		fs.BoolVar(&o.asJSON, "json", false, "print the summary as JSON")
		if ok, code := a.parse(c, fs, args); !ok {
			return code
		}
		return a.status(c, fs, &o)
	}
	return c
}

// statusOptions are the status command's flags.
type statusOptions struct {
	journal, input, format string
	asJSON                 bool
	store                  storeFlags
}

func (a *app) status(c *command, fs *flag.FlagSet, o *statusOptions) int {
	journal, input, format, asJSON := o.journal, o.input, o.format, o.asJSON
	switch {
	case fs.NArg() > 1:
		return a.exitForSetupError(c, usageError{fmt.Errorf("unexpected arguments after %s", fs.Arg(0))})
	case fs.NArg() == 1 && journal == "":
		journal = fs.Arg(0)
	case fs.NArg() == 1:
		return a.exitForSetupError(c, usageError{fmt.Errorf("journal given twice")})
	}
	if input == "-" {
		return a.exitForSetupError(c, usageError{fmt.Errorf("--input must be a file here")})
	}
	shared, err := o.store.resolveBeside(a, journal)
	if err != nil {
		return a.exitForSetupError(c, err)
	}
	if shared {
		return a.statusOfStore(c, &o.store, input, format, asJSON)
	}
	if journal == "" && input != "" {
		journal = input + ".journal"
	}
	if journal == "" {
		return a.exitForSetupError(c, usageError{fmt.Errorf("no journal: pass --journal FILE (or --input EXPORT for <EXPORT>.journal)")})
	}
	if _, err := os.Stat(journal); errors.Is(err, os.ErrNotExist) && input != "" {
		return a.statusNotStarted(c, "Nothing has started: there is no journal at "+absPath(journal)+".", input, format, asJSON)
	} else if errors.Is(err, os.ErrNotExist) {
		a.errorf(c, "no journal at %s: no migration has started with it (pass --input EXPORT to count the export's rows)", absPath(journal))
		return exitFatal
	} else if err != nil {
		a.errorf(c, "%v", err)
		return exitFatal
	}
	return a.statusOfJournal(c, journal, input, format, asJSON)
}

// statusOfJournal is status on a run's journal file, and, with input, what
// is left of the export.
func (a *app) statusOfJournal(c *command, journal, input, format string, asJSON bool) int {
	s, err := bulk.ReadJournal(journal)
	if err != nil {
		a.errorf(c, "%v", err)
		return exitFatal
	}
	var plan *bulk.Plan
	if input != "" {
		in, err := openInput(input, format, nil, a.stderr)
		if err != nil {
			return a.exitForSetupError(c, err)
		}
		defer in.Close()
		if plan, err = statusPlan(context.Background(), &bulk.Runner{JournalPath: journal}, in); err != nil {
			a.errorf(c, "%v", err)
			return exitFatal
		}
	}
	return a.printStatus(c, s, plan, asJSON)
}

// statusOfStore is status on a run in a shared store (--store).
func (a *app) statusOfStore(c *command, sf *storeFlags, input, format string, asJSON bool) int {
	var in *inputFile
	if input != "" {
		var err error
		if in, err = openInput(input, format, nil, a.stderr); err != nil {
			return a.exitForSetupError(c, err)
		}
		defer in.Close()
	}
	ctx := context.Background()
	st, err := sf.openStore(ctx, in, "", "", true)
	if errors.Is(err, pgstore.ErrNoRun) {
		if in != nil {
			return a.statusNotStarted(c, "Nothing has started: the store has no run of that name.", input, format, asJSON)
		}
		a.errorf(c, "%v: no migration has started under this name in the store", err)
		return exitFatal
	}
	if err != nil {
		return a.exitForSetupError(c, err)
	}
	defer st.Close()
	s, held, err := st.Summary(ctx)
	if err != nil {
		a.errorf(c, "%v", err)
		return exitFatal
	}
	s.Running, s.InProgress = held > 0 || s.Runners > 0, held
	var plan *bulk.Plan
	if in != nil {
		if plan, err = statusPlan(ctx, &bulk.Runner{Store: st}, in); err != nil {
			a.errorf(c, "%v", err)
			return exitFatal
		}
	}
	return a.printStatus(c, s, plan, asJSON)
}

// statusPlan is what is left of the export, per the run's journal or store.
func statusPlan(ctx context.Context, r *bulk.Runner, in *inputFile) (*bulk.Plan, error) {
	plan, err := r.Plan(ctx, in.bulkInput())
	if err != nil {
		return nil, err
	}
	plan.QuotaError = "" // status does not read the quota
	return plan, nil
}

// printStatus prints a run's summary and, with plan, what is left of the
// export: as JSON (--json) or as text.
func (a *app) printStatus(c *command, s *bulk.JournalSummary, plan *bulk.Plan, asJSON bool) int {
	if asJSON {
		out := statusOut{Journal: journalJSON(s)}
		if plan != nil {
			pj := planJSON(plan)
			out.Export = &pj
		}
		return a.printJSON(c, out)
	}
	printJournalSummary(a, s, plan, time.Now())
	return exitOK
}

// statusNotStarted is status on an export no run has started: it says so
// and counts the export's rows.
func (a *app) statusNotStarted(c *command, nothing, input, format string, asJSON bool) int {
	in, err := openInput(input, format, nil, a.stderr)
	if err != nil {
		return a.exitForSetupError(c, err)
	}
	defer in.Close()
	plan, err := (&bulk.Runner{}).Plan(context.Background(), in.bulkInput())
	if err != nil {
		a.errorf(c, "%v", err)
		return exitFatal
	}
	plan.QuotaError = ""
	if asJSON {
		pj := planJSON(plan)
		return a.printJSON(c, statusOut{Export: &pj})
	}
	fmt.Fprintln(a.stdout, nothing)
	fmt.Fprintf(a.stdout, "Export %s: %d rows (%d valid, %d invalid, %d duplicate); 'codat-migrate plan' says what a run would do.\n",
		plan.Input, plan.Rows, plan.Valid, plan.Invalid, plan.Duplicate)
	return exitOK
}

func printJournalSummary(a *app, s *bulk.JournalSummary, plan *bulk.Plan, now time.Time) {
	w := a.stdout
	if s.Store {
		fmt.Fprintf(w, "Store %s: %d refs, %d run(s)\n", s.Path, s.Refs, s.Runs)
	} else {
		fmt.Fprintf(w, "Journal %s: %d refs, %d lines, %d run(s)\n", absPath(s.Path), s.Refs, s.Lines, s.Runs)
	}
	if !s.First.IsZero() {
		fmt.Fprintf(w, "  from %s to %s\n", s.First.UTC().Format(time.RFC3339), s.Last.UTC().Format(time.RFC3339))
	}
	counts := s.Counts
	switch {
	case s.Runners > 0:
		fmt.Fprintf(w, "A run is in progress: %d codat-migrate runner(s) of this run are live now.\n", s.Runners)
	case s.Running:
		fmt.Fprintln(w, "A run is in progress: a codat-migrate process holds this journal (or these refs) now.")
	}
	if s.Running {
		// The refs started and not finished that a runner holds are its
		// work in progress.
		counts = maps.Clone(s.Counts)
		if n := min(s.InProgress, counts[bulk.StatusIncomplete]); n > 0 {
			counts[bulk.StatusIncomplete] -= n
			if counts[bulk.StatusIncomplete] == 0 {
				delete(counts, bulk.StatusIncomplete)
			}
			counts[statusInProgress] = n
		}
	}
	printCounts(w, counts, "  ")
	fmt.Fprintf(w, "Requests: %d\n", s.Requests)
	switch {
	case s.CanaryFailed:
		fmt.Fprintln(w, "Canary: failed (the rest was not started; the next run migrates a new canary first)")
	case s.CanaryPassed:
		fmt.Fprintln(w, "Canary: passed")
	}
	if !s.QuotaReset.IsZero() {
		when := "has passed"
		if s.QuotaReset.After(now) {
			when = "in " + humanDuration(s.QuotaReset.Sub(now))
		}
		fmt.Fprintf(w, "Last stop for quota: resets %s (%s)\n", s.QuotaReset.UTC().Format("2006-01-02 15:04 MST"), when)
	}
	if s.TornTail {
		fmt.Fprintln(w, "The last line was cut short (a crash mid-write); the next run drops it and resumes from the line before.")
	}
	if plan != nil {
		done := plan.AlreadyMigrated
		fmt.Fprintf(w, "Export %s: %d rows: %d done, %d to resume, %d not started", plan.Input, plan.Rows, done, plan.Resume, plan.New)
		if skipped := plan.Invalid + plan.Duplicate + plan.TokenRejected + plan.TokenChanged + plan.CanaryFailed; skipped > 0 {
			fmt.Fprintf(w, ", %d that will not be sent (invalid, duplicate, token rejected or changed, failed canary)", skipped)
		}
		fmt.Fprintln(w)
		switch {
		case s.Runners > 0:
			fmt.Fprintln(w, "The run is going on; more runners may join it with the same migrate command, and a stopped one may be started again.")
		case s.Running:
			fmt.Fprintln(w, "The run is going on; rerun the migrate command only after it ends (a second one is refused).")
		case plan.Resume+plan.New > 0:
			fmt.Fprintln(w, "Rerun the same 'codat-migrate migrate' command to continue; it sends nothing for the rows done.")
		default:
			fmt.Fprintln(w, "Nothing left to migrate.")
		}
		return
	}
	if s.Running {
		fmt.Fprintln(w, "The run is going on; once it ends, 'codat-migrate status' shows what is left.")
	} else if n := s.Resumable(); n > 0 {
		fmt.Fprintf(w, "Resumable: %d ref(s); rerun the same 'codat-migrate migrate' command to continue.\n", n)
	} else {
		fmt.Fprintln(w, "No started migration is left unfinished. Rows never started are not in the journal: pass --input EXPORT to count them.")
	}
}

// statusInProgress labels, in status, the refs a running run has started and
// not finished.
const statusInProgress bulk.Status = "in-progress"
