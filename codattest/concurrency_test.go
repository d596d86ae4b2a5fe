package codattest

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestConcurrentClients runs many clients at once, each migrating its own
// companies while duplicate attempts with the same Idempotency-Keys race
// them, connections are dropped after commit, and readers page through the
// companies. Afterwards every company exists exactly once, with exactly one
// linked connection and its pulls: no write lost or duplicated.
func TestConcurrentClients(t *testing.T) {
	const clients, perClient = 24, 20
	s, _, _ := newFake(t, WithDataTypes("gbol", "invoices", "customers"), WithRequestLog(-1),
		WithFaults(Fault{Route: "POST /companies", Kind: FaultDropAfterCommit, Rate: 0.05}))
	c := newClient(t, s)

	// post retries a keyed POST until it gets an HTTP answer other than 409/429.
	post := func(path, key string, body any) (*tresp, error) {
		for attempt := 0; attempt < 100; attempt++ {
			r, err := c.try("POST", path, body, "Idempotency-Key", key)
			if err != nil || r.status == 409 || r.status == 429 {
				continue
			}
			return r, nil
		}
		return nil, fmt.Errorf("no answer for %s %s", path, key)
	}
	var wg sync.WaitGroup
	errs := make(chan error, clients*perClient*4)
	for w := 0; w < clients; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < perClient; i++ {
				ref := fmt.Sprintf("w%02d-%03d", w, i)
				key := fmt.Sprintf("%08d-0000-4000-8000-%012d", w, i)
				body := map[string]any{"name": "Company " + ref, "tags": map[string]string{"migrationRef": ref}}
				// A duplicate attempt with the same key races the first.
				dup := make(chan error, 1)
				go func() {
					r, err := post("/companies", key, body)
					if err == nil && r.status != 200 {
						err = fmt.Errorf("duplicate create %s: %s", ref, r)
					}
					dup <- err
				}()
				r, err := post("/companies", key, body)
				if err == nil && r.status != 200 {
					err = fmt.Errorf("create %s: %s", ref, r)
				}
				if derr := <-dup; derr != nil {
					errs <- derr
				}
				if err != nil {
					errs <- err
					continue
				}
				var co Company
				if err := json.Unmarshal(r.body, &co); err != nil {
					errs <- err
					continue
				}
				r, err = post("/companies/"+co.ID+"/connections", "c"+key[1:], map[string]string{"platformKey": "gbol"})
				if err != nil || r.status != 200 {
					errs <- fmt.Errorf("connection %s: %v %v", ref, r, err)
					continue
				}
				var cn Connection
				if err := json.Unmarshal(r.body, &cn); err != nil {
					errs <- err
					continue
				}
				r, err = c.try("PUT", "/companies/"+co.ID+"/connections/"+cn.ID+"/authorization", map[string]string{"accessToken": ref})
				if err != nil || r.status != 200 {
					errs <- fmt.Errorf("authorize %s: %v %v", ref, r, err)
					continue
				}
				r, err = post("/companies/"+co.ID+"/data/all", "d"+key[1:], nil)
				if err != nil || r.status != 204 {
					errs <- fmt.Errorf("refresh %s: %v %v", ref, r, err)
				}
			}
		}(w)
	}
	// Readers page and filter while the writers run.
	for rd := 0; rd < 4; rd++ {
		wg.Add(1)
		go func(rd int) {
			defer wg.Done()
			for i := 0; i < 30; i++ {
				r, err := c.try("GET", q("/companies", "tags", fmt.Sprintf("migrationRef=w%02d-%03d", rd, i%perClient), "pageSize", "10"), nil)
				if err != nil || r.status != 200 {
					errs <- fmt.Errorf("list: %v %v", r, err)
					continue
				}
				var p pageBody[Company]
				if err := json.Unmarshal(r.body, &p); err != nil || p.TotalResults > 1 {
					errs <- fmt.Errorf("tag lookup: %v, %d companies", err, p.TotalResults)
				}
				if r, err := c.try("GET", q("/companies", "page", "2", "pageSize", "7"), nil); err != nil || r.status != 200 {
					errs <- fmt.Errorf("page: %v %v", r, err)
				}
			}
		}(rd)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	require.Equal(t, clients*perClient, s.CompanyCount(), "one company per key")
	assert.Equal(t, clients*perClient, s.ConnectionCount())
	assert.Equal(t, clients*perClient, s.ACC())
	for w := 0; w < clients; w++ {
		for i := 0; i < perClient; i++ {
			ref := fmt.Sprintf("w%02d-%03d", w, i)
			cos := s.CompaniesWithTag("migrationRef", ref)
			require.Len(t, cos, 1, ref)
			require.Len(t, cos[0].DataConnections, 1, ref)
			assert.Equal(t, StatusLinked, cos[0].DataConnections[0].Status, ref)
			assert.Len(t, s.PullOperations(cos[0].ID), 2, ref)
		}
	}
	dropped := 0
	for _, r := range s.RequestLog() {
		if r.Fault == FaultDropAfterCommit {
			dropped++
		}
	}
	assert.Greater(t, dropped, 0, "the run included dropped connections")
}
