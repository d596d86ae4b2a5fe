package bulk

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var sampleRows = []ReportRow{
	{Line: 2, Ref: "a", CompanyName: "Acme, Ltd", Platform: "qhyg", Status: StatusMigrated, CompanyID: "co1", ConnectionID: "cn1", Requests: 4},
	{Line: 3, Ref: "b", CompanyName: "=cmd()", Platform: "qhyg", Status: StatusTokenRejected, LinkURL: "https://link/b", ErrorClass: "token-rejected", Error: "rejected", Requests: 3},
	{Line: 4, Ref: "c", Status: StatusInvalid, ErrorClass: "invalid", Error: "line 4: \"quoted\"\nnewline"},
}

func TestCSVReport(t *testing.T) {
	var buf bytes.Buffer
	w := NewCSVReport(&buf)
	for _, r := range sampleRows {
		require.NoError(t, w.Write(r))
	}
	require.NoError(t, w.Close())
	recs, err := csv.NewReader(&buf).ReadAll()
	require.NoError(t, err)
	require.Len(t, recs, 4)
	assert.Equal(t, reportHeader, recs[0])
	assert.Equal(t, []string{"2", "a", "Acme, Ltd", "qhyg", "migrated", "co1", "cn1", "", "", "", "4"}, recs[1])
	assert.Equal(t, "'=cmd()", recs[2][2], "a formula is defused")
	assert.Equal(t, "https://link/b", recs[2][7])
	assert.Equal(t, "line 4: \"quoted\"\nnewline", recs[3][9])
}

func TestCSVReportEmptyHasHeader(t *testing.T) {
	var buf bytes.Buffer
	w := NewCSVReport(&buf)
	require.NoError(t, w.Close())
	assert.Equal(t, strings.Join(reportHeader, ",")+"\n", buf.String())
}

func TestJSONReportIsOneArrayWrittenIncrementally(t *testing.T) {
	var buf bytes.Buffer
	w := NewJSONReport(&buf)
	require.NoError(t, w.Write(sampleRows[0]))
	assert.True(t, strings.HasPrefix(buf.String(), "[\n{"), "rows are written as they come")
	for _, r := range sampleRows[1:] {
		require.NoError(t, w.Write(r))
	}
	require.NoError(t, w.Close())
	require.NoError(t, w.Close(), "Close twice is harmless")
	var got []ReportRow
	require.NoError(t, json.Unmarshal(buf.Bytes(), &got))
	assert.Equal(t, sampleRows, got)
	assert.Error(t, w.Write(sampleRows[0]), "no writes after Close")

	buf.Reset()
	w = NewJSONReport(&buf)
	require.NoError(t, w.Close())
	assert.JSONEq(t, "[]", buf.String())
}

func TestJSONLReport(t *testing.T) {
	var buf bytes.Buffer
	w := NewJSONLReport(&buf)
	for _, r := range sampleRows {
		require.NoError(t, w.Write(r))
	}
	require.NoError(t, w.Close())
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	require.Len(t, lines, 3)
	var r ReportRow
	require.NoError(t, json.Unmarshal([]byte(lines[1]), &r))
	assert.Equal(t, sampleRows[1], r)
}

func TestCreateReport(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"r.csv", "r.json", "r.jsonl"} {
		path := filepath.Join(dir, name)
		w, err := CreateReport(path)
		require.NoError(t, err, name)
		require.NoError(t, w.Write(sampleRows[0]))
		require.NoError(t, w.Close())
		st, err := os.Stat(path)
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o600), st.Mode().Perm())
		assert.Contains(t, string(readFile(t, path)), "Acme, Ltd")
	}
	var arr []ReportRow
	require.NoError(t, json.Unmarshal(readFile(t, filepath.Join(dir, "r.json")), &arr))
	assert.Len(t, arr, 1)
	_, err := CreateReport(filepath.Join(dir, "r.txt"))
	assert.Error(t, err)
}

func TestStatusResumable(t *testing.T) {
	for _, s := range []Status{StatusFailed, StatusIncomplete, StatusPendingQuota, StatusNotStarted} {
		assert.True(t, s.Resumable(), s)
	}
	for _, s := range []Status{StatusMigrated, StatusAlreadyMigrated, StatusInvalid, StatusDuplicate, StatusTokenRejected, StatusTokenChanged, StatusValid} {
		assert.False(t, s.Resumable(), s)
	}
}
