package endpoints

import (
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/codat-migrate/codat"
)

// serviceMethods returns "Service.Method" for every exported method of every
// service of codat.Client (its exported fields that point to a struct whose
// name ends in "Service").
func serviceMethods(t *testing.T) []string {
	t.Helper()
	var out []string
	ct := reflect.TypeFor[codat.Client]()
	for i := range ct.NumField() {
		f := ct.Field(i)
		if !f.IsExported() || f.Type.Kind() != reflect.Pointer || !strings.HasSuffix(f.Type.Elem().Name(), "Service") {
			continue
		}
		for j := range f.Type.NumMethod() {
			out = append(out, f.Name+"."+f.Type.Method(j).Name)
		}
	}
	require.NotEmpty(t, out, "codat.Client has services")
	return out
}

// TestEveryServiceMethodIsInTheTable fails when a service gains an exported
// method that neither has an entry in All nor is listed in Composite, so the
// tables that run every method (failure paths, retry classes, the OpenAPI
// contract) cannot silently miss one.
func TestEveryServiceMethodIsInTheTable(t *testing.T) {
	names := map[string]bool{}
	for _, ep := range All() {
		assert.False(t, names[ep.Name], "%s is listed twice", ep.Name)
		names[ep.Name] = true
	}
	methods := serviceMethods(t)
	for _, m := range methods {
		_, composite := Composite[m]
		assert.True(t, names[m] || composite, "%s is missing from the endpoint table (internal/endpoints)", m)
		assert.False(t, names[m] && composite, "%s is both an endpoint and a composite", m)
	}
	for name := range names {
		assert.True(t, slices.Contains(methods, name), "table entry %s names no service method", name)
	}
	for name := range Composite {
		assert.True(t, slices.Contains(methods, name), "composite %s names no service method", name)
	}
}

// TestEntries checks each entry is complete and agrees with what the method
// sends: one request, with the entry's HTTP method, answered by its Respond.
func TestEntries(t *testing.T) {
	classes := []string{ClassRead, ClassKeyed, ClassAuth}
	for _, ep := range All() {
		t.Run(ep.Name, func(t *testing.T) {
			require.NotNil(t, ep.Call)
			require.NotNil(t, ep.Respond)
			assert.Contains(t, classes, ep.Class)
			var got []string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				got = append(got, r.Method)
				ep.Respond(w, r)
			}))
			defer srv.Close()
			c, err := codat.NewClient("endpoints-test-key", codat.WithBaseURL(srv.URL))
			require.NoError(t, err)
			require.NoError(t, ep.Call(t.Context(), c))
			assert.Equal(t, []string{ep.Method}, got)
		})
	}
}
