package main

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCustomIntegrationAgainstTheFake(t *testing.T) {
	var out bytes.Buffer
	err := run(context.Background(), &out, func(string) string { return "" }, nil)
	require.NoError(t, err, out.String())
	s := out.String()
	assert.Contains(t, s, "added wvzu")
	assert.Contains(t, s, "required: apiKey, userName; evidence loaded")
	assert.Regexp(t, `crm-1001 with FromRecord: company [0-9a-f-]{36}, connection Linked`, s)
	assert.Regexp(t, `crm-1002 with Generic: company [0-9a-f-]{36}, connection Linked`, s)
	assert.NotContains(t, s, "made-up-kashflow-api-key", "a Generic prints its values redacted")
}

func TestCustomIntegrationNeedsArgumentsWithAKey(t *testing.T) {
	env := map[string]string{"CODAT_API_KEY": "k"}
	err := run(context.Background(), &bytes.Buffer{}, func(k string) string { return env[k] }, nil)
	assert.ErrorContains(t, err, "COLLECTION.json")
}
