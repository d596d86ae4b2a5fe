package codat

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/codat-migrate/codat/codattest"
)

type internalAuth struct{}

func (internalAuth) PlatformKey() string { return "qhyg" }
func (internalAuth) Body() (map[string]string, error) {
	return map[string]string{"accessToken": "tok-internal-123456"}, nil
}

// The in-flight set holds a ref only while its call runs: after many
// overlapping calls, failing, refused and cancelled ones included, it is
// empty.
func TestMigrateInFlightNoLeak(t *testing.T) {
	srv := codattest.NewServer(codattest.WithoutQuota())
	t.Cleanup(srv.Close)
	c, err := NewClient(srv.APIKey(), WithBaseURL(srv.URL()))
	require.NoError(t, err)
	var wg sync.WaitGroup
	var mu sync.Mutex
	busy := 0
	for i := range 120 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m := Migration{Ref: fmt.Sprintf("leak-%d", i%12), Company: CreateCompanyRequest{Name: "Acme"}, Auth: internalAuth{}}
			ctx := context.Background()
			switch i % 4 {
			case 1:
				var cancel context.CancelFunc
				ctx, cancel = context.WithCancel(ctx)
				cancel()
			case 2:
				m.OnStep = func(context.Context, MigrationResult) error { return errors.New("journal full") }
			}
			_, err := c.Migrate(ctx, m)
			if errors.Is(err, ErrMigrationInProgress) {
				mu.Lock()
				busy++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	assert.Zero(t, c.inflight.len(), "no entry outlives its call")
	t.Logf("%d calls refused as in progress", busy)
}

// Migrate's keys are a function of (namespace, ref, step, generation,
// scope) alone.
func TestMigrateKeyDerivation(t *testing.T) {
	c1, err := NewClient("key")
	require.NoError(t, err)
	c2, err := NewClient("other-key")
	require.NoError(t, err)
	c3, err := NewClient("key", WithIdempotencyNamespace("tenant-b"))
	require.NoError(t, err)
	run := func(c *Client, ref string) *migrationRun { return &migrationRun{c: c, m: Migration{Ref: ref}} }

	k := run(c1, "crm-1").key(StepCompany, 0)
	assert.Regexp(t, `^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`, k, "a UUIDv5")
	assert.Equal(t, k, run(c2, "crm-1").key(StepCompany, 0), "the same for every process in the default namespace")
	assert.NotEqual(t, k, run(c3, "crm-1").key(StepCompany, 0), "another namespace")
	assert.NotEqual(t, k, run(c1, "crm-2").key(StepCompany, 0), "another ref")
	assert.NotEqual(t, k, run(c1, "crm-1").key(StepCompany, 1), "another generation")
	assert.NotEqual(t, k, run(c1, "crm-1").key(StepConnection, 0), "another step")
	assert.NotEqual(t, run(c1, "crm-1").key(StepConnection, 0, "co-1", "qhyg"), run(c1, "crm-1").key(StepConnection, 0, "co-1", "xero"), "another scope")

	_, err = NewClient("key", WithIdempotencyNamespace(" "))
	assert.Error(t, err)
}
