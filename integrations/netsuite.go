package integrations

import (
	"log/slog"
	"time"

	"github.com/codat-migrate/codat"
)

var netSuitePlatform = Platform{Key: "akxx", Name: "Oracle NetSuite", SourceType: "Accounting",
	Aliases: []string{"NetSuite"},
	Fields: oauthFields(Field{Name: "accountId", Role: RoleAccountID, Required: true, Tenant: true, Format: FormatID,
		Aliases: []string{"account_id", "netsuite_account_id", "company"},
		Doc:     "the NetSuite account ID, e.g. 1234567 or 1234567_SB1"}),
	Evidence: Inferred,
	Source: "inferred from NetSuite's OAuth 2.0 authorization code grant (Oracle NetSuite help, \"OAuth 2.0\"): the " +
		"redirect carries the account ID as its company parameter; the token endpoint " +
		"(<accountId>.suitetalk.api.netsuite.com) returns access_token, refresh_token and expires_in. Codat's " +
		"NetSuite integration may use token-based authentication instead; correct with LoadPostman if so"}

// NetSuite is the token-migration body for Oracle NetSuite, platform key "akxx".
//
// Wire fields (evidence: inferred, from NetSuite's OAuth 2.0 authorization code
// grant: the account ID, and access_token / refresh_token / expires_in; if
// Codat's integration uses token-based authentication instead, correct the
// registry with LoadPostman or LoadSpec and send a Generic):
//
//	accountId     required  e.g. 1234567_SB1; the tenant identity
//	accessToken   required  secret
//	refreshToken  required  secret
//	expiresAt     optional  RFC 3339
type NetSuite struct {
	AccountID    string
	AccessToken  codat.Secret
	RefreshToken codat.Secret
	ExpiresAt    time.Time // optional; sent as RFC 3339 in UTC
}

// PlatformKey returns "akxx".
func (NetSuite) PlatformKey() string { return "akxx" }

// Body returns the validated body for PUT …/connections/{connectionId}/authorization.
func (b NetSuite) Body() (map[string]string, error) { return Default().Body(b) }

// LogValue logs the non-secret fields; credentials are redacted.
func (b NetSuite) LogValue() slog.Value { return logValue(b) }

// MarshalJSON writes the redacted view that LogValue logs; use Body for the wire.
func (b NetSuite) MarshalJSON() ([]byte, error) { return marshalRedacted(b) }

func (b NetSuite) roleValues() []roleValue {
	return []roleValue{
		{RoleAccountID, codat.Secret(b.AccountID), true},
		{RoleAccessToken, b.AccessToken, false},
		{RoleRefreshToken, b.RefreshToken, false},
		{RoleExpiresAt, expiry(b.ExpiresAt), false},
	}
}
