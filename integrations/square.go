package integrations

import (
	"log/slog"
	"time"

	"github.com/codat-migrate/codat"
)

const squareSource = "inferred from Square's OAuth API docs (developer.squareup.com, ObtainToken): the response has " +
	"access_token, refresh_token, expires_at (RFC 3339) and merchant_id"

func squareFields() []Field {
	return oauthFields(Field{Name: "merchantId", Role: RoleMerchantID, Required: true, Tenant: true, Format: FormatID,
		Aliases: []string{"merchant_id"}, Doc: "the Square merchant ID"})
}

func squarePlatform() Platform {
	return Platform{Key: "zsth", Name: "Square", SourceType: "Commerce",
		Fields: squareFields(), Evidence: Inferred, Source: squareSource}
}

func squareSandboxPlatform() Platform {
	return Platform{Key: "xcwv", Name: "Square Sandbox", SourceType: "Commerce",
		Fields: squareFields(), Evidence: Inferred, Source: squareSource}
}

// Square is the token-migration body for Square, platform key "zsth".
//
// Wire fields (evidence: inferred, from Square's ObtainToken response:
// access_token, refresh_token, expires_at, merchant_id):
//
//	merchantId    required  the tenant identity
//	accessToken   required  secret
//	refreshToken  required  secret
//	expiresAt     optional  RFC 3339
type Square struct {
	MerchantID   string
	AccessToken  codat.Secret
	RefreshToken codat.Secret
	ExpiresAt    time.Time // optional; sent as RFC 3339 in UTC
}

// PlatformKey returns "zsth".
func (Square) PlatformKey() string { return "zsth" }

// Body returns the validated body for PUT …/connections/{connectionId}/authorization.
func (b Square) Body() (map[string]string, error) { return Default().Body(b) }

// LogValue logs the non-secret fields; credentials are redacted.
func (b Square) LogValue() slog.Value { return logValue(b) }

// MarshalJSON writes the redacted view that LogValue logs; use Body for the wire.
func (b Square) MarshalJSON() ([]byte, error) { return marshalRedacted(b) }

func (b Square) roleValues() []roleValue {
	return []roleValue{
		{RoleMerchantID, codat.Secret(b.MerchantID), true},
		{RoleAccessToken, b.AccessToken, false},
		{RoleRefreshToken, b.RefreshToken, false},
		{RoleExpiresAt, expiry(b.ExpiresAt), false},
	}
}

// SquareSandbox is the token-migration body for Square Sandbox, platform key
// "xcwv". Its fields and evidence are those of Square.
type SquareSandbox struct {
	MerchantID   string
	AccessToken  codat.Secret
	RefreshToken codat.Secret
	ExpiresAt    time.Time // optional; sent as RFC 3339 in UTC
}

// PlatformKey returns "xcwv".
func (SquareSandbox) PlatformKey() string { return "xcwv" }

// Body returns the validated body for PUT …/connections/{connectionId}/authorization.
func (b SquareSandbox) Body() (map[string]string, error) { return Default().Body(b) }

// LogValue logs the non-secret fields; credentials are redacted.
func (b SquareSandbox) LogValue() slog.Value { return logValue(b) }

// MarshalJSON writes the redacted view that LogValue logs; use Body for the wire.
func (b SquareSandbox) MarshalJSON() ([]byte, error) { return marshalRedacted(b) }

func (b SquareSandbox) roleValues() []roleValue { return Square(b).roleValues() }
