package codattest

// The types in this file are the fake's own wire format, written from Codat's
// Platform OpenAPI contract (components.schemas). They are deliberately not
// shared with any client package, so that a wrong JSON name in a client cannot
// be mirrored here and go unnoticed.

// Company is Codat's Company schema: a business sharing access to its data.
// Returned by POST /companies, GET/PUT/PATCH /companies/{companyId} and, in
// pages, by GET /companies.
type Company struct {
	ID                string            `json:"id"`
	Name              string            `json:"name"`
	Description       string            `json:"description,omitempty"`
	Redirect          string            `json:"redirect"`
	LastSync          string            `json:"lastSync,omitempty"`
	Created           string            `json:"created,omitempty"`
	CreatedByUserName string            `json:"createdByUserName,omitempty"`
	Products          []string          `json:"products,omitempty"`
	Tags              map[string]string `json:"tags"`
	DataConnections   []Connection      `json:"dataConnections"`
}

// Connection is Codat's Connection schema (a data connection of a company to
// one integration). The contract forbids properties beyond the listed ones;
// the fields tagged `json:"-"` exist only for inspection in tests and are
// never sent.
type Connection struct {
	ID                   string                `json:"id"`
	IntegrationID        string                `json:"integrationId"`
	IntegrationKey       string                `json:"integrationKey"`
	SourceID             string                `json:"sourceId"`
	SourceType           string                `json:"sourceType"`
	PlatformName         string                `json:"platformName"`
	LinkURL              string                `json:"linkUrl"`
	Status               string                `json:"status"`
	LastSync             string                `json:"lastSync,omitempty"`
	Created              string                `json:"created"`
	DataConnectionErrors []DataConnectionError `json:"dataConnectionErrors,omitempty"`

	// CompanyID is the company the connection belongs to (inspection only).
	CompanyID string `json:"-"`
	// AuthFields lists, sorted, the field names of the last authorization
	// body accepted by PUT …/authorization (inspection only; never values).
	AuthFields []string `json:"-"`
	// AuthFingerprint is Fingerprint of the last authorization body received,
	// whether accepted or rejected; empty when none was received.
	AuthFingerprint string `json:"-"`
	// AuthAttempts counts the well-formed authorization bodies received.
	AuthAttempts int `json:"-"`
}

// DataConnectionError is one entry of Connection.dataConnectionErrors. Note
// that statusCode is a string in the contract.
type DataConnectionError struct {
	StatusCode    string `json:"statusCode,omitempty"`
	StatusText    string `json:"statusText,omitempty"`
	ErrorMessage  string `json:"errorMessage,omitempty"`
	ErroredOnUtc  string `json:"erroredOnUtc,omitempty"`
	Status        string `json:"status,omitempty"`
	ResolvedOnUtc string `json:"resolvedOnUtc,omitempty"`
}

// PullOperation is Codat's PullOperation schema (formerly "dataset"): one
// fetch of one data type from one connection. Returned by POST
// /companies/{companyId}/data/queue/{dataType} and GET
// /companies/{companyId}/data/history[/{datasetId}].
type PullOperation struct {
	ID                string `json:"id"`
	CompanyID         string `json:"companyId"`
	ConnectionID      string `json:"connectionId"`
	DataType          string `json:"dataType"`
	Status            string `json:"status"`
	StatusDescription string `json:"statusDescription,omitempty"`
	ErrorMessage      string `json:"errorMessage,omitempty"`
	Requested         string `json:"requested"`
	Completed         string `json:"completed,omitempty"`
	Progress          int    `json:"progress"`
	IsCompleted       bool   `json:"isCompleted"`
	IsErrored         bool   `json:"isErrored"`
}

// DataStatus is one value of the DataStatuses object returned by GET
// /companies/{companyId}/dataStatus, keyed by data type.
type DataStatus struct {
	DataType               string `json:"dataType"`
	CurrentStatus          string `json:"currentStatus"`
	LastSuccessfulSync     string `json:"lastSuccessfulSync,omitempty"`
	LatestSyncID           string `json:"latestSyncId,omitempty"`
	LatestSuccessfulSyncID string `json:"latestSuccessfulSyncId,omitempty"`
}

// Integration is Codat's Integration schema, returned by GET /integrations
// and GET /integrations/{platformKey}. It is also the value given to
// WithIntegration to add or change an entry of the fake's registry; there
// IntegrationID and SourceID may be left empty (stable ids are derived from
// the key) and LogoURL likewise.
type Integration struct {
	Key                string `json:"key"`
	LogoURL            string `json:"logoUrl"`
	Name               string `json:"name"`
	Enabled            bool   `json:"enabled"`
	SourceID           string `json:"sourceId,omitempty"`
	SourceType         string `json:"sourceType,omitempty"`
	IntegrationID      string `json:"integrationId,omitempty"`
	IsOfflineConnector bool   `json:"isOfflineConnector"`
	IsBeta             bool   `json:"isBeta"`
	DataProvidedBy     string `json:"dataProvidedBy,omitempty"`
}

// errorMessage is Codat's error body, sent with every 4xx and 5xx response.
// canBeRetried is a string in the contract ("Unknown" in every example).
type errorMessage struct {
	StatusCode        int              `json:"statusCode"`
	Service           string           `json:"service"`
	Error             string           `json:"error"`
	CorrelationID     string           `json:"correlationId"`
	Validation        *errorValidation `json:"validation,omitempty"`
	CanBeRetried      string           `json:"canBeRetried"`
	DetailedErrorCode int              `json:"detailedErrorCode"`
}

// errorValidation is errorMessage.validation: the field-level problems of a
// rejected request body.
type errorValidation struct {
	Errors   []errorValidationItem `json:"errors"`
	Warnings []errorValidationItem `json:"warnings"`
}

// errorValidationItem is one validation problem. ItemID names the field
// (for example "name" or "tags.region"); values are never echoed.
type errorValidationItem struct {
	ItemID        string `json:"itemId"`
	Message       string `json:"message"`
	ValidatorName string `json:"validatorName"`
}

// pageBody is Codat's paging envelope (a results array plus PagingInfo), used by
// every list endpoint.
type pageBody[T any] struct {
	Results      []T         `json:"results"`
	PageNumber   int         `json:"pageNumber"`
	PageSize     int         `json:"pageSize"`
	TotalResults int         `json:"totalResults"`
	Links        pagingLinks `json:"_links"`
}

// pagingLinks is PagingInfo._links: self is the resource without a query; current,
// next and previous carry the paging query.
type pagingLinks struct {
	Self     halRef  `json:"self"`
	Current  halRef  `json:"current"`
	Next     *halRef `json:"next,omitempty"`
	Previous *halRef `json:"previous,omitempty"`
}

// halRef is a hypertext reference: {"href": "/companies?page=2&pageSize=100"}.
type halRef struct {
	Href string `json:"href"`
}

// Connection statuses (Connection.status).
const (
	StatusPendingAuth  = "PendingAuth"
	StatusLinked       = "Linked"
	StatusUnlinked     = "Unlinked"
	StatusDeauthorized = "Deauthorized"
)

// Pull operation statuses used by the fake (a subset of the contract's
// dataset status enum).
const (
	PullQueued    = "Queued"
	PullFetching  = "Fetching"
	PullComplete  = "Complete"
	PullAuthError = "AuthError"
)
