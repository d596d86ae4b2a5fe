package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"sync"

	"github.com/codat-migrate/codat/bulk"
	"github.com/codat-migrate/codat/integrations"
)

func validateCommand() *command {
	c := &command{
		exits: []int{exitOK, exitRowsFailed, exitUsage, exitFatal},
		exitText: map[int]string{exitOK: "every row is valid", exitRowsFailed: "some rows are invalid or duplicate (listed)",
			exitFatal: "the input cannot be read as a whole (its header, its encoding, not an export)"},
		name:     "validate",
		summary:  "check every row of an export offline; nothing is sent",
		synopsis: "[flags] [--input] FILE",
		help: `Checks every row of a CSV or JSONL export without any network access and
without an API key: the columns, the platform (key or name), the fields each
platform's body needs and their formats (IDs, shop domains, expiry dates not
in the past, expired JWT access tokens…), and duplicates (the same ref twice,
or one provider tenant under two refs). An expired access token (JWT exp or
expiresAt in the past) is an error only when the row has no refresh token:
with one, Codat refreshes the access token.

Every bad row is listed by line and ref, with the reason (never a value; a
ref, company name or platform cell that looks like a credential is withheld
and makes the row invalid: the mark of shifted columns). A company name that
Codat stores otherwise (it keeps A-Z, a-z, 0-9, spaces and - ' , & @ . ? !;
accents are folded) is a warning: line, ref, the name → what Codat stores; a
name with nothing Codat keeps is invalid.

The header is matched ignoring case, spaces, '_' and '-'; the delimiter (',',
';' or tab) is detected; columns that are not for Codat are left out with
--ignore-columns. A file that is not UTF-8, not text, or a JSON array is
refused with the reason. A CSV record is at most 1 MiB and a field 16 KiB.`,
	}
	c.run = func(a *app, args []string) int {
		fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
		var lf logFlags
		var inf inputFlags
		var report string
		lf.register(fs)
		inf.register(fs)
		fs.StringVar(&report, "report", "", "also write every row's outcome to this `file` (.csv, .json or .jsonl)")
		if ok, code := a.parse(c, fs, args); !ok {
			return code
		}
		if err := inf.resolveInput(fs); err != nil {
			return a.exitForSetupError(c, err)
		}
		if err := checkReportPath(report); err != nil {
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
		reg, err := loadRegistry(inf.spec, a.stderr)
		if err != nil {
			return a.exitForSetupError(c, err)
		}
		return a.validate(c, in, reg, logger, report)
	}
	return c
}

// validate checks every row of in offline, lists the rows that are not
// valid, writes them all to report when it is not "", and prints the
// counts.
func (a *app) validate(c *command, in *inputFile, reg *integrations.Registry, logger *slog.Logger, report string) int {
	var rep bulk.ReportWriter = bulk.DiscardReport
	if report != "" {
		var err error
		if rep, err = bulk.CreateReport(report); err != nil {
			return a.exitForSetupError(c, err)
		}
	}
	lister := &badRowLister{next: rep, w: a.stdout}
	r := &bulk.Runner{Registry: reg, Logger: logger}
	sum, err := r.Validate(context.Background(), in.bulkInput(), lister)
	if cerr := rep.Close(); cerr != nil && err == nil {
		err = cerr
	}
	if err != nil {
		a.errorf(c, "%v", err)
		return exitFatal
	}
	bad := sum.Rows - sum.Count(bulk.StatusValid)
	fmt.Fprintf(a.stdout, "%s: %d rows, %d valid", in.Name, sum.Rows, sum.Count(bulk.StatusValid))
	if n := sum.Count(bulk.StatusInvalid); n > 0 {
		fmt.Fprintf(a.stdout, ", %d invalid", n)
	}
	if n := sum.Count(bulk.StatusDuplicate); n > 0 {
		fmt.Fprintf(a.stdout, ", %d duplicate", n)
	}
	fmt.Fprintln(a.stdout, "; nothing was sent")
	if report != "" {
		fmt.Fprintf(a.stdout, "Report: %s\n", absPath(report))
	}
	if bad > 0 {
		return exitRowsFailed
	}
	return exitOK
}

// badRowLister prints each row that is not valid as it is reported.
type badRowLister struct {
	next bulk.ReportWriter
	mu   sync.Mutex
	w    io.Writer
}

func (l *badRowLister) Write(r bulk.ReportRow) error {
	l.mu.Lock()
	switch {
	case r.Status != bulk.StatusValid:
		fmt.Fprintln(l.w, rowLine(r))
	case r.InputCompanyName != "":
		fmt.Fprintln(l.w, nameChangeLine(r.Line, r.Ref, r.InputCompanyName, r.CompanyName))
	}
	l.mu.Unlock()
	return l.next.Write(r)
}

// nameChangeLine warns that Codat stores a company name otherwise.
func nameChangeLine(line int, ref, input, stored string) string {
	return fmt.Sprintf("line %-4d %s  warning: Codat stores the company name %q as %q", line, refOrDash(ref), input, stored)
}

// printNameChanges lists the rows to migrate whose company name Codat
// stores otherwise.
func printNameChanges(w io.Writer, p *bulk.Plan, ind string) {
	if p.NameChangeCount == 0 {
		return
	}
	fmt.Fprintf(w, "%sCompany names Codat stores otherwise (it keeps A-Z, a-z, 0-9, spaces and - ' , & @ . ? !; accents are folded): %d\n", ind, p.NameChangeCount)
	for i, c := range p.NameChanges {
		if i == maxShown {
			break
		}
		fmt.Fprintf(w, "%s  %s\n", ind, nameChangeLine(c.Line, c.Ref, c.Input, c.Stored))
	}
	if n := p.NameChangeCount - min(len(p.NameChanges), maxShown); n > 0 {
		fmt.Fprintf(w, "%s  … and %d more ('validate' lists them all)\n", ind, n)
	}
}

func (l *badRowLister) Close() error { return nil }

// Open passes on Run's and Validate's Open call (see bulk.ReportWriter) to
// the report file.
func (l *badRowLister) Open() error {
	if o, ok := l.next.(interface{ Open() error }); ok {
		return o.Open()
	}
	return nil
}
