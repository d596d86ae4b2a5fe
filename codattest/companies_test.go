package codattest

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCreateCompany(t *testing.T) {
	s, _, c := newFake(t)
	r := c.do("POST", "/companies", map[string]any{"name": "Acme Ltd", "description": "from the CRM",
		"tags": map[string]string{"migrationRef": "crm-42", "region": "uk"}})
	require.Equal(t, 200, r.status, r.String())
	co := decode[Company](t, r)
	assert.True(t, isGUID(co.ID), co.ID)
	assert.Equal(t, "Acme Ltd", co.Name)
	assert.Equal(t, "from the CRM", co.Description)
	assert.Equal(t, "https://link.codat.io/company/"+co.ID, co.Redirect)
	assert.Equal(t, "2025-03-14T09:30:00.000Z", co.Created)
	assert.Equal(t, map[string]string{"migrationRef": "crm-42", "region": "uk"}, co.Tags)
	assert.Empty(t, co.DataConnections)
	assert.JSONEq(t, `{"id":"`+co.ID+`","name":"Acme Ltd","description":"from the CRM","redirect":"`+co.Redirect+
		`","created":"2025-03-14T09:30:00.000Z","tags":{"migrationRef":"crm-42","region":"uk"},"dataConnections":[]}`, string(r.body))

	got, ok := s.Company(co.ID)
	require.True(t, ok)
	assert.Equal(t, co, got)
	assert.Equal(t, 1, s.CompanyCount())
}

func TestCreateCompanyValidation(t *testing.T) {
	long := strings.Repeat("k", 28)
	tooMany := map[string]string{}
	for i := 0; i < 11; i++ {
		tooMany[fmt.Sprintf("k%d", i)] = "v"
	}
	tests := []struct {
		name     string
		body     any
		status   int
		wantName string
		items    []string // validation itemIds expected
	}{
		{name: "forbidden characters are stripped", body: map[string]any{"name": "Company (Codat[1])"}, status: 200, wantName: "Company Codat1"},
		{name: "allowed punctuation kept", body: map[string]any{"name": "O'Neil & Sons, Ltd. @home? yes!"}, status: 200, wantName: "O'Neil & Sons, Ltd. @home? yes!"},
		{name: "missing name", body: map[string]any{"description": "x"}, status: 400, items: []string{"name"}},
		{name: "null name", body: map[string]any{"name": nil}, status: 400, items: []string{"name"}},
		{name: "empty name", body: map[string]any{"name": ""}, status: 400, items: []string{"name"}},
		{name: "name of forbidden characters only", body: map[string]any{"name": "()[]{}"}, status: 400, items: []string{"name"}},
		{name: "name not a string", body: map[string]any{"name": 5}, status: 400},
		{name: "body not an object", body: `["Acme"]`, status: 400},
		{name: "malformed JSON", body: `{"name": "Acme"`, status: 400},
		{name: "empty body", body: ``, status: 400},
		{name: "ten tags", body: map[string]any{"name": "A", "tags": func() map[string]string {
			m := map[string]string{}
			for i := 0; i < 10; i++ {
				m[fmt.Sprintf("k%d", i)] = "v"
			}
			return m
		}()}, status: 200, wantName: "A"},
		{name: "eleven tags", body: map[string]any{"name": "A", "tags": tooMany}, status: 400, items: []string{"tags"}},
		{name: "27-char key", body: map[string]any{"name": "A", "tags": map[string]string{long[:27]: "v"}}, status: 200, wantName: "A"},
		{name: "28-char key", body: map[string]any{"name": "A", "tags": map[string]string{long: "v"}}, status: 400, items: []string{"tags." + long}},
		{name: "empty key", body: map[string]any{"name": "A", "tags": map[string]string{"": "v"}}, status: 400, items: []string{"tags"}},
		{name: "100-char value", body: map[string]any{"name": "A", "tags": map[string]string{"k": strings.Repeat("v", 100)}}, status: 200, wantName: "A"},
		{name: "101-char value", body: map[string]any{"name": "A", "tags": map[string]string{"k": strings.Repeat("v", 101)}}, status: 400, items: []string{"tags.k"}},
		{name: "tag value not a string", body: `{"name":"A","tags":{"k":1}}`, status: 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _, c := newFake(t)
			r := c.do("POST", "/companies", tt.body)
			require.Equal(t, tt.status, r.status, r.String())
			if tt.status == 200 {
				assert.Equal(t, tt.wantName, decode[Company](t, r).Name)
				assert.Equal(t, 1, s.CompanyCount())
				return
			}
			e := errBody(t, r)
			assert.Equal(t, 0, s.CompanyCount(), "nothing written on %d", r.status)
			if tt.items != nil {
				require.NotNil(t, e.Validation, r.String())
				var ids []string
				for _, it := range e.Validation.Errors {
					ids = append(ids, it.ItemID)
				}
				assert.Equal(t, tt.items, ids)
			}
		})
	}
}

func TestGetCompany(t *testing.T) {
	_, _, c := newFake(t)
	co := c.createCompany("Acme", nil)
	r := c.do("GET", "/companies/"+co.ID, nil)
	require.Equal(t, 200, r.status)
	assert.Equal(t, co, decode[Company](t, r))

	// Upper-case ids name the same company.
	r = c.do("GET", "/companies/"+strings.ToUpper(co.ID), nil)
	assert.Equal(t, 200, r.status)

	for _, id := range []string{"00000000-0000-4000-8000-000000000000", "not-a-uuid", "123"} {
		r = c.do("GET", "/companies/"+id, nil)
		assert.Equal(t, 404, r.status, id)
		assert.Contains(t, errBody(t, r).Error, "No company was found")
	}
}

func TestUpdateCompany(t *testing.T) {
	s, _, c := newFake(t)
	co := c.createCompany("Acme", map[string]string{"a": "1", "b": "2"})

	// PATCH changes only what is given; null leaves a field alone.
	r := c.do("PATCH", "/companies/"+co.ID, `{"description":"new","name":null}`)
	require.Equal(t, 200, r.status, r.String())
	got := decode[Company](t, r)
	assert.Equal(t, "Acme", got.Name)
	assert.Equal(t, "new", got.Description)
	assert.Equal(t, map[string]string{"a": "1", "b": "2"}, got.Tags)

	r = c.do("PATCH", "/companies/"+co.ID, map[string]any{"tags": map[string]string{"c": "3"}, "name": "Acme [UK]"})
	require.Equal(t, 200, r.status, r.String())
	got = decode[Company](t, r)
	assert.Equal(t, "Acme UK", got.Name)
	assert.Equal(t, map[string]string{"c": "3"}, got.Tags)
	assert.Empty(t, s.CompaniesWithTag("a", "1"), "old tags leave the index")
	assert.Len(t, s.CompaniesWithTag("c", "3"), 1)

	// PUT replaces everything, clearing what is absent.
	r = c.do("PUT", "/companies/"+co.ID, map[string]any{"name": "Replaced"})
	require.Equal(t, 200, r.status, r.String())
	got = decode[Company](t, r)
	assert.Equal(t, "Replaced", got.Name)
	assert.Empty(t, got.Description)
	assert.Empty(t, got.Tags)
	assert.Empty(t, s.CompaniesWithTag("c", "3"))

	tests := []struct {
		name, method, path string
		body               any
		status             int
	}{
		{"PUT needs a name", "PUT", "/companies/" + co.ID, map[string]any{"description": "x"}, 400},
		{"PATCH bad tags", "PATCH", "/companies/" + co.ID, map[string]any{"tags": map[string]string{strings.Repeat("k", 30): "v"}}, 400},
		{"PATCH empty name", "PATCH", "/companies/" + co.ID, map[string]any{"name": ""}, 400},
		{"PATCH unknown company", "PATCH", "/companies/00000000-0000-4000-8000-000000000000", map[string]any{"name": "x"}, 404},
		{"PUT unknown company", "PUT", "/companies/00000000-0000-4000-8000-000000000000", map[string]any{"name": "x"}, 404},
		{"PATCH not JSON", "PATCH", "/companies/" + co.ID, "name=x", 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := c.do(tt.method, tt.path, tt.body)
			assert.Equal(t, tt.status, r.status, r.String())
			errBody(t, r)
		})
	}
	after, _ := s.Company(co.ID)
	assert.Equal(t, "Replaced", after.Name, "failed updates change nothing")
}

func TestDeleteCompany(t *testing.T) {
	s, _, c := newFake(t)
	co := c.createCompany("Acme", map[string]string{"ref": "x"})
	cn := c.createConnection(co.ID, "gbol")
	c.authorize(co.ID, cn.ID, map[string]string{"accessToken": "t"})
	require.Equal(t, 1, s.ACC())

	r := c.do("DELETE", "/companies/"+co.ID, nil)
	require.Equal(t, 204, r.status, r.String())
	assert.Empty(t, r.body)
	assert.Equal(t, 0, s.CompanyCount())
	assert.Equal(t, 0, s.ConnectionCount())
	assert.Equal(t, 0, s.ACC(), "a deleted company is no longer active")
	assert.Empty(t, s.CompaniesWithTag("ref", "x"))
	assert.Equal(t, 404, c.do("GET", "/companies/"+co.ID, nil).status)
	assert.Equal(t, 404, c.do("GET", "/companies/"+co.ID+"/connections/"+cn.ID, nil).status)
	assert.Equal(t, 404, c.do("DELETE", "/companies/"+co.ID, nil).status)
}

func TestListCompaniesPaging(t *testing.T) {
	_, _, c := newFake(t)
	var ids []string
	for i := 0; i < 7; i++ {
		ids = append(ids, c.createCompany(fmt.Sprintf("Company %d", i), nil).ID)
	}

	r := c.do("GET", "/companies", nil)
	require.Equal(t, 200, r.status)
	p := decode[pageBody[Company]](t, r)
	assert.Equal(t, 1, p.PageNumber)
	assert.Equal(t, 100, p.PageSize)
	assert.Equal(t, 7, p.TotalResults)
	assert.Len(t, p.Results, 7)
	assert.Equal(t, "/companies", p.Links.Self.Href)
	assert.Equal(t, "/companies?page=1&pageSize=100", p.Links.Current.Href)
	assert.Nil(t, p.Links.Next)
	assert.Nil(t, p.Links.Previous)

	var seen []string
	for page := 1; page <= 3; page++ {
		r = c.do("GET", q("/companies", "page", fmt.Sprint(page), "pageSize", "3"), nil)
		require.Equal(t, 200, r.status)
		p = decode[pageBody[Company]](t, r)
		assert.Equal(t, page, p.PageNumber)
		assert.Equal(t, 7, p.TotalResults)
		for _, co := range p.Results {
			seen = append(seen, co.ID)
		}
		assert.Equal(t, fmt.Sprintf("/companies?page=%d&pageSize=3", page), p.Links.Current.Href)
		if page < 3 {
			require.NotNil(t, p.Links.Next)
			assert.Equal(t, fmt.Sprintf("/companies?page=%d&pageSize=3", page+1), p.Links.Next.Href)
		} else {
			assert.Nil(t, p.Links.Next)
		}
		if page > 1 {
			require.NotNil(t, p.Links.Previous)
			assert.Equal(t, fmt.Sprintf("/companies?page=%d&pageSize=3", page-1), p.Links.Previous.Href)
		}
	}
	assert.Equal(t, ids, seen, "pages cover every company once, in creation order")

	// Past the end: an empty page, not an error.
	r = c.do("GET", q("/companies", "page", "9", "pageSize", "3"), nil)
	require.Equal(t, 200, r.status)
	p = decode[pageBody[Company]](t, r)
	assert.Empty(t, p.Results)
	assert.NotNil(t, p.Results, "results is [] not null")
	assert.Equal(t, 7, p.TotalResults)

	// The largest page size the contract allows.
	r = c.do("GET", q("/companies", "pageSize", "5000"), nil)
	assert.Equal(t, 200, r.status)

	for _, bad := range [][]string{{"page", "0"}, {"page", "x"}, {"pageSize", "0"}, {"pageSize", "5001"}, {"pageSize", "-1"}} {
		r = c.do("GET", q("/companies", bad...), nil)
		assert.Equal(t, 400, r.status, "%v", bad)
		errBody(t, r)
	}
}

func TestListCompaniesFilters(t *testing.T) {
	_, _, c := newFake(t)
	a := c.createCompany("Alpha Ltd", map[string]string{"region": "uk", "team": "invoice-finance", "migrationRef": "crm-1"})
	b := c.createCompany("Beta Inc", map[string]string{"region": "us", "team": "invoice-finance", "migrationRef": "crm-2"})
	g := c.createCompany("Gamma", map[string]string{"region": "uk", "migrationRef": "CRM-3"})
	d := c.createCompany("Delta", nil)

	names := func(r *tresp) []string {
		t.Helper()
		require.Equal(t, 200, r.status, r.String())
		p := decode[pageBody[Company]](t, r)
		assert.Equal(t, len(p.Results), p.TotalResults)
		var out []string
		for _, co := range p.Results {
			out = append(out, co.Name)
		}
		return out
	}
	tests := []struct {
		params []string
		want   []string
	}{
		{[]string{"tags", "migrationRef=crm-2"}, []string{b.Name}},
		{[]string{"tags", "migrationRef = crm-1"}, []string{a.Name}},
		{[]string{"tags", "migrationRef=crm-3"}, nil}, // = is exact
		{[]string{"tags", "migrationRef=nobody"}, nil},
		{[]string{"tags", "region=uk"}, []string{a.Name, g.Name}},
		{[]string{"tags", "region != uk"}, []string{b.Name, d.Name}},
		{[]string{"tags", "region=uk && team=invoice-finance"}, []string{a.Name}},
		{[]string{"tags", "region=uk&&team!=invoice-finance"}, []string{g.Name}},
		{[]string{"tags", "migrationRef~crm"}, []string{a.Name, b.Name, g.Name}}, // ~ ignores case
		{[]string{"tags", "region=us || migrationRef=CRM-3"}, []string{b.Name, g.Name}},
		{[]string{"tags", "{region=us || region=uk} && team=invoice-finance"}, []string{a.Name, b.Name}},
		{[]string{"query", "name=Gamma"}, []string{g.Name}},
		{[]string{"query", "id=" + d.ID}, []string{d.Name}},
		{[]string{"query", "name~ta"}, []string{b.Name, d.Name}},
		{[]string{"query", "name~a", "tags", "region=uk"}, []string{a.Name, g.Name}},
		{[]string{"orderBy", "name"}, []string{a.Name, b.Name, d.Name, g.Name}},
		{[]string{"orderBy", "-name"}, []string{g.Name, d.Name, b.Name, a.Name}},
		{[]string{"orderBy", "-name", "tags", "region=uk"}, []string{g.Name, a.Name}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.params, " "), func(t *testing.T) {
			got := names(c.do("GET", q("/companies", tt.params...), nil))
			assert.Equal(t, tt.want, got)
		})
	}

	// The current link keeps the filter.
	r := c.do("GET", q("/companies", "tags", "region=uk", "pageSize", "1"), nil)
	p := decode[pageBody[Company]](t, r)
	assert.Equal(t, 2, p.TotalResults)
	require.NotNil(t, p.Links.Next)
	assert.Equal(t, "/companies?page=2&pageSize=1&tags=region%3Duk", p.Links.Next.Href)

	for _, bad := range [][]string{{"query", "nosuchfield=1"}, {"query", "name"}, {"tags", "region"}, {"tags", "{region=uk"}, {"orderBy", "colour"}, {"query", "=x"}} {
		r := c.do("GET", q("/companies", bad...), nil)
		assert.Equal(t, 400, r.status, "%v: %s", bad, r)
		errBody(t, r)
	}
}

func TestCompaniesWithTag(t *testing.T) {
	s, _, c := newFake(t)
	a := c.createCompany("A", map[string]string{"ref": "1"})
	c.createCompany("B", map[string]string{"ref": "2"})
	a2 := c.createCompany("A again", map[string]string{"ref": "1"})
	got := s.CompaniesWithTag("ref", "1")
	require.Len(t, got, 2)
	assert.Equal(t, []string{a.ID, a2.ID}, []string{got[0].ID, got[1].ID})
	assert.Empty(t, s.CompaniesWithTag("ref", "3"))
	assert.Empty(t, s.CompaniesWithTag("other", "1"))
	assert.Len(t, s.Companies(), 3)
}
