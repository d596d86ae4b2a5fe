// Command quickstart migrates one QuickBooks Online connection into Codat with
// a single call to Client.Migrate.
//
// Without CODAT_API_KEY it runs against an in-memory fake Codat
// (package codattest), so it needs no account and no network:
//
//	go run ./examples/quickstart
//
// With CODAT_API_KEY set it talks to Codat itself and reads the customer's
// tokens from QBO_REALM_ID, QBO_ACCESS_TOKEN and QBO_REFRESH_TOKEN. Stop the
// old system from refreshing that customer's tokens first: refresh tokens
// rotate, and two systems refreshing one grant invalidate each other.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/codat-migrate/codat"
	"github.com/codat-migrate/codat/codattest"
	"github.com/codat-migrate/codat/integrations"
)

func main() {
	if err := run(context.Background(), os.Stdout, os.Getenv); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, w io.Writer, getenv func(string) string) error {
	client, auth, stop, err := setup(w, getenv)
	if err != nil {
		return err
	}
	defer stop()

	res, err := client.Migrate(ctx, codat.Migration{
		Ref:     "crm-42", // your id for this customer: stored as the company tag migrationRef
		Company: codat.CreateCompanyRequest{Name: "Acme Bakery Ltd", Description: "Migrated from our own QuickBooks integration"},
		Auth:    auth,
		Sync:    codat.SyncQueue, // queue the first sync: Codat does not fetch on first link for migrations
	})
	// The result is never nil: it records what was done even on failure,
	// and can be passed back as Migration.Resume.
	var me *codat.MigrationError
	switch {
	case errors.Is(err, codat.ErrTokenRejected) && errors.As(err, &me):
		fmt.Fprintf(w, "Codat did not accept the token; send the customer to re-link: %s\n", me.LinkURL)
		return err
	case err != nil:
		return err
	}
	fmt.Fprintf(w, "Company %s, connection %s: %s\n", res.CompanyID, res.ConnectionID, res.Status)
	fmt.Fprintf(w, "Steps: %v\n", res.Steps)
	fmt.Fprintf(w, "Requests: %d (quota left today: %d of %d)\n", res.Requests, client.Quota().Remaining, client.Quota().Limit)
	return nil
}

// setup returns a client and the customer's tokens: Codat's and real ones with
// CODAT_API_KEY set, a fake Codat and made-up ones otherwise.
func setup(w io.Writer, getenv func(string) string) (*codat.Client, codat.Authorization, func(), error) {
	if key := getenv("CODAT_API_KEY"); key != "" {
		realm, access, refresh := getenv("QBO_REALM_ID"), getenv("QBO_ACCESS_TOKEN"), getenv("QBO_REFRESH_TOKEN")
		if realm == "" || access == "" || refresh == "" {
			return nil, nil, nil, errors.New("with CODAT_API_KEY set, also set QBO_REALM_ID, QBO_ACCESS_TOKEN and QBO_REFRESH_TOKEN")
		}
		opts := []codat.Option{codat.WithUserAgent("codat-migrate-quickstart")}
		if base := getenv("CODAT_BASE_URL"); base != "" {
			opts = append(opts, codat.WithBaseURL(base))
		}
		client, err := codat.NewClient(key, opts...)
		auth := integrations.QuickBooksOnline{
			RealmID:      realm,
			AccessToken:  codat.Secret(access),
			RefreshToken: codat.Secret(refresh),
			ExpiresAt:    time.Now().Add(50 * time.Minute), // when the access token expires, if you know it
		}
		return client, auth, func() {}, err
	}
	srv, err := codattest.Start()
	if err != nil {
		return nil, nil, nil, err
	}
	fmt.Fprintln(w, "CODAT_API_KEY is not set: using a fake Codat in this process.")
	client, err := codat.NewClient(srv.APIKey(), codat.WithBaseURL(srv.URL()))
	auth := integrations.QuickBooksOnline{
		RealmID:      "9130350000000001",
		AccessToken:  codat.Secret("made-up-access-token"),
		RefreshToken: codat.Secret("made-up-refresh-token"),
		ExpiresAt:    time.Now().Add(50 * time.Minute),
	}
	return client, auth, srv.Close, err
}
