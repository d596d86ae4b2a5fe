package codat

import (
	"context"
	"iter"
	"net/http"
)

// CompaniesService is the /companies API.
type CompaniesService struct{ client *Client }

// Create creates a company: POST /companies (200 Company).
// Retry class: keyed write — one Idempotency-Key for the call, retried on
// transport errors, 409 and 429; a 5xx is returned (IsAmbiguous reports it),
// because Codat replays the same 5xx for the same key. The key is random
// unless the IdempotencyKey option sets it.
func (s *CompaniesService) Create(ctx context.Context, req CreateCompanyRequest, opts ...RequestOption) (Company, error) {
	var out Company
	if req.Name == "" {
		return out, errorf("Companies.Create: name is empty")
	}
	o, err := applyOptions("Companies.Create", opts)
	if err != nil {
		return out, err
	}
	err = s.client.do(ctx, call{method: http.MethodPost, path: "/companies", body: req, class: classKeyed, opts: o}, &out)
	return out, err
}

// Get returns one company: GET /companies/{companyId}.
// Retry class: read (transport errors, 408, 429, 500, 502, 503, 504).
func (s *CompaniesService) Get(ctx context.Context, companyID string) (Company, error) {
	var out Company
	if err := requireIDs("Companies.Get", "companyID", companyID); err != nil {
		return out, err
	}
	err := s.client.do(ctx, call{method: http.MethodGet, path: escapePath("companies", companyID), class: classRead}, &out)
	return out, err
}

// List returns one page of companies: GET /companies with page, pageSize,
// query, orderBy and tags (e.g. "migrationRef=crm-42"). Retry class: read.
func (s *CompaniesService) List(ctx context.Context, opts *ListOptions) (Page[Company], error) {
	var out Page[Company]
	q, err := listQuery("Companies.List", opts, true)
	if err != nil {
		return out, err
	}
	err = s.client.do(ctx, call{method: http.MethodGet, path: "/companies", query: q, class: classRead}, &out)
	return out, err
}

// All iterates over every company matching opts, page by page (GET
// /companies). Each page is one request. Retry class: read.
func (s *CompaniesService) All(ctx context.Context, opts *ListOptions) iter.Seq2[Company, error] {
	return allPages(ctx, opts, s.List)
}

// Update changes a company's name, description or tags: PATCH
// /companies/{companyId} (200 Company). Empty fields are left unchanged; tags,
// when given, replace the company's tags. Retry class: keyed write (see
// IdempotencyKey).
func (s *CompaniesService) Update(ctx context.Context, companyID string, req UpdateCompanyRequest, opts ...RequestOption) (Company, error) {
	var out Company
	if err := requireIDs("Companies.Update", "companyID", companyID); err != nil {
		return out, err
	}
	o, err := applyOptions("Companies.Update", opts)
	if err != nil {
		return out, err
	}
	err = s.client.do(ctx, call{method: http.MethodPatch, path: escapePath("companies", companyID), body: req, class: classKeyed, opts: o}, &out)
	return out, err
}

// Delete deletes a company and all its connections and data: DELETE
// /companies/{companyId} (204). Retry class: read.
func (s *CompaniesService) Delete(ctx context.Context, companyID string) error {
	if err := requireIDs("Companies.Delete", "companyID", companyID); err != nil {
		return err
	}
	return s.client.do(ctx, call{method: http.MethodDelete, path: escapePath("companies", companyID), class: classRead}, nil)
}
