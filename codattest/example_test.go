package codattest_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/codat-migrate/codat/codattest"
)

// Example migrates one company against the fake with plain net/http: create
// the company, create a connection, send the token, queue a sync, and watch
// it complete as the fake clock advances.
func Example() {
	clk := codattest.NewFakeClock(time.Date(2025, 3, 14, 9, 0, 0, 0, time.UTC))
	srv := codattest.NewServer(codattest.WithClock(clk), codattest.WithDataTypes("qhyg", "invoices"))
	defer srv.Close()

	auth := "Basic " + base64.StdEncoding.EncodeToString([]byte(srv.APIKey()))
	call := func(method, path, body string, out any) int {
		req, _ := http.NewRequest(method, srv.URL()+path, strings.NewReader(body))
		req.Header.Set("Authorization", auth)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			panic(err)
		}
		defer resp.Body.Close()
		if out != nil {
			_ = json.NewDecoder(resp.Body).Decode(out)
		}
		return resp.StatusCode
	}

	var co codattest.Company
	fmt.Println("create company:", call("POST", "/companies", `{"name":"Acme (UK) Ltd","tags":{"migrationRef":"crm-42"}}`, &co), co.Name)
	var cn codattest.Connection
	fmt.Println("create connection:", call("POST", "/companies/"+co.ID+"/connections", `{"platformKey":"qhyg"}`, &cn), cn.Status)
	fmt.Println("authorize:", call("PUT", "/companies/"+co.ID+"/connections/"+cn.ID+"/authorization",
		`{"realmId":"9130","accessToken":"a","refreshToken":"r"}`, &cn), cn.Status)
	fmt.Println("refresh:", call("POST", "/companies/"+co.ID+"/data/all", "", nil))

	clk.Advance(5 * time.Second)
	var status map[string]codattest.DataStatus
	call("GET", "/companies/"+co.ID+"/dataStatus", "", &status)
	fmt.Println("invoices:", status["invoices"].CurrentStatus)
	fmt.Println("requests:", srv.RequestCount(), "tagged:", len(srv.CompaniesWithTag("migrationRef", "crm-42")))
	// Output:
	// create company: 200 Acme UK Ltd
	// create connection: 200 PendingAuth
	// authorize: 200 Linked
	// refresh: 204
	// invoices: Complete
	// requests: 5 tagged: 1
}

// ExampleServer_InjectFault shows a write that commits but answers 500, and
// a keyed retry that replays the 500 rather than writing twice.
func ExampleServer_InjectFault() {
	srv := codattest.NewServer()
	defer srv.Close()
	srv.InjectFault(codattest.Fault{Route: "POST /companies", Kind: codattest.FaultAfterCommit, Status: 500, Times: 1})

	post := func() int {
		req, _ := http.NewRequest("POST", srv.URL()+"/companies", strings.NewReader(`{"name":"Acme"}`))
		req.Header.Set("Authorization", srv.AuthorizationHeader())
		req.Header.Set("Idempotency-Key", "3f2504e0-4f89-41d3-9a0c-0305e82c3301")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			panic(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	fmt.Println(post(), post(), len(srv.Companies()))
	// Output: 500 500 1
}
