package integrations

import (
	"log/slog"

	"github.com/codat-migrate/codat"
)

var sageIntacctPlatform = Platform{Key: "knfz", Name: "Sage Intacct", SourceType: "Accounting",
	Aliases: []string{"Intacct"},
	Fields: []Field{
		{Name: "companyId", Role: RoleCompanyID, Required: true, Tenant: true, Format: FormatID,
			Aliases: []string{"company_id"}, Doc: "the Intacct company ID"},
		{Name: "entityId", Role: RoleEntityID, Tenant: true, Format: FormatID,
			Aliases: []string{"entity_id", "location_id"}, Doc: "the entity (location) ID, for multi-entity companies"},
		{Name: "userId", Role: RoleUserID, Required: true, Format: FormatID,
			Aliases: []string{"user_id"}, Doc: "the web services user ID"},
		{Name: "password", Role: RolePassword, Required: true, Secret: true, Format: FormatText,
			Aliases: []string{"user_password"}, Doc: "the web services user's password"},
	},
	Evidence: Inferred,
	Source: "inferred from the Sage Intacct XML API's login element (developer.intacct.com): companyid, userid, " +
		"password and an optional locationid (entity); Intacct connections are credentials, not OAuth tokens"}

// SageIntacct is the authorization body for Sage Intacct, platform key "knfz".
// Intacct connections use web services credentials, not OAuth tokens.
//
// Wire fields (evidence: inferred, from the Intacct XML API's login element:
// companyid, userid, password, locationid):
//
//	companyId  required  the tenant identity, with entityId
//	entityId   optional  the entity, for multi-entity companies
//	userId     required
//	password   required  secret
type SageIntacct struct {
	CompanyID string
	EntityID  string // optional
	UserID    string
	Password  codat.Secret
}

// PlatformKey returns "knfz".
func (SageIntacct) PlatformKey() string { return "knfz" }

// Body returns the validated body for PUT …/connections/{connectionId}/authorization.
func (b SageIntacct) Body() (map[string]string, error) { return Default().Body(b) }

// LogValue logs the non-secret fields; credentials are redacted.
func (b SageIntacct) LogValue() slog.Value { return logValue(b) }

// MarshalJSON writes the redacted view that LogValue logs; use Body for the wire.
func (b SageIntacct) MarshalJSON() ([]byte, error) { return marshalRedacted(b) }

func (b SageIntacct) roleValues() []roleValue {
	return []roleValue{
		{RoleCompanyID, codat.Secret(b.CompanyID), true},
		{RoleEntityID, codat.Secret(b.EntityID), true},
		{RoleUserID, codat.Secret(b.UserID), false},
		{RolePassword, b.Password, false},
	}
}
