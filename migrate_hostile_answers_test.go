package codat_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/codat-migrate/codat"
)

// A 2xx answer to a write that Migrate cannot use — no id, or a body that
// does not decode — is an unknown outcome: one look-up, never a step
// recorded with an empty id, never a second create.
func TestMigrateUnusableWriteAnswer(t *testing.T) {
	tests := []struct {
		name   string
		method string
		suffix string
		body   string
		routes []string
	}{
		{"company without id", http.MethodPost, "/companies", `{"name":"Acme Ltd"}`,
			[]string{migCreateCompany, migListCompanies, migCreateConn, migPutAuth, migDataAll}},
		{"company body not JSON", http.MethodPost, "/companies", `<html>ok</html>`,
			[]string{migCreateCompany, migListCompanies, migCreateConn, migPutAuth, migDataAll}},
		{"connection without id", http.MethodPost, "/connections", `{"status":"PendingAuth"}`,
			[]string{migCreateCompany, migCreateConn, migListConns, migPutAuth, migDataAll}},
		{"connection body truncated", http.MethodPost, "/connections", `{"id":"`,
			[]string{migCreateCompany, migCreateConn, migListConns, migPutAuth, migDataAll}},
		{"token PUT body not JSON", http.MethodPut, "/authorization", `nope`,
			[]string{migCreateCompany, migCreateConn, migPutAuth, migGetConn, migDataAll}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var fired atomic.Bool
			wrap := func(next http.RoundTripper) http.RoundTripper {
				return migRT(func(r *http.Request) (*http.Response, error) {
					resp, err := next.RoundTrip(r)
					if err == nil && r.Method == tt.method && strings.HasSuffix(r.URL.Path, tt.suffix) && resp.StatusCode == 200 && fired.CompareAndSwap(false, true) {
						resp.Body.Close()
						resp.Body = io.NopCloser(strings.NewReader(tt.body))
						resp.ContentLength = int64(len(tt.body))
					}
					return resp, err
				})
			}
			f := newMigFakeWith(t, migClientOpt{wrap: wrap})
			m := newMigration("crm-odd")
			var journal []codat.MigrationResult
			m.OnStep = func(_ context.Context, r codat.MigrationResult) error { journal = append(journal, r); return nil }
			res, err := f.c.Migrate(context.Background(), m)
			require.NoError(t, err)
			assert.Equal(t, tt.routes, f.routes())
			for _, j := range journal {
				if j.HasStep(codat.StepCompany) {
					assert.NotEmpty(t, j.CompanyID, "no company step without its id")
				}
				if j.HasStep(codat.StepConnection) {
					assert.NotEmpty(t, j.ConnectionID, "no connection step without its id")
				}
			}
			f.assertOneOfEachRef(t, "crm-odd")
			assert.True(t, res.HasStep(codat.StepDone))
		})
	}
}

// Paging that never ends stops with an error: a server whose every page
// links a next one, and one that repeats the same page.
func TestAllPagesBounded(t *testing.T) {
	tests := []struct {
		name  string
		page  func(n int) map[string]any
		limit int // pages the client may fetch at most
	}{
		{"next link forever, totalResults 3", func(n int) map[string]any {
			return map[string]any{"results": []map[string]any{{"id": fmt.Sprintf("co-%d", n), "name": "x"}},
				"pageNumber": n, "pageSize": 1, "totalResults": 3,
				"_links": map[string]any{"self": map[string]string{"href": "/companies"}, "current": map[string]string{"href": "/companies"},
					"next": map[string]string{"href": "/companies?page=next"}}}
		}, 4},
		{"the same page again", func(int) map[string]any {
			return map[string]any{"results": []map[string]any{{"id": "co-1", "name": "x"}},
				"pageNumber": 1, "pageSize": 1, "totalResults": 1000,
				"_links": map[string]any{"self": map[string]string{"href": "/companies"}, "current": map[string]string{"href": "/companies"},
					"next": map[string]string{"href": "/companies?page=2"}}}
		}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var served atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				n := int(served.Add(1))
				w.Header().Set("Content-Type", "application/json")
				_ = json.NewEncoder(w).Encode(tt.page(n))
			}))
			t.Cleanup(srv.Close)
			c, err := codat.NewClient("k", codat.WithBaseURL(srv.URL))
			require.NoError(t, err)
			var gotErr error
			items := 0
			for _, err := range c.Companies.All(context.Background(), nil) {
				if err != nil {
					gotErr = err
					break
				}
				items++
			}
			require.Error(t, gotErr)
			assert.Contains(t, gotErr.Error(), "paging did not end")
			assert.LessOrEqual(t, int(served.Load()), tt.limit)
		})
	}
}

// A company look-up reads every page and compares the tag exactly: a
// filter that is not exact (here: it ignores the tags parameter) cannot
// make Migrate miss the company or take another ref's.
func TestMigrateLookupPagesAndComparesTag(t *testing.T) {
	f := newMigFake(t)
	ctx := context.Background()
	// 150 companies with other refs that a loose filter would return first.
	for i := range 150 {
		_, err := f.c.Companies.Create(ctx, codat.CreateCompanyRequest{Name: "Other", Tags: map[string]string{codat.RefTagKey: fmt.Sprintf("crm-loose%d", i)}})
		require.NoError(t, err)
	}
	_, err := f.c.Migrate(ctx, newMigration("crm-loose"))
	require.NoError(t, err)
	// A proxy that drops the tags filter, as a server matching loosely would.
	loose := func(next http.RoundTripper) http.RoundTripper {
		return migRT(func(r *http.Request) (*http.Response, error) {
			if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/companies") {
				q := r.URL.Query()
				q.Del("tags")
				r.URL.RawQuery = q.Encode()
			}
			return next.RoundTrip(r)
		})
	}
	c2 := newMigClient(t, f.srv, migClientOpt{wrap: loose})
	f.srv.ResetRequestLog()
	m := newMigration("crm-loose")
	m.Resume = &codat.MigrationResult{Ref: "crm-loose"}
	res, err := c2.Migrate(ctx, m)
	require.NoError(t, err)
	assert.True(t, res.AlreadyMigrated, "found its own company on a later page")
	assert.Equal(t, 2, f.count(migListCompanies), "151 results at 100 a page")
	f.assertOneOfEachRef(t, "crm-loose")
}

// IdempotencyKey sets the key of one low-level write; without it every call
// gets a fresh one. A bad key fails before anything is sent.
func TestIdempotencyKeyOption(t *testing.T) {
	var keys []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		keys = append(keys, r.Header.Get("Idempotency-Key"))
		w.Header().Set("Content-Type", "application/json")
		if strings.HasSuffix(r.URL.Path, "/data/all") {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		_, _ = io.WriteString(w, `{"id":"x1","name":"Acme","status":"PendingAuth"}`)
	}))
	t.Cleanup(srv.Close)
	c, err := codat.NewClient("k", codat.WithBaseURL(srv.URL))
	require.NoError(t, err)
	ctx := context.Background()
	const key = "order-42-create"
	_, err = c.Companies.Create(ctx, codat.CreateCompanyRequest{Name: "Acme"}, codat.IdempotencyKey(key))
	require.NoError(t, err)
	_, err = c.Companies.Create(ctx, codat.CreateCompanyRequest{Name: "Acme"})
	require.NoError(t, err)
	_, err = c.Connections.Create(ctx, "x1", "qhyg", codat.IdempotencyKey(key+"-conn"))
	require.NoError(t, err)
	require.NoError(t, c.Sync.RefreshAll(ctx, "x1", codat.IdempotencyKey(key+"-sync")))
	_, err = c.Companies.Update(ctx, "x1", codat.UpdateCompanyRequest{Name: "Acme 2"}, codat.IdempotencyKey(key+"-upd"))
	require.NoError(t, err)
	require.Len(t, keys, 5)
	assert.Equal(t, key, keys[0])
	assert.NotEqual(t, key, keys[1])
	assert.NotEmpty(t, keys[1])
	assert.Equal(t, []string{key + "-conn", key + "-sync", key + "-upd"}, keys[2:])

	for _, bad := range []string{"", "has space", strings.Repeat("k", 256), "tab\tkey", "é"} {
		_, err := c.Companies.Create(ctx, codat.CreateCompanyRequest{Name: "Acme"}, codat.IdempotencyKey(bad))
		assert.Error(t, err, "%q", bad)
	}
	_, err = c.Companies.Create(ctx, codat.CreateCompanyRequest{Name: "Acme"}, nil)
	assert.Error(t, err)
	assert.Len(t, keys, 5, "nothing sent with a bad key")
}
