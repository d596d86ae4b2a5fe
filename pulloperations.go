package codat

import (
	"context"
	"iter"
	"net/http"
)

// PullOperationsService reads a company's pull operations (Codat's
// datasets): the record of each data refresh SyncService queued, under
// /companies/{companyId}/data/history.
type PullOperationsService struct{ client *Client }

// List returns one page of a company's pull operations: GET
// /companies/{companyId}/data/history (page, pageSize, query, orderBy).
// Retry class: read.
func (s *PullOperationsService) List(ctx context.Context, companyID string, opts *ListOptions) (Page[PullOperation], error) {
	var out Page[PullOperation]
	if err := requireIDs("PullOperations.List", "companyID", companyID); err != nil {
		return out, err
	}
	q, err := listQuery("PullOperations.List", opts, false)
	if err != nil {
		return out, err
	}
	err = s.client.do(ctx, call{method: http.MethodGet, path: escapePath("companies", companyID, "data", "history"), query: q, class: classRead}, &out)
	return out, err
}

// All iterates over every pull operation of a company, page by
// page. Retry class: read.
func (s *PullOperationsService) All(ctx context.Context, companyID string, opts *ListOptions) iter.Seq2[PullOperation, error] {
	return allPages(ctx, opts, func(ctx context.Context, o *ListOptions) (Page[PullOperation], error) {
		return s.List(ctx, companyID, o)
	})
}

// Get returns one pull operation: GET
// /companies/{companyId}/data/history/{datasetId}. Retry class: read.
func (s *PullOperationsService) Get(ctx context.Context, companyID, datasetID string) (PullOperation, error) {
	var out PullOperation
	if err := requireIDs("PullOperations.Get", "companyID", companyID, "datasetID", datasetID); err != nil {
		return out, err
	}
	err := s.client.do(ctx, call{method: http.MethodGet, path: escapePath("companies", companyID, "data", "history", datasetID), class: classRead}, &out)
	return out, err
}
