package integrations

import (
	"log/slog"
	"time"

	"github.com/codat-migrate/codat"
)

var sageAccountingPlatform = Platform{Key: "tgff", Name: "Sage Accounting", SourceType: "Accounting",
	Aliases: []string{"Sage Business Cloud Accounting", "Sage Business Cloud"},
	Fields: oauthFields(Field{Name: "businessId", Role: RoleBusinessID, Tenant: true, Format: FormatID,
		Aliases: []string{"business_id", "x_business", "X-Business"},
		Doc:     "the Sage business ID sent as the X-Business header; without it Sage uses the user's lead business"}),
	Evidence: Inferred,
	Source: "inferred from Sage Accounting's API v3.1 docs (developer.sage.com/accounting): the token endpoint " +
		"returns access_token, refresh_token and expires_in; a call selects a business with the X-Business header " +
		"and defaults to the lead business"}

// SageAccounting is the token-migration body for Sage Accounting (formerly
// Sage Business Cloud Accounting), platform key "tgff".
//
// Wire fields (evidence: inferred, from Sage Accounting's OAuth 2.0 token
// response and its X-Business header):
//
//	businessId    optional  the tenant identity; Sage defaults to the lead business
//	accessToken   required  secret
//	refreshToken  required  secret
//	expiresAt     optional  RFC 3339
type SageAccounting struct {
	BusinessID   string // optional
	AccessToken  codat.Secret
	RefreshToken codat.Secret
	ExpiresAt    time.Time // optional; sent as RFC 3339 in UTC
}

// PlatformKey returns "tgff".
func (SageAccounting) PlatformKey() string { return "tgff" }

// Body returns the validated body for PUT …/connections/{connectionId}/authorization.
func (b SageAccounting) Body() (map[string]string, error) { return Default().Body(b) }

// LogValue logs the non-secret fields; credentials are redacted.
func (b SageAccounting) LogValue() slog.Value { return logValue(b) }

// MarshalJSON writes the redacted view that LogValue logs; use Body for the wire.
func (b SageAccounting) MarshalJSON() ([]byte, error) { return marshalRedacted(b) }

func (b SageAccounting) roleValues() []roleValue {
	return []roleValue{
		{RoleBusinessID, codat.Secret(b.BusinessID), true},
		{RoleAccessToken, b.AccessToken, false},
		{RoleRefreshToken, b.RefreshToken, false},
		{RoleExpiresAt, expiry(b.ExpiresAt), false},
	}
}
