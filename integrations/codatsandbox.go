package integrations

import (
	"log/slog"

	"github.com/codat-migrate/codat"
)

var codatSandboxPlatform = Platform{Key: "mqjo", Name: "Codat Sandbox", SourceType: "Accounting",
	Aliases: []string{"Sandbox"},
	Fields: []Field{
		accessTokenField(true),
		{Name: "businessId", Role: RoleBusinessID, Required: true, Tenant: true, Format: FormatID,
			Aliases: []string{"business_id"}, Doc: "the sandbox business ID"},
	},
	Evidence: Inferred,
	Source: "inferred from the one generic body in Codat's migration guide (codat-docs docs/get-started/migration.md), " +
		"{\"accessToken\": \"0000-0000\", \"businessId\": \"test-business-1234\"}: the guide does not name its " +
		"integration; its placeholder values fit a test integration"}

// CodatSandbox is the token-migration body for Codat's accounting sandbox,
// platform key "mqjo", for rehearsing a migration.
//
// Wire fields (evidence: inferred; they are the names of the one generic body
// in Codat's migration guide, {"accessToken": "0000-0000", "businessId":
// "test-business-1234"}, which does not say which integration it is for):
//
//	accessToken  required  secret
//	businessId   required  the tenant identity
type CodatSandbox struct {
	BusinessID  string
	AccessToken codat.Secret
}

// PlatformKey returns "mqjo".
func (CodatSandbox) PlatformKey() string { return "mqjo" }

// Body returns the validated body for PUT …/connections/{connectionId}/authorization.
func (b CodatSandbox) Body() (map[string]string, error) { return Default().Body(b) }

// LogValue logs the non-secret fields; credentials are redacted.
func (b CodatSandbox) LogValue() slog.Value { return logValue(b) }

// MarshalJSON writes the redacted view that LogValue logs; use Body for the wire.
func (b CodatSandbox) MarshalJSON() ([]byte, error) { return marshalRedacted(b) }

func (b CodatSandbox) roleValues() []roleValue {
	return []roleValue{
		{RoleBusinessID, codat.Secret(b.BusinessID), true},
		{RoleAccessToken, b.AccessToken, false},
	}
}
