package integrations

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/codat-migrate/codat"
)

func loadFixture(t *testing.T, r *Registry) Changes {
	t.Helper()
	f, err := os.Open("testdata/postman/collection.json")
	require.NoError(t, err)
	defer f.Close()
	ch, err := r.LoadPostman(f)
	require.NoError(t, err)
	return ch
}

func TestLoadPostman(t *testing.T) {
	r := testRegistry()
	ch := loadFixture(t, r)

	// One platform added, two overridden.
	require.Len(t, ch.Added, 1)
	assert.Equal(t, "wvzu", ch.Added[0].Key)
	assert.Equal(t, "Kashflow", ch.Added[0].Name)
	assert.Equal(t, []string{"apiKey", "userName"}, ch.Added[0].Fields)
	assert.Nil(t, ch.Added[0].Previous)
	require.Len(t, ch.Overridden, 2)
	assert.Equal(t, "gbol", ch.Overridden[0].Key)
	assert.Equal(t, ch.Overridden[0].Previous, ch.Overridden[0].Fields)
	q := ch.Overridden[1]
	assert.Equal(t, "qhyg", q.Key)
	assert.Equal(t, []string{"realmId", "access_token", "refresh_token", "clientId"}, q.Fields)
	assert.Equal(t, []string{"realmId", "accessToken", "refreshToken", "expiresAt"}, q.Previous)
	assert.Equal(t, map[string]string{"accessToken": "access_token", "refreshToken": "refresh_token"}, q.Renamed)
	assert.Contains(t, q.Source, `Postman collection "Codat test fixture"`)
	assert.Contains(t, q.Source, `OAuth Token Migrations / QuickBooks Online / Update authorization`)
	assert.Equal(t, ""+
		"added wvzu (Kashflow): apiKey, userName\n"+
		"overridden gbol (Xero): tenantId, accessToken, refreshToken, expiresAt (fields unchanged)\n"+
		"overridden qhyg (QuickBooks Online): realmId, access_token, refresh_token, clientId "+
		"(renamed accessToken → access_token, refreshToken → refresh_token; new clientId; removed expiresAt)",
		ch.String())

	// The registry holds the loaded definitions.
	p, ok := r.Lookup("qhyg")
	require.True(t, ok)
	assert.Equal(t, Loaded, p.Evidence)
	assert.Equal(t, "QuickBooks Online", p.Name)
	tok, _ := p.Field("access_token")
	assert.Equal(t, RoleAccessToken, tok.Role, "a renamed field keeps its role")
	assert.True(t, tok.Secret)
	assert.Contains(t, tok.Aliases, "accessToken", "the old wire name stays an alias")
	cid, _ := p.Field("clientId")
	assert.True(t, cid.Required)
	assert.Empty(t, cid.Role)

	k, ok := r.Lookup("Kashflow")
	require.True(t, ok)
	assert.Equal(t, "wvzu", k.Key)
	assert.Equal(t, Loaded, k.Evidence)
	key, _ := k.Field("apiKey")
	assert.True(t, key.Secret, "a key named like a credential is secret")
	assert.Equal(t, FormatToken, key.Format)
	user, _ := k.Field("user")
	assert.Equal(t, "userName", user.Name, "the {{variable}} name becomes an alias")
	assert.Equal(t, RoleUserID, user.Role)

	// The typed builder follows the rename, and names the field it cannot fill.
	qbo := QuickBooksOnline{RealmID: "1", AccessToken: fakeAccess, RefreshToken: fakeRefresh, ExpiresAt: farFuture}
	_, err := r.Body(qbo)
	assert.EqualError(t, err, `integrations: QuickBooks Online (qhyg): "clientId" is required, but integrations.QuickBooksOnline has no field for it: use Generic or FromRecord`)

	// FromRecord fills it, and old column names still work.
	a, err := r.FromRecord("qhyg", map[string]string{"realmId": "1", "accessToken": "fake-a", "refreshToken": "fake-r", "client_id": "fake-client"})
	require.NoError(t, err)
	body, err := a.Body()
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"realmId": "1", "access_token": "fake-a", "refresh_token": "fake-r", "clientId": "fake-client"}, body)

	// Generic fills it too.
	body, err = r.Body(Generic{Key: "qhyg", Fields: map[string]codat.Secret{"realmId": "1", "access_token": fakeAccess, "refresh_token": fakeRefresh, "clientId": "c"}})
	require.NoError(t, err)
	assert.Len(t, body, 4)

	// Platforms the collection does not mention are untouched.
	fa, _ := r.Lookup("fbrh")
	assert.Equal(t, Inferred, fa.Evidence)

	// Loading the same collection again changes nothing but re-records it.
	again := loadFixture(t, r)
	assert.Empty(t, again.Added)
	assert.Len(t, again.Overridden, 3)
	assert.Contains(t, again.String(), "overridden qhyg (QuickBooks Online): realmId, access_token, refresh_token, clientId (fields unchanged)")
}

func TestLoadPostmanTypedBuilderFollowsRename(t *testing.T) {
	r := testRegistry()
	_, err := r.LoadPostman(strings.NewReader(collection(
		authRequest("Xero (gbol)", `{"xero_tenant_id": "{{t}}", "accessToken": "{{a}}", "refreshToken": "{{r}}"}`))))
	require.NoError(t, err)
	body, err := r.Body(Xero{TenantID: "00000000-0000-4000-8000-000000000001", AccessToken: fakeAccess, RefreshToken: fakeRefresh, ExpiresAt: farFuture})
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"xero_tenant_id": "00000000-0000-4000-8000-000000000001",
		"accessToken": fakeAccess.Reveal(), "refreshToken": fakeRefresh.Reveal()}, body, "expiresAt was dropped by the collection")
	id, ok := r.TenantID(Xero{TenantID: "00000000-0000-4000-8000-000000000001"})
	assert.True(t, ok)
	assert.NotEmpty(t, id)
}

// collection wraps request items in a v2.1 collection with a migration folder.
func collection(items ...string) string {
	return `{"info": {"name": "t", "schema": "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"},
		"item": [{"name": "OAuth Token Migrations", "item": [` + strings.Join(items, ",") + `]}]}`
}

func authRequest(name, body string) string {
	return fmt.Sprintf(`{"name": %q, "request": {"method": "PUT",
		"url": {"raw": "{{baseUrl}}/companies/:companyId/connections/:connectionId/authorization"},
		"body": {"mode": "raw", "raw": %q}}}`, name, body)
}

func TestLoadPostmanFindsThePlatform(t *testing.T) {
	body := `{"accessToken": "{{a}}", "refreshToken": "{{r}}"}`
	tests := []struct {
		name  string
		items string
		key   string
	}{
		{"key in request name", authRequest("Update auth qhyg", body), "qhyg"},
		{"name in request", authRequest("QuickBooks Online Sandbox", body), "ndsk"},
		{"longest name wins", authRequest("Migrate Square Sandbox tokens", body), "xcwv"},
		{"alias as whole name", authRequest("QBO", body), "qhyg"},
		{"folder name", `{"name": "Zoho Books", "item": [` + authRequest("Update authorization", body) + `]}`, "rwuv"},
		{"platformKey URL variable", `{"name": "Update", "request": {"method": "PUT",
			"url": {"raw": "{{baseUrl}}/companies/:companyId/connections/:connectionId/authorization?x=1",
				"variable": [{"key": "platformKey", "value": "fbrh"}]},
			"body": {"mode": "raw", "raw": "{\"accessToken\": \"1\"}"}}}`, "fbrh"},
		{"path segments without raw", `{"name": "Wave", "request": {"method": "PUT",
			"url": {"path": ["companies", ":companyId", "connections", ":connectionId", "authorization"]},
			"body": {"mode": "raw", "raw": "{\"accessToken\": \"1\", \"businessId\": \"2\"}"}}}`, "pbtz"},
		{"urlencoded body", `{"name": "Plaid", "request": {"method": "PUT",
			"url": "https://api.codat.io/companies/1/connections/2/authorization/",
			"body": {"mode": "urlencoded", "urlencoded": [{"key": "accessToken", "value": "{{a}}"}, {"key": "ignored", "value": "1", "disabled": true}]}}}`, "suuo"},
		{"nested folders", `{"name": "Commerce", "item": [{"name": "Shopify", "item": [` + authRequest("PUT authorization", `{"shop": "{{shop}}", "accessToken": "{{a}}"}`) + `]}]}`, "fztf"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := testRegistry()
			ch, err := r.LoadPostman(strings.NewReader(collection(tc.items)))
			require.NoError(t, err)
			require.Len(t, ch.Overridden, 1, ch.String())
			assert.Equal(t, tc.key, ch.Overridden[0].Key)
			assert.Empty(t, ch.Added)
		})
	}
}

func TestLoadPostmanMalformed(t *testing.T) {
	const secretValue = "fake-literal-token-in-collection-9999"
	good := authRequest("QuickBooks Online", `{"realmId": "{{r}}", "accessToken": "`+secretValue+`", "refreshToken": "{{t}}"}`)
	tests := []struct {
		name  string
		input string
		want  string // in the error
	}{
		{"not JSON", `{"info": `, "not a Postman collection"},
		{"empty", ``, "not a Postman collection"},
		{"wrong type", `[1, 2]`, "not a Postman collection"},
		{"no info", `{"item": []}`, "not a Postman collection v2.1 export"},
		{"v1 collection", `{"info": {"schema": "https://schema.getpostman.com/json/collection/v1.0.0/collection.json"}, "item": []}`, "v2.1"},
		{"no migration folder", `{"info": {"name": "c", "schema": "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"}, "item": [` + good + `]}`, `has no "OAuth Token Migrations" folder`},
		{"no authorization request", collection(`{"name": "Get", "request": {"method": "GET", "url": "{{baseUrl}}/companies"}}`), "no request whose URL ends in /authorization"},
		{"empty folder", collection(), "no request whose URL ends in /authorization"},
		{"nested body", collection(good, authRequest("Xero", `{"tenantId": "{{t}}", "tokens": {"access": "`+secretValue+`"}}`)), `request "OAuth Token Migrations / Xero": body key "tokens" is an object or an array`},
		{"body not JSON", collection(authRequest("Xero", `tenantId=1`)), `request "OAuth Token Migrations / Xero": body is not JSON`},
		{"body array", collection(authRequest("Xero", `["tenantId"]`)), "body is not a JSON object"},
		{"empty body", collection(authRequest("Xero", `{}`)), "body has no fields"},
		{"trailing data", collection(authRequest("Xero", `{"a": "1"} {"b": "2"}`)), "body has data after its JSON object"},
		{"duplicate key", collection(authRequest("Xero", `{"a": "1", "a": "2"}`)), `body key "a" appears twice`},
		{"no body", collection(`{"name": "Xero", "request": {"method": "PUT", "url": "{{baseUrl}}/companies/1/connections/2/authorization"}}`), "has no body"},
		{"form-data body", collection(`{"name": "Xero", "request": {"method": "PUT", "url": "/x/authorization", "body": {"mode": "formdata"}}}`), `body mode "formdata" is not supported`},
		{"platform unknown", collection(authRequest("Update authorization", `{"a": "1"}`)), "its platform cannot be told"},
		{"platform ambiguous", collection(authRequest("QuickBooks Online and Xero", `{"a": "1"}`)), "its platform is ambiguous"},
		{"keys ambiguous", collection(authRequest("qhyg or gbol", `{"a": "1"}`)), "its platform is ambiguous"},
		{"one platform two bodies", collection(good, authRequest("qhyg", `{"realmId": "1"}`)), "platform qhyg is defined twice with different fields"},
		{"bad field name", collection(authRequest("Xero", `{"tenant id": "1"}`)), `field name "tenant id"`},
		{"two keys for one field", collection(authRequest("Xero", `{"accessToken": "1", "access_token": "2"}`)), `fields "accessToken" and "access_token" both match`},
		{"new platform name taken", collection(authRequest("Xero (abcd)", `{"a": "1"}`)), `name "Xero" already names platform gbol`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := testRegistry()
			before := r.Platforms()
			ch, err := r.LoadPostman(strings.NewReader(tc.input))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.True(t, strings.HasPrefix(err.Error(), "integrations: LoadPostman: "), err.Error())
			assert.NotContains(t, err.Error(), secretValue)
			assert.True(t, ch.Empty())
			assert.Equal(t, before, r.Platforms(), "a failed load changes nothing")
		})
	}
	_, err := testRegistry().LoadPostman(nil)
	assert.Error(t, err)
	_, err = testRegistry().LoadPostman(strings.NewReader(strings.Repeat(" ", maxLoadBytes+1)))
	assert.ErrorContains(t, err, "larger than")
}

func TestLoadPostmanNeverCopiesValues(t *testing.T) {
	const secretValue = "fake-literal-token-in-collection-8888"
	r := testRegistry()
	ch, err := r.LoadPostman(strings.NewReader(collection(
		authRequest("FreeAgent", `{"accessToken": "`+secretValue+`", "refreshToken": "`+secretValue+`"}`))))
	require.NoError(t, err)
	assert.NotContains(t, fmt.Sprintf("%+v %s", ch, ch), secretValue)
	assert.NotContains(t, fmt.Sprintf("%+v", r.Platforms()), secretValue)
}

func TestQuoteTemplateVars(t *testing.T) {
	assert.Equal(t, `{"a": "{{x}}", "b": "{{y}}"}`, quoteTemplateVars(`{"a": {{x}}, "b": "{{y}}"}`))
	assert.Equal(t, `{"a": "say \"{{x}}\""}`, quoteTemplateVars(`{"a": "say \"{{x}}\""}`))
	assert.Equal(t, `no vars`, quoteTemplateVars(`no vars`))
	assert.Equal(t, `{{unterminated`, quoteTemplateVars(`{{unterminated`))
}

// The package-level loaders return a registry of their own; Default, which
// typed builders use, cannot be changed by anyone in the process.
func TestPackageLevelLoadersReturnANewRegistry(t *testing.T) {
	before := Default().Platforms()
	reg, ch, err := LoadSpec(strings.NewReader(`{"platforms":[{"key":"zzyq","name":"Test Only Platform","fields":[{"name":"accessToken"}]}]}`))
	require.NoError(t, err)
	assert.Len(t, ch.Added, 1)
	p, ok := reg.Lookup("test only platform")
	require.True(t, ok)
	assert.Equal(t, "zzyq", p.Key)
	_, ok = Lookup("zzyq")
	assert.False(t, ok, "Default is unchanged")

	reg, _, err = LoadPostman(strings.NewReader(collection(authRequest("QuickBooks Online", `{"realm_id": "1", "access_token": "2", "refresh_token": "3"}`))))
	require.NoError(t, err)
	p, _ = reg.Lookup("qhyg")
	assert.Equal(t, []string{"realm_id", "access_token", "refresh_token"}, wireNames(p.Fields))
	p, _ = Lookup("qhyg")
	assert.Equal(t, []string{"realmId", "accessToken", "refreshToken", "expiresAt"}, wireNames(p.Fields), "Default is unchanged")
	assert.Equal(t, before, Default().Platforms())

	_, err = Default().LoadSpec(strings.NewReader(`{"platforms":[]}`))
	assert.ErrorIs(t, err, ErrReadOnly)
	_, err = Default().LoadPostman(strings.NewReader(collection(authRequest("Xero", `{"tenantId": "1"}`))))
	assert.ErrorIs(t, err, ErrReadOnly)
	_, err = Default().Register(Platform{Key: "zzyq", Name: "Z", Fields: []Field{{Name: "accessToken"}}})
	assert.ErrorIs(t, err, ErrReadOnly)
	assert.Equal(t, before, Default().Platforms())
}
