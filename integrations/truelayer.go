package integrations

import (
	"log/slog"
	"time"

	"github.com/codat-migrate/codat"
)

var trueLayerPlatform = Platform{Key: "upvr", Name: "TrueLayer", SourceType: "Banking",
	Fields: oauthFields(Field{Name: "credentialsId", Role: RoleCredentialsID, Tenant: true, Format: FormatID,
		Aliases: []string{"credentials_id"}, Doc: "the credentials ID that GET /data/v1/me returns"}),
	Evidence: Inferred,
	Source: "inferred from TrueLayer's Data API docs (docs.truelayer.com): the token endpoint returns access_token " +
		"(a JWT), refresh_token and expires_in; GET /data/v1/me returns the grant's credentials_id"}

// TrueLayer is the token-migration body for TrueLayer, platform key "upvr".
//
// Wire fields (evidence: inferred, from TrueLayer's token response and the
// credentials_id of GET /data/v1/me):
//
//	credentialsId  optional  the tenant identity
//	accessToken    required  secret; its JWT exp is checked
//	refreshToken   required  secret
//	expiresAt      optional  RFC 3339
type TrueLayer struct {
	CredentialsID string // optional
	AccessToken   codat.Secret
	RefreshToken  codat.Secret
	ExpiresAt     time.Time // optional; sent as RFC 3339 in UTC
}

// PlatformKey returns "upvr".
func (TrueLayer) PlatformKey() string { return "upvr" }

// Body returns the validated body for PUT …/connections/{connectionId}/authorization.
func (b TrueLayer) Body() (map[string]string, error) { return Default().Body(b) }

// LogValue logs the non-secret fields; credentials are redacted.
func (b TrueLayer) LogValue() slog.Value { return logValue(b) }

// MarshalJSON writes the redacted view that LogValue logs; use Body for the wire.
func (b TrueLayer) MarshalJSON() ([]byte, error) { return marshalRedacted(b) }

func (b TrueLayer) roleValues() []roleValue {
	return []roleValue{
		{RoleCredentialsID, codat.Secret(b.CredentialsID), true},
		{RoleAccessToken, b.AccessToken, false},
		{RoleRefreshToken, b.RefreshToken, false},
		{RoleExpiresAt, expiry(b.ExpiresAt), false},
	}
}
