package codattest

import (
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCreateConnection(t *testing.T) {
	s, clk, c := newFake(t)
	co := c.createCompany("Acme", nil)
	clk.Advance(time.Minute)
	cn := c.createConnection(co.ID, "qhyg")
	assert.True(t, isGUID(cn.ID))
	assert.Equal(t, StatusPendingAuth, cn.Status)
	assert.Equal(t, "qhyg", cn.IntegrationKey)
	assert.Equal(t, "QuickBooks Online", cn.PlatformName)
	assert.Equal(t, SourceAccounting, cn.SourceType)
	assert.Equal(t, "https://link-api.codat.io/companies/"+co.ID+"/connections/"+cn.ID+"/start", cn.LinkURL)
	assert.Equal(t, "2025-03-14T09:31:00.000Z", cn.Created)
	assert.Empty(t, cn.LastSync)
	assert.Empty(t, cn.DataConnectionErrors)

	integ := decode[Integration](t, c.do("GET", "/integrations/qhyg", nil))
	assert.Equal(t, integ.IntegrationID, cn.IntegrationID)
	assert.Equal(t, integ.SourceID, cn.SourceID)

	got, ok := s.Connection(co.ID, cn.ID)
	require.True(t, ok)
	assert.Equal(t, co.ID, got.CompanyID)
	assert.Equal(t, 0, got.AuthAttempts)
	assert.Equal(t, 1, s.ConnectionCount())

	// The company shows its connections.
	cg := decode[Company](t, c.do("GET", "/companies/"+co.ID, nil))
	require.Len(t, cg.DataConnections, 1)
	assert.Equal(t, cn.ID, cg.DataConnections[0].ID)

	tests := []struct {
		name   string
		path   string
		body   any
		status int
	}{
		{"unknown platform key", "/companies/" + co.ID + "/connections", map[string]string{"platformKey": "zzzz"}, 404},
		{"upper-case key", "/companies/" + co.ID + "/connections", map[string]string{"platformKey": "GBOL"}, 400},
		{"five letters", "/companies/" + co.ID + "/connections", map[string]string{"platformKey": "gbolx"}, 400},
		{"digits", "/companies/" + co.ID + "/connections", map[string]string{"platformKey": "gb0l"}, 400},
		{"no key", "/companies/" + co.ID + "/connections", map[string]string{}, 400},
		{"key not a string", "/companies/" + co.ID + "/connections", `{"platformKey": 1}`, 400},
		{"no body", "/companies/" + co.ID + "/connections", nil, 400},
		{"unknown company", "/companies/00000000-0000-4000-8000-000000000000/connections", map[string]string{"platformKey": "gbol"}, 404},
		{"malformed company id", "/companies/xyz/connections", map[string]string{"platformKey": "gbol"}, 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := c.do("POST", tt.path, tt.body)
			assert.Equal(t, tt.status, r.status, r.String())
			errBody(t, r)
		})
	}
	assert.Equal(t, 1, s.ConnectionCount(), "rejected creates write nothing")
}

func TestCreateConnectionDisabledIntegration(t *testing.T) {
	_, _, c := newFake(t, WithIntegration(Integration{Key: "gbol", Name: "Xero", SourceType: SourceAccounting, Enabled: false}))
	co := c.createCompany("Acme", nil)
	r := c.do("POST", "/companies/"+co.ID+"/connections", map[string]string{"platformKey": "gbol"})
	assert.Equal(t, 400, r.status, r.String())
	assert.Contains(t, errBody(t, r).Error, "not enabled")
}

func TestListAndGetConnections(t *testing.T) {
	_, _, c := newFake(t)
	co := c.createCompany("Acme", nil)
	a := c.createConnection(co.ID, "gbol")
	b := c.createConnection(co.ID, "fztf")
	c.authorize(co.ID, b.ID, map[string]string{"accessToken": "t"})

	r := c.do("GET", "/companies/"+co.ID+"/connections", nil)
	require.Equal(t, 200, r.status)
	p := decode[pageBody[Connection]](t, r)
	assert.Equal(t, 2, p.TotalResults)
	require.Len(t, p.Results, 2)
	assert.Equal(t, a.ID, p.Results[0].ID)
	assert.Equal(t, "/companies/"+co.ID+"/connections", p.Links.Self.Href)

	p = decode[pageBody[Connection]](t, c.do("GET", q("/companies/"+co.ID+"/connections", "query", "status=Linked"), nil))
	require.Len(t, p.Results, 1)
	assert.Equal(t, b.ID, p.Results[0].ID)
	p = decode[pageBody[Connection]](t, c.do("GET", q("/companies/"+co.ID+"/connections", "query", "sourceType=Commerce || integrationKey=gbol", "orderBy", "-integrationKey"), nil))
	require.Len(t, p.Results, 2)
	assert.Equal(t, []string{"gbol", "fztf"}, []string{p.Results[0].IntegrationKey, p.Results[1].IntegrationKey})
	p = decode[pageBody[Connection]](t, c.do("GET", q("/companies/"+co.ID+"/connections", "pageSize", "1", "page", "2"), nil))
	require.Len(t, p.Results, 1)
	assert.Equal(t, b.ID, p.Results[0].ID)
	assert.NotNil(t, p.Links.Previous)

	r = c.do("GET", "/companies/"+co.ID+"/connections/"+a.ID, nil)
	require.Equal(t, 200, r.status)
	assert.Equal(t, a.ID, decode[Connection](t, r).ID)

	for _, path := range []string{
		"/companies/" + co.ID + "/connections/00000000-0000-4000-8000-000000000000",
		"/companies/" + co.ID + "/connections/nope",
		"/companies/00000000-0000-4000-8000-000000000000/connections/" + a.ID,
		"/companies/00000000-0000-4000-8000-000000000000/connections",
	} {
		r = c.do("GET", path, nil)
		assert.Equal(t, 404, r.status, path)
		errBody(t, r)
	}
	other := c.createCompany("Other", nil)
	r = c.do("GET", "/companies/"+other.ID+"/connections/"+a.ID, nil)
	assert.Equal(t, 404, r.status, "a connection is found only under its own company")
	for _, bad := range [][]string{{"query", "colour=red"}, {"pageSize", "0"}, {"orderBy", "colour"}} {
		assert.Equal(t, 400, c.do("GET", q("/companies/"+co.ID+"/connections", bad...), nil).status)
	}
}

func TestDeleteConnection(t *testing.T) {
	s, _, c := newFake(t)
	co := c.createCompany("Acme", nil)
	cn := c.createConnection(co.ID, "gbol")
	c.authorize(co.ID, cn.ID, map[string]string{"accessToken": "t"})
	require.Equal(t, 1, s.ACC())

	r := c.do("DELETE", "/companies/"+co.ID+"/connections/"+cn.ID, nil)
	require.Equal(t, 200, r.status, r.String())
	assert.Empty(t, r.body, "delete-connection answers 200 with no body")
	assert.Equal(t, 0, s.ConnectionCount())
	assert.Equal(t, 0, s.ACC())
	assert.Equal(t, 404, c.do("GET", "/companies/"+co.ID+"/connections/"+cn.ID, nil).status)
	assert.Equal(t, 404, c.do("DELETE", "/companies/"+co.ID+"/connections/"+cn.ID, nil).status)
}

func TestUnlinkConnection(t *testing.T) {
	s, _, c := newFake(t)
	co := c.createCompany("Acme", nil)
	cn := c.createConnection(co.ID, "gbol")
	path := "/companies/" + co.ID + "/connections/" + cn.ID

	r := c.do("PATCH", path, map[string]string{"status": "Unlinked"})
	assert.Equal(t, 400, r.status, "only Linked connections can be unlinked: %s", r)

	c.authorize(co.ID, cn.ID, map[string]string{"accessToken": "t"})
	require.Equal(t, 1, s.ACC())
	for _, bad := range []any{map[string]string{"status": "Linked"}, map[string]string{"status": "unlinked"},
		map[string]string{"status": "Unlinked", "extra": "x"}, map[string]string{}, "status=Unlinked"} {
		r = c.do("PATCH", path, bad)
		assert.Equal(t, 400, r.status, "%v: %s", bad, r)
		errBody(t, r)
	}
	r = c.do("PATCH", path, map[string]string{"status": "Unlinked"})
	require.Equal(t, 200, r.status, r.String())
	assert.Equal(t, StatusUnlinked, decode[Connection](t, r).Status)
	assert.Equal(t, 0, s.ACC())
	assert.Equal(t, StatusUnlinked, decode[Connection](t, c.do("GET", path, nil)).Status)

	assert.Equal(t, 404, c.do("PATCH", "/companies/"+co.ID+"/connections/00000000-0000-4000-8000-000000000000",
		map[string]string{"status": "Unlinked"}).status)

	// Unlinked connections can be authorized again.
	assert.Equal(t, StatusLinked, c.authorize(co.ID, cn.ID, map[string]string{"accessToken": "t2"}).Status)
}

func TestAuthorization(t *testing.T) {
	var seen atomic.Int32
	s, clk, c := newFake(t,
		WithRequiredFields("qhyg", "realmId", "refreshToken"),
		WithRejectedToken("revoked-refresh-token"),
		WithTokenRejecter(func(key string, body map[string]string) bool {
			seen.Add(1)
			return key == "fbrh" && body["businessId"] == "closed"
		}),
		WithRejectedPlatform("vxvy"),
	)
	co := c.createCompany("Acme", nil)
	auth := func(cn Connection) string { return "/companies/" + co.ID + "/connections/" + cn.ID + "/authorization" }

	t.Run("accepted", func(t *testing.T) {
		cn := c.createConnection(co.ID, "qhyg")
		body := map[string]string{"realmId": "9130", "refreshToken": "good-refresh", "accessToken": "good-access"}
		got := c.authorize(co.ID, cn.ID, body)
		assert.Equal(t, StatusLinked, got.Status)
		assert.Empty(t, got.DataConnectionErrors)
		in, _ := s.Connection(co.ID, cn.ID)
		assert.Equal(t, []string{"accessToken", "realmId", "refreshToken"}, in.AuthFields)
		assert.Equal(t, Fingerprint(body), in.AuthFingerprint)
		assert.Equal(t, 1, in.AuthAttempts)
	})
	t.Run("required fields", func(t *testing.T) {
		cn := c.createConnection(co.ID, "qhyg")
		r := c.do("PUT", auth(cn), map[string]string{"realmId": "9130", "refreshToken": " ", "accessToken": "secret-value-1"})
		require.Equal(t, 400, r.status, r.String())
		e := errBody(t, r)
		require.NotNil(t, e.Validation)
		require.Len(t, e.Validation.Errors, 1)
		assert.Equal(t, "refreshToken", e.Validation.Errors[0].ItemID)
		assert.NotContains(t, string(r.body), "secret-value-1", "error bodies never echo values")
		in, _ := s.Connection(co.ID, cn.ID)
		assert.Equal(t, StatusPendingAuth, in.Status)
		assert.Equal(t, 0, in.AuthAttempts)
	})
	t.Run("rejected token value", func(t *testing.T) {
		cn := c.createConnection(co.ID, "qhyg")
		clk.Advance(time.Second)
		got := c.authorize(co.ID, cn.ID, map[string]string{"realmId": "1", "refreshToken": "revoked-refresh-token"})
		assert.Equal(t, StatusDeauthorized, got.Status)
		require.Len(t, got.DataConnectionErrors, 1)
		de := got.DataConnectionErrors[0]
		assert.Equal(t, "401", de.StatusCode)
		assert.Equal(t, "Active", de.Status)
		assert.Equal(t, wireTime(clk.Now()), de.ErroredOnUtc)
		assert.NotContains(t, string(mustJSON(got)), "revoked-refresh-token")
		in, _ := s.Connection(co.ID, cn.ID)
		assert.Equal(t, 1, in.AuthAttempts)
		assert.Empty(t, in.AuthFields, "fields are recorded only for accepted bodies")

		// A good token afterwards links it and resolves the error.
		clk.Advance(time.Second)
		got = c.authorize(co.ID, cn.ID, map[string]string{"realmId": "1", "refreshToken": "fresh"})
		assert.Equal(t, StatusLinked, got.Status)
		require.Len(t, got.DataConnectionErrors, 1)
		assert.Equal(t, "Resolved", got.DataConnectionErrors[0].Status)
		assert.Equal(t, wireTime(clk.Now()), got.DataConnectionErrors[0].ResolvedOnUtc)
	})
	t.Run("rejecter function", func(t *testing.T) {
		cn := c.createConnection(co.ID, "fbrh")
		assert.Equal(t, StatusDeauthorized, c.authorize(co.ID, cn.ID, map[string]string{"businessId": "closed", "accessToken": "a"}).Status)
		cn2 := c.createConnection(co.ID, "fbrh")
		assert.Equal(t, StatusLinked, c.authorize(co.ID, cn2.ID, map[string]string{"businessId": "open", "accessToken": "a"}).Status)
		assert.GreaterOrEqual(t, seen.Load(), int32(2))
	})
	t.Run("rejected platform", func(t *testing.T) {
		cn := c.createConnection(co.ID, "vxvy")
		assert.Equal(t, StatusDeauthorized, c.authorize(co.ID, cn.ID, map[string]string{"accessToken": "a"}).Status)
	})
	t.Run("malformed bodies", func(t *testing.T) {
		cn := c.createConnection(co.ID, "gbol")
		for _, body := range []string{`{"accessToken": 5}`, `{"accessToken": "a", "expiresIn": 3600}`, `{"nested": {"a": "b"}}`,
			`{"flag": true}`, `{"none": null}`, `{}`, `[]`, `"token"`, ``, `{"a":`} {
			r := c.do("PUT", auth(cn), body)
			assert.Equal(t, 400, r.status, "%s: %s", body, r)
			errBody(t, r)
		}
		r := c.do("PUT", auth(cn), `{"accessToken": "a", "expiresIn": 3600}`)
		e := errBody(t, r)
		require.NotNil(t, e.Validation)
		assert.Equal(t, "expiresIn", e.Validation.Errors[0].ItemID)
		in, _ := s.Connection(co.ID, cn.ID)
		assert.Equal(t, StatusPendingAuth, in.Status)
	})
	t.Run("not found", func(t *testing.T) {
		for _, p := range []string{
			"/companies/" + co.ID + "/connections/00000000-0000-4000-8000-000000000000/authorization",
			"/companies/00000000-0000-4000-8000-000000000000/connections/00000000-0000-4000-8000-000000000000/authorization",
			"/companies/" + co.ID + "/connections/bad/authorization",
		} {
			r := c.do("PUT", p, map[string]string{"accessToken": "a"})
			assert.Equal(t, 404, r.status, p)
		}
	})
}

func TestACCFollowsLinkedCompanies(t *testing.T) {
	s, _, c := newFake(t, WithRejectedToken("bad"))
	co := c.createCompany("Acme", nil)
	a := c.createConnection(co.ID, "gbol")
	b := c.createConnection(co.ID, "fztf")
	assert.Equal(t, 0, s.ACC())
	c.authorize(co.ID, a.ID, map[string]string{"t": "ok"})
	c.authorize(co.ID, b.ID, map[string]string{"t": "ok"})
	assert.Equal(t, 1, s.ACC(), "a company with two linked connections counts once")
	c.authorize(co.ID, a.ID, map[string]string{"t": "bad"})
	assert.Equal(t, 1, s.ACC())
	require.NoError(t, s.SetConnectionStatus(co.ID, b.ID, StatusDeauthorized))
	assert.Equal(t, 0, s.ACC())
	require.NoError(t, s.SetConnectionStatus(co.ID, b.ID, StatusLinked))
	assert.Equal(t, 1, s.ACC())
	assert.Error(t, s.SetConnectionStatus(co.ID, b.ID, "Gone"))
	assert.Error(t, s.SetConnectionStatus(co.ID, "00000000-0000-4000-8000-000000000000", StatusLinked))

	for i := 0; i < 3; i++ {
		x := c.createCompany(fmt.Sprintf("X%d", i), nil)
		cn := c.createConnection(x.ID, "pbtz")
		c.authorize(x.ID, cn.ID, map[string]string{"t": "ok"})
	}
	assert.Equal(t, 4, s.ACC())
	assert.Len(t, s.AllConnections(), 5)
}

func TestAuthorizationValuesNeverKept(t *testing.T) {
	s, _, c := newFake(t, WithRejectedToken("rejected-secret-value"))
	co := c.createCompany("Acme", nil)
	cn := c.createConnection(co.ID, "gbol")
	c.authorize(co.ID, cn.ID, map[string]string{"accessToken": "accepted-secret-value"})
	c.authorize(co.ID, cn.ID, map[string]string{"accessToken": "rejected-secret-value"})
	dump := fmt.Sprintf("%+v %+v %+v", s.RequestLog(), s.AllConnections(), s.Companies())
	assert.NotContains(t, dump, "accepted-secret-value")
	assert.NotContains(t, dump, "rejected-secret-value")
	assert.False(t, strings.Contains(dump, s.APIKey()), "the API key is not logged")
}
