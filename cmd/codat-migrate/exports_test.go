package main

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// exportFixture is one of the export shapes in bulk's testdata.
func exportFixture(t *testing.T, name string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("..", "..", "bulk", "testdata", "exports", name))
	require.NoError(t, err)
	return p
}

// TestValidateExportShapes runs validate on exports as spreadsheets and CRMs
// write them, with flags before and after the file.
func TestValidateExportShapes(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int
		out  []string // in stdout
		err  []string // in stderr
	}{
		{name: "excel trailing columns", args: []string{"validate", exportFixture(t, "excel-trailing-columns.csv")},
			out: []string{"3 rows, 3 valid", `line 3    ref crm-2  warning: Codat stores the company name "Beta Café" as "Beta Cafe"`}},
		{name: "plan warns of a name Codat changes", args: []string{"plan", "--offline", exportFixture(t, "excel-trailing-columns.csv")},
			out: []string{"Company names Codat stores otherwise", `"Beta Café" as "Beta Cafe"`}},
		{name: "semicolons", args: []string{"validate", exportFixture(t, "semicolon.csv")}, out: []string{"3 rows, 3 valid"}},
		{name: "tsv", args: []string{"validate", exportFixture(t, "tab-separated.tsv")}, out: []string{"3 rows, 3 valid"}},
		{name: "human headers", args: []string{"validate", exportFixture(t, "human-headers.csv")}, out: []string{"3 rows, 3 valid"}},
		{name: "epoch numbers in JSONL", args: []string{"validate", exportFixture(t, "numbers.jsonl")}, out: []string{"3 rows, 3 valid"}},
		{name: "extra column", args: []string{"validate", exportFixture(t, "extra-column.csv")}, code: exitRowsFailed,
			out: []string{"--ignore-columns", `"owner_email" is not a field`}},
		{name: "extra column ignored, flag after the file", args: []string{"validate", exportFixture(t, "extra-column.csv"), "--ignore-columns", "owner_email"},
			out: []string{"3 rows, 3 valid"}},
		{name: "windows-1252", args: []string{"validate", exportFixture(t, "windows-1252.csv")}, code: exitFatal,
			err: []string{"not UTF-8", "Windows-1252"}},
		{name: "binary", args: []string{"validate", exportFixture(t, "binary.csv")}, code: exitFatal, err: []string{"not a text export"}},
		{name: "json array", args: []string{"validate", exportFixture(t, "array.json")}, code: exitFatal, err: []string{"JSON array, not JSON Lines"}},
		{name: "csv read as jsonl", args: []string{"validate", "--format", "jsonl", exportFixture(t, "semicolon.csv")}, code: exitFatal,
			err: []string{"does not look like JSON Lines"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := run(t, runOpts{}, tt.args...)
			assert.Equal(t, tt.code, res.code, res)
			for _, w := range tt.out {
				assert.Contains(t, res.stdout, w, res)
			}
			for _, w := range tt.err {
				assert.Contains(t, res.stderr, w, res)
			}
			assert.NotContains(t, res.stdout+res.stderr, "bulk:", "CLI messages have no package prefixes")
			assert.NotContains(t, res.stdout+res.stderr, "integrations:")
		})
	}
}

// TestFlagsAfterTheFile: flags are accepted before and after positional
// arguments.
func TestFlagsAfterTheFile(t *testing.T) {
	report := filepath.Join(t.TempDir(), "r.json")
	res := run(t, runOpts{}, "validate", exportFixture(t, "human-headers.csv"), "--report", report)
	assert.Equal(t, exitOK, res.code, res)
	assert.FileExists(t, report)
	res = run(t, runOpts{}, "validate", exportFixture(t, "human-headers.csv"), "extra.csv")
	assert.Equal(t, exitUsage, res.code, res)
	assert.Contains(t, res.stderr, "unexpected arguments: extra.csv")
}
