package integrations

import (
	"log/slog"

	"github.com/codat-migrate/codat"
)

const stripeSource = "inferred from Stripe Connect's OAuth docs (docs.stripe.com/connect/oauth-reference): the token " +
	"response has access_token, refresh_token and stripe_user_id (the connected account, acct_…); access tokens " +
	"do not expire"

func stripeFields() []Field {
	return []Field{
		{Name: "stripeUserId", Role: RoleAccountID, Required: true, Tenant: true, Format: FormatID,
			Aliases: []string{"stripe_user_id", "stripe_account_id", "account_id"},
			Doc:     "the connected account ID, acct_…"},
		accessTokenField(true),
		refreshTokenField(false),
	}
}

func stripePlatform() Platform {
	return Platform{Key: "exgd", Name: "Stripe", SourceType: "Commerce",
		Fields: stripeFields(), Evidence: Inferred, Source: stripeSource}
}

func stripeTestPlatform() Platform {
	return Platform{Key: "yzth", Name: "Stripe Test", SourceType: "Commerce",
		Fields: stripeFields(), Evidence: Inferred, Source: stripeSource}
}

// Stripe is the token-migration body for Stripe, platform key "exgd".
//
// Wire fields (evidence: inferred, from Stripe Connect's OAuth token response:
// access_token, refresh_token, stripe_user_id):
//
//	stripeUserId  required  acct_…; the tenant identity
//	accessToken   required  secret
//	refreshToken  optional  secret
type Stripe struct {
	AccountID    string // the connected account, acct_…
	AccessToken  codat.Secret
	RefreshToken codat.Secret // optional
}

// PlatformKey returns "exgd".
func (Stripe) PlatformKey() string { return "exgd" }

// Body returns the validated body for PUT …/connections/{connectionId}/authorization.
func (b Stripe) Body() (map[string]string, error) { return Default().Body(b) }

// LogValue logs the non-secret fields; credentials are redacted.
func (b Stripe) LogValue() slog.Value { return logValue(b) }

// MarshalJSON writes the redacted view that LogValue logs; use Body for the wire.
func (b Stripe) MarshalJSON() ([]byte, error) { return marshalRedacted(b) }

func (b Stripe) roleValues() []roleValue {
	return []roleValue{
		{RoleAccountID, codat.Secret(b.AccountID), true},
		{RoleAccessToken, b.AccessToken, false},
		{RoleRefreshToken, b.RefreshToken, false},
	}
}

// StripeTest is the token-migration body for Stripe Test, platform key "yzth".
// Its fields and evidence are those of Stripe.
type StripeTest struct {
	AccountID    string // the connected account, acct_…
	AccessToken  codat.Secret
	RefreshToken codat.Secret // optional
}

// PlatformKey returns "yzth".
func (StripeTest) PlatformKey() string { return "yzth" }

// Body returns the validated body for PUT …/connections/{connectionId}/authorization.
func (b StripeTest) Body() (map[string]string, error) { return Default().Body(b) }

// LogValue logs the non-secret fields; credentials are redacted.
func (b StripeTest) LogValue() slog.Value { return logValue(b) }

// MarshalJSON writes the redacted view that LogValue logs; use Body for the wire.
func (b StripeTest) MarshalJSON() ([]byte, error) { return marshalRedacted(b) }

func (b StripeTest) roleValues() []roleValue { return Stripe(b).roleValues() }
