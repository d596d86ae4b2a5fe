package main

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/codat-migrate/codat/bulk"
)

// The CLI's HTTP client keeps an idle connection for every migration in
// flight (http.DefaultTransport keeps 2), without changing the process-wide
// default transport.
func TestHTTPClientKeepsConnectionsForConcurrency(t *testing.T) {
	before := http.DefaultTransport.(*http.Transport).MaxIdleConnsPerHost
	hc := newHTTPClient()
	tr, ok := hc.Transport.(*http.Transport)
	require.True(t, ok)
	assert.NotSame(t, http.DefaultTransport, tr)
	assert.GreaterOrEqual(t, tr.MaxIdleConnsPerHost, 64)
	assert.GreaterOrEqual(t, tr.MaxIdleConnsPerHost, bulk.DefaultConcurrency)
	assert.GreaterOrEqual(t, tr.MaxIdleConns, tr.MaxIdleConnsPerHost)
	assert.Equal(t, 60*time.Second, hc.Timeout, "the same per-attempt timeout as codat.NewClient's default")
	assert.Equal(t, before, http.DefaultTransport.(*http.Transport).MaxIdleConnsPerHost)
	assert.NotNil(t, tr.Proxy, "proxy settings from the environment are kept")
}
