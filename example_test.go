package codat_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/codat-migrate/codat"
)

// exampleServer is a tiny stand-in for Codat's API that knows one company
// and one connection, enough to run the examples offline.
func exampleServer() *httptest.Server {
	const (
		companyID    = "8a210b68-6988-11ed-a1eb-0242ac120002"
		connectionID = "2e2eb431-c1fa-4dc9-93fa-d29781c12bcd"
	)
	status := "PendingAuth"
	write := func(w http.ResponseWriter, code int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Rate-Limit-Limit", "1000")
		w.Header().Set("X-Rate-Limit-Remaining", "996")
		w.Header().Set("X-Rate-Limit-Reset", "2026-03-02T00:00:00Z")
		w.WriteHeader(code)
		if v != nil {
			_ = json.NewEncoder(w).Encode(v)
		}
	}
	company := func(name string, tags map[string]string) map[string]any {
		return map[string]any{"id": companyID, "name": name, "redirect": "https://link.codat.io/company/" + companyID, "tags": tags}
	}
	connection := func() map[string]any {
		return map[string]any{"id": connectionID, "integrationKey": "qhyg", "status": status, "platformName": "QuickBooks Online",
			"linkUrl": "https://link-api.codat.io/companies/" + companyID + "/connections/" + connectionID + "/start"}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/companies", func(w http.ResponseWriter, r *http.Request) {
		var req codat.CreateCompanyRequest
		_ = json.NewDecoder(r.Body).Decode(&req)
		write(w, 200, company(req.Name, req.Tags))
	})
	mux.HandleFunc("GET /api/companies", func(w http.ResponseWriter, r *http.Request) {
		write(w, 200, map[string]any{"results": []any{company("Acme Ltd", map[string]string{"migrationRef": "crm-42"})},
			"pageNumber": 1, "pageSize": 100, "totalResults": 1,
			"_links": map[string]any{"self": map[string]string{"href": "/companies"}, "current": map[string]string{"href": "/companies?page=1"}}})
	})
	mux.HandleFunc("GET /api/companies/{id}", func(w http.ResponseWriter, r *http.Request) {
		write(w, 404, map[string]any{"statusCode": 404, "service": "PublicApi", "error": "No company was found with ID " + r.PathValue("id"), "correlationId": "7f3c2a"})
	})
	mux.HandleFunc("POST /api/companies/{id}/connections", func(w http.ResponseWriter, r *http.Request) {
		write(w, 200, connection())
	})
	mux.HandleFunc("PUT /api/companies/{id}/connections/{cid}/authorization", func(w http.ResponseWriter, r *http.Request) {
		status = "Linked"
		write(w, 200, connection())
	})
	mux.HandleFunc("POST /api/companies/{id}/data/all", func(w http.ResponseWriter, r *http.Request) {
		write(w, 204, nil)
	})
	mux.HandleFunc("GET /api/integrations/{key}", func(w http.ResponseWriter, r *http.Request) {
		write(w, 200, map[string]any{"key": r.PathValue("key"), "name": "QuickBooks Online", "enabled": true, "sourceType": "Accounting", "logoUrl": "https://x"})
	})
	return httptest.NewServer(mux)
}

// exampleAuth is an Authorization with a flat token body. Package
// integrations has a typed builder for each platform.
type exampleAuth struct {
	RealmID      string
	AccessToken  codat.Secret
	RefreshToken codat.Secret
}

func (a exampleAuth) PlatformKey() string { return "qhyg" }
func (a exampleAuth) Body() (map[string]string, error) {
	if a.RealmID == "" || a.AccessToken.IsZero() {
		return nil, errors.New("realmId and accessToken are required")
	}
	return map[string]string{"realmId": a.RealmID, "accessToken": a.AccessToken.Reveal(), "refreshToken": a.RefreshToken.Reveal()}, nil
}

// Example_migrationFlow moves one company's QuickBooks Online tokens into
// Codat with the four documented requests.
func Example_migrationFlow() {
	srv := exampleServer()
	defer srv.Close()

	c, err := codat.NewClient("my-api-key", codat.WithBaseURL(srv.URL+"/api"), codat.WithUserAgent("acme-migrator/1.0"))
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()

	co, err := c.Companies.Create(ctx, codat.CreateCompanyRequest{
		Name: "Acme Ltd",
		Tags: map[string]string{"migrationRef": "crm-42"},
	})
	if err != nil {
		log.Fatal(err)
	}
	cn, err := c.Connections.Create(ctx, co.ID, "qhyg")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("created connection:", cn.Status)

	auth := exampleAuth{RealmID: "123145", AccessToken: "eyJ-access", RefreshToken: "AB11-refresh"}
	cn, err = c.Connections.UpdateAuthorization(ctx, co.ID, cn.ID, auth)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("after token migration:", cn.Status, cn.Status.Is(codat.StatusLinked))

	// Codat does not fetch on first link for migrated connections.
	if err := c.Sync.RefreshAll(ctx, co.ID); err != nil {
		log.Fatal(err)
	}
	fmt.Println("requests:", c.Requests())
	fmt.Println("quota remaining:", c.Quota().Remaining)
	fmt.Printf("tokens print as %v\n", auth.AccessToken)
	// Output:
	// created connection: PendingAuth
	// after token migration: Linked true
	// requests: 4
	// quota remaining: 996
	// tokens print as [REDACTED]
}

// ExampleCompaniesService_All finds companies by the tag that carries the
// source system's reference.
func ExampleCompaniesService_All() {
	srv := exampleServer()
	defer srv.Close()
	c, err := codat.NewClient("my-api-key", codat.WithBaseURL(srv.URL+"/api"))
	if err != nil {
		log.Fatal(err)
	}
	for co, err := range c.Companies.All(context.Background(), &codat.ListOptions{Tags: "migrationRef=crm-42"}) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(co.Name, co.Tags["migrationRef"])
	}
	// Output:
	// Acme Ltd crm-42
}

// ExampleAPIError shows how a failed call reads: one line, with Codat's
// correlation id, matched by class with errors.Is.
func ExampleAPIError() {
	srv := exampleServer()
	defer srv.Close()
	c, err := codat.NewClient("my-api-key", codat.WithBaseURL(srv.URL+"/api"))
	if err != nil {
		log.Fatal(err)
	}
	_, err = c.Companies.Get(context.Background(), "0d3f5a7e")
	fmt.Println(err)
	fmt.Println(errors.Is(err, codat.ErrNotFound))
	var apiErr *codat.APIError
	if errors.As(err, &apiErr) {
		fmt.Println(apiErr.StatusCode, apiErr.CorrelationID)
	}
	// Output:
	// codat: GET /companies/0d3f5a7e: 404 Not Found: No company was found with ID 0d3f5a7e (service PublicApi, correlation id 7f3c2a)
	// true
	// 404 7f3c2a
}

// ExampleIntegrationsService_Get checks that an integration is enabled
// before migrating connections to it.
func ExampleIntegrationsService_Get() {
	srv := exampleServer()
	defer srv.Close()
	c, err := codat.NewClient("my-api-key", codat.WithBaseURL(srv.URL+"/api"))
	if err != nil {
		log.Fatal(err)
	}
	in, err := c.Integrations.Get(context.Background(), "qhyg")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(in.Name, in.Enabled)
	// Output:
	// QuickBooks Online true
}

// ExampleNewClient shows the options, and that a misconfiguration is an
// error rather than a panic.
func ExampleNewClient() {
	_, err := codat.NewClient("my-api-key",
		codat.WithRetryPolicy(codat.RetryPolicy{MaxAttempts: 4, MinBackoff: time.Second, MaxBackoff: 30 * time.Second, MaxWait: 2 * time.Minute}),
		codat.WithRequestRate(1000, time.Minute),
	)
	fmt.Println(err)

	_, err = codat.NewClient("my-api-key", codat.WithBaseURL("http://api.codat.io"))
	fmt.Println(err)
	// Output:
	// <nil>
	// codat: WithBaseURL: http is allowed only for loopback hosts; use https for api.codat.io
}

// ExampleIsQuotaExhausted stops a run when Codat's daily quota is spent.
func ExampleIsQuotaExhausted() {
	err := fmt.Errorf("create company: %w", &codat.APIError{StatusCode: 429, Method: "POST", Path: "/companies", RetryAfter: 9 * time.Hour})
	if _, ok := codat.IsQuotaExhausted(err); ok {
		fmt.Println("quota spent; stop until reset")
	}
	fmt.Println(codat.IsAmbiguous(err))
	// Output:
	// quota spent; stop until reset
	// false
}
