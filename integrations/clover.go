package integrations

import (
	"log/slog"
	"time"

	"github.com/codat-migrate/codat"
)

var cloverPlatform = Platform{Key: "fqly", Name: "Clover", SourceType: "Commerce",
	Fields: []Field{
		{Name: "merchantId", Role: RoleMerchantID, Required: true, Tenant: true, Format: FormatID,
			Aliases: []string{"merchant_id"}, Doc: "the Clover merchant ID"},
		accessTokenField(true),
		refreshTokenField(false),
		expiresAtField(),
	},
	Evidence: Inferred,
	Source: "inferred from Clover's OAuth 2.0 docs (docs.clover.com): the redirect carries merchant_id; expiring " +
		"tokens come with access_token, refresh_token and access_token_expiration (epoch seconds)"}

// Clover is the token-migration body for Clover, platform key "fqly".
//
// Wire fields (evidence: inferred, from Clover's OAuth 2.0: merchant_id on the
// redirect; access_token, refresh_token and access_token_expiration):
//
//	merchantId    required  the tenant identity
//	accessToken   required  secret
//	refreshToken  optional  secret (expiring tokens only)
//	expiresAt     optional  RFC 3339
type Clover struct {
	MerchantID   string
	AccessToken  codat.Secret
	RefreshToken codat.Secret
	ExpiresAt    time.Time // optional; sent as RFC 3339 in UTC
}

// PlatformKey returns "fqly".
func (Clover) PlatformKey() string { return "fqly" }

// Body returns the validated body for PUT …/connections/{connectionId}/authorization.
func (b Clover) Body() (map[string]string, error) { return Default().Body(b) }

// LogValue logs the non-secret fields; credentials are redacted.
func (b Clover) LogValue() slog.Value { return logValue(b) }

// MarshalJSON writes the redacted view that LogValue logs; use Body for the wire.
func (b Clover) MarshalJSON() ([]byte, error) { return marshalRedacted(b) }

func (b Clover) roleValues() []roleValue {
	return []roleValue{
		{RoleMerchantID, codat.Secret(b.MerchantID), true},
		{RoleAccessToken, b.AccessToken, false},
		{RoleRefreshToken, b.RefreshToken, false},
		{RoleExpiresAt, expiry(b.ExpiresAt), false},
	}
}
