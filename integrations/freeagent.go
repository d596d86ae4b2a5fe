package integrations

import (
	"log/slog"
	"time"

	"github.com/codat-migrate/codat"
)

var freeAgentPlatform = Platform{Key: "fbrh", Name: "FreeAgent", SourceType: "Accounting",
	Fields:   oauthFields(),
	Evidence: Inferred,
	Source: "inferred from FreeAgent's OAuth 2.0 docs (dev.freeagent.com): the token endpoint returns access_token, " +
		"refresh_token and expires_in; a token is issued for one company, so no company ID is needed. Codat's " +
		"changelog (2023-02-03) confirms FreeAgent tokens migrate through PUT …/authorization, not the field names"}

// FreeAgent is the token-migration body for FreeAgent, platform key "fbrh".
//
// Wire fields (evidence: inferred, from FreeAgent's OAuth 2.0 token response:
// access_token, refresh_token, expires_in; a token belongs to one company):
//
//	accessToken   required  secret
//	refreshToken  required  secret
//	expiresAt     optional  RFC 3339
//
// FreeAgent has no tenant field, so TenantID reports false.
type FreeAgent struct {
	AccessToken  codat.Secret
	RefreshToken codat.Secret
	ExpiresAt    time.Time // optional; sent as RFC 3339 in UTC
}

// PlatformKey returns "fbrh".
func (FreeAgent) PlatformKey() string { return "fbrh" }

// Body returns the validated body for PUT …/connections/{connectionId}/authorization.
func (b FreeAgent) Body() (map[string]string, error) { return Default().Body(b) }

// LogValue logs the non-secret fields; credentials are redacted.
func (b FreeAgent) LogValue() slog.Value { return logValue(b) }

// MarshalJSON writes the redacted view that LogValue logs; use Body for the wire.
func (b FreeAgent) MarshalJSON() ([]byte, error) { return marshalRedacted(b) }

func (b FreeAgent) roleValues() []roleValue {
	return []roleValue{
		{RoleAccessToken, b.AccessToken, false},
		{RoleRefreshToken, b.RefreshToken, false},
		{RoleExpiresAt, expiry(b.ExpiresAt), false},
	}
}
