package codat_test

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/codat-migrate/codat"
	"github.com/codat-migrate/codat/internal/testutil"
)

func TestCompaniesEndpoints(t *testing.T) {
	tags := map[string]string{"migrationRef": "crm-42", "region": "uk"}
	company := testutil.Company(sdkCompanyID, "Acme Ltd", tags)
	sdkRunExchanges(t, []sdkExchange{
		{
			name: "Create",
			call: func(t *testing.T, ctx context.Context, c *codat.Client) {
				co, err := c.Companies.Create(ctx, codat.CreateCompanyRequest{Name: "Acme Ltd", Description: "from crm", Tags: tags})
				require.NoError(t, err)
				assert.Equal(t, sdkCompanyID, co.ID)
				assert.Equal(t, "Acme Ltd", co.Name)
				assert.Equal(t, tags, co.Tags)
				assert.Equal(t, "https://link.codat.io/company/"+sdkCompanyID, co.Redirect)
				assert.Equal(t, "2022-11-10T10:45:18.1950523Z", co.Created, "dates are kept as sent")
			},
			method: "POST", path: "/companies",
			body:  `{"name":"Acme Ltd","description":"from crm","tags":{"migrationRef":"crm-42","region":"uk"}}`,
			keyed: true, status: 200, response: company,
		},
		{
			name: "Create with name only",
			call: func(t *testing.T, ctx context.Context, c *codat.Client) {
				_, err := c.Companies.Create(ctx, codat.CreateCompanyRequest{Name: "Acme"})
				require.NoError(t, err)
			},
			method: "POST", path: "/companies", body: `{"name":"Acme"}`,
			keyed: true, status: 200, response: company,
		},
		{
			name: "Get",
			call: func(t *testing.T, ctx context.Context, c *codat.Client) {
				co, err := c.Companies.Get(ctx, sdkCompanyID)
				require.NoError(t, err)
				assert.Equal(t, sdkCompanyID, co.ID)
			},
			method: "GET", path: "/companies/" + sdkCompanyID, status: 200, response: company,
		},
		{
			name: "List with every option",
			call: func(t *testing.T, ctx context.Context, c *codat.Client) {
				p, err := c.Companies.List(ctx, &codat.ListOptions{Page: 2, PageSize: 50, Query: "name=Acme", OrderBy: "-created", Tags: "migrationRef=crm-42 && region=uk"})
				require.NoError(t, err)
				require.Len(t, p.Results, 1)
				assert.Equal(t, "Acme Ltd", p.Results[0].Name)
				assert.Equal(t, 2, p.PageNumber)
				assert.Equal(t, 50, p.PageSize)
				assert.Equal(t, 51, p.TotalResults)
				require.NotNil(t, p.Links.Previous)
				assert.Nil(t, p.Links.Next)
			},
			method: "GET", path: "/companies",
			query:  url.Values{"page": {"2"}, "pageSize": {"50"}, "query": {"name=Acme"}, "orderBy": {"-created"}, "tags": {"migrationRef=crm-42 && region=uk"}},
			status: 200, response: testutil.Page("/companies", []any{company}, 2, 50, 51, false),
		},
		{
			name: "List without options",
			call: func(t *testing.T, ctx context.Context, c *codat.Client) {
				p, err := c.Companies.List(ctx, &codat.ListOptions{})
				require.NoError(t, err)
				assert.Empty(t, p.Results)
			},
			method: "GET", path: "/companies", status: 200,
			response: testutil.Page("/companies", []any{}, 1, 100, 0, false),
		},
		{
			name: "Update",
			call: func(t *testing.T, ctx context.Context, c *codat.Client) {
				co, err := c.Companies.Update(ctx, sdkCompanyID, codat.UpdateCompanyRequest{Tags: map[string]string{"migrationRef": "crm-42"}})
				require.NoError(t, err)
				assert.Equal(t, sdkCompanyID, co.ID)
			},
			method: "PATCH", path: "/companies/" + sdkCompanyID, body: `{"tags":{"migrationRef":"crm-42"}}`,
			keyed: true, status: 200, response: company,
		},
		{
			name: "Delete",
			call: func(t *testing.T, ctx context.Context, c *codat.Client) {
				require.NoError(t, c.Companies.Delete(ctx, sdkCompanyID))
			},
			method: "DELETE", path: "/companies/" + sdkCompanyID, status: 204,
		},
	})
}

// sdkPagedCompanies serves total companies in pages, with next links.
func sdkPagedCompanies(t *testing.T, h *sdkHarness, total int, nextLinks bool) {
	h.handle("GET /companies", func(w http.ResponseWriter, r *http.Request) {
		page, _ := strconv.Atoi(r.URL.Query().Get("page"))
		size, _ := strconv.Atoi(r.URL.Query().Get("pageSize"))
		if page == 0 {
			page = 1
		}
		if size == 0 {
			size = 100
		}
		var results []any
		for i := (page - 1) * size; i < page*size && i < total; i++ {
			results = append(results, testutil.Company(sdkCompanyID, "Company "+strconv.Itoa(i), nil))
		}
		if results == nil {
			results = []any{}
		}
		testutil.WriteJSON(w, 200, testutil.Page("/companies", results, page, size, total, nextLinks && page*size < total))
	})
}

func TestCompaniesAll(t *testing.T) {
	for _, next := range []bool{true, false} {
		t.Run("next links "+strconv.FormatBool(next), func(t *testing.T) {
			h := newSDKHarness(t)
			sdkPagedCompanies(t, h, 7, next)
			var names []string
			for co, err := range h.client.Companies.All(context.Background(), &codat.ListOptions{PageSize: 3, Tags: "region=uk"}) {
				require.NoError(t, err)
				names = append(names, co.Name)
			}
			assert.Equal(t, []string{"Company 0", "Company 1", "Company 2", "Company 3", "Company 4", "Company 5", "Company 6"}, names)
			reqs := h.requests()
			require.Len(t, reqs, 3, "7 results in pages of 3 is 3 requests")
			for i, r := range reqs {
				q, _ := url.ParseQuery(r.RawQuery)
				assert.Equal(t, strconv.Itoa(i+1), q.Get("page"))
				assert.Equal(t, "3", q.Get("pageSize"))
				assert.Equal(t, "region=uk", q.Get("tags"))
			}
		})
	}
}

func TestCompaniesAllStartsAtGivenPageAndStopsOnBreak(t *testing.T) {
	h := newSDKHarness(t)
	sdkPagedCompanies(t, h, 10, true)
	opts := &codat.ListOptions{Page: 2, PageSize: 2}
	var got []string
	for co, err := range h.client.Companies.All(context.Background(), opts) {
		require.NoError(t, err)
		got = append(got, co.Name)
		if len(got) == 3 {
			break
		}
	}
	assert.Equal(t, []string{"Company 2", "Company 3", "Company 4"}, got)
	assert.Len(t, h.requests(), 2, "no page is fetched after the caller stops")
	assert.Equal(t, 2, opts.Page, "the caller's options are not modified")
}

func TestCompaniesAllEmpty(t *testing.T) {
	h := newSDKHarness(t)
	sdkPagedCompanies(t, h, 0, true)
	n := 0
	for _, err := range h.client.Companies.All(context.Background(), nil) {
		require.NoError(t, err)
		n++
	}
	assert.Zero(t, n)
	assert.Len(t, h.requests(), 1)
}

func TestCompaniesAllErrorMidway(t *testing.T) {
	h := newSDKHarness(t)
	h.handle("GET /companies", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("page") == "2" {
			testutil.CodatError(w, 401, "bad key", "corr-1")
			return
		}
		testutil.WriteJSON(w, 200, testutil.Page("/companies", []any{testutil.Company(sdkCompanyID, "A", nil)}, 1, 1, 5, true))
	})
	var items, errs int
	for _, err := range h.client.Companies.All(context.Background(), &codat.ListOptions{PageSize: 1}) {
		if err != nil {
			errs++
			assert.ErrorIs(t, err, codat.ErrUnauthorized)
			continue
		}
		items++
	}
	assert.Equal(t, 1, items)
	assert.Equal(t, 1, errs, "the error is yielded once and ends the iteration")
}
