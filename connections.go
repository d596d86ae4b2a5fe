package codat

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"net/http"
	"regexp"
)

// ConnectionsService is the /companies/{companyId}/connections API.
type ConnectionsService struct{ client *Client }

var platformKeyPattern = regexp.MustCompile(`^[a-z]{4}$`)

// IsPlatformKey reports whether key has the form of a Codat platform key
// (an integration's key, e.g. "qhyg"): four lowercase ASCII letters, the
// contract's platformKey pattern. It does not tell whether Codat knows the
// integration (see IntegrationsService.Get).
func IsPlatformKey(key string) bool { return platformKeyPattern.MatchString(key) }

// Create creates a connection to an integration for a company: POST
// /companies/{companyId}/connections with {"platformKey": …} (200 Connection,
// normally PendingAuth). Retry class: keyed write (see IdempotencyKey).
func (s *ConnectionsService) Create(ctx context.Context, companyID, platformKey string, opts ...RequestOption) (Connection, error) {
	var out Connection
	if err := requireIDs("Connections.Create", "companyID", companyID); err != nil {
		return out, err
	}
	if !IsPlatformKey(platformKey) {
		return out, fmt.Errorf("codat: Connections.Create: platform key %q is not four lowercase letters", oneLine(platformKey, 20))
	}
	o, err := applyOptions("Connections.Create", opts)
	if err != nil {
		return out, err
	}
	body := struct {
		PlatformKey string `json:"platformKey"`
	}{platformKey}
	err = s.client.do(ctx, call{method: http.MethodPost, path: escapePath("companies", companyID, "connections"), body: body, class: classKeyed, opts: o}, &out)
	return out, err
}

// Get returns one connection: GET /companies/{companyId}/connections/{connectionId}.
// Retry class: read.
func (s *ConnectionsService) Get(ctx context.Context, companyID, connectionID string) (Connection, error) {
	var out Connection
	if err := requireIDs("Connections.Get", "companyID", companyID, "connectionID", connectionID); err != nil {
		return out, err
	}
	err := s.client.do(ctx, call{method: http.MethodGet, path: escapePath("companies", companyID, "connections", connectionID), class: classRead}, &out)
	return out, err
}

// List returns one page of a company's connections: GET
// /companies/{companyId}/connections (page, pageSize, query, orderBy).
// Retry class: read.
func (s *ConnectionsService) List(ctx context.Context, companyID string, opts *ListOptions) (Page[Connection], error) {
	var out Page[Connection]
	if err := requireIDs("Connections.List", "companyID", companyID); err != nil {
		return out, err
	}
	q, err := listQuery("Connections.List", opts, false)
	if err != nil {
		return out, err
	}
	err = s.client.do(ctx, call{method: http.MethodGet, path: escapePath("companies", companyID, "connections"), query: q, class: classRead}, &out)
	return out, err
}

// All iterates over every connection of a company, page by page.
// Retry class: read.
func (s *ConnectionsService) All(ctx context.Context, companyID string, opts *ListOptions) iter.Seq2[Connection, error] {
	return allPages(ctx, opts, func(ctx context.Context, o *ListOptions) (Page[Connection], error) {
		return s.List(ctx, companyID, o)
	})
}

// Delete revokes and removes a connection: DELETE
// /companies/{companyId}/connections/{connectionId} (200, no body). It cannot
// be undone. Retry class: read.
func (s *ConnectionsService) Delete(ctx context.Context, companyID, connectionID string) error {
	if err := requireIDs("Connections.Delete", "companyID", companyID, "connectionID", connectionID); err != nil {
		return err
	}
	return s.client.do(ctx, call{method: http.MethodDelete, path: escapePath("companies", companyID, "connections", connectionID), class: classRead}, nil)
}

// Unlink severs a Linked connection, keeping its data readable: PATCH
// /companies/{companyId}/connections/{connectionId} with {"status":
// "Unlinked"} (200 Connection). Retry class: keyed write (see IdempotencyKey).
func (s *ConnectionsService) Unlink(ctx context.Context, companyID, connectionID string, opts ...RequestOption) (Connection, error) {
	var out Connection
	if err := requireIDs("Connections.Unlink", "companyID", companyID, "connectionID", connectionID); err != nil {
		return out, err
	}
	o, err := applyOptions("Connections.Unlink", opts)
	if err != nil {
		return out, err
	}
	body := struct {
		Status ConnectionStatus `json:"status"`
	}{StatusUnlinked}
	err = s.client.do(ctx, call{method: http.MethodPatch, path: escapePath("companies", companyID, "connections", connectionID), body: body, class: classKeyed, opts: o}, &out)
	return out, err
}

// UpdateAuthorization migrates tokens into a connection: PUT
// /companies/{companyId}/connections/{connectionId}/authorization with the
// flat string→string body auth.Body() returns (200 Connection; Linked when
// Codat accepted the tokens).
//
// Retry class: authorization — only a 429 and failures where the request
// never left (dial errors) are retried. Any other failure is returned; when
// IsAmbiguous(err) the tokens may have been installed, so read the connection
// before sending them again (refresh tokens rotate).
//
// An answer that echoes a credential of the body (a token: any value not
// shaped like an identifier, see SecretEchoError) or the API key is not
// returned: the call fails with a *SecretEchoError, for which IsAmbiguous is
// true.
func (s *ConnectionsService) UpdateAuthorization(ctx context.Context, companyID, connectionID string, auth Authorization) (Connection, error) {
	var out Connection
	if err := requireIDs("Connections.UpdateAuthorization", "companyID", companyID, "connectionID", connectionID); err != nil {
		return out, err
	}
	if auth == nil {
		return out, errors.New("codat: Connections.UpdateAuthorization: nil Authorization")
	}
	body, err := auth.Body()
	if err != nil {
		return out, fmt.Errorf("codat: Connections.UpdateAuthorization: %s authorization: %w", oneLine(auth.PlatformKey(), 20), err)
	}
	if body == nil {
		body = map[string]string{}
	}
	err = s.client.do(ctx, call{method: http.MethodPut, path: escapePath("companies", companyID, "connections", connectionID, "authorization"), body: body, class: classAuth}, &out)
	return out, err
}
