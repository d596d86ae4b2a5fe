package main

import (
	"flag"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/codat-migrate/codat/codattest"
)

func TestFakeFlagOptions(t *testing.T) {
	fs := flag.NewFlagSet("fake", flag.ContinueOnError)
	opts := fakeFlagOptions(fs)
	require.NoError(t, fs.Parse([]string{"-api-key", "k-123", "-seed", "9", "-quota-daily", "7", "-quota-acc", "2",
		"-latency", "1ms", "-fault-rate", "0.5", "-fault-kinds", "before", "-sync-complete-after", "2s", "-request-log", "5"}))
	o, err := opts()
	require.NoError(t, err)
	srv, err := codattest.Start(o...)
	require.NoError(t, err)
	defer srv.Close()
	assert.Equal(t, "k-123", srv.APIKey())

	statuses := map[int]int{}
	var limit string
	for range 6 {
		req, err := http.NewRequest("GET", srv.URL()+"/integrations/gbol", nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", srv.AuthorizationHeader())
		resp, err := srv.Client().Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		statuses[resp.StatusCode]++
		limit = resp.Header.Get("X-Rate-Limit-Limit")
	}
	assert.Equal(t, "21", limit, "7 × (1 + 2)")
	assert.Greater(t, statuses[503], 0, "faults at rate 0.5")
	assert.Greater(t, statuses[200], 0)
	assert.Len(t, srv.RequestLog(), 5, "-request-log 5")

	// Invalid flag values are reported, not panicked on.
	for _, args := range [][]string{{"-fault-rate", "2"}, {"-quota-daily", "0"}, {"-fault-rate", "0.1", "-fault-kinds", "boom"}, {"-quota-acc", "-1"}} {
		fs := flag.NewFlagSet("fake", flag.ContinueOnError)
		opts := fakeFlagOptions(fs)
		require.NoError(t, fs.Parse(args))
		o, err := opts()
		if err == nil {
			var s *codattest.Server
			s, err = codattest.Start(o...)
			if s != nil {
				s.Close()
			}
		}
		assert.Error(t, err, "%v", args)
	}
}
