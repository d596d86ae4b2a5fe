package bulk_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"time"

	"github.com/codat-migrate/codat"
	"github.com/codat-migrate/codat/bulk"
	"github.com/codat-migrate/codat/codattest"
)

// rows is a ReportWriter that keeps the rows, to print them in input order.
type rows []bulk.ReportRow

func (r *rows) Write(row bulk.ReportRow) error { *r = append(*r, row); return nil }
func (r *rows) Close() error                   { return nil }

func Example() {
	// An in-memory Codat whose syncs finish at once; use your API key and
	// codat.NewClient(key) against the real one.
	srv := codattest.NewServer(codattest.WithSyncTiming(0, 0))
	defer srv.Close()
	client, err := codat.NewClient(srv.APIKey(), codat.WithBaseURL(srv.URL()))
	if err != nil {
		panic(err)
	}
	dir, err := os.MkdirTemp("", "bulk-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)

	export := "ref,company_name,platform,realmId,accessToken,refreshToken\n" +
		"crm-1,Acme Ltd,qhyg,4620816365,access-1,refresh-1\n" +
		"crm-2,Beta LLC,QuickBooks Online,4620816366,access-2,refresh-2\n" +
		"crm-3,Gamma Inc,qhyg,4620816367,,refresh-3\n" + // no access token
		"crm-1,Acme Ltd,qhyg,4620816365,access-1,refresh-1\n" // a repeat
	r := &bulk.Runner{
		Client:       client,
		JournalPath:  filepath.Join(dir, "journal.jsonl"), // rerun with it to resume
		Canary:       1,                                   // crm-1 first, waiting for its sync
		WaitInterval: 10 * time.Millisecond,
	}
	var report rows
	sum, err := r.Run(context.Background(), bulk.BytesInput("export.csv", bulk.FormatCSV, []byte(export)), &report)
	if err != nil {
		panic(err)
	}
	sort.Slice(report, func(i, j int) bool { return report[i].Line < report[j].Line })
	for _, row := range report {
		fmt.Printf("line %d %s: %s\n", row.Line, row.Ref, row.Status)
	}
	fmt.Println("migrated:", sum.Count(bulk.StatusMigrated), "companies in Codat:", srv.CompanyCount())
	// Output:
	// line 2 crm-1: migrated
	// line 3 crm-2: migrated
	// line 4 crm-3: invalid
	// line 5 crm-1: duplicate
	// migrated: 2 companies in Codat: 2
}

func ExampleRunner_Plan() {
	r := &bulk.Runner{Canary: -1} // no Client: the quota is not read
	export := "ref,company_name,platform,realmId,accessToken,refreshToken\n" +
		"crm-1,Acme Ltd,qhyg,4620816365,access-1,refresh-1\n" +
		"crm-2,Beta LLC,qhyg,4620816366,access-2,refresh-2\n"
	p, err := r.Plan(context.Background(), bulk.BytesInput("export.csv", bulk.FormatCSV, []byte(export)))
	if err != nil {
		panic(err)
	}
	fmt.Println("to migrate:", p.ToMigrate(), "requests:", p.RequestsNeeded, "days:", len(p.Estimate.Days))
	// Output:
	// to migrate: 2 requests: 8 days: 1
}

// Ctrl-C once stops cleanly (no new migration starts; those in flight
// finish and are journaled); twice cancels the migrations in flight. Both
// leave a journal that a rerun resumes.
func ExampleRunner_Stop() {
	client, err := codat.NewClient(os.Getenv("CODAT_API_KEY"))
	if err != nil {
		panic(err)
	}
	r := &bulk.Runner{Client: client, JournalPath: "export.csv.journal"}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt)
	defer signal.Stop(sigs)
	go func() {
		<-sigs
		r.Stop() // the soft stop
		<-sigs
		cancel() // the hard stop
	}()
	report, err := bulk.CreateReport("export.report.csv")
	if err != nil {
		panic(err)
	}
	defer report.Close()
	_, err = r.Run(ctx, bulk.FileInput("export.csv", bulk.FormatCSV), report)
	if errors.Is(err, bulk.ErrStopped) || errors.Is(err, context.Canceled) {
		fmt.Println("stopped; run again with the same journal to resume")
	}
}
