package integrations

import (
	"log/slog"
	"time"

	"github.com/codat-migrate/codat"
)

const quickBooksSource = "inferred from Intuit's OAuth 2.0 for QuickBooks Online (developer.intuit.com): " +
	"the authorization redirect carries realmId (the company ID, digits only); the token endpoint returns " +
	"access_token, refresh_token and expires_in"

func quickBooksFields() []Field {
	return oauthFields(Field{Name: "realmId", Role: RoleRealmID, Required: true, Tenant: true, Format: FormatNumeric,
		Aliases: []string{"realm_id", "qbo_realm_id", "companyId", "company_id"},
		Doc:     "the QuickBooks company ID (realmId)"})
}

func quickBooksOnlinePlatform() Platform {
	return Platform{Key: "qhyg", Name: "QuickBooks Online", SourceType: "Accounting",
		Aliases: []string{"QBO", "QuickBooks", "Intuit QuickBooks Online"},
		Fields:  quickBooksFields(), Evidence: Inferred, Source: quickBooksSource}
}

func quickBooksOnlineSandboxPlatform() Platform {
	return Platform{Key: "ndsk", Name: "QuickBooks Online Sandbox", SourceType: "Accounting",
		Aliases: []string{"QBO Sandbox", "QuickBooks Sandbox"},
		Fields:  quickBooksFields(), Evidence: Inferred, Source: quickBooksSource}
}

// QuickBooksOnline is the token-migration body for QuickBooks Online, platform
// key "qhyg".
//
// Wire fields (evidence: inferred, from Intuit's OAuth 2.0 for QuickBooks
// Online: realmId arrives on the authorization redirect; access_token,
// refresh_token and expires_in come from the token endpoint):
//
//	realmId       required  digits only; the tenant identity
//	accessToken   required  secret
//	refreshToken  required  secret
//	expiresAt     optional  RFC 3339
//
// Body resolves these names through Default, so a loaded spec that renames
// them changes what is sent.
type QuickBooksOnline struct {
	RealmID      string
	AccessToken  codat.Secret
	RefreshToken codat.Secret
	ExpiresAt    time.Time // optional; sent as RFC 3339 in UTC
}

// PlatformKey returns "qhyg".
func (QuickBooksOnline) PlatformKey() string { return "qhyg" }

// Body returns the validated body for PUT …/connections/{connectionId}/authorization.
func (b QuickBooksOnline) Body() (map[string]string, error) { return Default().Body(b) }

// LogValue logs the non-secret fields; tokens are redacted.
func (b QuickBooksOnline) LogValue() slog.Value { return logValue(b) }

// MarshalJSON writes the redacted view that LogValue logs; use Body for the wire.
func (b QuickBooksOnline) MarshalJSON() ([]byte, error) { return marshalRedacted(b) }

func (b QuickBooksOnline) roleValues() []roleValue {
	return []roleValue{
		{RoleRealmID, codat.Secret(b.RealmID), true},
		{RoleAccessToken, b.AccessToken, false},
		{RoleRefreshToken, b.RefreshToken, false},
		{RoleExpiresAt, expiry(b.ExpiresAt), false},
	}
}

// QuickBooksOnlineSandbox is the token-migration body for QuickBooks Online
// Sandbox, platform key "ndsk". Its fields and evidence are those of
// QuickBooksOnline (inferred: realmId, accessToken, refreshToken, expiresAt).
type QuickBooksOnlineSandbox struct {
	RealmID      string
	AccessToken  codat.Secret
	RefreshToken codat.Secret
	ExpiresAt    time.Time // optional; sent as RFC 3339 in UTC
}

// PlatformKey returns "ndsk".
func (QuickBooksOnlineSandbox) PlatformKey() string { return "ndsk" }

// Body returns the validated body for PUT …/connections/{connectionId}/authorization.
func (b QuickBooksOnlineSandbox) Body() (map[string]string, error) { return Default().Body(b) }

// LogValue logs the non-secret fields; tokens are redacted.
func (b QuickBooksOnlineSandbox) LogValue() slog.Value { return logValue(b) }

// MarshalJSON writes the redacted view that LogValue logs; use Body for the wire.
func (b QuickBooksOnlineSandbox) MarshalJSON() ([]byte, error) { return marshalRedacted(b) }

func (b QuickBooksOnlineSandbox) roleValues() []roleValue {
	return QuickBooksOnline(b).roleValues()
}
