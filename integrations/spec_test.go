package integrations

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLoadSpec(t *testing.T) {
	r := testRegistry()
	f, err := os.Open("testdata/spec/corrections.json")
	require.NoError(t, err)
	defer f.Close()
	ch, err := r.LoadSpec(f)
	require.NoError(t, err)
	assert.Equal(t, ""+
		"added wvzu (Kashflow): accessToken, refreshToken, companyRef\n"+
		"overridden qhyg (QuickBooks Online): realmId, access_token, refresh_token, clientId, expiresAt "+
		"(renamed accessToken → access_token, refreshToken → refresh_token; new clientId)", ch.String())
	assert.Equal(t, "loaded from a platform spec: test fixture", ch.Overridden[0].Source)

	q, _ := r.Lookup("qhyg")
	assert.Equal(t, Loaded, q.Evidence)
	cid, ok := q.Field("intuit_client_id")
	require.True(t, ok)
	assert.Equal(t, Field{Name: "clientId", Required: true, Format: FormatID, Aliases: []string{"intuit_client_id"}, Doc: "the app's client ID"}, cid)
	exp, _ := q.Field("expiresAt")
	assert.False(t, exp.Required)
	assert.Equal(t, FormatExpiry, exp.Format, "kept from the matched field")

	k, ok := r.Lookup("iris kashflow")
	require.True(t, ok)
	assert.Equal(t, "Accounting", k.SourceType)
	at, _ := k.Field("accessToken")
	assert.Equal(t, Field{Name: "accessToken", Role: RoleAccessToken, Required: true, Secret: true, Format: FormatToken}, at,
		"a new field takes its role's defaults")
	rt, _ := k.Field("refreshToken")
	assert.False(t, rt.Required)
	ref, _ := k.Field("companyRef")
	assert.True(t, ref.Tenant)
	assert.Equal(t, FormatText, ref.Format)

	// The typed builder follows the renames and names the field it cannot fill.
	_, err = r.Body(QuickBooksOnline{RealmID: "1", AccessToken: fakeAccess, RefreshToken: fakeRefresh})
	assert.EqualError(t, err, `integrations: QuickBooks Online (qhyg): "clientId" is required, but integrations.QuickBooksOnline has no field for it: use Generic or FromRecord`)
	a, err := r.FromRecord("qhyg", map[string]string{"realm_id": "1", "access_token": "fake-a", "refresh_token": "fake-r", "intuit_client_id": "c-1"})
	require.NoError(t, err)
	body, err := a.Body()
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"realmId": "1", "access_token": "fake-a", "refresh_token": "fake-r", "clientId": "c-1"}, body)
	_, err = r.FromRecord("qhyg", map[string]string{"realm_id": "1", "access_token": "fake-a", "refresh_token": "fake-r", "clientId": "has space"})
	assert.ErrorContains(t, err, `"clientId" contains whitespace`)

	// A Kashflow row, and its tenant.
	a, err = r.FromRecord("Kashflow", map[string]string{"access_token": "fake-a", "company_ref": "K-1"})
	require.NoError(t, err)
	id, ok := TenantID(a)
	assert.True(t, ok)
	assert.Equal(t, "K-1", id)
}

func TestLoadSpecMakesOptionalFieldsRequired(t *testing.T) {
	r := testRegistry()
	_, err := r.LoadSpec(strings.NewReader(`{"platforms":[{"key":"fztf","fields":[{"name":"shop"},{"name":"accessToken"},{"name":"refreshToken","required":true}]}]}`))
	require.NoError(t, err)
	_, err = r.Body(Shopify{Shop: "fake-shop.myshopify.com", AccessToken: fakeAccess})
	assert.EqualError(t, err, `integrations: Shopify (fztf): "refreshToken" is required`)
}

func TestLoadSpecMalformed(t *testing.T) {
	tests := []struct {
		name, input, want string
	}{
		{"not JSON", `{`, "not a platform spec"},
		{"unknown key", `{"platforms": [], "extra": 1}`, `unknown field "extra"`},
		{"unknown field key", `{"platforms":[{"key":"qhyg","fields":[{"name":"a","requried":true}]}]}`, `unknown field "requried"`},
		{"trailing data", `{"platforms":[{"key":"qhyg","fields":[{"name":"a"}]}]} {}`, "data after the spec"},
		{"version", `{"version": 2, "platforms":[{"key":"qhyg","fields":[{"name":"a"}]}]}`, "version 2 is not supported"},
		{"no platforms", `{"version": 1}`, "lists no platforms"},
		{"bad key", `{"platforms":[{"key":"QHYG","fields":[{"name":"a"}]}]}`, `key "QHYG" must be four lowercase letters`},
		{"twice", `{"platforms":[{"key":"qhyg","fields":[{"name":"a"}]},{"key":"qhyg","fields":[{"name":"a"}]}]}`, "listed twice"},
		{"no fields", `{"platforms":[{"key":"qhyg"}]}`, "platforms[0] (qhyg): no fields"},
		{"bad format", `{"platforms":[{"key":"qhyg","fields":[{"name":"a","format":"uid"}]}]}`, `unknown format "uid"`},
		{"bad role", `{"platforms":[{"key":"qhyg","fields":[{"name":"a","role":"realm"}]}]}`, `unknown role "realm"`},
		{"duplicate role", `{"platforms":[{"key":"wvzu","name":"K","fields":[{"name":"a","role":"accessToken"},{"name":"b","role":"accessToken"}]}]}`, "have the same role"},
		{"duplicate names", `{"platforms":[{"key":"wvzu","name":"K","fields":[{"name":"a_b"},{"name":"aB"}]}]}`, "have the same name"},
		{"empty field name", `{"platforms":[{"key":"wvzu","name":"K","fields":[{"name":""}]}]}`, "empty name"},
		{"name taken", `{"platforms":[{"key":"wvzu","name":"QBO","fields":[{"name":"a"}]}]}`, `name "QBO" already names platform qhyg`},
		{"wrong type", `{"platforms":[{"key":"wvzu","fields":[{"name":"a","required":"yes"}]}]}`, "not a platform spec"},
		{"one bad among good", `{"platforms":[{"key":"fbrh","fields":[{"name":"token"}]},{"key":"wvzu","fields":[{"name":"a","format":"?"}]}]}`, `unknown format "?"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := testRegistry()
			before := r.Platforms()
			ch, err := r.LoadSpec(strings.NewReader(tc.input))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.True(t, strings.HasPrefix(err.Error(), "integrations: LoadSpec: "), err.Error())
			assert.True(t, ch.Empty())
			assert.Equal(t, before, r.Platforms(), "a failed load changes nothing")
		})
	}
}

func TestRegister(t *testing.T) {
	r := testRegistry()
	ch, err := r.Register(Platform{Key: "wvzu", Name: "Kashflow", Fields: []Field{
		{Name: "accessToken", Role: RoleAccessToken, Required: true, Secret: true, Format: FormatToken},
		{Name: "note"},
	}})
	require.NoError(t, err)
	assert.Equal(t, "added wvzu (Kashflow): accessToken, note", ch.String())
	p, _ := r.Lookup("wvzu")
	assert.Equal(t, Loaded, p.Evidence)
	assert.Equal(t, FormatText, p.Fields[1].Format)

	for name, bad := range map[string]Platform{
		"bad key":       {Key: "wv", Name: "K", Fields: []Field{{Name: "a"}}},
		"no name":       {Key: "wvzu", Fields: []Field{{Name: "a"}}},
		"no fields":     {Key: "wvzu", Name: "K"},
		"bad evidence":  {Key: "wvzu", Name: "K", Evidence: "rumoured", Fields: []Field{{Name: "a"}}},
		"bad format":    {Key: "wvzu", Name: "K", Fields: []Field{{Name: "a", Format: "date"}}},
		"bad role":      {Key: "wvzu", Name: "K", Fields: []Field{{Name: "a", Role: "token"}}},
		"name collides": {Key: "abcd", Name: "Xero", Fields: []Field{{Name: "a"}}},
	} {
		t.Run(name, func(t *testing.T) {
			before := r.Platforms()
			_, err := r.Register(bad)
			assert.ErrorContains(t, err, "integrations: Register: ")
			assert.Equal(t, before, r.Platforms())
		})
	}
}

func TestChangesString(t *testing.T) {
	assert.Equal(t, "no changes", Changes{}.String())
	assert.True(t, Changes{}.Empty())
}
