package integrations

import (
	"log/slog"

	"github.com/codat-migrate/codat"
)

var bigCommercePlatform = Platform{Key: "vqzp", Name: "BigCommerce", SourceType: "Commerce",
	Fields: []Field{
		{Name: "storeHash", Role: RoleStoreHash, Required: true, Tenant: true, Format: FormatID,
			Aliases: []string{"store_hash"}, Doc: "the store hash (the part after stores/ in the token's context)"},
		accessTokenField(true),
	},
	Evidence: Inferred,
	Source: "inferred from BigCommerce's app OAuth docs (developer.bigcommerce.com): the token response has " +
		"access_token (no expiry, no refresh token) and context stores/{store_hash}"}

// BigCommerce is the token-migration body for BigCommerce, platform key "vqzp".
//
// Wire fields (evidence: inferred, from BigCommerce's token response:
// access_token and context stores/{store_hash}):
//
//	storeHash    required  the tenant identity
//	accessToken  required  secret
type BigCommerce struct {
	StoreHash   string
	AccessToken codat.Secret
}

// PlatformKey returns "vqzp".
func (BigCommerce) PlatformKey() string { return "vqzp" }

// Body returns the validated body for PUT …/connections/{connectionId}/authorization.
func (b BigCommerce) Body() (map[string]string, error) { return Default().Body(b) }

// LogValue logs the non-secret fields; credentials are redacted.
func (b BigCommerce) LogValue() slog.Value { return logValue(b) }

// MarshalJSON writes the redacted view that LogValue logs; use Body for the wire.
func (b BigCommerce) MarshalJSON() ([]byte, error) { return marshalRedacted(b) }

func (b BigCommerce) roleValues() []roleValue {
	return []roleValue{
		{RoleStoreHash, codat.Secret(b.StoreHash), true},
		{RoleAccessToken, b.AccessToken, false},
	}
}
