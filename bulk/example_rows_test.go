package bulk_test

import (
	"context"
	"fmt"
	"iter"
	"os"
	"path/filepath"
	"time"

	"github.com/codat-migrate/codat"
	"github.com/codat-migrate/codat/bulk"
	"github.com/codat-migrate/codat/codattest"
)

// customer is a row of a backend's own table.
type customer struct {
	id, name, realm, access, refresh string
}

// A backend feeds the rows of its own database instead of an export file:
// the function runs its query once per pass (the runner reads the rows
// twice, and refuses them with bulk.ErrInputChanged if they differ).
func ExampleRowsFunc() {
	srv := codattest.NewServer(codattest.WithSyncTiming(0, 0))
	defer srv.Close()
	client, err := codat.NewClient(srv.APIKey(), codat.WithBaseURL(srv.URL()))
	if err != nil {
		panic(err)
	}
	dir, err := os.MkdirTemp("", "bulk-rows")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)

	table := []customer{ // SELECT … ORDER BY id
		{"cus-1", "Acme Ltd", "4620816365", "access-1", "refresh-1"},
		{"cus-2", "Beta LLC", "4620816366", "access-2", "refresh-2"},
		{"cus-3", "Gamma Inc", "4620816367", "", "refresh-3"}, // no access token
	}
	src := bulk.NamedRows("customers", func(ctx context.Context) iter.Seq2[bulk.Row, error] {
		return func(yield func(bulk.Row, error) bool) {
			for _, c := range table {
				row := bulk.Row{Ref: c.id, CompanyName: c.name, Platform: "qhyg", Fields: map[string]codat.Secret{
					"realmId": codat.Secret(c.realm), "accessToken": codat.Secret(c.access), "refreshToken": codat.Secret(c.refresh),
				}}
				if !yield(row, nil) {
					return
				}
			}
		}
	})
	r := &bulk.Runner{Client: client, JournalPath: filepath.Join(dir, "journal.jsonl"), WaitInterval: 10 * time.Millisecond}
	var report rows
	sum, err := r.Run(context.Background(), src, &report)
	if err != nil {
		panic(err)
	}
	for _, row := range report {
		fmt.Printf("row %d %s: %s\n", row.Line, row.Ref, row.Status)
	}
	fmt.Println(sum.Input, "migrated:", sum.Count(bulk.StatusMigrated), "companies in Codat:", srv.CompanyCount())
	// Output:
	// row 1 cus-1: migrated
	// row 2 cus-2: migrated
	// row 3 cus-3: invalid
	// customers migrated: 2 companies in Codat: 2
}
