package integrations

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/codat-migrate/codat"
)

// fakeJWT returns an unsigned-looking JWT with the given claims.
func fakeJWT(t testing.TB, claims map[string]any) string {
	t.Helper()
	h := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"RS256","typ":"JWT"}`))
	p, err := json.Marshal(claims)
	require.NoError(t, err)
	return h + "." + base64.RawURLEncoding.EncodeToString(p) + ".ZmFrZS1zaWduYXR1cmU"
}

func TestCheckValue(t *testing.T) {
	past := fixedNow.Add(-time.Minute)
	future := fixedNow.Add(time.Hour)
	jwtValid := fakeJWT(t, map[string]any{"exp": future.Unix(), "sub": "fake"})
	jwtExpired := fakeJWT(t, map[string]any{"exp": past.Unix()})
	jwtNoExp := fakeJWT(t, map[string]any{"sub": "fake"})
	jwtStringExp := fakeJWT(t, map[string]any{"exp": "tomorrow"})
	jwtBadClaims := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none"}`)) + ".%%%." + "sig"
	jwtArrayClaims := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none"}`)) + "." + base64.RawURLEncoding.EncodeToString([]byte(`[1]`)) + ".sig"

	tests := []struct {
		name   string
		format FieldFormat
		value  string
		reason string // "" = valid
	}{
		{"blank", FormatText, "   ", "is blank"},
		{"empty", FormatToken, "", "is blank"},
		{"invalid utf8", FormatText, "ab\xffcd", "is not valid UTF-8 text"},
		{"control char", FormatText, "ab\x00cd", "contains control characters (a tab or a line break?)"},
		{"line break in text", FormatText, "ab\ncd", "contains control characters (a tab or a line break?)"},
		{"text with spaces", FormatText, "a password with spaces", ""},

		{"opaque token", FormatToken, "fake-opaque.token_01", ""},
		{"token with space", FormatToken, "fake token", "contains whitespace"},
		{"token with newline", FormatToken, "fake-token\n", "contains control characters (a tab or a line break?)"},
		{"bearer prefix", FormatToken, "Bearer fake-token", `must not include the "Bearer " prefix`},
		{"bearer prefix lower", FormatToken, "bearer fake-token", `must not include the "Bearer " prefix`},
		{"jwt valid", FormatToken, jwtValid, ""},
		{"jwt expired", FormatToken, jwtExpired, "is a JWT that expired at " + time.Unix(past.Unix(), 0).UTC().Format(time.RFC3339)},
		{"jwt without exp", FormatToken, jwtNoExp, ""},
		{"jwt exp not a number", FormatToken, jwtStringExp, "is a JWT whose exp claim is not a number"},
		{"jwt claims undecodable", FormatToken, jwtBadClaims, "is a JWT whose claims cannot be decoded"},
		{"jwt claims not object", FormatToken, jwtArrayClaims, "is a JWT whose claims are not a JSON object"},
		{"three parts not a jwt", FormatToken, "abc.def.ghi", ""},
		{"jwt in generic text", FormatText, jwtExpired, "is a JWT that expired at " + time.Unix(past.Unix(), 0).UTC().Format(time.RFC3339)},

		{"id", FormatID, "acct_1AbC-9", ""},
		{"id with space", FormatID, "acct 1", "contains whitespace"},
		{"id too long", FormatID, strings.Repeat("a", 257), "is longer than 256 bytes"},

		{"numeric", FormatNumeric, "9130350000000001", ""},
		{"numeric with letters", FormatNumeric, "913a", "must be digits only"},
		{"numeric negative", FormatNumeric, "-1", "must be digits only"},

		{"uuid", FormatUUID, "00000000-0000-4000-8000-00000000000A", ""},
		{"uuid no dashes", FormatUUID, "000000000000400080000000000000aa", "must be a UUID (8-4-4-4-12 hex digits)"},

		{"shop", FormatShopDomain, "fake-shop.myshopify.com", ""},
		{"shop upper", FormatShopDomain, "Fake-Shop.myshopify.com", ""},
		{"shop with scheme", FormatShopDomain, "https://fake-shop.myshopify.com", "must be the shop's myshopify.com domain without a scheme or a path"},
		{"shop custom domain", FormatShopDomain, "shop.example.com", "must be a shop domain ending in .myshopify.com"},

		{"url", FormatURL, "https://shop.example.com/store", ""},
		{"url http", FormatURL, "http://localhost:8080", ""},
		{"url no scheme", FormatURL, "shop.example.com", "must be an absolute http or https URL"},
		{"url ftp", FormatURL, "ftp://shop.example.com", "must be an absolute http or https URL"},
		{"url userinfo", FormatURL, "https://user:pw@shop.example.com", "must not carry a user name or password"},

		{"expiry rfc3339", FormatExpiry, future.Format(time.RFC3339), ""},
		{"expiry rfc3339 offset", FormatExpiry, future.In(time.FixedZone("x", 3600)).Format(time.RFC3339Nano), ""},
		{"expiry epoch s", FormatExpiry, "4102444800", ""},
		{"expiry epoch ms", FormatExpiry, "4102444800000", ""},
		{"expiry past rfc3339", FormatExpiry, past.Format(time.RFC3339), "is in the past"},
		{"expiry past epoch", FormatExpiry, "1700000000", "is in the past"},
		{"expiry now", FormatExpiry, fixedNow.Format(time.RFC3339), "is in the past"},
		{"expiry garbage", FormatExpiry, "next tuesday", "must be an RFC 3339 time or a Unix epoch in seconds or milliseconds"},
		{"expiry date only", FormatExpiry, "2099-01-01", "must be an RFC 3339 time or a Unix epoch in seconds or milliseconds"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.reason, checkValue(tc.format, tc.value, fixedNow))
		})
	}
}

func TestBodyRequiredFields(t *testing.T) {
	r := testRegistry()
	_, err := r.Body(QuickBooksOnline{AccessToken: fakeAccess})
	var verr *ValidationError
	require.ErrorAs(t, err, &verr)
	assert.True(t, errors.Is(err, ErrInvalid))
	assert.Equal(t, "qhyg", verr.Platform)
	assert.Equal(t, "QuickBooks Online", verr.Name)
	assert.Equal(t, []string{"realmId", "refreshToken"}, verr.Fields())
	assert.Equal(t, `integrations: QuickBooks Online (qhyg): "realmId" is required; "refreshToken" is required`, err.Error())

	// Optional fields may be left out.
	body, err := r.Body(Shopify{Shop: "fake-shop.myshopify.com", AccessToken: fakeAccess})
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"shop": "fake-shop.myshopify.com", "accessToken": fakeAccess.Reveal()}, body)
}

func TestBodyFormats(t *testing.T) {
	r := testRegistry()
	expired := codat.Secret(fakeJWT(t, map[string]any{"exp": fixedNow.Add(-time.Hour).Unix()}))
	tests := []struct {
		name  string
		auth  codat.Authorization
		field string
	}{
		{"realmId not digits", QuickBooksOnline{RealmID: "12ab", AccessToken: fakeAccess, RefreshToken: fakeRefresh}, "realmId"},
		{"xero tenant not uuid", Xero{TenantID: "fake-tenant", AccessToken: fakeAccess, RefreshToken: fakeRefresh}, "tenantId"},
		{"shop with path", Shopify{Shop: "fake-shop.myshopify.com/admin", AccessToken: fakeAccess}, "shop"},
		// Without a refresh token an expired access token is all there is.
		{"expired JWT access token", Shopify{Shop: "fake-shop.myshopify.com", AccessToken: expired}, "accessToken"},
		{"expiry in the past", Shopify{Shop: "fake-shop.myshopify.com", AccessToken: fakeAccess, ExpiresAt: fixedNow.Add(-time.Second)}, "expiresAt"},
		{"expired JWT refresh token", Xero{TenantID: "00000000-0000-4000-8000-000000000001", AccessToken: fakeAccess, RefreshToken: expired}, "refreshToken"},
		{"woo url", WooCommerce{StoreURL: "fake-store.example.com", ConsumerKey: fakeKey, ConsumerSecret: fakeSecret}, "storeUrl"},
		{"zoho api domain", ZohoBooks{OrganizationID: "1", AccessToken: fakeAccess, RefreshToken: fakeRefresh, APIDomain: "zohoapis.eu"}, "apiDomain"},
		{"token whitespace", Plaid{ItemID: "fake", AccessToken: "fake token"}, "accessToken"},
		{"id whitespace", Plaid{ItemID: "fake item", AccessToken: fakeAccess}, "itemId"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := r.Body(tc.auth)
			var verr *ValidationError
			require.ErrorAs(t, err, &verr)
			assert.Equal(t, []string{tc.field}, verr.Fields())
			assert.Contains(t, err.Error(), tc.auth.PlatformKey())
		})
	}
}

func TestExpiresAtIsSentAsRFC3339UTC(t *testing.T) {
	at := time.Date(2099, 5, 6, 7, 8, 9, 0, time.FixedZone("CEST", 2*3600))
	body, err := testRegistry().Body(FreeAgent{AccessToken: fakeAccess, RefreshToken: fakeRefresh, ExpiresAt: at})
	require.NoError(t, err)
	assert.Equal(t, "2099-05-06T05:08:09Z", body["expiresAt"])
}

func TestClockIsInjectable(t *testing.T) {
	tok := codat.Secret(fakeJWT(t, map[string]any{"exp": fixedNow.Unix() + 60}))
	a := Shopify{Shop: "fake-shop.myshopify.com", AccessToken: tok} // no refresh token: expiry is an error
	before := mustRegistry(WithClock(func() time.Time { return fixedNow }))
	after := mustRegistry(WithClock(func() time.Time { return fixedNow.Add(2 * time.Minute) }))
	_, err := before.Body(a)
	assert.NoError(t, err)
	_, err = after.Body(a)
	assert.ErrorIs(t, err, ErrInvalid)
	// A nil clock is an error, like a bad codat.Option.
	r, err := NewRegistry(WithClock(nil))
	assert.ErrorContains(t, err, "WithClock: nil clock")
	assert.Nil(t, r)
}

func TestGenericBody(t *testing.T) {
	r := testRegistry()
	// Any platform, any names: Generic sends exactly what it holds.
	g := Generic{Key: "wvzu", Fields: map[string]codat.Secret{"apiKey": fakeKey, "companyRef": "fake-1"}}
	body, err := r.Body(g)
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"apiKey": fakeKey.Reveal(), "companyRef": "fake-1"}, body)

	// A known platform: no required-field check, but known fields keep their format.
	body, err = r.Body(Generic{Key: "qhyg", Fields: map[string]codat.Secret{"realm_id_x": "abc", "accessToken": fakeAccess}})
	require.NoError(t, err)
	assert.Len(t, body, 2)
	_, err = r.Body(Generic{Key: "qhyg", Fields: map[string]codat.Secret{"realmId": "abc"}})
	var verr *ValidationError
	require.ErrorAs(t, err, &verr)
	assert.Equal(t, []string{"realmId"}, verr.Fields())
	assert.Equal(t, "QuickBooks Online", verr.Name)

	expired := codat.Secret(fakeJWT(t, map[string]any{"exp": fixedNow.Add(-time.Hour).Unix()}))
	for name, g := range map[string]Generic{
		"bad key":       {Key: "QHYG", Fields: map[string]codat.Secret{"a": "b"}},
		"no fields":     {Key: "qhyg"},
		"blank value":   {Key: "wvzu", Fields: map[string]codat.Secret{"a": " "}},
		"blank name":    {Key: "wvzu", Fields: map[string]codat.Secret{" ": "b"}},
		"expired jwt":   {Key: "wvzu", Fields: map[string]codat.Secret{"token": expired}},
		"control chars": {Key: "wvzu", Fields: map[string]codat.Secret{"a": "b\x01"}},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := r.Body(g)
			assert.ErrorIs(t, err, ErrInvalid)
			_, err = r.Body(&g)
			assert.ErrorIs(t, err, ErrInvalid)
		})
	}
	_, err = r.Body(nil)
	assert.ErrorIs(t, err, ErrInvalid)
	_, err = r.Body((*Generic)(nil))
	assert.ErrorIs(t, err, ErrInvalid)
}

// A foreign Authorization is asked for its own body.
type foreignAuth struct{}

func (foreignAuth) PlatformKey() string              { return "zzzz" }
func (foreignAuth) Body() (map[string]string, error) { return map[string]string{"x": "y"}, nil }

func TestBodyOfForeignAuthorization(t *testing.T) {
	body, err := testRegistry().Body(foreignAuth{})
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"x": "y"}, body)
	_, ok := testRegistry().TenantID(foreignAuth{})
	assert.False(t, ok)
}

func TestTypedBuilderUnknownPlatform(t *testing.T) {
	r := testRegistry()
	r.mu.Lock()
	delete(r.platforms, "qhyg")
	r.reindex()
	r.mu.Unlock()
	_, err := r.Body(QuickBooksOnline{RealmID: "1", AccessToken: fakeAccess, RefreshToken: fakeRefresh})
	assert.ErrorIs(t, err, ErrUnknownPlatform)
}

func TestTenantID(t *testing.T) {
	r := testRegistry()
	tests := []struct {
		auth codat.Authorization
		want string
		ok   bool
	}{
		{QuickBooksOnline{RealmID: "9130350000000001"}, "9130350000000001", true},
		{Xero{TenantID: "ABCDEF00-0000-4000-8000-000000000001"}, "abcdef00-0000-4000-8000-000000000001", true},
		{Shopify{Shop: "Fake-Shop.myshopify.com"}, "fake-shop.myshopify.com", true},
		{Stripe{AccountID: "acct_AbC"}, "acct_AbC", true}, // case-sensitive IDs are kept
		{WooCommerce{StoreURL: "https://Fake.example.com/"}, "https://fake.example.com", true},
		{BusinessCentral{TenantID: "00000000-0000-4000-8000-000000000002", Environment: "production"}, "00000000-0000-4000-8000-000000000002/production", true},
		{BusinessCentral{TenantID: "00000000-0000-4000-8000-000000000002", Environment: "production", CompanyID: "00000000-0000-4000-8000-00000000000C"}, "00000000-0000-4000-8000-000000000002/production/00000000-0000-4000-8000-00000000000c", true},
		{FreeAgent{AccessToken: fakeAccess}, "", false},
		{SageAccounting{AccessToken: fakeAccess}, "", false},
		{Generic{Key: "qhyg", Fields: map[string]codat.Secret{"realmId": "42", "accessToken": fakeAccess}}, "42", true},
		{&Generic{Key: "gbol", Fields: map[string]codat.Secret{"tenantId": "ABCDEF00-0000-4000-8000-000000000001"}}, "abcdef00-0000-4000-8000-000000000001", true},
		{Generic{Key: "wvzu", Fields: map[string]codat.Secret{"id": "1"}}, "", false},
		{r.Bind(QuickBooksOnline{RealmID: "7"}), "7", true},
		{nil, "", false},
	}
	for _, tc := range tests {
		got, ok := r.TenantID(tc.auth)
		assert.Equal(t, tc.ok, ok, "%T", tc.auth)
		assert.Equal(t, tc.want, got, "%T", tc.auth)
	}
	// The package function uses the registry a record came from.
	a, err := r.FromRecord("qhyg", map[string]string{"realm_id": "55", "accessToken": "fake-a", "refreshToken": "fake-r"})
	require.NoError(t, err)
	got, ok := TenantID(a)
	assert.True(t, ok)
	assert.Equal(t, "55", got)
	got, ok = TenantID(Xero{TenantID: "ABC"})
	assert.True(t, ok)
	assert.Equal(t, "abc", got, "a UUID-format tenant is lower-cased")
	// Every sample with a tenant role reports one.
	for _, b := range samples() {
		hasTenant := false
		for _, rv := range b.roleValues() {
			hasTenant = hasTenant || rv.tenant
		}
		_, ok := r.TenantID(b)
		assert.Equal(t, hasTenant, ok, b.PlatformKey())
	}
}

func TestBind(t *testing.T) {
	r := testRegistry()
	_, err := r.LoadSpec(strings.NewReader(`{"platforms":[{"key":"qhyg","fields":[{"name":"realm_id"},{"name":"token","role":"accessToken"},{"name":"refresh_token"}]}]}`))
	require.NoError(t, err)
	a := QuickBooksOnline{RealmID: "1", AccessToken: fakeAccess, RefreshToken: fakeRefresh}
	bound := r.Bind(a)
	assert.Equal(t, "qhyg", bound.PlatformKey())
	body, err := bound.Body()
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"realm_id": "1", "token": fakeAccess.Reveal(), "refresh_token": fakeRefresh.Reveal()}, body)
	// Default is untouched.
	body, err = a.Body()
	require.NoError(t, err)
	assert.Contains(t, body, "realmId")
	// Rebinding replaces the registry rather than nesting.
	body, err = Default().Bind(bound).Body()
	require.NoError(t, err)
	assert.Contains(t, body, "realmId")
	// A registry method on a bound value uses the bound registry.
	body, err = Default().Body(bound)
	require.NoError(t, err)
	assert.Contains(t, body, "realm_id")
}

// An expired access token is not an error when the body has a refresh token:
// Codat refreshes the access token with it. Without one (see TestBodyFormats,
// TestFromRecordErrors) it stays an error.
func TestExpiredAccessTokenWithRefreshToken(t *testing.T) {
	r := testRegistry()
	expired := codat.Secret(fakeJWT(t, map[string]any{"exp": fixedNow.Add(-time.Hour).Unix()}))
	past := fixedNow.Add(-time.Minute)
	tenant := "00000000-0000-4000-8000-000000000001"

	t.Run("typed builders", func(t *testing.T) {
		for name, a := range map[string]codat.Authorization{
			"expired JWT":        Xero{TenantID: tenant, AccessToken: expired, RefreshToken: fakeRefresh},
			"expiresAt in past":  FreeAgent{AccessToken: fakeAccess, RefreshToken: fakeRefresh, ExpiresAt: past},
			"both":               Shopify{Shop: "fake-shop.myshopify.com", AccessToken: expired, RefreshToken: fakeRefresh, ExpiresAt: past},
			"optional refresh":   Shopify{Shop: "fake-shop.myshopify.com", AccessToken: expired, RefreshToken: fakeRefresh},
			"required refresh":   QuickBooksOnline{RealmID: "1", AccessToken: expired, RefreshToken: fakeRefresh, ExpiresAt: past},
			"sandbox of a typed": QuickBooksOnlineSandbox{RealmID: "2", AccessToken: expired, RefreshToken: fakeRefresh},
		} {
			body, err := r.Body(a)
			require.NoError(t, err, name)
			assert.Equal(t, fakeRefresh.Reveal(), body["refreshToken"], name)
			assert.NotEmpty(t, body["accessToken"], "%s: the expired access token is still sent", name)
		}
	})

	t.Run("generic", func(t *testing.T) {
		body, err := r.Body(Generic{Key: "qhyg", Fields: map[string]codat.Secret{"realmId": "1", "accessToken": expired, "refreshToken": fakeRefresh, "expiresAt": codat.Secret(past.Format(time.RFC3339))}})
		require.NoError(t, err)
		assert.Len(t, body, 4)
		// An unknown platform: the roles come from the field names.
		_, err = r.Body(Generic{Key: "wvzu", Fields: map[string]codat.Secret{"token": expired, "refresh_token": fakeRefresh}})
		require.NoError(t, err)
		_, err = r.Body(Generic{Key: "wvzu", Fields: map[string]codat.Secret{"token": expired}})
		assert.ErrorIs(t, err, ErrInvalid, "no refresh token")
		// An expired JWT in a field that is not the access token is an error.
		_, err = r.Body(Generic{Key: "wvzu", Fields: map[string]codat.Secret{"apiKey": expired, "refresh_token": fakeRefresh}})
		var verr *ValidationError
		require.ErrorAs(t, err, &verr)
		assert.Equal(t, []string{"apiKey"}, verr.Fields())
	})

	t.Run("records", func(t *testing.T) {
		_, err := r.FromRecord("qhyg", map[string]string{"realmId": "1", "access_token": expired.Reveal(), "refresh_token": "fake-r", "expiresAt": "2020-01-01T00:00:00Z"})
		require.NoError(t, err)
		_, err = r.FromRecord("fztf", map[string]string{"shop": "fake-shop.myshopify.com", "accessToken": expired.Reveal(), "refreshToken": " "})
		var verr *ValidationError
		require.ErrorAs(t, err, &verr, "a blank refresh token is no refresh token")
		assert.Equal(t, []string{"accessToken"}, verr.Fields())
	})

	t.Run("an invalid refresh token excuses nothing", func(t *testing.T) {
		_, err := r.Body(Xero{TenantID: tenant, AccessToken: expired, RefreshToken: expired})
		var verr *ValidationError
		require.ErrorAs(t, err, &verr)
		assert.Equal(t, []string{"accessToken", "refreshToken"}, verr.Fields())
		_, err = r.Body(Xero{TenantID: tenant, AccessToken: expired, RefreshToken: "fake refresh"})
		require.ErrorAs(t, err, &verr)
		assert.Equal(t, []string{"accessToken", "refreshToken"}, verr.Fields())
	})
}
