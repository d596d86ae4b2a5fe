package integrations

import (
	"log/slog"
	"time"

	"github.com/codat-migrate/codat"
)

var myobPlatform = Platform{Key: "pdvj", Name: "MYOB Business", SourceType: "Accounting",
	Aliases: []string{"MYOB", "MYOB AccountRight", "MYOB Essentials"},
	Fields: oauthFields(Field{Name: "businessId", Role: RoleBusinessID, Required: true, Tenant: true, Format: FormatID,
		Aliases: []string{"business_id", "companyFileId", "company_file_id", "cf_guid"},
		Doc:     "the MYOB business (company file) ID"}),
	Evidence: Inferred,
	Source: "inferred from MYOB's API docs (developer.myob.com): OAuth 2.0 access_token, refresh_token and " +
		"expires_in; each call addresses one business (company file) by its ID"}

// MYOB is the token-migration body for MYOB Business (formerly AccountRight
// and Essentials), platform key "pdvj".
//
// Wire fields (evidence: inferred, from MYOB's OAuth 2.0 token response and
// its business (company file) ID):
//
//	businessId    required  the tenant identity
//	accessToken   required  secret
//	refreshToken  required  secret
//	expiresAt     optional  RFC 3339
type MYOB struct {
	BusinessID   string
	AccessToken  codat.Secret
	RefreshToken codat.Secret
	ExpiresAt    time.Time // optional; sent as RFC 3339 in UTC
}

// PlatformKey returns "pdvj".
func (MYOB) PlatformKey() string { return "pdvj" }

// Body returns the validated body for PUT …/connections/{connectionId}/authorization.
func (b MYOB) Body() (map[string]string, error) { return Default().Body(b) }

// LogValue logs the non-secret fields; credentials are redacted.
func (b MYOB) LogValue() slog.Value { return logValue(b) }

// MarshalJSON writes the redacted view that LogValue logs; use Body for the wire.
func (b MYOB) MarshalJSON() ([]byte, error) { return marshalRedacted(b) }

func (b MYOB) roleValues() []roleValue {
	return []roleValue{
		{RoleBusinessID, codat.Secret(b.BusinessID), true},
		{RoleAccessToken, b.AccessToken, false},
		{RoleRefreshToken, b.RefreshToken, false},
		{RoleExpiresAt, expiry(b.ExpiresAt), false},
	}
}
