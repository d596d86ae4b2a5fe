// Command custom-integration migrates a connection to a platform whose body
// this module does not know, in two ways: by teaching the registry the body's
// field names from a Postman collection (integrations.LoadPostman), and by
// sending exactly the fields given (integrations.Generic).
//
// Codat publishes each integration's token-migration body only in its Postman
// collection ("OAuth Token Migrations" folder). Export that collection
// (Collection v2.1) and load it: the registry then checks rows against the
// real field names, and the typed builders follow any rename.
//
// Without CODAT_API_KEY it runs against an in-memory fake Codat with the
// collection embedded here:
//
//	go run ./examples/custom-integration
//
// With CODAT_API_KEY set it loads the collection given as the first argument
// and migrates one company whose fields are read from a JSON file
// ({"field": "value", …}) given as the third:
//
//	CODAT_API_KEY=… go run ./examples/custom-integration codat.postman_collection.json wvzu fields.json
package main

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/codat-migrate/codat"
	"github.com/codat-migrate/codat/codattest"
	"github.com/codat-migrate/codat/integrations"
)

//go:embed collection.json
var exampleCollection []byte

func main() {
	if err := run(context.Background(), os.Stdout, os.Getenv, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "custom-integration:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, w io.Writer, getenv func(string) string, args []string) error {
	s, err := setup(w, getenv, args)
	if err != nil {
		return err
	}
	defer s.stop()

	// 1. Teach a registry the platform's fields from the collection.
	reg, changes, err := integrations.LoadPostman(bytes.NewReader(s.collection))
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "Loaded from the collection:\n  %s\n", changes)
	p, ok := reg.Lookup(s.platform)
	if !ok {
		return fmt.Errorf("the collection does not describe platform %q", s.platform)
	}
	fmt.Fprintf(w, "%s (%s): %s; evidence %s\n", p.Name, p.Key, p.Expected(), p.Evidence)

	// 2. A record (a CSV row, say) checked against those fields: every
	// required field present, no unknown column.
	auth, err := reg.FromRecord(s.platform, s.fields)
	if err != nil {
		return err
	}
	res, err := s.client.Migrate(ctx, codat.Migration{
		Ref:     "crm-1001",
		Company: codat.CreateCompanyRequest{Name: "Willow Books Ltd"},
		Auth:    auth,
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "Migrated crm-1001 with FromRecord: company %s, connection %s\n", res.CompanyID, res.Status)

	// 3. Or no registry at all: Generic sends exactly the fields it holds,
	// each a codat.Secret, so it prints redacted.
	generic := integrations.Generic{Key: s.platform, Fields: map[string]codat.Secret{}}
	for k, v := range s.fields {
		generic.Fields[k] = codat.Secret(v)
	}
	fmt.Fprintf(w, "Generic body for %s: %v\n", generic.Key, generic.Fields)
	res, err = s.client.Migrate(ctx, codat.Migration{
		Ref:     "crm-1002",
		Company: codat.CreateCompanyRequest{Name: "Thistle Print"},
		Auth:    generic,
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "Migrated crm-1002 with Generic: company %s, connection %s\n", res.CompanyID, res.Status)
	return nil
}

type setupResult struct {
	client     *codat.Client
	collection []byte
	platform   string
	fields     map[string]string
	stop       func()
}

func setup(w io.Writer, getenv func(string) string, args []string) (*setupResult, error) {
	if key := getenv("CODAT_API_KEY"); key != "" {
		if len(args) != 3 {
			return nil, errors.New("with CODAT_API_KEY set, give: COLLECTION.json PLATFORM_KEY FIELDS.json")
		}
		collection, err := os.ReadFile(args[0])
		if err != nil {
			return nil, err
		}
		raw, err := os.ReadFile(args[2])
		if err != nil {
			return nil, err
		}
		var fields map[string]string
		if err := json.Unmarshal(raw, &fields); err != nil {
			return nil, fmt.Errorf("%s: want a JSON object of strings", args[2]) // never echo the file: it holds tokens
		}
		opts := []codat.Option{codat.WithUserAgent("codat-migrate-custom-example")}
		if base := getenv("CODAT_BASE_URL"); base != "" {
			opts = append(opts, codat.WithBaseURL(base))
		}
		client, err := codat.NewClient(key, opts...)
		if err != nil {
			return nil, err
		}
		return &setupResult{client: client, collection: collection, platform: args[1], fields: fields, stop: func() {}}, nil
	}
	fmt.Fprintln(w, "CODAT_API_KEY is not set: using a fake Codat in this process and the embedded collection.")
	// The fake insists on the collection's fields for this platform.
	srv, err := codattest.Start(codattest.WithRequiredFields("wvzu", "apiKey", "userName"))
	if err != nil {
		return nil, err
	}
	client, err := codat.NewClient(srv.APIKey(), codat.WithBaseURL(srv.URL()))
	if err != nil {
		srv.Close()
		return nil, err
	}
	return &setupResult{
		client:     client,
		collection: exampleCollection,
		platform:   "wvzu",
		fields:     map[string]string{"apiKey": "made-up-kashflow-api-key", "userName": "acme-finance"},
		stop:       srv.Close,
	}, nil
}
