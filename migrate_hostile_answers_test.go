package codat_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
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
	"github.com/codat-migrate/codat/codattest"
	"github.com/codat-migrate/codat/internal/testutil"
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

// migEcho returns a proxy that rewrites the 2xx JSON answers of the
// requests match selects with edit, decoded as generic JSON.
func migEcho(match func(r *http.Request) bool, edit func(v any) any) func(http.RoundTripper) http.RoundTripper {
	return func(next http.RoundTripper) http.RoundTripper {
		return migRT(func(r *http.Request) (*http.Response, error) {
			resp, err := next.RoundTrip(r)
			if err != nil || resp.StatusCode != 200 || !match(r) {
				return resp, err
			}
			data, rerr := io.ReadAll(resp.Body)
			resp.Body.Close()
			if rerr != nil {
				return nil, rerr
			}
			var v any
			if json.Unmarshal(data, &v) == nil {
				data, _ = json.Marshal(edit(v))
			}
			resp.Body = io.NopCloser(strings.NewReader(string(data)))
			resp.ContentLength = int64(len(data))
			resp.Header.Del("Content-Length")
			return resp, nil
		})
	}
}

// migSetField sets field to value in an object, and in every result of a page.
func migSetField(field, value string) func(v any) any {
	return func(v any) any {
		obj, _ := v.(map[string]any)
		if res, ok := obj["results"].([]any); ok {
			for _, x := range res {
				if o, ok := x.(map[string]any); ok {
					o[field] = value
				}
			}
			return v
		}
		if obj != nil {
			obj[field] = value
		}
		return v
	}
}

func migIs(method, suffix string) func(r *http.Request) bool {
	return func(r *http.Request) bool { return r.Method == method && strings.HasSuffix(r.URL.Path, suffix) }
}

// migIsConnRead matches GET /companies/{companyId}/connections/{connectionId}.
func migIsConnRead(r *http.Request) bool {
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	return r.Method == http.MethodGet && len(parts) == 4 && parts[0] == "companies" && parts[2] == "connections"
}

func migAny(ms ...func(*http.Request) bool) func(r *http.Request) bool {
	return func(r *http.Request) bool {
		for _, m := range ms {
			if m(r) {
				return true
			}
		}
		return false
	}
}

// A server that echoes the API key in a successful answer to one of
// Migrate's writes: the answer is an unknown outcome (the write took effect,
// most likely), answered with one look-up and never with a second create.
// When every answer about the object echoes the key, Migrate fails at that
// step with ErrSecretEcho, records no id, and a resume against a sound
// server finishes with exactly one company and one connection. Neither the
// error, the journal, the result nor the logs hold the key.
func TestMigrateAnswerEchoesAPIKey(t *testing.T) {
	base64Key := func(key string) string { return base64.StdEncoding.EncodeToString([]byte(key)) }
	tests := []struct {
		name     string
		match    func(r *http.Request) bool
		field    string
		value    func(key string) string
		failStep codat.Step // "" when the look-up settles it
		routes   []string
		resume   []string // requests of the resume against a sound server
	}{
		{"company id is the key, in the create and the look-up",
			migAny(migIs(http.MethodPost, "/companies"), migIs(http.MethodGet, "/companies")), "id", func(k string) string { return k },
			codat.StepCompany, []string{migCreateCompany, migListCompanies}, []string{migListCompanies, migListConns, migCreateConn, migPutAuth, migDataAll}},
		{"base64 key in the created company only", migIs(http.MethodPost, "/companies"), "description", base64Key,
			"", []string{migCreateCompany, migListCompanies, migCreateConn, migPutAuth, migDataAll}, nil},
		{"linkUrl carries the key, in the create and the listing",
			migAny(migIs(http.MethodPost, "/connections"), migIs(http.MethodGet, "/connections")), "linkUrl",
			func(k string) string { return "https://link.example/start?apiKey=" + k },
			codat.StepConnection, []string{migCreateCompany, migCreateConn, migListConns}, []string{migListConns, migPutAuth, migDataAll}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := codattest.NewServer()
			t.Cleanup(srv.Close)
			key := srv.APIKey()
			logs := &testutil.LogBuffer{}
			f := &migFake{srv: srv, c: newMigClient(t, srv, migClientOpt{logger: logs.JSONLogger(),
				wrap: migEcho(tt.match, migSetField(tt.field, tt.value(key)))})}
			m := newMigration("crm-echo")
			var journal []codat.MigrationResult
			m.OnStep = func(_ context.Context, r codat.MigrationResult) error { journal = append(journal, r); return nil }
			res, err := f.c.Migrate(context.Background(), m)
			require.NotNil(t, res)
			assert.Equal(t, tt.routes, f.routes())
			assert.Len(t, srv.CompaniesWithTag(codat.RefTagKey, "crm-echo"), 1, "never a second company")
			texts := map[string]string{"result": fmt.Sprintf("%+v", *res), "logs": logs.String()}
			raw, jerr := json.Marshal(journal)
			require.NoError(t, jerr)
			texts["journal"] = string(raw)
			if err != nil {
				texts["error"] = err.Error()
			}
			for what, text := range texts {
				testutil.AssertNoSecrets(t, what, text, key, base64Key(key))
			}
			if tt.failStep == "" {
				require.NoError(t, err)
				f.assertOneOfEachRef(t, "crm-echo")
				return
			}
			require.Error(t, err)
			assert.NotContains(t, err.Error(), "\n")
			assert.ErrorIs(t, err, codat.ErrSecretEcho)
			assert.True(t, codat.IsAmbiguous(err), "the write may have taken effect")
			var me *codat.MigrationError
			require.ErrorAs(t, err, &me)
			assert.Equal(t, tt.failStep, me.Step)
			assert.False(t, res.HasStep(tt.failStep), "no step recorded without a usable answer")

			// A resume against a sound server finds what the first call made.
			sound := &migFake{srv: srv, c: newMigClient(t, srv, migClientOpt{})}
			srv.ResetRequestLog()
			m.Resume, m.OnStep = res, nil
			res2, err := sound.c.Migrate(context.Background(), m)
			require.NoError(t, err)
			assert.Equal(t, tt.resume, sound.routes())
			assert.True(t, res2.HasStep(codat.StepDone))
			sound.assertOneOfEachRef(t, "crm-echo")
		})
	}
}

// A token PUT whose answer echoes the token: Codat answered, so the token
// may be installed; Migrate reads the connection back instead of sending
// the token again. A clean, Linked read-back completes the migration; a
// read-back that echoes the token too fails the step with ErrSecretEcho.
// The token PUT is sent once, and the token reaches no error, journal,
// result or log.
func TestMigrateAnswerEchoesToken(t *testing.T) {
	tests := []struct {
		name  string
		match func(r *http.Request) bool
		field string
		value string
		fail  bool
	}{
		{"in the PUT's connectionInfo", migIs(http.MethodPut, "/authorization"), "connectionInfo", migToken.Reveal(), false},
		{"in linkUrl, in the PUT and the read-back", migAny(migIs(http.MethodPut, "/authorization"), migIsConnRead),
			"linkUrl", "https://link.example/start?t=" + migToken.Reveal(), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logs := &testutil.LogBuffer{}
			f := newMigFakeWith(t, migClientOpt{logger: logs.JSONLogger(), wrap: migEcho(tt.match, migSetField(tt.field, tt.value))})
			m := newMigration("crm-tok")
			var journal []codat.MigrationResult
			m.OnStep = func(_ context.Context, r codat.MigrationResult) error { journal = append(journal, r); return nil }
			res, err := f.c.Migrate(context.Background(), m)
			require.NotNil(t, res)
			assert.Equal(t, []string{migCreateCompany, migCreateConn, migPutAuth, migGetConn}, f.routes()[:4])
			texts := map[string]string{"result": fmt.Sprintf("%+v", *res), "logs": logs.String(), "link URL": res.LinkURL}
			raw, jerr := json.Marshal(journal)
			require.NoError(t, jerr)
			texts["journal"] = string(raw)
			if err != nil {
				texts["error"] = err.Error()
				var me *codat.MigrationError
				if errors.As(err, &me) {
					texts["MigrationError.LinkURL"] = me.LinkURL
				}
			}
			for what, text := range texts {
				testutil.AssertNoSecrets(t, what, text, migToken.Reveal())
			}
			f.assertOneOfEachRef(t, "crm-tok") // the token PUT was sent once
			if !tt.fail {
				require.NoError(t, err)
				assert.Equal(t, []string{migCreateCompany, migCreateConn, migPutAuth, migGetConn, migDataAll}, f.routes())
				assert.True(t, res.HasStep(codat.StepVerify))
				assert.True(t, res.TokenSent)
				return
			}
			require.Error(t, err)
			assert.ErrorIs(t, err, codat.ErrSecretEcho)
			assert.NotContains(t, err.Error(), "\n")
			var me *codat.MigrationError
			require.ErrorAs(t, err, &me)
			assert.Equal(t, codat.StepAuthorize, me.Step)
			assert.True(t, res.TokenSent, "the token may be installed")
			assert.False(t, res.HasStep(codat.StepVerify))
		})
	}
}

// mapAuth is an Authorization with the body given.
type mapAuth map[string]string

func (mapAuth) PlatformKey() string                { return "qhyg" }
func (a mapAuth) Body() (map[string]string, error) { return a, nil }

// Values of the token body that the Migration publishes itself (the tenant
// in TenantID, a tag value) or that are identifiers by their form (a realm
// id, an expiry) come back in Codat's answers legitimately, and so does a
// ref that a test token embeds: none is taken for an echoed credential, and
// the migration runs its happy path.
func TestMigrateAnswersWithPublishedValues(t *testing.T) {
	const ref = "crm-customer-account-000123"
	f := newMigFake(t)
	m := newMigration(ref)
	m.TenantID = "contoso/production-eu"
	m.Company.Tags = map[string]string{"region": "uk-south-2"}
	m.Auth = mapAuth{"accessToken": "tok-" + ref + "-s3cr3t", "environment": "Production-EU", "region": "uk-south-2",
		"realmId": "9130350000000001", "expiresAt": "2099-01-01T00:00:00Z"}
	// The fake's connection answers echo every body value, as connectionInfo might.
	echo := migEcho(migAny(migIs(http.MethodPut, "/authorization"), migIsConnRead), migSetField("connectionInfo",
		"Production-EU uk-south-2 9130350000000001 2099-01-01T00:00:00Z"))
	f.c = newMigClient(t, f.srv, migClientOpt{wrap: echo})
	res, err := f.c.Migrate(context.Background(), m)
	require.NoError(t, err)
	assert.Equal(t, migHappyRoutes, f.routes())
	assert.True(t, res.HasStep(codat.StepDone))
	f.assertOneOfEachRef(t, ref)
}
