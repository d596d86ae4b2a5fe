package codat_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/codat-migrate/codat"
	"github.com/codat-migrate/codat/internal/testutil"
)

func TestConnectionsEndpoints(t *testing.T) {
	pending := testutil.Connection(sdkCompanyID, sdkConnectionID, "qhyg", "PendingAuth")
	linked := testutil.Connection(sdkCompanyID, sdkConnectionID, "qhyg", "Linked")
	linked["connectionInfo"] = map[string]any{"realmId": "123", "nested": map[string]any{"n": 1, "ok": true}}
	unlinked := testutil.Connection(sdkCompanyID, sdkConnectionID, "qhyg", "Unlinked")
	base := "/companies/" + sdkCompanyID + "/connections"
	sdkRunExchanges(t, []sdkExchange{
		{
			name: "Create",
			call: func(t *testing.T, ctx context.Context, c *codat.Client) {
				cn, err := c.Connections.Create(ctx, sdkCompanyID, "qhyg")
				require.NoError(t, err)
				assert.Equal(t, sdkConnectionID, cn.ID)
				assert.True(t, cn.Status.Is(codat.StatusPendingAuth))
				assert.Equal(t, "qhyg", cn.IntegrationKey)
				assert.Equal(t, "https://link-api.codat.io/companies/"+sdkCompanyID+"/connections/"+sdkConnectionID+"/start", cn.LinkURL)
				assert.Nil(t, cn.ConnectionInfo, "a null connectionInfo decodes to nil")
			},
			method: "POST", path: base, body: `{"platformKey":"qhyg"}`, keyed: true, status: 200, response: pending,
		},
		{
			name: "Get",
			call: func(t *testing.T, ctx context.Context, c *codat.Client) {
				cn, err := c.Connections.Get(ctx, sdkCompanyID, sdkConnectionID)
				require.NoError(t, err)
				assert.True(t, cn.Status.Is(codat.StatusLinked))
				assert.JSONEq(t, `{"realmId":"123","nested":{"n":1,"ok":true}}`, string(cn.ConnectionInfo))
			},
			method: "GET", path: base + "/" + sdkConnectionID, status: 200, response: linked,
		},
		{
			name: "List",
			call: func(t *testing.T, ctx context.Context, c *codat.Client) {
				p, err := c.Connections.List(ctx, sdkCompanyID, &codat.ListOptions{PageSize: 10, Query: "status=Linked"})
				require.NoError(t, err)
				require.Len(t, p.Results, 2)
				assert.Equal(t, 2, p.TotalResults)
			},
			method: "GET", path: base, query: url.Values{"pageSize": {"10"}, "query": {"status=Linked"}},
			status: 200, response: testutil.Page(base, []any{pending, linked}, 1, 10, 2, false),
		},
		{
			name: "Delete",
			call: func(t *testing.T, ctx context.Context, c *codat.Client) {
				require.NoError(t, c.Connections.Delete(ctx, sdkCompanyID, sdkConnectionID))
			},
			method: "DELETE", path: base + "/" + sdkConnectionID, status: 200,
		},
		{
			name: "Unlink",
			call: func(t *testing.T, ctx context.Context, c *codat.Client) {
				cn, err := c.Connections.Unlink(ctx, sdkCompanyID, sdkConnectionID)
				require.NoError(t, err)
				assert.True(t, cn.Status.Is(codat.StatusUnlinked))
			},
			method: "PATCH", path: base + "/" + sdkConnectionID, body: `{"status":"Unlinked"}`, keyed: true,
			status: 200, response: unlinked,
		},
		{
			name: "UpdateAuthorization",
			call: func(t *testing.T, ctx context.Context, c *codat.Client) {
				auth := sdkAuth{key: "qhyg", body: map[string]string{"accessToken": "at-1", "refreshToken": "rt-1", "realmId": "123", "expiresIn": "3600"}}
				cn, err := c.Connections.UpdateAuthorization(ctx, sdkCompanyID, sdkConnectionID, auth)
				require.NoError(t, err)
				assert.True(t, cn.Status.Is(codat.StatusLinked))
			},
			method: "PUT", path: base + "/" + sdkConnectionID + "/authorization",
			body:   `{"accessToken":"at-1","refreshToken":"rt-1","realmId":"123","expiresIn":"3600"}`,
			status: 200, response: linked,
		},
		{
			name: "UpdateAuthorization with an empty body",
			call: func(t *testing.T, ctx context.Context, c *codat.Client) {
				_, err := c.Connections.UpdateAuthorization(ctx, sdkCompanyID, sdkConnectionID, sdkAuth{key: "qhyg"})
				require.NoError(t, err)
			},
			method: "PUT", path: base + "/" + sdkConnectionID + "/authorization", body: `{}`,
			status: 200, response: pending,
		},
	})
}

func TestConnectionsAll(t *testing.T) {
	h := newSDKHarness(t)
	h.handle("GET /companies/{companyId}/connections", func(w http.ResponseWriter, r *http.Request) {
		base := "/companies/" + r.PathValue("companyId") + "/connections"
		switch r.URL.Query().Get("page") {
		case "1":
			testutil.WriteJSON(w, 200, testutil.Page(base, []any{testutil.Connection(sdkCompanyID, sdkConnectionID, "qhyg", "Linked")}, 1, 1, 2, true))
		default:
			testutil.WriteJSON(w, 200, testutil.Page(base, []any{testutil.Connection(sdkCompanyID, sdkDatasetID, "gbol", "Deauthorized")}, 2, 1, 2, false))
		}
	})
	var keys []string
	for cn, err := range h.client.Connections.All(context.Background(), sdkCompanyID, &codat.ListOptions{PageSize: 1}) {
		require.NoError(t, err)
		keys = append(keys, cn.IntegrationKey)
	}
	assert.Equal(t, []string{"qhyg", "gbol"}, keys)
	assert.Len(t, h.requests(), 2)
}

func TestUpdateAuthorizationBodyErrorNamesPlatform(t *testing.T) {
	h := newSDKHarness(t)
	_, err := h.client.Connections.UpdateAuthorization(context.Background(), sdkCompanyID, sdkConnectionID,
		sdkAuth{key: "qhyg", err: errSDKBodyField})
	require.Error(t, err)
	assert.ErrorIs(t, err, errSDKBodyField)
	assert.Contains(t, err.Error(), "qhyg")
	assert.Empty(t, h.requests())
}

var errSDKBodyField = errors.New("realmId is required")

func TestConnectionStatusIs(t *testing.T) {
	tests := []struct {
		s, t codat.ConnectionStatus
		want bool
	}{
		{"Linked", codat.StatusLinked, true},
		{"linked", codat.StatusLinked, true},
		{"LINKED", codat.StatusLinked, true},
		{" Linked ", codat.StatusLinked, true},
		{"pendingAuth", codat.StatusPendingAuth, true},
		{"Unlinked", codat.StatusLinked, false},
		{"", codat.StatusLinked, false},
		{"deauthorized", codat.StatusDeauthorized, true},
	}
	for _, tc := range tests {
		assert.Equal(t, tc.want, tc.s.Is(tc.t), "%q.Is(%q)", tc.s, tc.t)
	}
}

func TestConnectionDecodeTolerance(t *testing.T) {
	raw := `{
		"id": "c1", "integrationId": "i1", "sourceId": "s1", "sourceType": "Accounting",
		"platformName": "Xero", "linkUrl": "https://x", "status": "pendingAuth", "created": "2021-11-15T01:00:00",
		"lastSync": "2021-11-15T01:00:00-05:00",
		"dataConnectionErrors": [{"statusCode": 401, "statusText": "Unauthorized", "errorMessage": "token expired",
			"erroredOnUtc": "2022-11-10T10:45:18.1950523Z", "status": null, "resolvedOnUtc": null}],
		"connectionInfo": [1, "two", {"three": 3}],
		"brandNewField": {"deep": [1, 2]}
	}`
	var cn codat.Connection
	require.NoError(t, json.Unmarshal([]byte(raw), &cn))
	assert.True(t, cn.Status.Is(codat.StatusPendingAuth))
	assert.Equal(t, "2021-11-15T01:00:00", cn.Created)
	assert.Equal(t, "2021-11-15T01:00:00-05:00", cn.LastSync)
	require.Len(t, cn.DataConnectionErrors, 1)
	assert.Equal(t, "401", cn.DataConnectionErrors[0].StatusCode, "a numeric statusCode is accepted")
	assert.Equal(t, "token expired", cn.DataConnectionErrors[0].ErrorMessage)
	assert.Empty(t, cn.DataConnectionErrors[0].Status)
	assert.JSONEq(t, `[1, "two", {"three": 3}]`, string(cn.ConnectionInfo), "connectionInfo holds any JSON")
	assert.Empty(t, cn.IntegrationKey, "integrationKey is optional")

	var missing codat.Connection
	require.NoError(t, json.Unmarshal([]byte(`{"id":"c2"}`), &missing))
	assert.Nil(t, missing.ConnectionInfo)
}

func TestIsPlatformKey(t *testing.T) {
	for key, want := range map[string]bool{
		"qhyg": true, "gbol": true,
		"": false, "qhy": false, "qhygg": false, "QHYG": false, "qhy1": false, "qh-g": false, "qhyé": false, " qhy": false,
	} {
		assert.Equal(t, want, codat.IsPlatformKey(key), "%q", key)
	}
}
