package integrations

import (
	"log/slog"
	"time"

	"github.com/codat-migrate/codat"
)

var xeroPlatform = Platform{Key: "gbol", Name: "Xero", SourceType: "Accounting",
	Fields: oauthFields(Field{Name: "tenantId", Role: RoleTenantID, Required: true, Tenant: true, Format: FormatUUID,
		Aliases: []string{"xero_tenant_id", "xero-tenant-id", "organisationId"},
		Doc:     "the Xero tenant (organisation) ID from GET /connections"}),
	Evidence: Inferred,
	Source: "inferred from Xero's OAuth 2.0 docs (developer.xero.com): the token endpoint returns access_token " +
		"(a JWT), refresh_token and expires_in; GET https://api.xero.com/connections lists each tenantId (a UUID), " +
		"sent on every API call as the xero-tenant-id header"}

// Xero is the token-migration body for Xero, platform key "gbol".
//
// Wire fields (evidence: inferred, from Xero's OAuth 2.0: access_token, which
// is a JWT, refresh_token and expires_in from the token endpoint; tenantId,
// a UUID, from GET /connections):
//
//	tenantId      required  UUID; the tenant identity
//	accessToken   required  secret; its JWT exp is checked
//	refreshToken  required  secret
//	expiresAt     optional  RFC 3339
type Xero struct {
	TenantID     string
	AccessToken  codat.Secret
	RefreshToken codat.Secret
	ExpiresAt    time.Time // optional; sent as RFC 3339 in UTC
}

// PlatformKey returns "gbol".
func (Xero) PlatformKey() string { return "gbol" }

// Body returns the validated body for PUT …/connections/{connectionId}/authorization.
func (b Xero) Body() (map[string]string, error) { return Default().Body(b) }

// LogValue logs the non-secret fields; credentials are redacted.
func (b Xero) LogValue() slog.Value { return logValue(b) }

// MarshalJSON writes the redacted view that LogValue logs; use Body for the wire.
func (b Xero) MarshalJSON() ([]byte, error) { return marshalRedacted(b) }

func (b Xero) roleValues() []roleValue {
	return []roleValue{
		{RoleTenantID, codat.Secret(b.TenantID), true},
		{RoleAccessToken, b.AccessToken, false},
		{RoleRefreshToken, b.RefreshToken, false},
		{RoleExpiresAt, expiry(b.ExpiresAt), false},
	}
}
