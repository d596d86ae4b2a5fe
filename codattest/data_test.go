package codattest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// linkedCompany creates a company with one connection authorized with body.
func linkedCompany(c *tclient, key string, body map[string]string) (Company, Connection) {
	co := c.createCompany("Acme", nil)
	cn := c.createConnection(co.ID, key)
	cn = c.authorize(co.ID, cn.ID, body)
	return co, cn
}

func TestRefreshAllAndProgress(t *testing.T) {
	s, clk, c := newFake(t, WithDataTypes("gbol", "invoices", "customers"))
	co, cn := linkedCompany(c, "gbol", map[string]string{"accessToken": "a"})
	requested := clk.Now()

	r := c.do("POST", "/companies/"+co.ID+"/data/all", nil)
	require.Equal(t, 204, r.status, r.String())
	assert.Empty(t, r.body)

	ops := s.PullOperations(co.ID)
	require.Len(t, ops, 2)
	assert.Equal(t, []string{"invoices", "customers"}, []string{ops[0].DataType, ops[1].DataType})
	for _, op := range ops {
		assert.Equal(t, PullQueued, op.Status)
		assert.Equal(t, cn.ID, op.ConnectionID)
		assert.Equal(t, co.ID, op.CompanyID)
		assert.Equal(t, wireTime(requested), op.Requested)
		assert.Equal(t, 0, op.Progress)
		assert.False(t, op.IsCompleted)
		assert.Empty(t, op.Completed)
	}

	status := func() map[string]DataStatus {
		r := c.do("GET", "/companies/"+co.ID+"/dataStatus", nil)
		require.Equal(t, 200, r.status, r.String())
		return decode[map[string]DataStatus](t, r)
	}
	st := status()
	require.Len(t, st, 2)
	assert.Equal(t, DataStatus{DataType: "invoices", CurrentStatus: PullQueued, LatestSyncID: ops[0].ID}, st["invoices"])

	clk.Advance(time.Second)
	assert.Equal(t, PullFetching, status()["invoices"].CurrentStatus)
	clk.Advance(2 * time.Second)
	op := decode[PullOperation](t, c.do("GET", "/companies/"+co.ID+"/data/history/"+ops[0].ID, nil))
	assert.Equal(t, PullFetching, op.Status)
	assert.Greater(t, op.Progress, 1)
	assert.Less(t, op.Progress, 100)

	// Queued for 1s, Fetching until 5s, then Complete.
	clk.Advance(2 * time.Second)
	op = decode[PullOperation](t, c.do("GET", "/companies/"+co.ID+"/data/history/"+ops[0].ID, nil))
	assert.Equal(t, PullComplete, op.Status)
	assert.Equal(t, 100, op.Progress)
	assert.True(t, op.IsCompleted)
	assert.False(t, op.IsErrored)
	done := wireTime(requested.Add(5 * time.Second))
	assert.Equal(t, done, op.Completed)
	st = status()
	assert.Equal(t, DataStatus{DataType: "invoices", CurrentStatus: PullComplete, LastSuccessfulSync: done,
		LatestSyncID: ops[0].ID, LatestSuccessfulSyncID: ops[0].ID}, st["invoices"])

	// lastSync appears on the connection and company once a pull completes.
	got, _ := s.Connection(co.ID, cn.ID)
	assert.Equal(t, done, got.LastSync)
	coGot, _ := s.Company(co.ID)
	assert.Equal(t, done, coGot.LastSync)

	// A second refresh: dataStatus follows the latest pull and keeps the
	// last successful one.
	clk.Advance(time.Minute)
	require.Equal(t, 204, c.do("POST", "/companies/"+co.ID+"/data/all", nil).status)
	st = status()
	assert.Equal(t, PullQueued, st["invoices"].CurrentStatus)
	assert.NotEqual(t, ops[0].ID, st["invoices"].LatestSyncID)
	assert.Equal(t, ops[0].ID, st["invoices"].LatestSuccessfulSyncID)
	assert.Equal(t, done, st["invoices"].LastSuccessfulSync)

	// While pulls run, data/all does not queue the same types again.
	require.Equal(t, 204, c.do("POST", "/companies/"+co.ID+"/data/all", nil).status)
	assert.Len(t, s.PullOperations(co.ID), 4)
}

func TestRefreshAllSkipsUnlinkedAndDefaultsBySourceType(t *testing.T) {
	s, _, c := newFake(t)
	co := c.createCompany("Acme", nil)
	pending := c.createConnection(co.ID, "gbol")
	r := c.do("POST", "/companies/"+co.ID+"/data/all", nil)
	require.Equal(t, 204, r.status)
	assert.Empty(t, s.PullOperations(co.ID), "PendingAuth connections are not pulled")

	c.authorize(co.ID, pending.ID, map[string]string{"accessToken": "a"})
	shop := c.createConnection(co.ID, "fztf")
	c.authorize(co.ID, shop.ID, map[string]string{"accessToken": "a"})
	bank := c.createConnection(co.ID, "suuo")
	c.authorize(co.ID, bank.ID, map[string]string{"accessToken": "a"})
	feed := c.createConnection(co.ID, "hcws")
	c.authorize(co.ID, feed.ID, map[string]string{"accessToken": "a"})
	require.Equal(t, 204, c.do("POST", "/companies/"+co.ID+"/data/all", nil).status)
	byConn := map[string][]string{}
	for _, op := range s.PullOperations(co.ID) {
		byConn[op.ConnectionID] = append(byConn[op.ConnectionID], op.DataType)
	}
	assert.Equal(t, defaultDataTypes[SourceAccounting], byConn[pending.ID])
	assert.Equal(t, defaultDataTypes[SourceCommerce], byConn[shop.ID])
	assert.Equal(t, defaultDataTypes[SourceBanking], byConn[bank.ID])
	assert.Empty(t, byConn[feed.ID], "bank feeds pull nothing by default")

	assert.Equal(t, 404, c.do("POST", "/companies/00000000-0000-4000-8000-000000000000/data/all", nil).status)
}

func TestRejectedTokenSyncEndsInAuthError(t *testing.T) {
	s, clk, c := newFake(t, WithRejectedToken("stale"), WithDataTypes("gbol", "invoices"))
	co, cn := linkedCompany(c, "gbol", map[string]string{"accessToken": "stale"})
	require.Equal(t, StatusDeauthorized, cn.Status)
	require.Equal(t, 204, c.do("POST", "/companies/"+co.ID+"/data/all", nil).status)
	clk.Advance(5 * time.Second)
	ops := s.PullOperations(co.ID)
	require.Len(t, ops, 1)
	assert.Equal(t, PullAuthError, ops[0].Status)
	assert.True(t, ops[0].IsErrored)
	assert.False(t, ops[0].IsCompleted)
	assert.NotEmpty(t, ops[0].ErrorMessage)
	st, ok := s.DataStatuses(co.ID)
	require.True(t, ok)
	assert.Equal(t, PullAuthError, st["invoices"].CurrentStatus)
	assert.Empty(t, st["invoices"].LastSuccessfulSync)
	got, _ := s.Connection(co.ID, cn.ID)
	assert.Empty(t, got.LastSync)

	// Queue by type also ends in AuthError.
	r := c.do("POST", "/companies/"+co.ID+"/data/queue/invoices", nil)
	require.Equal(t, 200, r.status, r.String())
	clk.Advance(5 * time.Second)
	op := decode[PullOperation](t, r)
	again := decode[PullOperation](t, c.do("GET", "/companies/"+co.ID+"/data/history/"+op.ID, nil))
	assert.Equal(t, PullAuthError, again.Status)

	// A connection deauthorized on the platform's side fails the same way.
	co2, cn2 := linkedCompany(c, "gbol", map[string]string{"accessToken": "fine"})
	require.NoError(t, s.SetConnectionStatus(co2.ID, cn2.ID, StatusDeauthorized))
	require.Equal(t, 204, c.do("POST", "/companies/"+co2.ID+"/data/all", nil).status)
	clk.Advance(5 * time.Second)
	assert.Equal(t, PullAuthError, s.PullOperations(co2.ID)[0].Status)
}

func TestRefreshDataType(t *testing.T) {
	_, clk, c := newFake(t, WithSyncTiming(0, 10*time.Second))
	co, cn := linkedCompany(c, "gbol", map[string]string{"accessToken": "a"})
	other := c.createConnection(co.ID, "fztf")

	r := c.do("POST", "/companies/"+co.ID+"/data/queue/invoices", nil)
	require.Equal(t, 200, r.status, r.String())
	op := decode[PullOperation](t, r)
	assert.Equal(t, "invoices", op.DataType)
	assert.Equal(t, cn.ID, op.ConnectionID)
	assert.Equal(t, PullFetching, op.Status, "fetchAfter 0 starts fetching at once")

	// Still in progress: refused.
	r = c.do("POST", "/companies/"+co.ID+"/data/queue/invoices", nil)
	assert.Equal(t, 400, r.status, r.String())
	assert.Contains(t, errBody(t, r).Error, "DatasetAlreadyInProgressException")

	clk.Advance(10 * time.Second)
	r = c.do("POST", q("/companies/"+co.ID+"/data/queue/invoices", "connectionId", cn.ID), nil)
	assert.Equal(t, 200, r.status, r.String())

	tests := []struct {
		name, path string
		status     int
	}{
		{"unknown data type", "/companies/" + co.ID + "/data/queue/widgets", 400},
		{"type the platform does not pull", "/companies/" + co.ID + "/data/queue/commerce-orders", 404},
		{"connection not linked", "/companies/" + co.ID + "/data/queue/commerce-orders?connectionId=" + other.ID, 400},
		{"connection of another company", "/companies/" + co.ID + "/data/queue/invoices?connectionId=00000000-0000-4000-8000-000000000000", 404},
		{"connectionId not a uuid", "/companies/" + co.ID + "/data/queue/invoices?connectionId=x", 400},
		{"unknown company", "/companies/00000000-0000-4000-8000-000000000000/data/queue/invoices", 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := c.do("POST", tt.path, nil)
			assert.Equal(t, tt.status, r.status, r.String())
			errBody(t, r)
		})
	}
	c.authorize(co.ID, other.ID, map[string]string{"accessToken": "a"})
	r = c.do("POST", "/companies/"+co.ID+"/data/queue/commerce-orders", nil)
	require.Equal(t, 200, r.status, r.String())
	assert.Equal(t, other.ID, decode[PullOperation](t, r).ConnectionID)
}

func TestPullOperationHistory(t *testing.T) {
	_, clk, c := newFake(t, WithDataTypes("gbol", "invoices", "bills", "customers"))
	co, _ := linkedCompany(c, "gbol", map[string]string{"accessToken": "a"})
	require.Equal(t, 204, c.do("POST", "/companies/"+co.ID+"/data/all", nil).status)
	clk.Advance(10 * time.Second)
	require.Equal(t, 204, c.do("POST", "/companies/"+co.ID+"/data/all", nil).status)
	base := "/companies/" + co.ID + "/data/history"

	p := decode[pageBody[PullOperation]](t, c.do("GET", base, nil))
	assert.Equal(t, 6, p.TotalResults)
	require.Len(t, p.Results, 6)
	assert.Equal(t, "invoices", p.Results[0].DataType)
	assert.Equal(t, base, p.Links.Self.Href)

	p = decode[pageBody[PullOperation]](t, c.do("GET", q(base, "pageSize", "4", "page", "2"), nil))
	assert.Len(t, p.Results, 2)
	assert.Equal(t, 6, p.TotalResults)

	p = decode[pageBody[PullOperation]](t, c.do("GET", q(base, "query", "status=Complete"), nil))
	assert.Equal(t, 3, p.TotalResults)
	p = decode[pageBody[PullOperation]](t, c.do("GET", q(base, "query", "status!=Complete&&dataType=bills"), nil))
	require.Equal(t, 1, p.TotalResults)
	assert.Equal(t, PullQueued, p.Results[0].Status)
	p = decode[pageBody[PullOperation]](t, c.do("GET", q(base, "orderBy", "-requested", "pageSize", "1"), nil))
	assert.Equal(t, PullQueued, p.Results[0].Status, "newest first")

	assert.Equal(t, 400, c.do("GET", q(base, "query", "isCompleted=true"), nil).status)
	assert.Equal(t, 404, c.do("GET", base+"/00000000-0000-4000-8000-000000000000", nil).status)
	assert.Equal(t, 404, c.do("GET", base+"/nope", nil).status)
	assert.Equal(t, 404, c.do("GET", "/companies/00000000-0000-4000-8000-000000000000/data/history", nil).status)
	assert.Equal(t, 404, c.do("GET", "/companies/00000000-0000-4000-8000-000000000000/dataStatus", nil).status)

	// A company that never pulled has an empty status and history.
	fresh := c.createCompany("Fresh", nil)
	assert.JSONEq(t, `{}`, string(c.do("GET", "/companies/"+fresh.ID+"/dataStatus", nil).body))
	assert.Equal(t, 0, decode[pageBody[PullOperation]](t, c.do("GET", "/companies/"+fresh.ID+"/data/history", nil)).TotalResults)
}

func TestIntegrations(t *testing.T) {
	_, _, c := newFake(t, WithIntegration(Integration{Key: "abcd", Name: "Acme Books", SourceType: SourceAccounting, Enabled: true, IsBeta: true}))
	p := decode[pageBody[Integration]](t, c.do("GET", "/integrations", nil))
	assert.Equal(t, len(builtinIntegrations)+1, p.TotalResults)
	keys := map[string]Integration{}
	for _, in := range p.Results {
		keys[in.Key] = in
	}
	for _, k := range []string{"qhyg", "ndsk", "pqsw", "gbol", "fbrh", "vxvy", "pbtz", "rwuv", "tgff", "akxx", "trji", "rqwd",
		"knfz", "pdvj", "qudb", "pbbf", "hbql", "jcrp", "rvam", "mqjo", "fztf", "zsth", "xcwv", "exgd", "yzth", "ltpp", "qkdj",
		"vqzp", "fqly", "ugxp", "aiwb", "ldgh", "lrhd", "ltes", "lqai", "suuo", "upvr", "wvzu", "jhch", "gvom", "vjms", "dxfw",
		"pshf", "zgbz", "dxfm", "hcws", "olpr", "zpqy", "abcd"} {
		in, ok := keys[k]
		if assert.True(t, ok, k) {
			assert.True(t, in.Enabled)
			assert.NotEmpty(t, in.Name)
			assert.True(t, isGUID(in.IntegrationID), k)
			assert.True(t, isGUID(in.SourceID), k)
			assert.NotEmpty(t, in.LogoURL)
			assert.True(t, sourceTypes[in.SourceType], k)
		}
	}
	assert.Equal(t, "Xero", keys["gbol"].Name)
	assert.Equal(t, SourceCommerce, keys["fztf"].SourceType)
	assert.True(t, keys["abcd"].IsBeta)

	got := decode[Integration](t, c.do("GET", "/integrations/gbol", nil))
	assert.Equal(t, keys["gbol"], got)

	p = decode[pageBody[Integration]](t, c.do("GET", q("/integrations", "pageSize", "10", "page", "2"), nil))
	assert.Len(t, p.Results, 10)
	assert.NotNil(t, p.Links.Next)
	assert.NotNil(t, p.Links.Previous)
	p = decode[pageBody[Integration]](t, c.do("GET", q("/integrations", "query", "sourceType=Banking", "orderBy", "key"), nil))
	require.Equal(t, 3, p.TotalResults)
	assert.Equal(t, []string{"dxfm", "suuo", "upvr"}, []string{p.Results[0].Key, p.Results[1].Key, p.Results[2].Key})

	for _, k := range []string{"zzzz", "GBOL", "gb", "gbolx"} {
		r := c.do("GET", "/integrations/"+k, nil)
		assert.Equal(t, 404, r.status, k)
		errBody(t, r)
	}
	assert.Equal(t, 400, c.do("GET", q("/integrations", "pageSize", "9999"), nil).status)
}
