package integrations

import (
	"log/slog"
	"time"

	"github.com/codat-migrate/codat"
)

const exactSource = "inferred from Exact Online's API docs (start.exactonline.nl/docs): OAuth 2.0 access_token " +
	"(valid ten minutes), refresh_token and expires_in; calls are addressed to a division, the current one given " +
	"by GET /api/v1/current/Me (CurrentDivision)"

func exactFields() []Field {
	return oauthFields(Field{Name: "division", Role: RoleDivision, Tenant: true, Format: FormatNumeric,
		Aliases: []string{"division_id", "current_division"},
		Doc:     "the Exact Online division (administration) number; the user's current division when absent"})
}

func exactNLPlatform() Platform {
	return Platform{Key: "qudb", Name: "Exact (Netherlands)", SourceType: "Accounting",
		Aliases: []string{"Exact Online NL", "Exact NL", "Exact Online (Netherlands)"},
		Fields:  exactFields(), Evidence: Inferred, Source: exactSource}
}

func exactUKPlatform() Platform {
	return Platform{Key: "pbbf", Name: "Exact (UK)", SourceType: "Accounting",
		Aliases: []string{"Exact Online UK", "Exact UK", "Exact Online (UK)"},
		Fields:  exactFields(), Evidence: Inferred, Source: exactSource}
}

// ExactNL is the token-migration body for Exact Online (Netherlands), platform
// key "qudb".
//
// Wire fields (evidence: inferred, from Exact Online's OAuth 2.0 token
// response and its division number):
//
//	division      optional  digits; the tenant identity
//	accessToken   required  secret
//	refreshToken  required  secret
//	expiresAt     optional  RFC 3339
type ExactNL struct {
	Division     string // optional
	AccessToken  codat.Secret
	RefreshToken codat.Secret
	ExpiresAt    time.Time // optional; sent as RFC 3339 in UTC
}

// PlatformKey returns "qudb".
func (ExactNL) PlatformKey() string { return "qudb" }

// Body returns the validated body for PUT …/connections/{connectionId}/authorization.
func (b ExactNL) Body() (map[string]string, error) { return Default().Body(b) }

// LogValue logs the non-secret fields; credentials are redacted.
func (b ExactNL) LogValue() slog.Value { return logValue(b) }

// MarshalJSON writes the redacted view that LogValue logs; use Body for the wire.
func (b ExactNL) MarshalJSON() ([]byte, error) { return marshalRedacted(b) }

func (b ExactNL) roleValues() []roleValue {
	return []roleValue{
		{RoleDivision, codat.Secret(b.Division), true},
		{RoleAccessToken, b.AccessToken, false},
		{RoleRefreshToken, b.RefreshToken, false},
		{RoleExpiresAt, expiry(b.ExpiresAt), false},
	}
}

// ExactUK is the token-migration body for Exact Online (UK), platform key
// "pbbf". Its fields and evidence are those of ExactNL.
type ExactUK struct {
	Division     string // optional
	AccessToken  codat.Secret
	RefreshToken codat.Secret
	ExpiresAt    time.Time // optional; sent as RFC 3339 in UTC
}

// PlatformKey returns "pbbf".
func (ExactUK) PlatformKey() string { return "pbbf" }

// Body returns the validated body for PUT …/connections/{connectionId}/authorization.
func (b ExactUK) Body() (map[string]string, error) { return Default().Body(b) }

// LogValue logs the non-secret fields; credentials are redacted.
func (b ExactUK) LogValue() slog.Value { return logValue(b) }

// MarshalJSON writes the redacted view that LogValue logs; use Body for the wire.
func (b ExactUK) MarshalJSON() ([]byte, error) { return marshalRedacted(b) }

func (b ExactUK) roleValues() []roleValue { return ExactNL(b).roleValues() }
