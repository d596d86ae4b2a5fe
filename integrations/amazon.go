package integrations

import (
	"log/slog"
	"time"

	"github.com/codat-migrate/codat"
)

var amazonSellerCentralPlatform = Platform{Key: "qkdj", Name: "Amazon Seller Central", SourceType: "Commerce",
	Aliases: []string{"Amazon", "Amazon Seller", "Amazon SP-API"},
	Fields: []Field{
		{Name: "sellingPartnerId", Role: RoleSellingPartnerID, Required: true, Tenant: true, Format: FormatID,
			Aliases: []string{"selling_partner_id", "seller_id"}, Doc: "the selling partner ID"},
		refreshTokenField(true),
		accessTokenField(false),
		{Name: "region", Role: RoleRegion, Format: FormatID,
			Doc: "the SP-API region, e.g. na, eu or fe"},
		expiresAtField(),
	},
	Evidence: Inferred,
	Source: "inferred from the Selling Partner API's authorization docs (developer-docs.amazon.com/sp-api): the " +
		"OAuth redirect carries selling_partner_id; Login with Amazon returns refresh_token (Atzr|…) and an " +
		"access_token valid for an hour"}

// AmazonSellerCentral is the token-migration body for Amazon Seller Central,
// platform key "qkdj".
//
// Wire fields (evidence: inferred, from the Selling Partner API's website
// authorization workflow: selling_partner_id, and Login with Amazon's
// refresh_token / access_token):
//
//	sellingPartnerId  required  the tenant identity
//	refreshToken      required  secret
//	accessToken       optional  secret (valid one hour)
//	region            optional  e.g. na, eu, fe
//	expiresAt         optional  RFC 3339
type AmazonSellerCentral struct {
	SellingPartnerID string
	RefreshToken     codat.Secret
	AccessToken      codat.Secret // optional
	Region           string       // optional
	ExpiresAt        time.Time    // optional; sent as RFC 3339 in UTC
}

// PlatformKey returns "qkdj".
func (AmazonSellerCentral) PlatformKey() string { return "qkdj" }

// Body returns the validated body for PUT …/connections/{connectionId}/authorization.
func (b AmazonSellerCentral) Body() (map[string]string, error) { return Default().Body(b) }

// LogValue logs the non-secret fields; credentials are redacted.
func (b AmazonSellerCentral) LogValue() slog.Value { return logValue(b) }

// MarshalJSON writes the redacted view that LogValue logs; use Body for the wire.
func (b AmazonSellerCentral) MarshalJSON() ([]byte, error) { return marshalRedacted(b) }

func (b AmazonSellerCentral) roleValues() []roleValue {
	return []roleValue{
		{RoleSellingPartnerID, codat.Secret(b.SellingPartnerID), true},
		{RoleRefreshToken, b.RefreshToken, false},
		{RoleAccessToken, b.AccessToken, false},
		{RoleRegion, codat.Secret(b.Region), false},
		{RoleExpiresAt, expiry(b.ExpiresAt), false},
	}
}
