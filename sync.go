package codat

import (
	"context"
	"net/http"
	"net/url"
)

// SyncService queues data refreshes and reads their progress.
type SyncService struct{ client *Client }

// RefreshAll queues a refresh of every data type marked "fetch on first
// link": POST /companies/{companyId}/data/all (204). Token migrations must
// call it, since Codat does not fetch on first link for them.
// Retry class: keyed write (see IdempotencyKey).
func (s *SyncService) RefreshAll(ctx context.Context, companyID string, opts ...RequestOption) error {
	if err := requireIDs("Sync.RefreshAll", "companyID", companyID); err != nil {
		return err
	}
	o, err := applyOptions("Sync.RefreshAll", opts)
	if err != nil {
		return err
	}
	return s.client.do(ctx, call{method: http.MethodPost, path: escapePath("companies", companyID, "data", "all"), class: classKeyed, opts: o}, nil)
}

// RefreshDataTypeOptions are the optional parameters of
// SyncService.RefreshDataType. A nil *RefreshDataTypeOptions is the zero
// value.
type RefreshDataTypeOptions struct {
	// ConnectionID, when not empty, refreshes the data type from this
	// connection only (the connectionId query parameter).
	ConnectionID string
}

// RefreshDataType queues a refresh of one data type: POST
// /companies/{companyId}/data/queue/{dataType} (200 PullOperation), with the
// connectionId query parameter when opts.ConnectionID is not empty.
// Retry class: keyed write (see IdempotencyKey).
func (s *SyncService) RefreshDataType(ctx context.Context, companyID, dataType string, opts *RefreshDataTypeOptions, reqOpts ...RequestOption) (PullOperation, error) {
	var out PullOperation
	if err := requireIDs("Sync.RefreshDataType", "companyID", companyID, "dataType", dataType); err != nil {
		return out, err
	}
	o, err := applyOptions("Sync.RefreshDataType", reqOpts)
	if err != nil {
		return out, err
	}
	var q url.Values
	if opts != nil && opts.ConnectionID != "" {
		q = url.Values{"connectionId": {opts.ConnectionID}}
	}
	err = s.client.do(ctx, call{method: http.MethodPost, path: escapePath("companies", companyID, "data", "queue", dataType), query: q, class: classKeyed, opts: o}, &out)
	return out, err
}

// Status returns the state of every data type of a company: GET
// /companies/{companyId}/dataStatus. Retry class: read.
func (s *SyncService) Status(ctx context.Context, companyID string) (DataStatuses, error) {
	var out DataStatuses
	if err := requireIDs("Sync.Status", "companyID", companyID); err != nil {
		return out, err
	}
	err := s.client.do(ctx, call{method: http.MethodGet, path: escapePath("companies", companyID, "dataStatus"), class: classRead}, &out)
	return out, err
}
