package integrations

import (
	"log/slog"
	"time"

	"github.com/codat-migrate/codat"
)

var freshBooksPlatform = Platform{Key: "vxvy", Name: "FreshBooks", SourceType: "Accounting",
	Fields: oauthFields(Field{Name: "accountId", Role: RoleAccountID, Required: true, Tenant: true, Format: FormatID,
		Aliases: []string{"account_id"},
		Doc:     "the FreshBooks account ID used in /accounting/account/{accountId}/ URLs"}),
	Evidence: Inferred,
	Source: "inferred from FreshBooks' API docs (freshbooks.com/api): OAuth 2.0 access_token, refresh_token and " +
		"expires_in; accounting calls are addressed by account_id, listed per business membership by " +
		"GET /auth/api/v1/users/me (one user may reach several businesses)"}

// FreshBooks is the token-migration body for FreshBooks, platform key "vxvy".
//
// Wire fields (evidence: inferred, from FreshBooks' OAuth 2.0 token response
// and its account_id, which addresses every accounting call):
//
//	accountId     required  the tenant identity
//	accessToken   required  secret
//	refreshToken  required  secret
//	expiresAt     optional  RFC 3339
type FreshBooks struct {
	AccountID    string
	AccessToken  codat.Secret
	RefreshToken codat.Secret
	ExpiresAt    time.Time // optional; sent as RFC 3339 in UTC
}

// PlatformKey returns "vxvy".
func (FreshBooks) PlatformKey() string { return "vxvy" }

// Body returns the validated body for PUT …/connections/{connectionId}/authorization.
func (b FreshBooks) Body() (map[string]string, error) { return Default().Body(b) }

// LogValue logs the non-secret fields; credentials are redacted.
func (b FreshBooks) LogValue() slog.Value { return logValue(b) }

// MarshalJSON writes the redacted view that LogValue logs; use Body for the wire.
func (b FreshBooks) MarshalJSON() ([]byte, error) { return marshalRedacted(b) }

func (b FreshBooks) roleValues() []roleValue {
	return []roleValue{
		{RoleAccountID, codat.Secret(b.AccountID), true},
		{RoleAccessToken, b.AccessToken, false},
		{RoleRefreshToken, b.RefreshToken, false},
		{RoleExpiresAt, expiry(b.ExpiresAt), false},
	}
}
