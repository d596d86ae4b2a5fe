package main

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestQuickstartAgainstTheFake(t *testing.T) {
	var out bytes.Buffer
	err := run(context.Background(), &out, func(string) string { return "" })
	require.NoError(t, err, out.String())
	assert.Contains(t, out.String(), "using a fake Codat")
	assert.Regexp(t, `connection [0-9a-f-]{36}: Linked`, out.String())
	assert.Contains(t, out.String(), "Requests: 4 ")
	assert.NotContains(t, out.String(), "made-up-access-token")
}

func TestQuickstartNeedsTokensWithAKey(t *testing.T) {
	env := map[string]string{"CODAT_API_KEY": "k"}
	err := run(context.Background(), &bytes.Buffer{}, func(k string) string { return env[k] })
	assert.ErrorContains(t, err, "QBO_REALM_ID")
}
