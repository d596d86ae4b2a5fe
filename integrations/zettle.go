package integrations

import (
	"log/slog"
	"time"

	"github.com/codat-migrate/codat"
)

var zettlePlatform = Platform{Key: "ugxp", Name: "Zettle", SourceType: "Commerce",
	Aliases: []string{"iZettle", "PayPal Zettle"},
	Fields: oauthFields(Field{Name: "organizationUuid", Role: RoleOrganizationID, Tenant: true, Format: FormatUUID,
		Aliases: []string{"organization_uuid", "organizationId"}, Doc: "the Zettle organization UUID"}),
	Evidence: Inferred,
	Source: "inferred from Zettle's OAuth docs (developer.zettle.com): the token endpoint returns access_token, " +
		"refresh_token and expires_in; an organization is identified by its organizationUuid"}

// Zettle is the token-migration body for Zettle by PayPal, platform key "ugxp".
//
// Wire fields (evidence: inferred, from Zettle's OAuth token response and its
// organizationUuid):
//
//	organizationUuid  optional  UUID; the tenant identity
//	accessToken       required  secret; its JWT exp is checked
//	refreshToken      required  secret
//	expiresAt         optional  RFC 3339
type Zettle struct {
	OrganizationUUID string // optional
	AccessToken      codat.Secret
	RefreshToken     codat.Secret
	ExpiresAt        time.Time // optional; sent as RFC 3339 in UTC
}

// PlatformKey returns "ugxp".
func (Zettle) PlatformKey() string { return "ugxp" }

// Body returns the validated body for PUT …/connections/{connectionId}/authorization.
func (b Zettle) Body() (map[string]string, error) { return Default().Body(b) }

// LogValue logs the non-secret fields; credentials are redacted.
func (b Zettle) LogValue() slog.Value { return logValue(b) }

// MarshalJSON writes the redacted view that LogValue logs; use Body for the wire.
func (b Zettle) MarshalJSON() ([]byte, error) { return marshalRedacted(b) }

func (b Zettle) roleValues() []roleValue {
	return []roleValue{
		{RoleOrganizationID, codat.Secret(b.OrganizationUUID), true},
		{RoleAccessToken, b.AccessToken, false},
		{RoleRefreshToken, b.RefreshToken, false},
		{RoleExpiresAt, expiry(b.ExpiresAt), false},
	}
}
