package main

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBulkCSVAgainstTheFake(t *testing.T) {
	var out bytes.Buffer
	err := run(context.Background(), &out, func(string) string { return "" }, nil)
	require.NoError(t, err, out.String())
	s := out.String()
	assert.Contains(t, s, "plan: 5 rows, 4 to migrate")
	assert.Contains(t, s, "summary: 5 rows: 4 migrated, 1 invalid")
	assert.Regexp(t, `(?m)^5,crm-4,Copper Coffee,QuickBooks Online,invalid,`, s)
	assert.NotContains(t, s, "made-up-at-", "the report never holds a token")
}

func TestBulkCSVNeedsAFileWithAKey(t *testing.T) {
	env := map[string]string{"CODAT_API_KEY": "k"}
	err := run(context.Background(), &bytes.Buffer{}, func(k string) string { return env[k] }, nil)
	assert.ErrorContains(t, err, "CSV export")
}
