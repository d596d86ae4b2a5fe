package contracttest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/codat-migrate/codat"
	"github.com/codat-migrate/codat/codattest"
	"github.com/codat-migrate/codat/integrations"
	"github.com/codat-migrate/codat/internal/endpoints"
	"github.com/codat-migrate/codat/internal/testutil"
)

const sdkPrefix = "/api/v1"

func fastPolicy() codat.RetryPolicy {
	return codat.RetryPolicy{MaxAttempts: 3, MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond, MaxWait: 2 * time.Second}
}

// TestSDKEveryEndpoint sends every request the SDK can make (the endpoint
// table, which a test keeps complete), and decodes a success and two error
// answers for each, through a server that validates every request and
// response against the contract, and checks that the validation ran.
func TestSDKEveryEndpoint(t *testing.T) {
	v := Load(t)
	for _, ep := range endpoints.All() {
		for _, status := range []int{200, 403, 429} {
			t.Run(fmt.Sprintf("%s %d", ep.Name, status), func(t *testing.T) {
				inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("X-Rate-Limit-Remaining", "10")
					switch status {
					case 200:
						ep.Respond(w, r)
					case 429:
						w.Header().Set("Retry-After", "86400")
						testutil.CodatError(w, 429, "You have made too many requests", "bc997528a9d7abb9161ef45f05d38599")
					default:
						testutil.CodatError(w, status, "Forbidden", "corr")
					}
				})
				handler, counts := v.Counted(t, sdkPrefix, inner)
				srv := httptest.NewServer(handler)
				defer srv.Close()
				c, err := codat.NewClient("contract-test-key", codat.WithBaseURL(srv.URL+sdkPrefix), codat.WithRetryPolicy(fastPolicy()))
				require.NoError(t, err)
				err = ep.Call(context.Background(), c)
				if status == 200 {
					require.NoError(t, err)
				} else {
					var ae *codat.APIError
					require.ErrorAs(t, err, &ae)
					assert.Equal(t, status, ae.StatusCode)
				}
				nReq, nResp := counts()
				assert.EqualValues(t, c.Requests(), nReq, "every request was validated")
				assert.EqualValues(t, c.Requests(), nResp, "every response was validated")
				assert.Positive(t, nReq)
			})
		}
	}
}

// TestSDKMigrateAgainstFake runs Client.Migrate end to end against
// codattest's fake behind a server that validates every request the SDK
// sends and every answer the fake gives: new customers on two platforms, a
// customer migrated again, a token the platform rejects, and writes whose
// answers are lost after Codat committed them (so Migrate looks the company
// and the connection up, and reads the connection back).
func TestSDKMigrateAgainstFake(t *testing.T) {
	v := Load(t)
	fake, err := codattest.Start(codattest.WithRejectedToken("rejected-access-token"), codattest.WithoutQuota())
	require.NoError(t, err)
	defer fake.Close()
	handler, counts := v.Counted(t, "", fake.Handler())
	srv := httptest.NewServer(handler)
	defer srv.Close()
	c, err := codat.NewClient(fake.APIKey(), codat.WithBaseURL(srv.URL), codat.WithRetryPolicy(fastPolicy()))
	require.NoError(t, err)

	qbo := func(access string) codat.Authorization {
		return integrations.QuickBooksOnline{RealmID: "9130350000000001",
			AccessToken: codat.Secret(access), RefreshToken: codat.Secret("refresh-token-1")}
	}
	tests := []struct {
		name, ref string
		auth      codat.Authorization
		faults    []codattest.Fault
		wantErr   error
	}{
		{"QuickBooks Online", "crm-1", qbo("access-token-1"), nil, nil},
		{"Xero", "crm-2", integrations.Xero{TenantID: "6b1b6b5d-1c88-4d6b-8f3a-12ad0e7e0e9a",
			AccessToken: codat.Secret("access-token-2"), RefreshToken: codat.Secret("refresh-token-2")}, nil, nil},
		{"already migrated", "crm-1", qbo("access-token-1"), nil, nil},
		{"token rejected", "crm-3", qbo("rejected-access-token"), nil, codat.ErrTokenRejected},
		{"answers lost after commit", "crm-4", qbo("access-token-4"), []codattest.Fault{
			{Route: "POST " + codattest.RouteCompanies, Kind: codattest.FaultDropAfterCommit, Times: 1},
			{Route: "POST " + codattest.RouteConnections, Kind: codattest.FaultAfterCommit, Times: 1},
			{Route: "PUT " + codattest.RouteAuthorization, Kind: codattest.FaultDropAfterCommit, Times: 1},
		}, nil},
	}
	drops := 0 // answers never written: their connection is dropped
	for _, tc := range tests {
		for _, f := range tc.faults {
			if f.Kind == codattest.FaultDropAfterCommit {
				drops++
			}
		}
		t.Run(tc.name, func(t *testing.T) {
			for _, f := range tc.faults {
				require.NoError(t, fake.AddFault(f))
			}
			fired := fake.FaultsFired()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			_, err := c.Migrate(ctx, codat.Migration{Ref: tc.ref, Company: codat.CreateCompanyRequest{Name: "Customer " + tc.ref}, Auth: tc.auth})
			if tc.wantErr == nil {
				require.NoError(t, err)
			} else {
				require.True(t, errors.Is(err, tc.wantErr), "got %v", err)
			}
			assert.Equal(t, fired+len(tc.faults), fake.FaultsFired(), "every fault fired")
		})
	}
	// The fake received exactly the requests the validator checked; every
	// answer was checked but those whose connection was dropped.
	nReq, nResp := counts()
	assert.EqualValues(t, fake.RequestCount(), nReq, "every request the fake received was validated")
	assert.EqualValues(t, nReq-int64(drops), nResp, "every answer written was validated")
	assert.LessOrEqual(t, nReq, c.Requests())
	assert.Positive(t, nReq)
}
