package bulk

import (
	"context"
	"io"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestExportShapes reads exports the way spreadsheets and CRMs write them
// (testdata/exports): each is either read with every row valid, or refused
// as a whole with a message that names the problem.
func TestExportShapes(t *testing.T) {
	tests := []struct {
		file    string
		format  Format
		ignore  []string
		valid   int
		invalid int
		// refused: the input is refused as a whole, with these words.
		refused []string
		// reason: the invalid rows' reason holds these words.
		reason []string
	}{
		{file: "excel-trailing-columns.csv", valid: 3},
		{file: "semicolon.csv", valid: 3},
		{file: "tab-separated.tsv", valid: 3},
		{file: "human-headers.csv", valid: 3},
		{file: "extra-column.csv", ignore: []string{"Owner Email"}, valid: 3},
		{file: "extra-column.csv", valid: 1, invalid: 2, reason: []string{`"owner_email" is not a field`, "--ignore-columns"}},
		{file: "numbers.jsonl", valid: 3},
		{file: "windows-1252.csv", refused: []string{"line 3", "not UTF-8", "Windows-1252", "CSV UTF-8"}},
		{file: "binary.csv", refused: []string{"not a text export"}},
		{file: "array.json", refused: []string{"JSON array, not JSON Lines"}},
		{file: "semicolon.csv", format: FormatJSONL, refused: []string{"does not look like JSON Lines"}},
		{file: "numbers.jsonl", format: FormatCSV, refused: []string{"looks like JSON, not CSV"}},
	}
	for _, tt := range tests {
		t.Run(tt.file+"/"+string(tt.format)+strings.Join(tt.ignore, ","), func(t *testing.T) {
			in := FileInput(filepath.Join("testdata", "exports", tt.file), tt.format)
			in.IgnoreColumns = tt.ignore
			rep := &memReport{}
			sum, err := (&Runner{Registry: testRegistry()}).Validate(context.Background(), in, rep)
			if tt.refused != nil {
				require.Error(t, err)
				for _, w := range tt.refused {
					assert.Contains(t, err.Error(), w)
				}
				assert.Empty(t, rep.rows, "a refused input reports no row")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.valid, sum.Count(StatusValid))
			assert.Equal(t, tt.invalid, sum.Count(StatusInvalid))
			for _, r := range rep.rows {
				if r.Status != StatusInvalid {
					continue
				}
				for _, w := range tt.reason {
					assert.Contains(t, r.Error, w)
				}
			}
		})
	}
}

// TestCSVDelimiterIsNamedWhenColumnsAreMissing: a header that lacks the
// columns says which delimiter it was read with.
func TestCSVDelimiterIsNamedWhenColumnsAreMissing(t *testing.T) {
	_, err := NewReader(strings.NewReader("ref|company_name|platform\n"), FormatCSV)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "read with ',' as the delimiter")
}

// TestCSVTrailingUnnamedColumnWithAValue: a value under an empty trailing
// header cell is a shifted row, not data to drop silently.
func TestCSVTrailingUnnamedColumnWithAValue(t *testing.T) {
	data := "ref,company_name,platform,accessToken,,\n" +
		"a,A,qhyg,tok-aaaaaaaa,,\n" +
		"b,B,qhyg,tok-bbbbbbbb,,tok-shifted-cccccccc\n" +
		"c,C,qhyg,tok-cccccccc\n"
	rows, bad := readAll(t, FormatCSV, data)
	require.Len(t, rows, 2)
	assert.Equal(t, "a", rows[0].Ref)
	assert.Equal(t, "c", rows[1].Ref, "a row without the empty trailing cells is read too")
	require.Len(t, bad, 1)
	assert.Equal(t, 3, bad[0].Line)
	assert.Contains(t, bad[0].Reason, "column 6 has a value but no name")
	assert.NotContains(t, bad[0].Error(), "tok-")
}

// TestCSVLimits: a field over MaxFieldBytes makes its row invalid; a record
// over MaxRecordBytes (an unterminated quote) is reported at its line and
// the read goes on at the next line; memory stays bounded.
func TestCSVLimits(t *testing.T) {
	huge := strings.Repeat("x", MaxFieldBytes+1)
	data := "ref,company_name,platform,accessToken\n" +
		"a,A,qhyg," + huge + "\n" +
		"b,\"B,qhyg,tok-bbbbbbbb\n" + // the quote is never closed…
		strings.Repeat("y", MaxRecordBytes) + "\n" + // …and runs past the record limit
		"c,C,qhyg,tok-cccccccc\n"
	rows, bad := readAll(t, FormatCSV, data)
	require.Len(t, bad, 2)
	assert.Equal(t, 2, bad[0].Line)
	assert.Contains(t, bad[0].Reason, "column \"accessToken\" is longer than")
	assert.Equal(t, 3, bad[1].Line)
	assert.Contains(t, bad[1].Reason, "longer than")
	assert.Contains(t, bad[1].Reason, "unterminated quote")
	require.Len(t, rows, 1)
	assert.Equal(t, "c", rows[0].Ref)
	assert.Equal(t, 5, rows[0].Line)
}

// TestCSVHugeFieldMemory reads a 64 MiB field and checks the heap does not
// hold it.
func TestCSVHugeFieldMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("reads 64 MiB")
	}
	const size = 64 << 20
	r := &patternReader{head: "ref,company_name,platform,accessToken\na,A,qhyg,", body: size, tail: "\nb,B,qhyg,tok-bbbbbbbb\n"}
	defer debug.SetGCPercent(debug.SetGCPercent(10))
	var peak uint64
	rd, err := NewReader(r, FormatCSV)
	require.NoError(t, err)
	n := 0
	for {
		_, err := rd.Next()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		peak = max(peak, ms.HeapAlloc)
		if err != nil && !strings.Contains(err.Error(), "longer than") {
			break
		}
		n++
	}
	assert.Equal(t, 2, n, "the long row (invalid) and the next one")
	assert.Less(t, peak, uint64(size/4), "the field is not held in memory")
}

// patternReader yields head, body bytes of 'x', then tail, without holding
// them.
type patternReader struct {
	head, tail string
	body       int
	off        int
}

func (p *patternReader) Read(b []byte) (int, error) {
	n := 0
	for n < len(b) {
		switch {
		case p.off < len(p.head):
			c := copy(b[n:], p.head[p.off:])
			n += c
			p.off += c
		case p.off < len(p.head)+p.body:
			c := min(len(b)-n, len(p.head)+p.body-p.off)
			for i := range c {
				b[n+i] = 'x'
			}
			n += c
			p.off += c
		case p.off < len(p.head)+p.body+len(p.tail):
			c := copy(b[n:], p.tail[p.off-len(p.head)-p.body:])
			n += c
			p.off += c
		default:
			if n == 0 {
				return 0, io.EOF
			}
			return n, nil
		}
	}
	return n, nil
}
