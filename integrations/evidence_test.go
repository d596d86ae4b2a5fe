package integrations

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Sage Bank Feeds: Codat's page "Authenticate users through your own web app"
// requires authorizationId and bankId in the body.
func TestSageBankFeedsRequiresBankID(t *testing.T) {
	reg := testRegistry()
	p, ok := reg.Lookup("olpr")
	require.True(t, ok)
	assert.Equal(t, Documented, p.Evidence)
	assert.Equal(t, []string{"authorizationId", "bankId"}, p.RequiredFields())
	assert.Contains(t, p.Source, "Authenticate users through your own web app")

	tests := []struct {
		name    string
		auth    SageBankFeeds
		wantErr string
	}{
		{"both", SageBankFeeds{AuthorizationID: "1122-3344-5566-7788", BankID: "fake-bank-1"}, ""},
		{"no bankId", SageBankFeeds{AuthorizationID: "1122-3344-5566-7788"}, `"bankId" is required`},
		{"no authorizationId", SageBankFeeds{BankID: "fake-bank-1"}, `"authorizationId" is required`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body, err := reg.Body(tc.auth)
			if tc.wantErr == "" {
				require.NoError(t, err)
				assert.Equal(t, map[string]string{"authorizationId": "1122-3344-5566-7788", "bankId": "fake-bank-1"}, body)
				return
			}
			assert.ErrorIs(t, err, ErrInvalid)
			assert.ErrorContains(t, err, tc.wantErr)
		})
	}
	_, err := reg.FromRecord("Sage Bank Feeds", map[string]string{"authorizationId": "1122-3344-5566-7788"})
	assert.ErrorContains(t, err, `"bankId" is required`)
}

// Oracle NetSuite: Codat's linking guide requires Token-based Authentication,
// so the OAuth 2.0 names are marked doubtful and the source says so.
func TestNetSuiteIsDoubtful(t *testing.T) {
	p, ok := Default().Lookup("akxx")
	require.True(t, ok)
	assert.Equal(t, Doubtful, p.Evidence)
	assert.Contains(t, p.Source, "Token-based Authentication")
	for _, q := range Default().Platforms() {
		if q.Key != "akxx" {
			assert.NotEqual(t, Doubtful, q.Evidence, q.Key)
		}
	}
	// A loaded correction replaces the doubtful names and their evidence.
	reg := testRegistry()
	_, err := reg.LoadSpec(strings.NewReader(`{"platforms":[{"key":"akxx","source":"Codat support","fields":[
		{"name":"accountId"},{"name":"tokenId","secret":true,"format":"token"},{"name":"tokenSecret","secret":true,"format":"token"}]}]}`))
	require.NoError(t, err)
	p, _ = reg.Lookup("akxx")
	assert.Equal(t, Loaded, p.Evidence)
}
