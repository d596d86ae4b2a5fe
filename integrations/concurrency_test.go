package integrations

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
)

// Readers (Body, FromRecord, Lookup, TenantID) run while loaders replace
// platforms; run with -race. Every body a reader sees is one of the two
// complete definitions, never a mix.
func TestRegistryConcurrentUse(t *testing.T) {
	r := testRegistry()
	specs := []string{
		`{"platforms":[{"key":"qhyg","fields":[{"name":"realmId"},{"name":"accessToken"},{"name":"refreshToken"}]}]}`,
		`{"platforms":[{"key":"qhyg","fields":[{"name":"realm_id"},{"name":"access_token"},{"name":"refresh_token"}]}]}`,
	}
	a := QuickBooksOnline{RealmID: "1", AccessToken: fakeAccess, RefreshToken: fakeRefresh}
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < 200; i++ {
			if _, err := r.LoadSpec(strings.NewReader(specs[i%2])); err != nil {
				errs <- err
				return
			}
		}
	}()
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 300; i++ {
				body, err := r.Body(a)
				if err != nil {
					errs <- err
					return
				}
				_, camel := body["realmId"]
				_, snake := body["realm_id"]
				_, camelTok := body["accessToken"]
				if len(body) != 3 || camel == snake || camel != camelTok {
					errs <- fmt.Errorf("mixed body: %d fields", len(body))
					return
				}
				if _, err := r.FromRecord("qhyg", map[string]string{"realmId": "1", "accessToken": "a", "refreshToken": "b"}); err != nil {
					errs <- err
					return
				}
				if _, ok := r.Lookup("QuickBooks Online"); !ok {
					errs <- fmt.Errorf("lookup failed")
					return
				}
				if id, ok := r.TenantID(a); !ok || id != "1" {
					errs <- fmt.Errorf("tenant %q", id)
					return
				}
				_ = r.Platforms()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		assert.NoError(t, err)
	}
}
