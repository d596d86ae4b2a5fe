package codat

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"net/url"
	"strconv"
	"strings"
)

// MaxPageSize is the largest pageSize Codat accepts on list endpoints.
const MaxPageSize = 5000

// Company is a business in Codat (schema Company). Dates are kept as the
// strings Codat sends: Codat mixes "Z", offsets, zone-less times and
// 7-digit fractions.
type Company struct {
	ID                string            `json:"id"`
	Name              string            `json:"name"`
	Description       string            `json:"description,omitempty"`
	Redirect          string            `json:"redirect,omitempty"`
	LastSync          string            `json:"lastSync,omitempty"`
	Created           string            `json:"created,omitempty"`
	CreatedByUserName string            `json:"createdByUserName,omitempty"`
	Products          []string          `json:"products,omitempty"`
	Tags              map[string]string `json:"tags,omitempty"`
	DataConnections   []Connection      `json:"dataConnections,omitempty"`
}

// CreateCompanyRequest is the body of POST /companies (schema CompanyRequestBody).
// Name is required; Tags holds at most 10 entries, keys of 1–27 characters
// and values of at most 100.
type CreateCompanyRequest struct {
	Name        string            `json:"name"`
	Description string            `json:"description,omitempty"`
	Tags        map[string]string `json:"tags,omitempty"`
}

// UpdateCompanyRequest is the body of PATCH /companies/{companyId} (schema
// CompanyUpdateRequest). Empty fields are left unchanged.
type UpdateCompanyRequest struct {
	Name        string            `json:"name,omitempty"`
	Description string            `json:"description,omitempty"`
	Tags        map[string]string `json:"tags,omitempty"`
}

// ConnectionStatus is a connection's authorization status. Codat's casing
// varies ("PendingAuth", "pendingAuth"): compare with Is.
type ConnectionStatus string

// Connection statuses.
const (
	// StatusPendingAuth: the company has not completed authorization.
	StatusPendingAuth ConnectionStatus = "PendingAuth"
	// StatusLinked: the connection is usable.
	StatusLinked ConnectionStatus = "Linked"
	// StatusUnlinked: the connection was severed through the API; existing data can still be read.
	StatusUnlinked ConnectionStatus = "Unlinked"
	// StatusDeauthorized: access was revoked or expired; the company must relink.
	StatusDeauthorized ConnectionStatus = "Deauthorized"
)

// Is reports whether s and t are the same status, ignoring case.
func (s ConnectionStatus) Is(t ConnectionStatus) bool {
	return strings.EqualFold(strings.TrimSpace(string(s)), strings.TrimSpace(string(t)))
}

// Connection is a company's connection to one integration (schema Connection).
type Connection struct {
	ID                   string                `json:"id"`
	IntegrationID        string                `json:"integrationId,omitempty"`
	IntegrationKey       string                `json:"integrationKey,omitempty"`
	SourceID             string                `json:"sourceId,omitempty"`
	SourceType           string                `json:"sourceType,omitempty"`
	PlatformName         string                `json:"platformName,omitempty"`
	LinkURL              string                `json:"linkUrl,omitempty"`
	Status               ConnectionStatus      `json:"status,omitempty"`
	LastSync             string                `json:"lastSync,omitempty"`
	Created              string                `json:"created,omitempty"`
	DataConnectionErrors []DataConnectionError `json:"dataConnectionErrors,omitempty"`
	// ConnectionInfo is whatever JSON Codat holds for the connection (any
	// object since 2025); nil when absent or null.
	ConnectionInfo json.RawMessage `json:"connectionInfo,omitempty"`
}

// UnmarshalJSON decodes a Connection, normalising a null connectionInfo to nil.
func (c *Connection) UnmarshalJSON(data []byte) error {
	type plain Connection
	var p plain
	if err := json.Unmarshal(data, &p); err != nil {
		return err
	}
	if bytes.Equal(bytes.TrimSpace(p.ConnectionInfo), []byte("null")) {
		p.ConnectionInfo = nil
	}
	*c = Connection(p)
	return nil
}

// DataConnectionError is an error Codat recorded on a connection.
type DataConnectionError struct {
	// StatusCode is a string in Codat's schema; a number is accepted too.
	StatusCode    string `json:"statusCode,omitempty"`
	StatusText    string `json:"statusText,omitempty"`
	ErrorMessage  string `json:"errorMessage,omitempty"`
	ErroredOnUtc  string `json:"erroredOnUtc,omitempty"`
	Status        string `json:"status,omitempty"` // "Active", "Resolved" or empty
	ResolvedOnUtc string `json:"resolvedOnUtc,omitempty"`
}

// UnmarshalJSON accepts statusCode as a string or a number.
func (d *DataConnectionError) UnmarshalJSON(data []byte) error {
	var raw struct {
		StatusCode    flexString `json:"statusCode"`
		StatusText    flexString `json:"statusText"`
		ErrorMessage  flexString `json:"errorMessage"`
		ErroredOnUtc  flexString `json:"erroredOnUtc"`
		Status        flexString `json:"status"`
		ResolvedOnUtc flexString `json:"resolvedOnUtc"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return err
	}
	*d = DataConnectionError{
		StatusCode: string(raw.StatusCode), StatusText: string(raw.StatusText),
		ErrorMessage: string(raw.ErrorMessage), ErroredOnUtc: string(raw.ErroredOnUtc),
		Status: string(raw.Status), ResolvedOnUtc: string(raw.ResolvedOnUtc),
	}
	return nil
}

// ListOptions are the paging and filtering query parameters of list
// endpoints. Zero fields are not sent (Codat's defaults: page 1, pageSize 100).
type ListOptions struct {
	// Page is the 1-based page number.
	Page int
	// PageSize is the number of results per page, at most MaxPageSize.
	PageSize int
	// Query is a Codat query-language filter, e.g. "status=Linked".
	Query string
	// OrderBy sorts the results, e.g. "-modifiedDate".
	OrderBy string
	// Tags filters companies by tag, e.g. "migrationRef=crm-42" (companies only).
	Tags string
}

// values encodes the options as query parameters, leaving out zero values.
func (o *ListOptions) values() url.Values {
	v := url.Values{}
	set := func(name, value string) {
		if value != "" {
			v.Set(name, value)
		}
	}
	if o.Page != 0 {
		set("page", strconv.Itoa(o.Page))
	}
	if o.PageSize != 0 {
		set("pageSize", strconv.Itoa(o.PageSize))
	}
	set("query", o.Query)
	set("orderBy", o.OrderBy)
	set("tags", o.Tags)
	return v
}

// Page is one page of a list endpoint: results plus Codat's PagingInfo.
type Page[T any] struct {
	Results      []T       `json:"results"`
	PageNumber   int       `json:"pageNumber"`
	PageSize     int       `json:"pageSize"`
	TotalResults int       `json:"totalResults"`
	Links        PageLinks `json:"_links"`
}

// PageLinks are the HAL links of a page; Next is nil on the last page.
type PageLinks struct {
	Self     *Link `json:"self,omitempty"`
	Current  *Link `json:"current,omitempty"`
	Next     *Link `json:"next,omitempty"`
	Previous *Link `json:"previous,omitempty"`
}

// Link is a hypertext reference.
type Link struct {
	Href string `json:"href"`
}

// PullOperation is one queued, running or finished data pull (schema
// PullOperation, formerly "dataset").
type PullOperation struct {
	ID                string `json:"id"`
	CompanyID         string `json:"companyId,omitempty"`
	ConnectionID      string `json:"connectionId,omitempty"`
	DataType          string `json:"dataType,omitempty"`
	Status            string `json:"status,omitempty"`
	StatusDescription string `json:"statusDescription,omitempty"`
	ErrorMessage      string `json:"errorMessage,omitempty"`
	Requested         string `json:"requested,omitempty"`
	Completed         string `json:"completed,omitempty"`
	Progress          int    `json:"progress"`
	IsCompleted       bool   `json:"isCompleted"`
	IsErrored         bool   `json:"isErrored"`
}

// Done reports whether the pull operation has finished, successfully or not.
func (p PullOperation) Done() bool { return p.IsCompleted || p.IsErrored }

// DataStatus is the state of one data type in Codat's cache (schema
// DataStatus). CurrentStatus is empty for a type that never synced.
type DataStatus struct {
	DataType               string `json:"dataType,omitempty"`
	CurrentStatus          string `json:"currentStatus,omitempty"`
	LastSuccessfulSync     string `json:"lastSuccessfulSync,omitempty"`
	LatestSyncID           string `json:"latestSyncId,omitempty"`
	LatestSuccessfulSyncID string `json:"latestSuccessfulSyncId,omitempty"`
}

// DataStatuses maps a data type key (e.g. "invoices", "banking-accounts")
// to its status (schema DataStatuses).
type DataStatuses map[string]DataStatus

// Integration describes one integration Codat supports (schema Integration).
type Integration struct {
	Key                string            `json:"key"`
	LogoURL            string            `json:"logoUrl,omitempty"`
	Name               string            `json:"name"`
	Enabled            bool              `json:"enabled"`
	SourceID           string            `json:"sourceId,omitempty"`
	SourceType         string            `json:"sourceType,omitempty"`
	IntegrationID      string            `json:"integrationId,omitempty"`
	IsOfflineConnector bool              `json:"isOfflineConnector,omitempty"`
	IsBeta             bool              `json:"isBeta,omitempty"`
	DataProvidedBy     string            `json:"dataProvidedBy,omitempty"`
	DatatypeFeatures   []DataTypeFeature `json:"datatypeFeatures,omitempty"`
}

// DataTypeFeature lists what an integration supports for one data type.
// (Codat's schema names the field dataType but sends "datatype"; both decode.)
type DataTypeFeature struct {
	DataType          string             `json:"dataType"`
	SupportedFeatures []SupportedFeature `json:"supportedFeatures"`
}

// SupportedFeature is one feature and its release state, e.g. Get / Release.
type SupportedFeature struct {
	FeatureType  string `json:"featureType"`
	FeatureState string `json:"featureState"`
}

// flexString decodes a JSON string, number, bool or null into a string.
type flexString string

func (f *flexString) UnmarshalJSON(data []byte) error {
	data = bytes.TrimSpace(data)
	if len(data) == 0 || bytes.Equal(data, []byte("null")) {
		*f = ""
		return nil
	}
	if data[0] == '"' {
		var s string
		if err := json.Unmarshal(data, &s); err != nil {
			return err
		}
		*f = flexString(s)
		return nil
	}
	if data[0] == '{' || data[0] == '[' {
		return errors.New("expected a string, number or boolean")
	}
	*f = flexString(data)
	return nil
}

// flexInt decodes a JSON number, a numeric string or null into an int.
type flexInt int

func (f *flexInt) UnmarshalJSON(data []byte) error {
	data = bytes.TrimSpace(data)
	if len(data) == 0 || bytes.Equal(data, []byte("null")) {
		*f = 0
		return nil
	}
	s := string(data)
	if data[0] == '"' {
		if err := json.Unmarshal(data, &s); err != nil {
			return err
		}
	}
	n, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil {
		*f = 0 // tolerated: an unreadable code is not worth failing a call
		return nil
	}
	*f = flexInt(n)
	return nil
}

// describeJSONError describes a decoding error without quoting the input.
func describeJSONError(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.Is(err, errEmptyBody):
		return "empty body"
	case errors.As(err, &syn):
		return fmt.Sprintf("invalid JSON at offset %d", syn.Offset)
	case errors.As(err, &typ):
		kind, _, _ := strings.Cut(typ.Value, " ") // "number 12" → "number": no input values
		if typ.Field != "" {
			return fmt.Sprintf("field %q: JSON %s cannot be decoded into %s", typ.Field, kind, typ.Type)
		}
		return fmt.Sprintf("JSON %s cannot be decoded into %s", kind, typ.Type)
	case err == nil:
		return "unknown error"
	}
	return "malformed JSON"
}

// listFunc fetches one page.
type listFunc[T any] func(ctx context.Context, opts *ListOptions) (Page[T], error)

// allPages iterates over every result of a list endpoint, fetching pages on
// demand from opts.Page (default 1). It stops after the last page: when a
// page is empty, or when it has no next link and the totals say nothing is
// left. An error is yielded once, with the zero T, and ends the iteration.
func allPages[T any](ctx context.Context, opts *ListOptions, fetch listFunc[T]) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		var o ListOptions
		if opts != nil {
			o = *opts
		}
		if o.Page < 1 {
			o.Page = 1
		}
		first, limit, total := o.Page, 0, 0
		seen := map[[32]byte]bool{}
		for {
			if limit > 0 && o.Page-first >= limit {
				var zero T
				yield(zero, fmt.Errorf("codat: paging did not end: more than %d pages for %d results", limit, total))
				return
			}
			p, err := fetch(ctx, &o)
			if err == nil {
				err = checkPage(p, o, first, &limit, seen)
				total = max(total, p.TotalResults)
			}
			if err != nil {
				var zero T
				yield(zero, err)
				return
			}
			for _, r := range p.Results {
				if !yield(r, nil) {
					return
				}
			}
			if !hasMore(p, o) {
				return
			}
			o.Page++
		}
	}
}

// checkPage guards paging against a server that never ends it: a page whose
// results repeat an earlier page's is an error, and the first page sets the
// limit of pages (what its totalResults allows, plus one for results added
// meanwhile) that allPages checks before each request.
func checkPage[T any](p Page[T], o ListOptions, first int, limit *int, seen map[[32]byte]bool) error {
	if o.Page == first {
		size := p.PageSize
		if size <= 0 {
			size = max(o.PageSize, len(p.Results), 1)
		}
		*limit = (max(p.TotalResults, len(p.Results))+size-1)/size + 1
	}
	if len(p.Results) == 0 {
		return nil
	}
	raw, err := json.Marshal(p.Results)
	if err != nil {
		return nil
	}
	sum := sha256.Sum256(raw)
	if seen[sum] {
		return fmt.Errorf("codat: paging did not end: page %d repeats an earlier page", o.Page)
	}
	seen[sum] = true
	return nil
}

func hasMore[T any](p Page[T], o ListOptions) bool {
	if len(p.Results) == 0 {
		return false
	}
	if p.Links.Next != nil && p.Links.Next.Href != "" {
		return true
	}
	size := p.PageSize
	if size <= 0 {
		size = o.PageSize
	}
	if size <= 0 {
		size = len(p.Results)
	}
	return p.TotalResults > 0 && o.Page*size < p.TotalResults
}
