// Command bulk-csv migrates every customer of a CSV export with package bulk:
// offline checks, a canary, a journal that makes reruns resume, and a report
// with one line per row — the library behind `codat-migrate migrate`.
//
// Without CODAT_API_KEY it writes a small sample export and runs it against an
// in-memory fake Codat (package codattest):
//
//	go run ./examples/bulk-csv
//
// With CODAT_API_KEY set it migrates the CSV file given as its argument into
// Codat (journal <file>.journal, report on standard output):
//
//	CODAT_API_KEY=… go run ./examples/bulk-csv export.csv
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"time"

	"github.com/codat-migrate/codat"
	"github.com/codat-migrate/codat/bulk"
	"github.com/codat-migrate/codat/codattest"
)

// sampleCSV is the export used against the fake: one column per
// authorization field (a row fills only its platform's), and one row whose
// realmId is not a number, reported invalid without any request.
const sampleCSV = `ref,company_name,platform,description,tag:segment,realmId,tenantId,accessToken,refreshToken
crm-1,Acme Bakery Ltd,QuickBooks Online,,smb,9130350000000001,,made-up-at-1,made-up-rt-1
crm-2,Northwind Plumbing,Xero,Plumbing and heating,smb,,3f2b9c1e-8d4a-4e6b-9a7c-1d2e3f4a5b6c,made-up-at-2,made-up-rt-2
crm-3,Harbour Design LLC,qhyg,,mid-market,9130350000000003,,made-up-at-3,made-up-rt-3
crm-4,Copper Coffee,QuickBooks Online,,smb,not-a-number,,made-up-at-4,made-up-rt-4
crm-5,Maple Joinery,gbol,,smb,,0c1d2e3f-4a5b-4c6d-8e7f-8091a2b3c4d5,made-up-at-5,made-up-rt-5
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Stdout, os.Getenv, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "bulk-csv:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, w io.Writer, getenv func(string) string, args []string) error {
	client, input, cleanup, err := setup(w, getenv, args)
	if err != nil {
		return err
	}
	defer cleanup()

	r := &bulk.Runner{
		Client:      client,
		JournalPath: input + ".journal", // rerun with the same journal to resume
		Concurrency: 4,
		Canary:      1, // migrate one company first and wait for its first sync
		OnProgress: func(p bulk.Progress) {
			if p.Phase == bulk.PhaseDone {
				fmt.Fprintf(w, "done: %d migrated, %d failed, %d skipped, %d requests\n", p.Done, p.Failed, p.Skipped, p.Requests)
			}
		},
	}
	in := bulk.FileInput(input, bulk.FormatCSV)

	plan, err := r.Plan(ctx, in)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "plan: %d rows, %d to migrate, about %d requests\n", plan.Rows, plan.ToMigrate(), plan.RequestsNeeded)

	report := bulk.NewCSVReport(w) // one line per input row; never a token
	sum, err := r.Run(ctx, in, report)
	if cerr := report.Close(); err == nil {
		err = cerr
	}
	var qe *bulk.QuotaError
	if errors.As(err, &qe) {
		return fmt.Errorf("the daily quota is spent; rerun after %s to resume", qe.Reset.Format(time.RFC3339))
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "summary: %d rows: %d migrated, %d invalid\n", sum.Rows, sum.Count(bulk.StatusMigrated), sum.Count(bulk.StatusInvalid))
	return nil
}

// setup returns a client and the export to migrate: Codat's and the file
// given with CODAT_API_KEY set, a fake Codat and a sample file otherwise.
func setup(w io.Writer, getenv func(string) string, args []string) (*codat.Client, string, func(), error) {
	if key := getenv("CODAT_API_KEY"); key != "" {
		if len(args) != 1 {
			return nil, "", nil, errors.New("with CODAT_API_KEY set, give the CSV export to migrate as the only argument")
		}
		opts := []codat.Option{codat.WithUserAgent("codat-migrate-bulk-example"), codat.WithRequestRate(1000, time.Minute)}
		if base := getenv("CODAT_BASE_URL"); base != "" {
			opts = append(opts, codat.WithBaseURL(base))
		}
		client, err := codat.NewClient(key, opts...)
		return client, args[0], func() {}, err
	}
	fmt.Fprintln(w, "CODAT_API_KEY is not set: using a fake Codat in this process and a sample export.")
	srv, err := codattest.Start(codattest.WithSyncTiming(0, 0)) // pulls finish at once, so the canary passes quickly
	if err != nil {
		return nil, "", nil, err
	}
	dir, err := os.MkdirTemp("", "bulk-csv-example-*")
	if err != nil {
		srv.Close()
		return nil, "", nil, err
	}
	cleanup := func() { srv.Close(); os.RemoveAll(dir) }
	path := filepath.Join(dir, "export.csv")
	if err := os.WriteFile(path, []byte(sampleCSV), 0o600); err != nil { // exports hold live tokens: keep them private
		cleanup()
		return nil, "", nil, err
	}
	client, err := codat.NewClient(srv.APIKey(), codat.WithBaseURL(srv.URL()))
	if err != nil {
		cleanup()
		return nil, "", nil, err
	}
	return client, path, cleanup, nil
}
