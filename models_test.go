package codat_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/codat-migrate/codat"
)

func TestCompanyDecodeTolerance(t *testing.T) {
	raw := `{"id":"c1","name":"Acme","description":null,"redirect":"https://link.codat.io/company/c1",
		"lastSync":"2022-01-01T00:00:00","created":"2022-11-10T10:45:18.1950523Z","createdByUserName":null,
		"products":["lending"],"tags":{"migrationRef":"crm-42"},"platform":"",
		"referenceParentCompany":{"id":"p","name":"Parent","links":{"portal":"https://x"}},
		"dataConnections":[{"id":"d1","status":"Linked","connectionInfo":{"a":1}}]}`
	var c codat.Company
	require.NoError(t, json.Unmarshal([]byte(raw), &c))
	assert.Equal(t, "c1", c.ID)
	assert.Empty(t, c.Description)
	assert.Equal(t, "2022-01-01T00:00:00", c.LastSync)
	assert.Equal(t, []string{"lending"}, c.Products)
	assert.Equal(t, "crm-42", c.Tags["migrationRef"])
	require.Len(t, c.DataConnections, 1)
	assert.True(t, c.DataConnections[0].Status.Is(codat.StatusLinked))
	assert.JSONEq(t, `{"a":1}`, string(c.DataConnections[0].ConnectionInfo))
}

func TestRequestBodies(t *testing.T) {
	b, err := json.Marshal(codat.CreateCompanyRequest{Name: "Acme"})
	require.NoError(t, err)
	assert.JSONEq(t, `{"name":"Acme"}`, string(b), "optional fields are omitted")
	b, err = json.Marshal(codat.UpdateCompanyRequest{})
	require.NoError(t, err)
	assert.JSONEq(t, `{}`, string(b))
	b, err = json.Marshal(codat.ListOptions{})
	require.NoError(t, err)
	assert.NotEmpty(t, b)
}

func TestPullOperationDone(t *testing.T) {
	assert.False(t, codat.PullOperation{Status: "Queued"}.Done())
	assert.True(t, codat.PullOperation{IsCompleted: true}.Done())
	assert.True(t, codat.PullOperation{IsErrored: true, Status: "AuthError"}.Done())
}

func TestPageDecode(t *testing.T) {
	var p codat.Page[codat.Company]
	require.NoError(t, json.Unmarshal([]byte(`{"results":[{"id":"a","name":"A"}],"pageNumber":0,"pageSize":100,"totalResults":1,
		"_links":{"self":{"href":"/companies"},"current":{"href":"/companies?page=1&pageSize=100"},"next":{"href":"/companies?page=2"}}}`), &p))
	require.Len(t, p.Results, 1)
	require.NotNil(t, p.Links.Next)
	assert.Equal(t, "/companies?page=2", p.Links.Next.Href)
	assert.Nil(t, p.Links.Previous)
}
