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

func TestSyncEndpoints(t *testing.T) {
	op := testutil.PullOperation(sdkCompanyID, sdkConnectionID, sdkDatasetID, "invoices", "Queued", false)
	done := testutil.PullOperation(sdkCompanyID, sdkConnectionID, sdkDatasetID, "invoices", "Complete", true)
	base := "/companies/" + sdkCompanyID
	statuses := map[string]any{
		"invoices": map[string]any{
			"dataType": "invoices", "currentStatus": "Complete", "lastSuccessfulSync": "2022-01-01T13:00:00.000Z",
			"latestSyncId": sdkDatasetID, "latestSuccessfulSyncId": sdkDatasetID,
		},
		"banking-accounts": map[string]any{"dataType": "banking-accounts", "currentStatus": "Queued"},
		"bills":            nil,
	}
	sdkRunExchanges(t, []sdkExchange{
		{
			name: "RefreshAll",
			call: func(t *testing.T, ctx context.Context, c *codat.Client) {
				require.NoError(t, c.Sync.RefreshAll(ctx, sdkCompanyID))
			},
			method: "POST", path: base + "/data/all", keyed: true, status: 204,
		},
		{
			name: "RefreshDataType",
			call: func(t *testing.T, ctx context.Context, c *codat.Client) {
				p, err := c.Sync.RefreshDataType(ctx, sdkCompanyID, "invoices", nil)
				require.NoError(t, err)
				assert.Equal(t, sdkDatasetID, p.ID)
				assert.Equal(t, "Queued", p.Status)
				assert.False(t, p.Done())
			},
			method: "POST", path: base + "/data/queue/invoices", keyed: true, status: 200, response: op,
		},
		{
			name: "RefreshDataType for one connection",
			call: func(t *testing.T, ctx context.Context, c *codat.Client) {
				_, err := c.Sync.RefreshDataType(ctx, sdkCompanyID, "banking-accounts", &codat.RefreshDataTypeOptions{ConnectionID: sdkConnectionID})
				require.NoError(t, err)
			},
			method: "POST", path: base + "/data/queue/banking-accounts", query: url.Values{"connectionId": {sdkConnectionID}},
			keyed: true, status: 200, response: op,
		},
		{
			name: "Status",
			call: func(t *testing.T, ctx context.Context, c *codat.Client) {
				st, err := c.Sync.Status(ctx, sdkCompanyID)
				require.NoError(t, err)
				assert.Equal(t, "Complete", st["invoices"].CurrentStatus)
				assert.Equal(t, sdkDatasetID, st["invoices"].LatestSyncID)
				assert.Equal(t, "Queued", st["banking-accounts"].CurrentStatus)
				assert.Contains(t, st, "bills", "a null entry is kept as a zero DataStatus")
				assert.Empty(t, st["bills"].CurrentStatus)
			},
			method: "GET", path: base + "/dataStatus", status: 200, response: statuses,
		},
		{
			name: "PullOperations.List",
			call: func(t *testing.T, ctx context.Context, c *codat.Client) {
				p, err := c.PullOperations.List(ctx, sdkCompanyID, &codat.ListOptions{Query: "status!=Complete&&status!=NotSupported", OrderBy: "-requested"})
				require.NoError(t, err)
				require.Len(t, p.Results, 2)
				assert.True(t, p.Results[1].Done())
				assert.Equal(t, 100, p.Results[1].Progress)
			},
			method: "GET", path: base + "/data/history",
			query:  url.Values{"query": {"status!=Complete&&status!=NotSupported"}, "orderBy": {"-requested"}},
			status: 200, response: testutil.Page(base+"/data/history", []any{op, done}, 1, 100, 2, false),
		},
		{
			name: "PullOperations.Get",
			call: func(t *testing.T, ctx context.Context, c *codat.Client) {
				p, err := c.PullOperations.Get(ctx, sdkCompanyID, sdkDatasetID)
				require.NoError(t, err)
				assert.True(t, p.IsCompleted)
				assert.Equal(t, "2022-11-10T10:46:18.1950523+00:00", p.Completed)
			},
			method: "GET", path: base + "/data/history/" + sdkDatasetID, status: 200, response: done,
		},
	})
}

func TestPullOperationsAll(t *testing.T) {
	h := newSDKHarness(t)
	h.handle("GET /companies/{companyId}/data/history", func(w http.ResponseWriter, r *http.Request) {
		base := "/companies/" + r.PathValue("companyId") + "/data/history"
		op := testutil.PullOperation(sdkCompanyID, sdkConnectionID, sdkDatasetID, "invoices", "Complete", true)
		if r.URL.Query().Get("page") == "1" {
			testutil.WriteJSON(w, 200, testutil.Page(base, []any{op, op}, 1, 2, 3, true))
			return
		}
		testutil.WriteJSON(w, 200, testutil.Page(base, []any{op}, 2, 2, 3, false))
	})
	n := 0
	for p, err := range h.client.PullOperations.All(context.Background(), sdkCompanyID, &codat.ListOptions{PageSize: 2}) {
		require.NoError(t, err)
		assert.Equal(t, "invoices", p.DataType)
		n++
	}
	assert.Equal(t, 3, n)
	assert.Len(t, h.requests(), 2)
}

func TestDataStatusTolerance(t *testing.T) {
	// Codat's docs show never-synced types without currentStatus.
	var st codat.DataStatuses
	require.NoError(t, json.Unmarshal([]byte(`{"suppliers":{"dataType":"suppliers"},"invoices":{"dataType":"invoices","currentStatus":"Fetching","extra":1}}`), &st))
	assert.Equal(t, "", st["suppliers"].CurrentStatus)
	assert.Equal(t, "Fetching", st["invoices"].CurrentStatus)
}
