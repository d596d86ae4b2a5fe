package bulk

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

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
	assert.Equal(t, []string{"2", "a", "Acme, Ltd", "qhyg", "migrated", "co1", "cn1", "", "", "", "4", ""}, recs[1])
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

// TestCSVReportDefusesEveryCell: a server can answer with ids and URLs that
// are formulas; every text cell is defused, whoever filled it.
func TestCSVReportDefusesEveryCell(t *testing.T) {
	var buf bytes.Buffer
	w := NewCSVReport(&buf)
	row := ReportRow{Line: 2, Ref: "-r", CompanyName: " =1+1", Platform: "@p", Status: "=s", CompanyID: "=HYPERLINK(\"x\")",
		ConnectionID: "+cn", LinkURL: "=link", ErrorClass: "-c", Error: "\t=e", InputCompanyName: "=n"}
	require.NoError(t, w.Write(row))
	require.NoError(t, w.Close())
	recs, err := csv.NewReader(&buf).ReadAll()
	require.NoError(t, err)
	require.Len(t, recs, 2)
	for i, cell := range recs[1] {
		if reportHeader[i] == "line" || reportHeader[i] == "requests" {
			continue // numbers
		}
		assert.True(t, strings.HasPrefix(cell, "'"), "column %s is defused: %q", reportHeader[i], cell)
	}
}

// TestOrderedReport: rows decided out of order are written in input order.
func TestOrderedReport(t *testing.T) {
	rep := &memReport{}
	o := newOrderedReport(rep)
	seqs := []int{o.reserve(), o.reserve(), o.reserve()}
	require.NoError(t, o.write(seqs[2], ReportRow{Line: 4}))
	require.NoError(t, o.write(seqs[1], ReportRow{Line: 3}))
	assert.Empty(t, rep.rows, "nothing is written while the first row is in flight")
	require.NoError(t, o.write(seqs[0], ReportRow{Line: 2}))
	require.Len(t, rep.rows, 3)
	for i, r := range rep.rows {
		assert.Equal(t, i+2, r.Line)
	}
}

// TestRunReportsInInputOrder: with migrations in flight finishing in any
// order and rows decided without a request between them, the report is in
// input order, one line per row.
func TestRunReportsInInputOrder(t *testing.T) {
	clk := newFakeClock(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	f := newFakeCodat(clk)
	var mu sync.Mutex
	n := 0
	f.hook = func(ref string) {
		mu.Lock()
		n++
		d := time.Duration(n%7) * time.Millisecond
		mu.Unlock()
		time.Sleep(d) // real time: the migrations overtake each other
	}
	var b strings.Builder
	b.WriteString(csvHeader)
	for i := range 60 {
		if i%5 == 0 {
			b.WriteString(fmt.Sprintf("bad-%d,,qhyg,1,x,y\n", i)) // invalid: decided at once
			continue
		}
		b.WriteString(csvRow(fmt.Sprintf("r%d", i), 1000+i))
	}
	r := testRunner(t, f, clk)
	r.Concurrency = 6
	rep := &memReport{}
	_, err := r.Run(context.Background(), BytesInput("in.csv", FormatCSV, []byte(b.String())), rep)
	require.NoError(t, err)
	require.Len(t, rep.rows, 60)
	for i, row := range rep.rows {
		assert.Equal(t, i+2, row.Line, "row %d is in input order", i)
	}
}
