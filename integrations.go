package codat

import (
	"context"
	"fmt"
	"iter"
	"net/http"
)

// IntegrationsService reads integration metadata: /integrations.
type IntegrationsService struct{ client *Client }

// List returns one page of integrations: GET /integrations (page, pageSize,
// query, orderBy). Retry class: read.
func (s *IntegrationsService) List(ctx context.Context, opts *ListOptions) (Page[Integration], error) {
	var out Page[Integration]
	q, err := listQuery("Integrations.List", opts, false)
	if err != nil {
		return out, err
	}
	err = s.client.do(ctx, call{method: http.MethodGet, path: "/integrations", query: q, class: classRead}, &out)
	return out, err
}

// All iterates over every integration, page by page. Retry class: read.
func (s *IntegrationsService) All(ctx context.Context, opts *ListOptions) iter.Seq2[Integration, error] {
	return allPages(ctx, opts, s.List)
}

// Get returns one integration by its four-letter platform key, e.g. "qhyg":
// GET /integrations/{platformKey}. Use it to check that an integration exists
// and is enabled before migrating to it. Retry class: read.
func (s *IntegrationsService) Get(ctx context.Context, platformKey string) (Integration, error) {
	var out Integration
	if !IsPlatformKey(platformKey) {
		return out, fmt.Errorf("codat: Integrations.Get: platform key %q is not four lowercase letters", oneLine(platformKey, 20))
	}
	err := s.client.do(ctx, call{method: http.MethodGet, path: escapePath("integrations", platformKey), class: classRead}, &out)
	return out, err
}
