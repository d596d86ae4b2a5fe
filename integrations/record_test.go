package integrations

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/codat-migrate/codat"
)

func TestFromRecord(t *testing.T) {
	r := testRegistry()
	tests := []struct {
		name     string
		platform string
		row      map[string]string
		want     map[string]string
	}{
		{"key and wire names", "qhyg",
			map[string]string{"realmId": "1", "accessToken": "fake-a", "refreshToken": "fake-r"},
			map[string]string{"realmId": "1", "accessToken": "fake-a", "refreshToken": "fake-r"}},
		{"name and snake_case columns", "QuickBooks Online",
			map[string]string{"realm_id": "1", "access_token": "fake-a", "refresh_token": "fake-r", "expires_at": "2099-01-01T00:00:00Z"},
			map[string]string{"realmId": "1", "accessToken": "fake-a", "refreshToken": "fake-r", "expiresAt": "2099-01-01T00:00:00Z"}},
		{"upper-case key, spaced headers, values trimmed", "QHYG",
			map[string]string{"Realm ID": " 1 ", "Access Token": "fake-a\r\n", "Refresh Token": "\tfake-r"},
			map[string]string{"realmId": "1", "accessToken": "fake-a", "refreshToken": "fake-r"}},
		{"platform alias and field alias", "qbo",
			map[string]string{"company_id": "1", "token": "fake-a", "refreshToken": "fake-r"},
			map[string]string{"realmId": "1", "accessToken": "fake-a", "refreshToken": "fake-r"}},
		{"blank optional and blank foreign columns ignored", "gbol",
			map[string]string{"tenant_id": "00000000-0000-4000-8000-000000000001", "accessToken": "fake-a", "refreshToken": "fake-r",
				"expiresAt": "", "realm_id": "", "shop": "  "},
			map[string]string{"tenantId": "00000000-0000-4000-8000-000000000001", "accessToken": "fake-a", "refreshToken": "fake-r"}},
		{"shopify shop domain", "shopify",
			map[string]string{"shop_domain": "fake-shop.myshopify.com", "access_token": "fake-a"},
			map[string]string{"shop": "fake-shop.myshopify.com", "accessToken": "fake-a"}},
		{"stripe account id", "Stripe",
			map[string]string{"stripe_user_id": "acct_1", "access_token": "fake-a"},
			map[string]string{"stripeUserId": "acct_1", "accessToken": "fake-a"}},
		{"epoch expiry kept as given", "fbrh",
			map[string]string{"accessToken": "fake-a", "refreshToken": "fake-r", "expiresAt": "4102444800"},
			map[string]string{"accessToken": "fake-a", "refreshToken": "fake-r", "expiresAt": "4102444800"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, err := r.FromRecord(tc.platform, tc.row)
			require.NoError(t, err)
			g, ok := a.(Generic)
			require.True(t, ok, "FromRecord returns a Generic, got %T", a)
			for _, v := range g.Fields {
				var _ codat.Secret = v // values are secrets from the start
			}
			body, err := a.Body()
			require.NoError(t, err)
			assert.Equal(t, tc.want, body)
		})
	}
}

func TestFromRecordErrors(t *testing.T) {
	r := testRegistry()
	tests := []struct {
		name     string
		platform string
		row      map[string]string
		fields   []string // problem fields, in order
		expected bool     // the error lists the expected fields
	}{
		{"missing required", "qhyg", map[string]string{"realmId": "1", "accessToken": "fake-a"}, []string{"refreshToken"}, true},
		{"blank required", "qhyg", map[string]string{"realmId": "1", "accessToken": "fake-a", "refreshToken": " "}, []string{"refreshToken"}, true},
		{"typo'd column", "qhyg", map[string]string{"relm_id": "1", "accessToken": "fake-a", "refreshToken": "fake-r"}, []string{"realmId", "relm_id"}, true},
		{"unknown column", "qhyg", map[string]string{"realmId": "1", "accessToken": "fake-a", "refreshToken": "fake-r", "note": "x"}, []string{"note"}, true},
		{"bad format", "qhyg", map[string]string{"realmId": "x1", "accessToken": "fake-a", "refreshToken": "fake-r"}, []string{"realmId"}, false},
		// An expiry in the past with no refresh token to renew the access token.
		{"expired", "fztf", map[string]string{"shop": "fake-shop.myshopify.com", "accessToken": "fake-a", "expiresAt": "2020-01-01T00:00:00Z"}, []string{"expiresAt"}, false},
		{"two columns for one field", "qhyg", map[string]string{"realmId": "1", "realm_id": "2", "accessToken": "fake-a", "refreshToken": "fake-r"}, []string{"realm_id"}, false},
		{"empty row", "fbrh", map[string]string{}, []string{"accessToken", "refreshToken"}, true},
		{"nil row", "fbrh", nil, []string{"accessToken", "refreshToken"}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := r.FromRecord(tc.platform, tc.row)
			var verr *ValidationError
			require.ErrorAs(t, err, &verr)
			assert.True(t, errors.Is(err, ErrInvalid))
			assert.Equal(t, tc.fields, verr.Fields())
			p, _ := r.Lookup(tc.platform)
			if tc.expected {
				assert.Equal(t, p.Expected(), verr.Expected)
				assert.Contains(t, err.Error(), "expected fields, "+p.Expected())
			} else {
				assert.Empty(t, verr.Expected)
			}
		})
	}

	// The message reads well.
	_, err := r.FromRecord("qhyg", map[string]string{"relm_id": "1", "accessToken": "fake-a", "refreshToken": "fake-r"})
	assert.EqualError(t, err, `integrations: QuickBooks Online (qhyg): "realmId" is required; "relm_id" is not a field of this platform `+
		`(expected fields, required: realmId, accessToken, refreshToken; optional: expiresAt)`)

	for _, p := range []string{"", "kashflow", "QuickBooks Desktop", "qhy"} {
		_, err := r.FromRecord(p, map[string]string{"accessToken": "fake-a"})
		assert.ErrorIs(t, err, ErrUnknownPlatform, p)
		assert.NotErrorIs(t, err, ErrInvalid, p)
	}
}

func TestFromRecordUsesItsRegistry(t *testing.T) {
	r := testRegistry()
	_, err := r.LoadSpec(strings.NewReader(`{"platforms":[{"key":"fbrh","fields":[{"name":"token","role":"accessToken"},{"name":"companyUrl","format":"url"}]}]}`))
	require.NoError(t, err)
	a, err := r.FromRecord("freeagent", map[string]string{"access_token": "fake-a", "company_url": "https://api.freeagent.com/v2/company"})
	require.NoError(t, err)
	body, err := a.Body()
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"token": "fake-a", "companyUrl": "https://api.freeagent.com/v2/company"}, body)
	_, err = r.FromRecord("freeagent", map[string]string{"access_token": "fake-a"})
	assert.ErrorContains(t, err, `"companyUrl" is required`)
	// Default does not know companyUrl.
	_, err = FromRecord("freeagent", map[string]string{"access_token": "fake-a", "refresh_token": "fake-r", "company_url": "https://x"})
	assert.ErrorContains(t, err, `"company_url" is not a field of this platform`)
}

func TestFromRecordChecksExpiryAgainstTheClock(t *testing.T) {
	row := map[string]string{"shop": "fake-shop.myshopify.com", "accessToken": "fake-a", "expiresAt": "2026-03-01T12:30:00Z"}
	_, err := testRegistry().FromRecord("fztf", row)
	assert.NoError(t, err)
	late := mustRegistry(WithClock(func() time.Time { return fixedNow.Add(time.Hour) }))
	_, err = late.FromRecord("fztf", row)
	assert.ErrorContains(t, err, `"expiresAt" is in the past`)
	// With a refresh token, Codat renews the access token: not an error.
	row["refreshToken"] = "fake-r"
	_, err = late.FromRecord("fztf", row)
	assert.NoError(t, err)
}

func TestStringValues(t *testing.T) {
	var m map[string]any
	require.NoError(t, json.Unmarshal([]byte(`{"realmId":"9130350000000001","accessToken":"fake-a","expiresAt":null}`), &m))
	got, err := StringValues(m)
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"realmId": "9130350000000001", "accessToken": "fake-a", "expiresAt": ""}, got)

	require.NoError(t, json.Unmarshal([]byte(`{"realmId":9130350000000001,"sandbox":true,"accessToken":"fake-secret-value"}`), &m))
	_, err = StringValues(m)
	require.ErrorIs(t, err, ErrInvalid)
	assert.EqualError(t, err, `integrations: invalid authorization: fields must be JSON strings (write numbers in quotes): ["realmId" "sandbox"]`)
	assert.NotContains(t, err.Error(), "9130350000000001")
}

func TestFromSecrets(t *testing.T) {
	a, err := FromSecrets("xero", map[string]codat.Secret{"tenant_id": "00000000-0000-4000-8000-000000000001", "access_token": fakeAccess, "refresh_token": fakeRefresh + " "})
	require.NoError(t, err)
	body, err := a.Body()
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"tenantId": "00000000-0000-4000-8000-000000000001", "accessToken": fakeAccess.Reveal(), "refreshToken": fakeRefresh.Reveal()}, body)
	_, err = FromSecrets("xero", map[string]codat.Secret{"access_token": fakeAccess})
	assert.ErrorContains(t, err, `"tenantId" is required`)
}
