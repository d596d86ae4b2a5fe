package codat

// Authorization is the body of a token migration: what
// ConnectionsService.UpdateAuthorization sends to
// PUT /companies/{companyId}/connections/{connectionId}/authorization.
//
// Codat's contract types that body as a flat JSON object of strings whose keys
// depend on the integration. Package integrations has a typed, validated
// implementation for each platform and a Generic one for any other.
type Authorization interface {
	// PlatformKey is the four-letter Codat key of the integration, e.g. "qhyg".
	PlatformKey() string
	// Body returns the validated wire body. Its error names the bad field,
	// never the field's value.
	Body() (map[string]string, error)
}
