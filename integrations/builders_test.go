package integrations

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/codat-migrate/codat"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// fixedNow is the clock of every test registry.
var fixedNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func testRegistry() *Registry { return mustRegistry(WithClock(func() time.Time { return fixedNow })) }

// mustRegistry is NewRegistry for options that cannot fail.
func mustRegistry(opts ...Option) *Registry {
	r, err := NewRegistry(opts...)
	if err != nil {
		panic(err)
	}
	return r
}

var farFuture = time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC)

// Obviously fake credentials. Each is distinct, so a leak names its source.
const (
	fakeAccess  = codat.Secret("fake-access-token-0001")
	fakeRefresh = codat.Secret("fake-refresh-token-0002")
	fakeSecret  = codat.Secret("fake-consumer-secret-0003")
	fakeKey     = codat.Secret("fake-consumer-key-0004")
	fakePass    = codat.Secret("fake password 0005")
)

// fakeSecrets lists every credential value the samples hold.
var fakeSecrets = []string{fakeAccess.Reveal(), fakeRefresh.Reveal(), fakeSecret.Reveal(), fakeKey.Reveal(), fakePass.Reveal()}

// samples returns one complete, valid builder per typed platform.
func samples() []typed {
	return []typed{
		QuickBooksOnline{RealmID: "9130350000000001", AccessToken: fakeAccess, RefreshToken: fakeRefresh, ExpiresAt: farFuture},
		QuickBooksOnlineSandbox{RealmID: "9130350000000002", AccessToken: fakeAccess, RefreshToken: fakeRefresh, ExpiresAt: farFuture},
		Xero{TenantID: "00000000-0000-4000-8000-000000000001", AccessToken: fakeAccess, RefreshToken: fakeRefresh, ExpiresAt: farFuture},
		FreeAgent{AccessToken: fakeAccess, RefreshToken: fakeRefresh, ExpiresAt: farFuture},
		FreshBooks{AccountID: "fakeAcct1", AccessToken: fakeAccess, RefreshToken: fakeRefresh, ExpiresAt: farFuture},
		Shopify{Shop: "fake-shop.myshopify.com", AccessToken: fakeAccess, RefreshToken: fakeRefresh, ExpiresAt: farFuture},
		Wave{BusinessID: "fake-business-1", AccessToken: fakeAccess, RefreshToken: fakeRefresh, ExpiresAt: farFuture},
		ZohoBooks{OrganizationID: "10000001", AccessToken: fakeAccess, RefreshToken: fakeRefresh, APIDomain: "https://www.zohoapis.eu", ExpiresAt: farFuture},
		SageAccounting{BusinessID: "fakebusiness0001", AccessToken: fakeAccess, RefreshToken: fakeRefresh, ExpiresAt: farFuture},
		NetSuite{AccountID: "1000001_SB1", AccessToken: fakeAccess, RefreshToken: fakeRefresh, ExpiresAt: farFuture},
		BusinessCentral{TenantID: "00000000-0000-4000-8000-000000000002", Environment: "production", CompanyID: "00000000-0000-4000-8000-000000000003", AccessToken: fakeAccess, RefreshToken: fakeRefresh, ExpiresAt: farFuture},
		SageIntacct{CompanyID: "fake-company", EntityID: "fake-entity", UserID: "fake-user", Password: fakePass},
		MYOB{BusinessID: "00000000-0000-4000-8000-000000000004", AccessToken: fakeAccess, RefreshToken: fakeRefresh, ExpiresAt: farFuture},
		ExactNL{Division: "1000001", AccessToken: fakeAccess, RefreshToken: fakeRefresh, ExpiresAt: farFuture},
		ExactUK{Division: "1000002", AccessToken: fakeAccess, RefreshToken: fakeRefresh, ExpiresAt: farFuture},
		Square{MerchantID: "FAKEMERCHANT1", AccessToken: fakeAccess, RefreshToken: fakeRefresh, ExpiresAt: farFuture},
		SquareSandbox{MerchantID: "FAKEMERCHANT2", AccessToken: fakeAccess, RefreshToken: fakeRefresh, ExpiresAt: farFuture},
		Stripe{AccountID: "acct_fake0001", AccessToken: fakeAccess, RefreshToken: fakeRefresh},
		StripeTest{AccountID: "acct_fake0002", AccessToken: fakeAccess, RefreshToken: fakeRefresh},
		WooCommerce{StoreURL: "https://fake-store.example.com", ConsumerKey: fakeKey, ConsumerSecret: fakeSecret},
		AmazonSellerCentral{SellingPartnerID: "FAKESELLER1", RefreshToken: fakeRefresh, AccessToken: fakeAccess, Region: "eu", ExpiresAt: farFuture},
		BigCommerce{StoreHash: "fakehash1", AccessToken: fakeAccess},
		Clover{MerchantID: "FAKEMERCHANT3", AccessToken: fakeAccess, RefreshToken: fakeRefresh, ExpiresAt: farFuture},
		Zettle{OrganizationUUID: "00000000-0000-4000-8000-000000000005", AccessToken: fakeAccess, RefreshToken: fakeRefresh, ExpiresAt: farFuture},
		Plaid{ItemID: "fake-item-1", AccessToken: fakeAccess},
		TrueLayer{CredentialsID: "fake-credentials-1", AccessToken: fakeAccess, RefreshToken: fakeRefresh, ExpiresAt: farFuture},
		CodatSandbox{BusinessID: "fake-business-2", AccessToken: fakeAccess},
		SageBankFeeds{AuthorizationID: "1122-3344-5566-7788", BankID: "fake-bank-1"},
	}
}

func TestGoldenBodies(t *testing.T) {
	r := testRegistry()
	for _, b := range samples() {
		t.Run(b.PlatformKey(), func(t *testing.T) {
			body, err := r.Body(b)
			require.NoError(t, err)
			got, err := json.MarshalIndent(body, "", "  ")
			require.NoError(t, err)
			got = append(got, '\n')
			path := filepath.Join("testdata", b.PlatformKey()+".json")
			if *update {
				require.NoError(t, os.WriteFile(path, got, 0o644))
			}
			want, err := os.ReadFile(path)
			require.NoError(t, err, "run go test -update to create %s", path)
			assert.JSONEq(t, string(want), string(got))

			// The builder's own Body (through Default) sends the same bytes.
			own, err := b.Body()
			require.NoError(t, err)
			assert.Equal(t, body, own)
		})
	}
}

// Every builtin platform has a typed builder, every builder a builtin
// platform, and every builder value lands in a field: a typo in a role would
// silently drop it.
func TestBuildersCoverRegistry(t *testing.T) {
	r := testRegistry()
	builders := make(map[string]typed)
	for _, b := range samples() {
		require.NotContains(t, builders, b.PlatformKey(), "two samples for one key")
		builders[b.PlatformKey()] = b
	}
	ps := r.Platforms()
	require.GreaterOrEqual(t, len(ps), 20)
	var keys []string
	for _, p := range ps {
		keys = append(keys, p.Key)
		require.NoError(t, validatePlatform(p), p.Key)
		assert.NotEmpty(t, p.Source, p.Key)
		assert.Contains(t, []Evidence{Documented, Inferred, Doubtful}, p.Evidence, p.Key)
		b, ok := builders[p.Key]
		if !assert.True(t, ok, "no typed builder for %s", p.Key) {
			continue
		}
		for _, rv := range b.roleValues() {
			_, ok := p.Field(string(rv.role))
			assert.True(t, ok, "%s: builder role %s has no field", p.Key, rv.role)
			assert.False(t, rv.value.IsZero(), "%s: sample leaves %s empty", p.Key, rv.role)
		}
		body, err := r.Body(b)
		require.NoError(t, err)
		assert.Len(t, body, len(p.Fields), "%s: the full sample fills every field", p.Key)
	}
	assert.Len(t, builders, len(ps))
	assert.True(t, sort.StringsAreSorted(keys))
	// The platforms the brief names, by key.
	for _, k := range []string{"qhyg", "fbrh", "vxvy", "fztf", "pbtz", "rwuv", "gbol", "ndsk", "tgff", "akxx", "trji",
		"knfz", "pdvj", "qudb", "pbbf", "zsth", "exgd", "ltpp", "qkdj", "vqzp", "fqly", "ugxp", "suuo", "upvr", "mqjo"} {
		assert.Contains(t, keys, k)
	}
}

func TestLookup(t *testing.T) {
	r := testRegistry()
	for _, q := range []string{"qhyg", "QHYG", " qhyg ", "QuickBooks Online", "quickbooks online", "quickbooks-online", "QBO"} {
		p, ok := r.Lookup(q)
		if assert.True(t, ok, q) {
			assert.Equal(t, "qhyg", p.Key, q)
		}
	}
	p, ok := r.Lookup("QuickBooks Online Sandbox")
	require.True(t, ok)
	assert.Equal(t, "ndsk", p.Key)
	p, ok = r.Lookup("Exact (UK)")
	require.True(t, ok)
	assert.Equal(t, "pbbf", p.Key)
	_, ok = r.Lookup("QuickBooks Desktop")
	assert.False(t, ok)
	_, ok = r.Lookup("")
	assert.False(t, ok)

	// Returned platforms are copies.
	p, _ = r.Lookup("qhyg")
	p.Fields[0].Name = "mutated"
	p.Fields[0].Aliases[0] = "mutated"
	again, _ := r.Lookup("qhyg")
	assert.Equal(t, "realmId", again.Fields[0].Name)
	assert.Equal(t, "realm_id", again.Fields[0].Aliases[0])
}

func TestExpected(t *testing.T) {
	p, ok := testRegistry().Lookup("qhyg")
	require.True(t, ok)
	assert.Equal(t, "required: realmId, accessToken, refreshToken; optional: expiresAt", p.Expected())
	assert.Equal(t, []string{"realmId", "accessToken", "refreshToken"}, p.RequiredFields())
	assert.Equal(t, []string{"expiresAt"}, p.OptionalFields())
	f, ok := p.Field("realm_id")
	require.True(t, ok)
	assert.Equal(t, RoleRealmID, f.Role)
}

func TestNewRegistryIsIndependent(t *testing.T) {
	a, b := testRegistry(), testRegistry()
	_, err := a.Register(Platform{Key: "wvzu", Name: "Kashflow", Fields: []Field{{Name: "accessToken", Role: RoleAccessToken, Required: true, Secret: true, Format: FormatToken}}})
	require.NoError(t, err)
	_, ok := a.Lookup("wvzu")
	assert.True(t, ok)
	_, ok = b.Lookup("wvzu")
	assert.False(t, ok)
	_, ok = Default().Lookup("kashflow")
	assert.False(t, ok)
}
