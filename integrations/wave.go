package integrations

import (
	"log/slog"
	"time"

	"github.com/codat-migrate/codat"
)

var wavePlatform = Platform{Key: "pbtz", Name: "Wave", SourceType: "Accounting",
	Fields: oauthFields(Field{Name: "businessId", Role: RoleBusinessID, Required: true, Tenant: true, Format: FormatID,
		Aliases: []string{"business_id"},
		Doc:     "the Wave business ID"}),
	Evidence: Inferred,
	Source: "inferred from Wave's public API docs (developer.waveapps.com): OAuth 2.0 access_token, refresh_token and " +
		"expires_in; every business query takes the business's id. Codat's one public body example, " +
		"{\"accessToken\", \"businessId\"} (docs/get-started/migration.md), has these names but does not say " +
		"which integration it is for"}

// Wave is the token-migration body for Wave, platform key "pbtz".
//
// Wire fields (evidence: inferred, from Wave's OAuth 2.0 token response and
// its business ID; Codat's generic example {"accessToken", "businessId"} has
// the same names but does not name its integration):
//
//	businessId    required  the tenant identity
//	accessToken   required  secret
//	refreshToken  required  secret
//	expiresAt     optional  RFC 3339
type Wave struct {
	BusinessID   string
	AccessToken  codat.Secret
	RefreshToken codat.Secret
	ExpiresAt    time.Time // optional; sent as RFC 3339 in UTC
}

// PlatformKey returns "pbtz".
func (Wave) PlatformKey() string { return "pbtz" }

// Body returns the validated body for PUT …/connections/{connectionId}/authorization.
func (b Wave) Body() (map[string]string, error) { return Default().Body(b) }

// LogValue logs the non-secret fields; credentials are redacted.
func (b Wave) LogValue() slog.Value { return logValue(b) }

// MarshalJSON writes the redacted view that LogValue logs; use Body for the wire.
func (b Wave) MarshalJSON() ([]byte, error) { return marshalRedacted(b) }

func (b Wave) roleValues() []roleValue {
	return []roleValue{
		{RoleBusinessID, codat.Secret(b.BusinessID), true},
		{RoleAccessToken, b.AccessToken, false},
		{RoleRefreshToken, b.RefreshToken, false},
		{RoleExpiresAt, expiry(b.ExpiresAt), false},
	}
}
