package integrations

import (
	"log/slog"

	"github.com/codat-migrate/codat"
)

var sageBankFeedsPlatform = Platform{Key: "olpr", Name: "Sage Bank Feeds", SourceType: "BankFeed",
	Fields: []Field{
		{Name: "authorizationId", Role: RoleAuthorizationID, Required: true, Format: FormatID,
			Doc: "the authorizationId that Sage put on the redirect to your web app"},
		{Name: "bankId", Role: RoleBankID, Format: FormatID, Doc: "the bank ID"},
	},
	Evidence: Documented,
	Source: "documented in codat-docs, Sage Bank Feeds \"Authenticate users through your own web app\": " +
		"PUT /companies/{companyId}/connections/{connectionId}/authorization with {\"authorizationId\": …}; " +
		"the current page adds \"bankId\", the mapping page shows authorizationId alone"}

// SageBankFeeds is the authorization body that completes a Sage Bank Feeds
// connection from your own web app, platform key "olpr". It is not a token
// migration, but it goes to the same endpoint.
//
// Wire fields (evidence: documented, in Codat's Sage Bank Feeds page
// "Authenticate users through your own web app"):
//
//	authorizationId  required  from Sage's redirect
//	bankId           optional
type SageBankFeeds struct {
	AuthorizationID string
	BankID          string // optional
}

// PlatformKey returns "olpr".
func (SageBankFeeds) PlatformKey() string { return "olpr" }

// Body returns the validated body for PUT …/connections/{connectionId}/authorization.
func (b SageBankFeeds) Body() (map[string]string, error) { return Default().Body(b) }

// LogValue logs the non-secret fields; credentials are redacted.
func (b SageBankFeeds) LogValue() slog.Value { return logValue(b) }

// MarshalJSON writes the redacted view that LogValue logs; use Body for the wire.
func (b SageBankFeeds) MarshalJSON() ([]byte, error) { return marshalRedacted(b) }

func (b SageBankFeeds) roleValues() []roleValue {
	return []roleValue{
		{RoleAuthorizationID, codat.Secret(b.AuthorizationID), false},
		{RoleBankID, codat.Secret(b.BankID), false},
	}
}
