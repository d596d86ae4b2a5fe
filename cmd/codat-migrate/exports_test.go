package main

import (
	"os"
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

// TestTokensOutOfPlaceNeverShow: swapped columns put a token in the
// platform column; a ref equal to the row's token; a company name that is
// a JWT. Such rows are invalid offline, and no token reaches stdout,
// stderr, the report or the journal.
func TestTokensOutOfPlaceNeverShow(t *testing.T) {
	const (
		tok1 = "at-good-row-0001-abcdefghij"
		tok2 = "AB11734567890aBcDeFgHiJkLmNoPqRsTuVwXyZ0123"
		tok3 = "at-ref-is-token-0003-abcdefgh"
		jwt  = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.c2lnbmF0dXJlLXZhbHVl"
		rt   = "rt-refresh-value-000"
	)
	dir := t.TempDir()
	p := filepath.Join(dir, "export.csv")
	data := "ref,company_name,platform,realmId,accessToken,refreshToken\n" +
		"crm-1,Good Ltd,qhyg,9130350000000001," + tok1 + "," + rt + "1\n" +
		"crm-2,Swapped Ltd," + tok2 + ",9130350000000002,qhyg," + rt + "2\n" +
		tok3 + ",Ref Is Token Ltd,qhyg,9130350000000003," + tok3 + "," + rt + "3\n" +
		"crm-4," + jwt + ",qhyg,9130350000000004,at-name-is-jwt-0004-abcdef," + rt + "4\n"
	require.NoError(t, os.WriteFile(p, []byte(data), 0o600))

	v := run(t, runOpts{}, "validate", p)
	assert.Equal(t, exitRowsFailed, v.code, v)
	assert.Contains(t, v.stdout, "4 rows, 1 valid, 3 invalid")
	assert.Contains(t, v.stdout, "the platform looks like a credential")
	assert.Contains(t, v.stdout, "the ref holds one of the row's authorization values")

	f := startFake(t, fastSync...)
	res := run(t, runOpts{env: keyEnv()}, migrateArgs(f, p)...)
	assert.Equal(t, exitRowsFailed, res.code, res)
	counts := statusCounts(readReport(t, p+".report.csv"))
	assert.Equal(t, map[string]int{"migrated": 1, "invalid": 3}, counts)
	ex := &sampleExport{Tokens: []string{tok1, tok2, tok3, jwt, rt}}
	assertNoSecrets(t, ex, []string{v.stdout, v.stderr, res.stdout, res.stderr}, p+".report.csv", p+".journal")
	for ref := range f.companiesByRef(t) {
		assert.Equal(t, "crm-1", ref, "only the good row reaches Codat")
	}
}

// TestUnusableInputCreatesNothing: migrate refuses an export it cannot read
// before it creates a journal or a report.
func TestUnusableInputCreatesNothing(t *testing.T) {
	dir := t.TempDir()
	b, err := os.ReadFile(exportFixture(t, "windows-1252.csv"))
	require.NoError(t, err)
	p := filepath.Join(dir, "export.csv")
	require.NoError(t, os.WriteFile(p, b, 0o600))
	f := startFake(t, fastSync...)
	res := run(t, runOpts{env: keyEnv()}, migrateArgs(f, p)...)
	assert.Equal(t, exitFatal, res.code, res)
	assert.Contains(t, res.stderr, "Windows-1252")
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 1, "only the export is in its directory")
}
