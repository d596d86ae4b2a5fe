package integrations

import (
	"log/slog"
	"time"

	"github.com/codat-migrate/codat"
)

var zohoBooksPlatform = Platform{Key: "rwuv", Name: "Zoho Books", SourceType: "Accounting",
	Fields: []Field{
		{Name: "organizationId", Role: RoleOrganizationID, Required: true, Tenant: true, Format: FormatNumeric,
			Aliases: []string{"organization_id", "organisation_id"},
			Doc:     "the Zoho Books organization_id sent with every API call"},
		accessTokenField(true),
		refreshTokenField(true),
		{Name: "apiDomain", Role: RoleAPIDomain, Format: FormatURL, Aliases: []string{"api_domain"},
			Doc: "the data centre's API domain from the token response, e.g. https://www.zohoapis.eu"},
		expiresAtField(),
	},
	Evidence: Inferred,
	Source: "inferred from Zoho's OAuth 2.0 docs (zoho.com/accounts/protocol/oauth) and the Zoho Books API " +
		"(zoho.com/books/api/v3): the token response has access_token, refresh_token, api_domain and expires_in; " +
		"every Books call takes organization_id"}

// ZohoBooks is the token-migration body for Zoho Books, platform key "rwuv".
//
// Wire fields (evidence: inferred, from Zoho's OAuth 2.0 token response —
// access_token, refresh_token, api_domain, expires_in — and Zoho Books'
// organization_id):
//
//	organizationId  required  digits only; the tenant identity
//	accessToken     required  secret
//	refreshToken    required  secret
//	apiDomain       optional  URL of the account's data centre
//	expiresAt       optional  RFC 3339
type ZohoBooks struct {
	OrganizationID string
	AccessToken    codat.Secret
	RefreshToken   codat.Secret
	APIDomain      string    // optional, e.g. https://www.zohoapis.eu
	ExpiresAt      time.Time // optional; sent as RFC 3339 in UTC
}

// PlatformKey returns "rwuv".
func (ZohoBooks) PlatformKey() string { return "rwuv" }

// Body returns the validated body for PUT …/connections/{connectionId}/authorization.
func (b ZohoBooks) Body() (map[string]string, error) { return Default().Body(b) }

// LogValue logs the non-secret fields; credentials are redacted.
func (b ZohoBooks) LogValue() slog.Value { return logValue(b) }

// MarshalJSON writes the redacted view that LogValue logs; use Body for the wire.
func (b ZohoBooks) MarshalJSON() ([]byte, error) { return marshalRedacted(b) }

func (b ZohoBooks) roleValues() []roleValue {
	return []roleValue{
		{RoleOrganizationID, codat.Secret(b.OrganizationID), true},
		{RoleAccessToken, b.AccessToken, false},
		{RoleRefreshToken, b.RefreshToken, false},
		{RoleAPIDomain, codat.Secret(b.APIDomain), false},
		{RoleExpiresAt, expiry(b.ExpiresAt), false},
	}
}
