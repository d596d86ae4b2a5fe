// Package endpoints lists every method of the SDK's services that sends one
// request, with how to call it and a contract-valid success answer, for tests
// that run every method (failure paths, retry classes, the OpenAPI contract).
// A test in this package fails when a service gains a method the table lacks.
package endpoints

import (
	"context"
	"iter"
	"net/http"
	"slices"

	"github.com/codat-migrate/codat"
	"github.com/codat-migrate/codat/internal/testutil"
)

// IDs the calls use, and the success answers echo.
const (
	CompanyID    = "8a210b68-6988-11ed-a1eb-0242ac120002"
	ConnectionID = "2e2eb431-c1fa-4dc9-93fa-d29781c12bcd"
	DatasetID    = "943accd0-4247-42d8-865b-363c8629e1da"
)

// Retry classes of the SDK (README, "Retry classes").
const (
	ClassRead  = "read"  // GET, DELETE: retried on transport errors, 408, 429, 5xx
	ClassKeyed = "keyed" // POST, PATCH with an Idempotency-Key
	ClassAuth  = "auth"  // PUT …/authorization: retried only when the request never left
)

// Endpoint is one SDK method that sends one request.
type Endpoint struct {
	// Name is "Service.Method", the service named as its field of codat.Client.
	Name string
	// Method is the HTTP method sent.
	Method string
	// Class is the retry class: ClassRead, ClassKeyed or ClassAuth.
	Class string
	// Decodes is true when a 2xx must carry a JSON body the method decodes.
	Decodes bool
	// Call calls the method with the IDs above.
	Call func(ctx context.Context, c *codat.Client) error
	// Respond writes a contract-valid 2xx answer to the method's request.
	Respond http.HandlerFunc
}

// Composite lists the service methods that are not one request, with what
// they are made of; the completeness test accepts them without an entry.
var Composite = map[string]string{
	"Sync.Wait": "polls Sync.Status until every data type settles",
}

// Auth is a minimal codat.Authorization.
type Auth struct {
	Key    string
	Fields map[string]string
	Err    error
}

// PlatformKey implements codat.Authorization.
func (a Auth) PlatformKey() string { return a.Key }

// Body implements codat.Authorization.
func (a Auth) Body() (map[string]string, error) { return a.Fields, a.Err }

// first returns the first error of an iterator, reading it to the end.
func first[T any](seq iter.Seq2[T, error]) error {
	for _, err := range seq {
		if err != nil {
			return err
		}
	}
	return nil
}

func company(w http.ResponseWriter, _ *http.Request) {
	testutil.WriteJSON(w, 200, testutil.Company(CompanyID, "Acme", nil))
}

func companies(w http.ResponseWriter, _ *http.Request) {
	testutil.WriteJSON(w, 200, testutil.Page("/companies",
		[]any{testutil.Company(CompanyID, "Acme", map[string]string{"migrationRef": "crm-1"})}, 1, 100, 1, false))
}

func connection(w http.ResponseWriter, _ *http.Request) {
	testutil.WriteJSON(w, 200, testutil.Connection(CompanyID, ConnectionID, "qhyg", "Linked"))
}

func connections(w http.ResponseWriter, r *http.Request) {
	testutil.WriteJSON(w, 200, testutil.Page(r.URL.Path,
		[]any{testutil.Connection(CompanyID, ConnectionID, "qhyg", "Linked")}, 1, 100, 1, false))
}

func pullOperation(w http.ResponseWriter, _ *http.Request) {
	testutil.WriteJSON(w, 200, testutil.PullOperation(CompanyID, ConnectionID, DatasetID, "invoices", "Queued", false))
}

func pullOperations(w http.ResponseWriter, r *http.Request) {
	testutil.WriteJSON(w, 200, testutil.Page(r.URL.Path,
		[]any{testutil.PullOperation(CompanyID, ConnectionID, DatasetID, "invoices", "Complete", true)}, 1, 100, 1, false))
}

func integration(w http.ResponseWriter, _ *http.Request) {
	testutil.WriteJSON(w, 200, testutil.Integration("qhyg", "QuickBooks Online"))
}

func integrations(w http.ResponseWriter, _ *http.Request) {
	testutil.WriteJSON(w, 200, testutil.Page("/integrations",
		[]any{testutil.Integration("qhyg", "QuickBooks Online")}, 1, 100, 1, false))
}

func dataStatus(w http.ResponseWriter, _ *http.Request) {
	testutil.WriteJSON(w, 200, map[string]any{"invoices": map[string]any{"dataType": "invoices", "currentStatus": "Complete"}})
}

func status(code int) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(code) }
}

// All returns the table, one entry per method.
func All() []Endpoint { return slices.Clone(table) }

// auth is the authorization Connections.UpdateAuthorization sends.
var auth = Auth{Key: "qhyg", Fields: map[string]string{"accessToken": "tok"}}

var table = []Endpoint{
	{Name: "Companies.Create", Method: "POST", Class: ClassKeyed, Decodes: true, Respond: company,
		Call: func(ctx context.Context, c *codat.Client) error {
			_, err := c.Companies.Create(ctx, codat.CreateCompanyRequest{Name: "Acme"})
			return err
		}},
	{Name: "Companies.Get", Method: "GET", Class: ClassRead, Decodes: true, Respond: company,
		Call: func(ctx context.Context, c *codat.Client) error {
			_, err := c.Companies.Get(ctx, CompanyID)
			return err
		}},
	{Name: "Companies.List", Method: "GET", Class: ClassRead, Decodes: true, Respond: companies,
		Call: func(ctx context.Context, c *codat.Client) error {
			_, err := c.Companies.List(ctx, nil)
			return err
		}},
	{Name: "Companies.All", Method: "GET", Class: ClassRead, Decodes: true, Respond: companies,
		Call: func(ctx context.Context, c *codat.Client) error {
			return first(c.Companies.All(ctx, nil))
		}},
	{Name: "Companies.Update", Method: "PATCH", Class: ClassKeyed, Decodes: true, Respond: company,
		Call: func(ctx context.Context, c *codat.Client) error {
			_, err := c.Companies.Update(ctx, CompanyID, codat.UpdateCompanyRequest{Description: "x"})
			return err
		}},
	{Name: "Companies.Delete", Method: "DELETE", Class: ClassRead, Respond: status(204),
		Call: func(ctx context.Context, c *codat.Client) error {
			return c.Companies.Delete(ctx, CompanyID)
		}},
	{Name: "Connections.Create", Method: "POST", Class: ClassKeyed, Decodes: true, Respond: connection,
		Call: func(ctx context.Context, c *codat.Client) error {
			_, err := c.Connections.Create(ctx, CompanyID, "qhyg")
			return err
		}},
	{Name: "Connections.Get", Method: "GET", Class: ClassRead, Decodes: true, Respond: connection,
		Call: func(ctx context.Context, c *codat.Client) error {
			_, err := c.Connections.Get(ctx, CompanyID, ConnectionID)
			return err
		}},
	{Name: "Connections.List", Method: "GET", Class: ClassRead, Decodes: true, Respond: connections,
		Call: func(ctx context.Context, c *codat.Client) error {
			_, err := c.Connections.List(ctx, CompanyID, nil)
			return err
		}},
	{Name: "Connections.All", Method: "GET", Class: ClassRead, Decodes: true, Respond: connections,
		Call: func(ctx context.Context, c *codat.Client) error {
			return first(c.Connections.All(ctx, CompanyID, nil))
		}},
	{Name: "Connections.Delete", Method: "DELETE", Class: ClassRead, Respond: status(200),
		Call: func(ctx context.Context, c *codat.Client) error {
			return c.Connections.Delete(ctx, CompanyID, ConnectionID)
		}},
	{Name: "Connections.Unlink", Method: "PATCH", Class: ClassKeyed, Decodes: true, Respond: connection,
		Call: func(ctx context.Context, c *codat.Client) error {
			_, err := c.Connections.Unlink(ctx, CompanyID, ConnectionID)
			return err
		}},
	{Name: "Connections.UpdateAuthorization", Method: "PUT", Class: ClassAuth, Decodes: true, Respond: connection,
		Call: func(ctx context.Context, c *codat.Client) error {
			_, err := c.Connections.UpdateAuthorization(ctx, CompanyID, ConnectionID, auth)
			return err
		}},
	{Name: "Sync.RefreshAll", Method: "POST", Class: ClassKeyed, Respond: status(204),
		Call: func(ctx context.Context, c *codat.Client) error {
			return c.Sync.RefreshAll(ctx, CompanyID)
		}},
	{Name: "Sync.RefreshDataType", Method: "POST", Class: ClassKeyed, Decodes: true, Respond: pullOperation,
		Call: func(ctx context.Context, c *codat.Client) error {
			_, err := c.Sync.RefreshDataType(ctx, CompanyID, "invoices", nil)
			return err
		}},
	{Name: "Sync.Status", Method: "GET", Class: ClassRead, Decodes: true, Respond: dataStatus,
		Call: func(ctx context.Context, c *codat.Client) error {
			_, err := c.Sync.Status(ctx, CompanyID)
			return err
		}},
	{Name: "PullOperations.List", Method: "GET", Class: ClassRead, Decodes: true, Respond: pullOperations,
		Call: func(ctx context.Context, c *codat.Client) error {
			_, err := c.PullOperations.List(ctx, CompanyID, nil)
			return err
		}},
	{Name: "PullOperations.All", Method: "GET", Class: ClassRead, Decodes: true, Respond: pullOperations,
		Call: func(ctx context.Context, c *codat.Client) error {
			return first(c.PullOperations.All(ctx, CompanyID, nil))
		}},
	{Name: "PullOperations.Get", Method: "GET", Class: ClassRead, Decodes: true, Respond: pullOperation,
		Call: func(ctx context.Context, c *codat.Client) error {
			_, err := c.PullOperations.Get(ctx, CompanyID, DatasetID)
			return err
		}},
	{Name: "Integrations.List", Method: "GET", Class: ClassRead, Decodes: true, Respond: integrations,
		Call: func(ctx context.Context, c *codat.Client) error {
			_, err := c.Integrations.List(ctx, nil)
			return err
		}},
	{Name: "Integrations.All", Method: "GET", Class: ClassRead, Decodes: true, Respond: integrations,
		Call: func(ctx context.Context, c *codat.Client) error {
			return first(c.Integrations.All(ctx, nil))
		}},
	{Name: "Integrations.Get", Method: "GET", Class: ClassRead, Decodes: true, Respond: integration,
		Call: func(ctx context.Context, c *codat.Client) error {
			_, err := c.Integrations.Get(ctx, "qhyg")
			return err
		}},
}
