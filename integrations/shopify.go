package integrations

import (
	"log/slog"
	"time"

	"github.com/codat-migrate/codat"
)

var shopifyPlatform = Platform{Key: "fztf", Name: "Shopify", SourceType: "Commerce",
	Fields: []Field{
		{Name: "shop", Role: RoleShop, Required: true, Tenant: true, Format: FormatShopDomain,
			Aliases: []string{"shop_domain", "myshopify_domain", "store_domain"},
			Doc:     "the shop's permanent domain, name.myshopify.com"},
		accessTokenField(true),
		refreshTokenField(false),
		expiresAtField(),
	},
	Evidence: Inferred,
	Source: "inferred from Shopify's OAuth docs (shopify.dev): the authorization code grant names the store by its " +
		"shop parameter (name.myshopify.com) and returns access_token; offline tokens do not expire unless the app " +
		"uses expiring offline tokens, which add refresh_token and expires_in"}

// Shopify is the token-migration body for Shopify, platform key "fztf".
//
// Wire fields (evidence: inferred, from Shopify's authorization code grant:
// the shop parameter and the access_token response; refresh_token only for
// expiring offline tokens):
//
//	shop          required  name.myshopify.com, no scheme or path; the tenant identity
//	accessToken   required  secret
//	refreshToken  optional  secret
//	expiresAt     optional  RFC 3339
type Shopify struct {
	Shop         string // name.myshopify.com
	AccessToken  codat.Secret
	RefreshToken codat.Secret
	ExpiresAt    time.Time // optional; sent as RFC 3339 in UTC
}

// PlatformKey returns "fztf".
func (Shopify) PlatformKey() string { return "fztf" }

// Body returns the validated body for PUT …/connections/{connectionId}/authorization.
func (b Shopify) Body() (map[string]string, error) { return Default().Body(b) }

// LogValue logs the non-secret fields; credentials are redacted.
func (b Shopify) LogValue() slog.Value { return logValue(b) }

// MarshalJSON writes the redacted view that LogValue logs; use Body for the wire.
func (b Shopify) MarshalJSON() ([]byte, error) { return marshalRedacted(b) }

func (b Shopify) roleValues() []roleValue {
	return []roleValue{
		{RoleShop, codat.Secret(b.Shop), true},
		{RoleAccessToken, b.AccessToken, false},
		{RoleRefreshToken, b.RefreshToken, false},
		{RoleExpiresAt, expiry(b.ExpiresAt), false},
	}
}
