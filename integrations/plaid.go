package integrations

import (
	"log/slog"

	"github.com/codat-migrate/codat"
)

var plaidPlatform = Platform{Key: "suuo", Name: "Plaid", SourceType: "Banking",
	Fields: []Field{
		{Name: "itemId", Role: RoleItemID, Required: true, Tenant: true, Format: FormatID,
			Aliases: []string{"item_id"}, Doc: "the Plaid Item ID"},
		accessTokenField(true),
	},
	Evidence: Inferred,
	Source: "inferred from Plaid's API docs (plaid.com/docs/api/items): /item/public_token/exchange returns " +
		"access_token and item_id; access tokens do not expire"}

// Plaid is the token-migration body for Plaid, platform key "suuo".
//
// Wire fields (evidence: inferred, from Plaid's public token exchange:
// access_token and item_id):
//
//	itemId       required  the tenant identity
//	accessToken  required  secret
type Plaid struct {
	ItemID      string
	AccessToken codat.Secret
}

// PlatformKey returns "suuo".
func (Plaid) PlatformKey() string { return "suuo" }

// Body returns the validated body for PUT …/connections/{connectionId}/authorization.
func (b Plaid) Body() (map[string]string, error) { return Default().Body(b) }

// LogValue logs the non-secret fields; credentials are redacted.
func (b Plaid) LogValue() slog.Value { return logValue(b) }

// MarshalJSON writes the redacted view that LogValue logs; use Body for the wire.
func (b Plaid) MarshalJSON() ([]byte, error) { return marshalRedacted(b) }

func (b Plaid) roleValues() []roleValue {
	return []roleValue{
		{RoleItemID, codat.Secret(b.ItemID), true},
		{RoleAccessToken, b.AccessToken, false},
	}
}
