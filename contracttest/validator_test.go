package contracttest

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	companyID    = "8a210b68-6988-11ed-a1eb-0242ac120002"
	connectionID = "2e2eb431-c1fa-4dc9-93fa-d29781c12bcd"
)

func newReq(method, path, body string) *http.Request {
	var r *http.Request
	if body == "" {
		r = httptest.NewRequest(method, "https://api.codat.io"+path, nil)
	} else {
		r = httptest.NewRequest(method, "https://api.codat.io"+path, strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
	}
	r.Header.Set("Authorization", "Basic dGVzdA==")
	r.Header.Set("Accept", "application/json")
	return r
}

func jsonResp(status int) *http.Response {
	return &http.Response{StatusCode: status, Header: http.Header{"Content-Type": {"application/json"}}}
}

func TestValidateRequest(t *testing.T) {
	v := Load(t)
	tests := []struct {
		name, method, path, body string
		wantErr                  string
	}{
		{"create company", "POST", "/companies", `{"name":"Acme Ltd","tags":{"migrationRef":"crm-42"}}`, ""},
		{"create company without name", "POST", "/companies", `{"description":"x"}`, "name"},
		{"create company with too many tags", "POST", "/companies",
			`{"name":"Acme","tags":{"a":"1","b":"2","c":"3","d":"4","e":"5","f":"6","g":"7","h":"8","i":"9","j":"10","k":"11"}}`, "tags"},
		{"list companies", "GET", "/companies?page=1&pageSize=100&tags=migrationRef%3Dcrm-42", "", ""},
		{"list companies page 0", "GET", "/companies?page=0", "", "page"},
		{"create connection", "POST", "/companies/" + companyID + "/connections", `{"platformKey":"qhyg"}`, ""},
		{"authorization", "PUT", "/companies/" + companyID + "/connections/" + connectionID + "/authorization", `{"accessToken":"a","realmId":"1"}`, ""},
		{"authorization with a number", "PUT", "/companies/" + companyID + "/connections/" + connectionID + "/authorization", `{"expiresIn":3600}`, "expiresIn"},
		{"unlink", "PATCH", "/companies/" + companyID + "/connections/" + connectionID, `{"status":"Unlinked"}`, ""},
		{"unlink with extra field", "PATCH", "/companies/" + companyID + "/connections/" + connectionID, `{"status":"Unlinked","x":1}`, "x"},
		{"refresh all", "POST", "/companies/" + companyID + "/data/all", "", ""},
		{"data status", "GET", "/companies/" + companyID + "/dataStatus", "", ""},
		{"wrong data status path", "GET", "/companies/" + companyID + "/data/status", "", "status"},
		{"integration", "GET", "/integrations/qhyg", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var body []byte
			if tc.body != "" {
				body = []byte(tc.body)
			}
			err := v.ValidateRequest(newReq(tc.method, tc.path, tc.body), body)
			if tc.wantErr == "" {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.wantErr)
		})
	}
}

func TestValidateRequestNeedsAuthorization(t *testing.T) {
	v := Load(t)
	r := newReq("GET", "/companies/"+companyID, "")
	r.Header.Del("Authorization")
	assert.Error(t, v.ValidateRequest(r, nil))
}

func TestValidateResponse(t *testing.T) {
	v := Load(t)
	company := `{"id":"` + companyID + `","name":"Acme","redirect":"https://link.codat.io/company/` + companyID + `","created":"2022-01-01T00:00:00Z"}`
	connection := `{"id":"` + connectionID + `","integrationId":"fd321cb6-7963-4506-b873-e99593a45e30","integrationKey":"qhyg",` +
		`"sourceId":"8b1b6b5d-1c88-4d6b-8f3a-12ad0e7e0e9a","sourceType":"Accounting","platformName":"QuickBooks Online",` +
		`"linkUrl":"https://link-api.codat.io/x","status":"PendingAuth","created":"2022-01-01T00:00:00Z"}`
	tests := []struct {
		name, method, path string
		status             int
		body               string
		wantErr            string
	}{
		{"company", "GET", "/companies/" + companyID, 200, company, ""},
		{"company without redirect", "GET", "/companies/" + companyID, 200, `{"id":"` + companyID + `","name":"Acme"}`, "redirect"},
		{"connection", "GET", "/companies/" + companyID + "/connections/" + connectionID, 200, connection, ""},
		{"connection with unknown field", "GET", "/companies/" + companyID + "/connections/" + connectionID, 200,
			strings.TrimSuffix(connection, "}") + `,"bogus":1}`, "bogus"},
		{"connection with bad status", "GET", "/companies/" + companyID + "/connections/" + connectionID, 200,
			strings.Replace(connection, "PendingAuth", "Pending", 1), "status"},
		{"error body", "GET", "/companies/" + companyID, 404, `{"statusCode":404,"service":"PublicApi","error":"not found","correlationId":"abc","canBeRetried":"Unknown"}`, ""},
		{"error body with bool canBeRetried", "GET", "/companies/" + companyID, 404, `{"statusCode":404,"canBeRetried":false}`, "canBeRetried"},
		{"undeclared 422 with error body", "POST", "/companies", 422, `{"statusCode":422,"error":"bad key"}`, ""},
		{"undeclared 422 with a wrong body", "POST", "/companies", 422, `{"statusCode":"x"}`, "statusCode"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := v.ValidateResponse(newReq(tc.method, tc.path, ""), jsonResp(tc.status), []byte(tc.body))
			if tc.wantErr == "" {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.wantErr)
		})
	}
}

// recordingTB captures Errorf calls; Middleware uses nothing else.
type recordingTB struct {
	testing.TB
	errs []string
}

func (r *recordingTB) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}
func (r *recordingTB) Helper() {}

func TestMiddleware(t *testing.T) {
	v := Load(t)
	tests := []struct {
		name       string
		method     string
		path       string
		body       string
		respond    func(w http.ResponseWriter)
		wantErrors []string
	}{
		{"valid pair", "POST", "/api/v1/companies", `{"name":"Acme"}`, func(w http.ResponseWriter) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"id":"` + companyID + `","name":"Acme","redirect":"https://link.codat.io/company/x"}`))
		}, nil},
		{"bad request body", "POST", "/api/v1/companies", `{"nom":"Acme"}`, func(w http.ResponseWriter) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"id":"` + companyID + `","name":"Acme","redirect":"https://link.codat.io/company/x"}`))
		}, []string{"request"}},
		{"bad response body", "GET", "/api/v1/companies/" + companyID, "", func(w http.ResponseWriter) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"id":"` + companyID + `"}`))
		}, []string{"response"}},
		{"off-contract response is excused", "GET", "/api/v1/companies/" + companyID, "", func(w http.ResponseWriter) {
			w.Header().Set(OffContractHeader, "testing a proxy error page")
			w.WriteHeader(502)
			_, _ = w.Write([]byte(`<html></html>`))
		}, nil},
		{"outside the prefix", "GET", "/companies/" + companyID, "", func(w http.ResponseWriter) {}, []string{"outside the API prefix"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recordingTB{TB: t}
			h, counts := v.Counted(rec, "/api/v1", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { tc.respond(w) }))
			srv := httptest.NewServer(h)
			defer srv.Close()
			var body io.Reader
			if tc.body != "" {
				body = strings.NewReader(tc.body)
			}
			req, err := http.NewRequest(tc.method, srv.URL+tc.path, body)
			require.NoError(t, err)
			req.Header.Set("Authorization", "Basic dGVzdA==")
			if tc.body != "" {
				req.Header.Set("Content-Type", "application/json")
			}
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			_ = resp.Body.Close()
			assert.Empty(t, resp.Header.Get(OffContractHeader), "the marker is not sent to the client")
			require.Len(t, rec.errs, len(tc.wantErrors), "%v", rec.errs)
			for i, want := range tc.wantErrors {
				assert.Contains(t, rec.errs[i], want)
			}
			if len(tc.wantErrors) == 0 {
				nReq, _ := counts()
				assert.EqualValues(t, 1, nReq)
			}
		})
	}
}

func TestSpecPathOverride(t *testing.T) {
	t.Setenv(EnvSpecPath, "/nonexistent/oas.json")
	p, ok := SpecPath()
	assert.Equal(t, "/nonexistent/oas.json", p)
	assert.False(t, ok)
	var nilV *Validator
	assert.NoError(t, nilV.ValidateRequest(newReq("GET", "/nowhere", ""), nil))
}

func TestNewRejectsBadFiles(t *testing.T) {
	_, err := New("/nonexistent/oas.json")
	assert.Error(t, err)
	bad := t.TempDir() + "/bad.json"
	require.NoError(t, os.WriteFile(bad, []byte("{not json"), 0o600))
	_, err = New(bad)
	assert.Error(t, err)
}

func TestFixNullable(t *testing.T) {
	in := `{"a":{"type":"string","nullable":true},"b":{"$ref":"#/x","nullable":true,"description":"d"},
		"c":{"type":"string","enum":["A","B"],"nullable":true},"d":{"type":"integer","nullable":false},
		"e":{"properties":{"nullable":{"type":"string"}}}}`
	out, err := fixNullable([]byte(in))
	require.NoError(t, err)
	assert.JSONEq(t, `{"a":{"type":["string","null"]},
		"b":{"description":"d","anyOf":[{"$ref":"#/x"},{"type":"null"}]},
		"c":{"type":["string","null"],"enum":["A","B",null]},"d":{"type":"integer"},
		"e":{"properties":{"nullable":{"type":"string"}}}}`, string(out))
}
