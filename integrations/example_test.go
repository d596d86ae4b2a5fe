package integrations_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/codat-migrate/codat"
	"github.com/codat-migrate/codat/integrations"
)

func Example() {
	auth := integrations.QuickBooksOnline{
		RealmID:      "9130350000000001",
		AccessToken:  codat.Secret("fake-access-token"),
		RefreshToken: codat.Secret("fake-refresh-token"),
		ExpiresAt:    time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC),
	}
	// Printing or logging the builder never shows a token.
	fmt.Printf("%+v\n", auth)

	// Body is what UpdateAuthorization sends.
	body, err := auth.Body()
	if err != nil {
		fmt.Println(err)
		return
	}
	wire, _ := json.Marshal(body)
	fmt.Println(string(wire))

	// Errors name the field, never its value.
	_, err = integrations.QuickBooksOnline{RealmID: "not-a-realm", AccessToken: "Bearer fake"}.Body()
	fmt.Println(err)

	p, _ := integrations.Lookup(auth.PlatformKey())
	fmt.Println(p.Name, p.Evidence)
	// Output:
	// {RealmID:9130350000000001 AccessToken:[REDACTED] RefreshToken:[REDACTED] ExpiresAt:2099-01-01 00:00:00 +0000 UTC}
	// {"accessToken":"fake-access-token","expiresAt":"2099-01-01T00:00:00Z","realmId":"9130350000000001","refreshToken":"fake-refresh-token"}
	// integrations: QuickBooks Online (qhyg): "realmId" must be digits only; "accessToken" must not include the "Bearer " prefix; "refreshToken" is required
	// QuickBooks Online inferred
}

func ExampleFromRecord() {
	// One CSV row, headers as the export wrote them.
	row := map[string]string{
		"realm_id":      "9130350000000001",
		"access_token":  "fake-access-token",
		"refresh_token": "fake-refresh-token",
	}
	auth, err := integrations.FromRecord("QuickBooks Online", row)
	if err != nil {
		fmt.Println(err)
		return
	}
	tenant, _ := integrations.TenantID(auth)
	fmt.Println(auth.PlatformKey(), tenant)

	// A typo'd column is an error, not a silently dropped field.
	delete(row, "realm_id")
	row["relm_id"] = "9130350000000001"
	_, err = integrations.FromRecord("qhyg", row)
	fmt.Println(err)
	// Output:
	// qhyg 9130350000000001
	// integrations: QuickBooks Online (qhyg): "realmId" is required; "relm_id" is not a field of this platform (expected fields, required: realmId, accessToken, refreshToken; optional: expiresAt)
}

func ExampleRegistry_LoadSpec() {
	reg, err := integrations.NewRegistry()
	if err != nil {
		fmt.Println(err)
		return
	}
	changes, err := reg.LoadSpec(strings.NewReader(`{
	  "version": 1,
	  "platforms": [{
	    "key": "gbol",
	    "source": "Codat's Postman collection, read by hand",
	    "fields": [
	      {"name": "tenantId"},
	      {"name": "access_token", "role": "accessToken"},
	      {"name": "refresh_token"}
	    ]
	  }]
	}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(changes)

	// The typed builder now sends the corrected names.
	auth := reg.Bind(integrations.Xero{
		TenantID:     "00000000-0000-4000-8000-000000000001",
		AccessToken:  codat.Secret("fake-access-token"),
		RefreshToken: codat.Secret("fake-refresh-token"),
	})
	body, _ := auth.Body()
	wire, _ := json.Marshal(body)
	fmt.Println(string(wire))
	// Output:
	// overridden gbol (Xero): tenantId, access_token, refresh_token (renamed accessToken → access_token, refreshToken → refresh_token; removed expiresAt)
	// {"access_token":"fake-access-token","refresh_token":"fake-refresh-token","tenantId":"00000000-0000-4000-8000-000000000001"}
}

func ExampleRegistry_Platforms() {
	for _, p := range integrations.Default().Platforms()[:3] {
		fmt.Printf("%s  %-22s %-10s %s\n", p.Key, p.Name, p.Evidence, p.Expected())
	}
	// Output:
	// akxx  Oracle NetSuite        doubtful   required: accountId, accessToken, refreshToken; optional: expiresAt
	// exgd  Stripe                 inferred   required: stripeUserId, accessToken; optional: refreshToken
	// fbrh  FreeAgent              inferred   required: accessToken, refreshToken; optional: expiresAt
}
