package integrations

import (
	"log/slog"
	"time"

	"github.com/codat-migrate/codat"
)

var businessCentralPlatform = Platform{Key: "trji", Name: "Dynamics 365 Business Central", SourceType: "Accounting",
	Aliases: []string{"Business Central", "Microsoft Dynamics 365 Business Central", "D365 Business Central"},
	Fields: oauthFields(
		Field{Name: "tenantId", Role: RoleTenantID, Required: true, Tenant: true, Format: FormatUUID,
			Aliases: []string{"tenant_id", "aad_tenant_id", "directoryId"},
			Doc:     "the Microsoft Entra (Azure AD) tenant ID"},
		Field{Name: "environment", Role: RoleEnvironment, Required: true, Tenant: true, Format: FormatID,
			Aliases: []string{"environment_name"},
			Doc:     "the Business Central environment name, e.g. production"},
		Field{Name: "companyId", Role: RoleCompanyID, Tenant: true, Format: FormatUUID,
			Aliases: []string{"company_id"},
			Doc:     "the Business Central company ID within the environment"},
	),
	Evidence: Inferred,
	Source: "inferred from Microsoft's Business Central API v2.0 docs (learn.microsoft.com): tokens come from the " +
		"Microsoft identity platform (access_token, a JWT, refresh_token, expires_in); calls are addressed as " +
		"/v2.0/{tenantId}/{environment}/api/v2.0/companies({companyId})"}

// BusinessCentral is the token-migration body for Dynamics 365 Business
// Central, platform key "trji".
//
// Wire fields (evidence: inferred, from the Microsoft identity platform's
// token response and Business Central's API v2.0 URL,
// /v2.0/{tenantId}/{environment}/api/v2.0/companies({companyId})):
//
//	tenantId      required  UUID
//	environment   required  e.g. production
//	companyId     optional  UUID
//	accessToken   required  secret; its JWT exp is checked
//	refreshToken  required  secret
//	expiresAt     optional  RFC 3339
//
// The tenant identity is tenantId/environment[/companyId].
type BusinessCentral struct {
	TenantID     string
	Environment  string
	CompanyID    string // optional
	AccessToken  codat.Secret
	RefreshToken codat.Secret
	ExpiresAt    time.Time // optional; sent as RFC 3339 in UTC
}

// PlatformKey returns "trji".
func (BusinessCentral) PlatformKey() string { return "trji" }

// Body returns the validated body for PUT …/connections/{connectionId}/authorization.
func (b BusinessCentral) Body() (map[string]string, error) { return Default().Body(b) }

// LogValue logs the non-secret fields; credentials are redacted.
func (b BusinessCentral) LogValue() slog.Value { return logValue(b) }

// MarshalJSON writes the redacted view that LogValue logs; use Body for the wire.
func (b BusinessCentral) MarshalJSON() ([]byte, error) { return marshalRedacted(b) }

func (b BusinessCentral) roleValues() []roleValue {
	return []roleValue{
		{RoleTenantID, codat.Secret(b.TenantID), true},
		{RoleEnvironment, codat.Secret(b.Environment), true},
		{RoleCompanyID, codat.Secret(b.CompanyID), true},
		{RoleAccessToken, b.AccessToken, false},
		{RoleRefreshToken, b.RefreshToken, false},
		{RoleExpiresAt, expiry(b.ExpiresAt), false},
	}
}
