package codat_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/codat-migrate/codat"
	"github.com/codat-migrate/codat/codattest"
	"github.com/codat-migrate/codat/integrations"
)

// Migrate one QuickBooks Online customer: four requests on the happy path.
// The example runs against codattest, an in-memory Codat; against the real
// API, pass your API key and leave out WithBaseURL.
func ExampleClient_Migrate() {
	fake := codattest.NewServer()
	defer fake.Close()
	client, err := codat.NewClient(fake.APIKey(), codat.WithBaseURL(fake.URL()))
	if err != nil {
		fmt.Println(err)
		return
	}

	res, err := client.Migrate(context.Background(), codat.Migration{
		Ref:     "crm-42", // your id for the customer, stored as the company tag migrationRef
		Company: codat.CreateCompanyRequest{Name: "Acme Ltd"},
		Auth: integrations.QuickBooksOnline{
			RealmID:      "9130350000000001",
			AccessToken:  codat.Secret("example-access-token"),
			RefreshToken: codat.Secret("example-refresh-token"),
		},
	})
	var me *codat.MigrationError
	switch {
	case errors.Is(err, codat.ErrTokenRejected) && errors.As(err, &me):
		fmt.Println("the customer must re-link at", me.LinkURL)
		return
	case err != nil:
		fmt.Println("failed; keep res and pass it back as Migration.Resume:", err)
		return
	}
	fmt.Println("steps:", res.Steps)
	fmt.Println("status:", res.Status)
	fmt.Println("requests:", res.Requests)
	fmt.Println("companies tagged crm-42:", len(fake.CompaniesWithTag(codat.RefTagKey, "crm-42")))
	// Output:
	// steps: [company connection authorize verify sync done]
	// status: Linked
	// requests: 4
	// companies tagged crm-42: 1
}

// Journal every step with OnStep, and resume from the journal after a stop.
// Here Codat answers the sync request with a 429 whose Retry-After is an
// hour: Migrate does not sleep through it, it returns.
func ExampleClient_Migrate_resume() {
	fake := codattest.NewServer()
	defer fake.Close()
	fake.InjectFault(codattest.Fault{Route: "POST " + codattest.RouteDataAll,
		Kind: codattest.FaultRateLimit, RetryAfter: time.Hour, Times: 1})
	client, err := codat.NewClient(fake.APIKey(), codat.WithBaseURL(fake.URL()))
	if err != nil {
		fmt.Println(err)
		return
	}

	var journal codat.MigrationResult // in real use: append to a file, fsync
	m := codat.Migration{
		Ref:     "crm-43",
		Company: codat.CreateCompanyRequest{Name: "Globex Ltd"},
		Auth: integrations.QuickBooksOnline{
			RealmID:      "9130350000000002",
			AccessToken:  codat.Secret("example-access-token"),
			RefreshToken: codat.Secret("example-refresh-token"),
		},
		OnStep: func(_ context.Context, r codat.MigrationResult) error { journal = r; return nil },
	}
	_, err = client.Migrate(context.Background(), m)
	var me *codat.MigrationError
	if errors.As(err, &me) {
		if _, spent := codat.IsQuotaExhausted(err); spent {
			fmt.Printf("stopped at step %s; journaled %v\n", me.Step, journal.Steps)
		}
	}

	// Later (after the quota resets, or in a new process):
	m.Resume = &journal
	res, err := client.Migrate(context.Background(), m)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("resumed: %v in %d request(s)\n", res.Steps, res.Requests)
	// Output:
	// stopped at step sync; journaled [company connection authorize verify]
	// resumed: [company connection authorize verify sync done] in 1 request(s)
}

// OnStep is where a backend journals the migration and checks that it still
// holds the ref (a lease): an error from it stops Migrate before its next
// request. Here the hook refuses the token's send intent, so the token is
// never sent; a second call for a ref still in flight on the same client
// would get ErrMigrationInProgress instead.
func ExampleMigration_onStep() {
	fake := codattest.NewServer()
	defer fake.Close()
	client, err := codat.NewClient(fake.APIKey(), codat.WithBaseURL(fake.URL()))
	if err != nil {
		fmt.Println(err)
		return
	}
	errLeaseLost := errors.New("lease on the ref lost")
	m := codat.Migration{
		Ref:      "crm-44",
		Company:  codat.CreateCompanyRequest{Name: "Initech Ltd"},
		TenantID: "9130350000000004",
		Auth: integrations.QuickBooksOnline{
			RealmID:      "9130350000000004",
			AccessToken:  codat.Secret("example-access-token"),
			RefreshToken: codat.Secret("example-refresh-token"),
		},
		OnStep: func(_ context.Context, r codat.MigrationResult) error {
			if r.TokenSend != nil {
				return errLeaseLost // another runner took the ref over
			}
			fmt.Println("journaled:", r.Steps)
			return nil
		},
	}
	res, err := client.Migrate(context.Background(), m)
	fmt.Println(errors.Is(err, codat.ErrOnStep), errors.Is(err, errLeaseLost))
	fmt.Println("requests:", res.Requests, "token PUTs:", fake.RequestCount()-2)
	fmt.Println("tenant tag:", fake.CompaniesWithTag(codat.RefTagKey, "crm-44")[0].Tags[codat.TenantTagKey])
	// Output:
	// journaled: [company]
	// journaled: [company connection]
	// true true
	// requests: 2 token PUTs: 0
	// tenant tag: qhyg:9130350000000004
}
