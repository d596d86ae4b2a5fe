package integrations

import (
	"log/slog"

	"github.com/codat-migrate/codat"
)

var wooCommercePlatform = Platform{Key: "ltpp", Name: "WooCommerce", SourceType: "Commerce",
	Fields: []Field{
		{Name: "storeUrl", Role: RoleStoreURL, Required: true, Tenant: true, Format: FormatURL,
			Aliases: []string{"store_url", "site_url"}, Doc: "the store's base URL, e.g. https://shop.example.com"},
		{Name: "consumerKey", Role: RoleConsumerKey, Required: true, Secret: true, Format: FormatToken,
			Aliases: []string{"consumer_key"}, Doc: "the REST API consumer key, ck_…"},
		{Name: "consumerSecret", Role: RoleConsumerSecret, Required: true, Secret: true, Format: FormatToken,
			Aliases: []string{"consumer_secret"}, Doc: "the REST API consumer secret, cs_…"},
	},
	Evidence: Inferred,
	Source: "inferred from the WooCommerce REST API docs (woocommerce.github.io/woocommerce-rest-api-docs): " +
		"the /wc-auth/v1/authorize flow posts consumer_key and consumer_secret for the store's URL"}

// WooCommerce is the authorization body for WooCommerce, platform key "ltpp".
// WooCommerce issues REST API keys rather than OAuth tokens.
//
// Wire fields (evidence: inferred, from WooCommerce's /wc-auth/v1/authorize
// flow, which posts consumer_key and consumer_secret):
//
//	storeUrl        required  http(s) URL; the tenant identity
//	consumerKey     required  secret
//	consumerSecret  required  secret
type WooCommerce struct {
	StoreURL       string
	ConsumerKey    codat.Secret
	ConsumerSecret codat.Secret
}

// PlatformKey returns "ltpp".
func (WooCommerce) PlatformKey() string { return "ltpp" }

// Body returns the validated body for PUT …/connections/{connectionId}/authorization.
func (b WooCommerce) Body() (map[string]string, error) { return Default().Body(b) }

// LogValue logs the non-secret fields; credentials are redacted.
func (b WooCommerce) LogValue() slog.Value { return logValue(b) }

// MarshalJSON writes the redacted view that LogValue logs; use Body for the wire.
func (b WooCommerce) MarshalJSON() ([]byte, error) { return marshalRedacted(b) }

func (b WooCommerce) roleValues() []roleValue {
	return []roleValue{
		{RoleStoreURL, codat.Secret(b.StoreURL), true},
		{RoleConsumerKey, b.ConsumerKey, false},
		{RoleConsumerSecret, b.ConsumerSecret, false},
	}
}
