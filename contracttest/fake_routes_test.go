package contracttest

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/codat-migrate/codat/codattest"
)

// TestResponsePolicy proves the response check can fail: bodies that break
// the contract are reported, and the spec-bug policy excuses only what it
// names.
func TestResponsePolicy(t *testing.T) {
	v := Load(t)
	const cid = "6707fb32-43eb-4a43-99b4-34c7ec7ba5dc"
	const conn = `"id":"f75a52b5-c4a9-440a-be58-1d413d499d2a","integrationId":"2c836660-25f8-5740-8048-e6f6bd60c96d","sourceId":"8b085c0e-5d1d-5f76-b7cf-b5f830d165f4","sourceType":"Accounting","platformName":"Xero","linkUrl":"https://link-api.codat.io/x","created":"2025-03-14T09:30:00.000Z"`
	h := http.Header{"Content-Type": {"application/json"}}
	tests := []struct {
		name, method, path string
		status             int
		body               string
		bad                bool
	}{
		{"valid connection", "GET", "/companies/" + cid + "/connections/f75a52b5-c4a9-440a-be58-1d413d499d2a", 200, `{` + conn + `,"status":"Linked"}`, false},
		{"connection status outside the enum", "GET", "/companies/" + cid + "/connections/f75a52b5-c4a9-440a-be58-1d413d499d2a", 200, `{` + conn + `,"status":"linked"}`, true},
		{"connection with an extra property", "GET", "/companies/" + cid + "/connections/f75a52b5-c4a9-440a-be58-1d413d499d2a", 200, `{` + conn + `,"status":"Linked","companyId":"x"}`, true},
		{"connection without linkUrl", "GET", "/companies/" + cid + "/connections/f75a52b5-c4a9-440a-be58-1d413d499d2a", 200, `{"id":"f75a52b5-c4a9-440a-be58-1d413d499d2a","status":"Linked"}`, true},
		{"company without redirect", "GET", "/companies/" + cid, 200, `{"id":"` + cid + `","name":"A"}`, true},
		{"company id not a uuid", "GET", "/companies/" + cid, 200, `{"id":"abc","name":"A","redirect":"https://link.codat.io/company/abc"}`, true},
		{"error with boolean canBeRetried", "GET", "/companies/" + cid, 404, `{"statusCode":404,"canBeRetried":false}`, true},
		{"valid error", "GET", "/companies/" + cid, 404, `{"statusCode":404,"service":"PublicApi","error":"x","correlationId":"c","canBeRetried":"Unknown","detailedErrorCode":0}`, false},
		{"page without _links", "GET", "/companies", 200, `{"results":[],"pageNumber":1,"pageSize":100,"totalResults":0}`, true},
		{"pull operation status outside the enum", "GET", "/companies/" + cid + "/data/history/f75a52b5-c4a9-440a-be58-1d413d499d2a", 200,
			`{"id":"f75a52b5-c4a9-440a-be58-1d413d499d2a","companyId":"` + cid + `","connectionId":"f75a52b5-c4a9-440a-be58-1d413d499d2a","dataType":"invoices","status":"Done","requested":"x","progress":0,"isCompleted":false,"isErrored":false}`, true},
		{"undeclared 409 with a bad body", "POST", "/companies", 409, `{"statusCode":"409"}`, true},
		{"undeclared 409 with an error body", "POST", "/companies", 409, `{"statusCode":409,"error":"in flight","canBeRetried":"Unknown"}`, false},
		{"pageSize 5000 echoed (spec bug whitelisted)", "GET", "/companies?pageSize=5000", 200, `{"results":[],"pageNumber":1,"pageSize":5000,"totalResults":0,"_links":{"self":{"href":"/companies"},"current":{"href":"/companies?page=1&pageSize=5000"}}}`, false},
		{"pageSize 5000 not asked for", "GET", "/companies?pageSize=100", 200, `{"results":[],"pageNumber":1,"pageSize":5000,"totalResults":0,"_links":{"self":{"href":"/companies"},"current":{"href":"/companies?page=1&pageSize=5000"}}}`, true},
		{"undeclared 418", "POST", "/companies", 418, `{"statusCode":418}`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, "http://fake"+tt.path, nil)
			require.NoError(t, err)
			err = v.ValidateResponse(req, &http.Response{StatusCode: tt.status, Header: h}, []byte(tt.body))
			if tt.bad {
				assert.Error(t, err, "a violation must be reported")
			} else {
				assert.NoError(t, err)
			}
		})
	}
}

// TestFakeEveryRoute calls every route of codattest's fake for its success
// and its error answers, and checks each response against the contract.
func TestFakeEveryRoute(t *testing.T) {
	v := Load(t)
	s, clk, c := newFake(t, v, codattest.WithQuota(codattest.Quota{Daily: 1000}), codattest.WithRejectedToken("bad"),
		codattest.WithRequiredFields("qhyg", "realmId"))
	co := c.createCompany("Acme", map[string]string{"migrationRef": "r1"})
	cn := c.createConnection(co.ID, "gbol")
	rej := c.createConnection(co.ID, "fztf")
	missing := "00000000-0000-4000-8000-000000000000"
	cp := "/companies/" + co.ID
	steps := []struct {
		method, path string
		body         any
		status       int
	}{
		{"GET", "/companies", nil, 200},
		{"GET", q("/companies", "tags", "migrationRef=r1", "page", "1", "pageSize", "1"), nil, 200},
		{"GET", q("/companies", "pageSize", "5000"), nil, 200},
		{"GET", q("/companies", "query", "nope=1"), nil, 400},
		{"POST", "/companies", map[string]any{"name": "B", "description": "d"}, 200},
		{"POST", "/companies", map[string]any{"name": ""}, 400},
		{"GET", cp, nil, 200},
		{"GET", "/companies/" + missing, nil, 404},
		{"PUT", cp, map[string]any{"name": "Acme", "tags": map[string]string{"migrationRef": "r1"}}, 200},
		{"PUT", cp, map[string]any{}, 400},
		{"PATCH", cp, map[string]any{"description": "x"}, 200},
		{"PATCH", "/companies/" + missing, map[string]any{"description": "x"}, 404},
		{"GET", cp + "/connections", nil, 200},
		{"GET", "/companies/" + missing + "/connections", nil, 404},
		{"POST", cp + "/connections", map[string]string{"platformKey": "qhyg"}, 200},
		{"POST", cp + "/connections", map[string]string{"platformKey": "nope"}, 404},
		{"POST", cp + "/connections", map[string]string{"platformKey": "NOPE"}, 400},
		{"GET", cp + "/connections/" + cn.ID, nil, 200},
		{"GET", cp + "/connections/" + missing, nil, 404},
		{"PUT", cp + "/connections/" + cn.ID + "/authorization", map[string]string{"accessToken": "ok"}, 200},
		{"PUT", cp + "/connections/" + rej.ID + "/authorization", map[string]string{"accessToken": "bad"}, 200},
		{"PUT", cp + "/connections/" + cn.ID + "/authorization", `{"accessToken": 1}`, 400},
		{"PUT", cp + "/connections/" + missing + "/authorization", map[string]string{"accessToken": "ok"}, 404},
		{"POST", cp + "/data/all", nil, 204},
		{"POST", "/companies/" + missing + "/data/all", nil, 404},
		{"POST", cp + "/data/queue/invoices", nil, 400}, // already in progress
		{"POST", cp + "/data/queue/widgets", nil, 400},
		{"POST", cp + "/data/queue/commerce-disputes", nil, 404},
		{"GET", cp + "/dataStatus", nil, 200},
		{"GET", cp + "/data/history", nil, 200},
		{"GET", cp + "/data/history/" + missing, nil, 404},
		{"GET", "/integrations", nil, 200},
		{"GET", q("/integrations", "page", "2", "pageSize", "5"), nil, 200},
		{"GET", "/integrations/gbol", nil, 200},
		{"GET", "/integrations/zzzz", nil, 404},
		{"PATCH", cp + "/connections/" + cn.ID, map[string]string{"status": "Unlinked"}, 200},
		{"PATCH", cp + "/connections/" + cn.ID, map[string]string{"status": "Unlinked"}, 400},
		{"DELETE", cp + "/connections/" + rej.ID, nil, 200},
		{"DELETE", cp + "/connections/" + missing, nil, 404},
		{"POST", "/companies", map[string]any{"name": "K"}, 200},
		{"GET", "/nowhere", nil, 404},
		{"POST", "/integrations", nil, 405},
	}
	for _, st := range steps {
		r := c.do(st.method, st.path, st.body)
		assert.Equal(t, st.status, r.status, "%s %s: %s", st.method, st.path, r)
	}
	clk.Advance(5 * time.Second)
	ops := s.PullOperations(co.ID)
	require.NotEmpty(t, ops)
	for _, path := range []string{cp + "/data/history/" + ops[0].ID, cp + "/dataStatus", cp + "/data/history", cp} {
		assert.Equal(t, 200, c.do("GET", path, nil).status, path)
	}
	c.authorize(co.ID, cn.ID, map[string]string{"accessToken": "again"})
	assert.Equal(t, 200, c.do("POST", cp+"/data/queue/invoices", nil).status)

	// Idempotency answers, faults, 401 and 429 on a sample of routes.
	assert.Equal(t, 400, c.do("POST", "/companies", map[string]any{"name": "I"}, "Idempotency-Key", "x").status)
	assert.Equal(t, 200, c.do("POST", "/companies", map[string]any{"name": "I"}, "Idempotency-Key", key1).status)
	assert.Equal(t, 422, c.do("POST", "/companies", map[string]any{"name": "J"}, "Idempotency-Key", key1).status)
	assert.Equal(t, 422, c.do("PATCH", cp, map[string]any{"name": "J"}, "Idempotency-Key", key1).status)
	s.InjectFault(codattest.Fault{Route: "POST /companies/{companyId}/data/all", Kind: codattest.FaultLatency, Latency: time.Second, Times: 1})
	done := make(chan struct{})
	go func() { defer close(done); c.try("POST", cp+"/data/all", nil, "Idempotency-Key", key2) }()
	require.Eventually(t, func() bool { return s.FaultsFired() == 1 }, 5*time.Second, time.Millisecond)
	assert.Equal(t, 409, c.do("POST", cp+"/data/all", nil, "Idempotency-Key", key2).status)
	<-done
	for _, rt := range []string{"GET /companies", "POST /companies/{companyId}/connections", "PUT /companies/{companyId}/connections/{connectionId}/authorization"} {
		s.InjectFault(codattest.Fault{Route: rt, Kind: codattest.FaultBeforeCommit, Status: 503, Times: 1})
		s.InjectFault(codattest.Fault{Route: rt, Kind: codattest.FaultRateLimit, Times: 1})
	}
	for i := 0; i < 2; i++ {
		c.do("GET", "/companies", nil)
		c.do("POST", cp+"/connections", map[string]string{"platformKey": "gbol"})
		c.do("PUT", cp+"/connections/"+missing+"/authorization", map[string]string{"a": "b"})
	}
	s.InjectFault(codattest.Fault{Route: "GET /companies/{companyId}/dataStatus", Kind: codattest.FaultAfterCommit, Times: 1})
	assert.Equal(t, 500, c.do("GET", cp+"/dataStatus", nil).status)
	c.auth = "Basic eA=="
	assert.Equal(t, 401, c.do("GET", cp+"/data/history", nil).status)
	assert.Equal(t, 401, c.do("POST", "/companies", map[string]any{"name": "x"}).status)
}
