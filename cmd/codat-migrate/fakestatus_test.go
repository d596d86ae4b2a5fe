package main

import (
	"context"
	"testing"

	"github.com/codat-migrate/codat"
	"github.com/codat-migrate/codat/codattest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// statusAuth is a token body for the fake's QuickBooks Online.
type statusAuth struct{}

func (statusAuth) PlatformKey() string { return "qhyg" }
func (statusAuth) Body() (map[string]string, error) {
	return map[string]string{"accessToken": "a", "refreshToken": "r"}, nil
}

// TestFakeStatusCountsTokenPuts: the fake's status counts the token bodies
// each connection received and names every connection that got more than one.
func TestFakeStatusCountsTokenPuts(t *testing.T) {
	srv, err := codattest.Start()
	require.NoError(t, err)
	defer srv.Close()
	c, err := codat.NewClient(srv.APIKey(), codat.WithBaseURL(srv.URL()), codat.WithHTTPClient(srv.Client()))
	require.NoError(t, err)
	ctx := context.Background()

	empty := fakeTokenPutsJSON(srv)
	assert.Equal(t, fakeTokenPuts{Repeated: []fakeRepeatedToken{}}, empty, "no connection yet")

	var twice codat.Connection
	for i, puts := range []int{0, 1, 2} {
		co, err := c.Companies.Create(ctx, codat.CreateCompanyRequest{Name: "Status " + string(rune('A'+i))})
		require.NoError(t, err)
		cn, err := c.Connections.Create(ctx, co.ID, "qhyg")
		require.NoError(t, err)
		for range puts {
			_, err := c.Connections.UpdateAuthorization(ctx, co.ID, cn.ID, statusAuth{})
			require.NoError(t, err)
		}
		if puts == 2 {
			twice = cn
		}
	}
	got := fakeTokenPutsJSON(srv)
	assert.Equal(t, 3, got.Total)
	assert.Equal(t, 2, got.MaxPerConnection)
	require.Len(t, got.Repeated, 1)
	assert.Equal(t, twice.ID, got.Repeated[0].ConnectionID)
	assert.Equal(t, 2, got.Repeated[0].Count)
	assert.NotEmpty(t, got.Repeated[0].CompanyID)
}
