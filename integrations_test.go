package codat_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/codat-migrate/codat"
	"github.com/codat-migrate/codat/internal/testutil"
)

func sdkIntegration(key, name string) map[string]any { return testutil.Integration(key, name) }

func TestIntegrationsEndpoints(t *testing.T) {
	qbo := sdkIntegration("qhyg", "QuickBooks Online")
	xero := sdkIntegration("gbol", "Xero")
	sdkRunExchanges(t, []sdkExchange{
		{
			name: "List",
			call: func(t *testing.T, ctx context.Context, c *codat.Client) {
				p, err := c.Integrations.List(ctx, &codat.ListOptions{PageSize: 500, Query: "sourceType=Accounting"})
				require.NoError(t, err)
				require.Len(t, p.Results, 2)
				assert.Equal(t, "gbol", p.Results[1].Key)
			},
			method: "GET", path: "/integrations", query: url.Values{"pageSize": {"500"}, "query": {"sourceType=Accounting"}},
			status: 200, response: testutil.Page("/integrations", []any{qbo, xero}, 1, 500, 2, false),
		},
		{
			name: "Get",
			call: func(t *testing.T, ctx context.Context, c *codat.Client) {
				in, err := c.Integrations.Get(ctx, "qhyg")
				require.NoError(t, err)
				assert.Equal(t, "QuickBooks Online", in.Name)
				assert.True(t, in.Enabled)
				assert.Equal(t, "Accounting", in.SourceType)
				require.Len(t, in.DatatypeFeatures, 1)
				assert.Equal(t, "invoices", in.DatatypeFeatures[0].DataType, `"datatype" decodes into DataType`)
				assert.Equal(t, "Release", in.DatatypeFeatures[0].SupportedFeatures[0].FeatureState)
			},
			method: "GET", path: "/integrations/qhyg", status: 200, response: qbo,
		},
	})
}

func TestIntegrationsAll(t *testing.T) {
	h := newSDKHarness(t)
	h.handle("GET /integrations", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("page") == "1" {
			testutil.WriteJSON(w, 200, testutil.Page("/integrations", []any{sdkIntegration("qhyg", "QBO")}, 1, 1, 2, true))
			return
		}
		testutil.WriteJSON(w, 200, testutil.Page("/integrations", []any{sdkIntegration("gbol", "Xero")}, 2, 1, 2, false))
	})
	var keys []string
	for in, err := range h.client.Integrations.All(context.Background(), &codat.ListOptions{PageSize: 1}) {
		require.NoError(t, err)
		keys = append(keys, in.Key)
	}
	assert.Equal(t, []string{"qhyg", "gbol"}, keys)
}

func TestIntegrationDecodeBothFeatureSpellings(t *testing.T) {
	var in codat.Integration
	require.NoError(t, json.Unmarshal([]byte(`{"key":"qhyg","name":"Q","enabled":false,"datatypeFeatures":[{"dataType":"bills","supportedFeatures":[]}],"unknown":true}`), &in))
	assert.Equal(t, "bills", in.DatatypeFeatures[0].DataType)
	assert.False(t, in.Enabled)
}
