package bulk

import (
	"context"
	"errors"
	"io"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/codat-migrate/codat"
)

// readAll reads every record of data, splitting rows and row errors; a fatal
// error fails the test.
func readAll(t *testing.T, f Format, data string) ([]Row, []*RowError) {
	t.Helper()
	rd, err := NewReader(strings.NewReader(data), f)
	require.NoError(t, err)
	var rows []Row
	var bad []*RowError
	for {
		row, err := rd.Next()
		if errors.Is(err, io.EOF) {
			return rows, bad
		}
		var re *RowError
		if errors.As(err, &re) {
			bad = append(bad, re)
			continue
		}
		require.NoError(t, err)
		rows = append(rows, row)
	}
}

func TestCSVQuirks(t *testing.T) {
	// BOM, CRLF, a quoted field with a comma and a newline, an empty line,
	// mixed platforms with blank cells, description and tag columns, and
	// header names in another case with spaces.
	data := "\ufeffRef , Company_Name,platform,description,tag:region,realmId,tenantId,accessToken,refreshToken\r\n" +
		"crm-1,\"Acme, Ltd\",qhyg,\"two\r\nlines\",eu,123145,,at-one-1111,rt-one-1111\r\n" +
		"\r\n" +
		"crm-2,Beta,Xero,,,,8f1b3c9e-5a4e-4d7a-9a51-0c2f6f6d1a11,at-two-2222,rt-two-2222\r\n"
	rows, bad := readAll(t, FormatCSV, data)
	require.Empty(t, bad)
	require.Len(t, rows, 2)

	assert.Equal(t, 2, rows[0].Line)
	assert.Equal(t, "crm-1", rows[0].Ref)
	assert.Equal(t, "Acme, Ltd", rows[0].CompanyName)
	assert.Equal(t, "qhyg", rows[0].Platform)
	assert.Equal(t, "two\nlines", rows[0].Description) // encoding/csv turns a quoted CRLF into \n
	assert.Equal(t, map[string]string{"region": "eu"}, rows[0].Tags)
	assert.Equal(t, map[string]codat.Secret{"realmId": "123145", "accessToken": "at-one-1111", "refreshToken": "rt-one-1111"}, rows[0].Fields)

	assert.Equal(t, 5, rows[1].Line, "line numbers count physical lines, the quoted newline and the blank line included")
	assert.Equal(t, "Xero", rows[1].Platform)
	assert.Nil(t, rows[1].Tags, "blank tag cells add no tag")
	assert.NotContains(t, rows[1].Fields, "realmId", "blank field cells are absent")
	assert.Len(t, rows[1].Fields, 3)
}

func TestCSVBadRecordsDoNotStopTheRead(t *testing.T) {
	data := "ref,company_name,platform,accessToken\n" +
		"a,A,qhyg,tok-aaaaaaaa\n" +
		"b,B,qhyg\n" + // missing a column
		"c,C\"x,qhyg,tok-cccccccc\n" + // bare quote
		"d,D,qhyg,tok-dddddddd,extra\n" + // one too many
		"e,E,qhyg,tok-eeeeeeee\n"
	rows, bad := readAll(t, FormatCSV, data)
	require.Len(t, rows, 2)
	assert.Equal(t, "a", rows[0].Ref)
	assert.Equal(t, "e", rows[1].Ref)
	assert.Equal(t, 6, rows[1].Line)
	require.Len(t, bad, 3)
	assert.Equal(t, 3, bad[0].Line)
	assert.Contains(t, bad[0].Reason, "has 3 fields, the header has 4")
	assert.Equal(t, 4, bad[1].Line)
	assert.Contains(t, bad[1].Reason, "malformed CSV")
	assert.Equal(t, 5, bad[2].Line)
	for _, b := range bad {
		assert.Empty(t, b.Ref, "a malformed record's cells may be shifted: nothing of it is reported")
		assert.NotContains(t, b.Error(), "tok-")
	}
}

func TestCSVHeaderErrors(t *testing.T) {
	tests := []struct {
		name, data, want string
	}{
		{"empty", "", "empty"},
		{"only BOM", "\ufeff", "empty"},
		{"missing columns", "ref,accessToken\nx,y\n", "company_name, platform"},
		{"duplicate column", "ref,company_name,platform,accessToken,accessToken\n", "appears twice"},
		{"duplicate fixed column in another case", "ref,REF,company_name,platform\n", "appears twice"},
		{"unnamed column", "ref,company_name,platform,,accessToken\n", "column 4 has no name"},
		{"tag without key", "ref,company_name,platform,tag:\n", "no tag key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewReader(strings.NewReader(tt.data), FormatCSV)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestJSONLQuirks(t *testing.T) {
	const tok = "secret-token-value-123"
	data := "\ufeff" +
		`{"ref":"j-1","company":{"name":"Acme","description":"d","tags":{"region":"eu"}},"platform":"qhyg","authorization":{"realmId":"1","accessToken":"` + tok + `","refreshToken":"r1-xxxxxxx"}}` + "\r\n" +
		"\n   \n" +
		`{"ref":"j-2","company":{"name":"B"},"platform":"qhyg","authorization":{"accessToken":"` + tok + `"` + "\n" + // truncated JSON
		`{"ref":"j-3","company":{"name":"C"},"platform":"qhyg","authorization":{"realmId":12345,"accessToken":"` + tok + `"}}` + "\n" +
		`["not","an","object"]` + "\n" +
		`{"ref":7,"company":"Acme","platform":"qhyg"}` + "\n" +
		`{"ref":"j-6","company":{"name":"F","description":null},"platform":"qhyg","authorization":{"accessToken":"` + tok + `","note":null}}` // no final newline
	rows, bad := readAll(t, FormatJSONL, data)
	require.Len(t, rows, 3)
	assert.Equal(t, Row{Line: 1, Ref: "j-1", CompanyName: "Acme", Description: "d", Platform: "qhyg",
		Tags:   map[string]string{"region": "eu"},
		Fields: map[string]codat.Secret{"realmId": "1", "accessToken": tok, "refreshToken": "r1-xxxxxxx"}}, rows[0])
	assert.Equal(t, 5, rows[1].Line)
	assert.Equal(t, map[string]codat.Secret{"realmId": "12345", "accessToken": tok}, rows[1].Fields,
		"a JSON number is read as the text it is written as, as a CSV cell")
	assert.Equal(t, 8, rows[2].Line)
	assert.Equal(t, map[string]codat.Secret{"accessToken": tok}, rows[2].Fields, "null counts as absent")
	assert.Equal(t, "j-6", rows[2].Ref)

	require.Len(t, bad, 3)
	assert.Equal(t, 4, bad[0].Line)
	assert.Contains(t, bad[0].Reason, "invalid JSON")
	assert.Equal(t, 6, bad[1].Line)
	assert.Contains(t, bad[1].Reason, "an array, not a JSON object")
	assert.Equal(t, 7, bad[2].Line)
	assert.Contains(t, bad[2].Reason, "ref must be a string, not a number")
	assert.Contains(t, bad[2].Reason, "company must be an object, not a string")
	assert.Contains(t, bad[2].Reason, "authorization is missing")
	for _, b := range bad {
		assert.NotContains(t, b.Error(), tok)
		assert.NotContains(t, b.Error(), "secret-")
	}
}

func TestJSONLLongLineIsSkipped(t *testing.T) {
	long := `{"ref":"x","authorization":{"accessToken":"` + strings.Repeat("a", MaxRecordBytes+10) + `"}}`
	data := long + "\n" + `{"ref":"ok","company":{"name":"N"},"platform":"qhyg","authorization":{"a":"b"}}` + "\n"
	rows, bad := readAll(t, FormatJSONL, data)
	require.Len(t, bad, 1)
	assert.Equal(t, 1, bad[0].Line)
	assert.Contains(t, bad[0].Reason, "longer than")
	require.Len(t, rows, 1)
	assert.Equal(t, 2, rows[0].Line)
}

func TestNewReaderFormat(t *testing.T) {
	_, err := NewReader(strings.NewReader(""), "")
	assert.ErrorContains(t, err, "format not set")
	_, err = NewReader(strings.NewReader(""), "xml")
	assert.ErrorContains(t, err, "unknown input format")

	for path, want := range map[string]Format{"a.csv": FormatCSV, "b.JSONL": FormatJSONL, "c.ndjson": FormatJSONL} {
		got, err := FormatFromPath(path)
		require.NoError(t, err)
		assert.Equal(t, want, got, path)
	}
	_, err = FormatFromPath("x.txt")
	assert.Error(t, err)
}

func TestSpoolMakesAOneShotReaderReopenable(t *testing.T) {
	dir := t.TempDir()
	const data = "ref,company_name,platform\n"
	in, cleanup, err := Spool(strings.NewReader(data), dir, "stdin", FormatCSV)
	require.NoError(t, err)
	assert.Equal(t, "stdin", in.Name)
	files, err := filepath.Glob(filepath.Join(dir, "*"))
	require.NoError(t, err)
	if runtime.GOOS != "windows" {
		assert.Empty(t, files, "the spool is unlinked at once: a killed process leaves no copy of the export")
	}
	// Two readers at once, as the pre-pass and the run could be.
	r1, err := in.Open()
	require.NoError(t, err)
	r2, err := in.Open()
	require.NoError(t, err)
	for _, rc := range []io.ReadCloser{r1, r2} {
		b, err := io.ReadAll(rc)
		require.NoError(t, err)
		require.NoError(t, rc.Close())
		assert.Equal(t, data, string(b))
	}
	require.NoError(t, cleanup())
	rc, err := in.Open()
	if err == nil {
		_, err = io.ReadAll(rc)
	}
	assert.Error(t, err, "after cleanup the spool is closed")
	assert.NoError(t, cleanup(), "a second cleanup is harmless")
}

func TestCheckRow(t *testing.T) {
	good := Row{Line: 2, Ref: "crm-1", CompanyName: "Acme", Platform: "qhyg",
		Fields: map[string]codat.Secret{"realmId": "123", "accessToken": "access-token-value", "refreshToken": "refresh-token-value"}}
	c, err := checkRow(testRegistry(), good)
	require.NoError(t, err)
	assert.Equal(t, "qhyg", c.platformKey)
	assert.Len(t, c.fingerprint, 12)
	assert.Equal(t, "qhyg\x00123", c.tenant)

	alias := good
	alias.Fields = map[string]codat.Secret{"realm_id": "123", "access_token": "access-token-value", "refresh_token": "refresh-token-value"}
	ca, err := checkRow(testRegistry(), alias)
	require.NoError(t, err)
	assert.Equal(t, c.fingerprint, ca.fingerprint, "the fingerprint is of the wire body, whatever the column names")

	tests := []struct {
		name string
		edit func(*Row)
		want string
	}{
		{"empty ref", func(r *Row) { r.Ref = "" }, "ref is empty"},
		{"ref with a space", func(r *Row) { r.Ref = "a b" }, "tag query language"},
		{"long ref", func(r *Row) { r.Ref = strings.Repeat("r", 101) }, "at most 100"},
		{"no name", func(r *Row) { r.CompanyName = "" }, "company name is empty"},
		{"reserved tag", func(r *Row) { r.Tags = map[string]string{codat.RefTagKey: "x"} }, "reserved"},
		{"long tag key", func(r *Row) { r.Tags = map[string]string{strings.Repeat("k", 28): "x"} }, "longer than 27"},
		{"too many tags", func(r *Row) {
			r.Tags = map[string]string{}
			for _, k := range "abcdefghij" {
				r.Tags[string(k)] = "v"
			}
		}, "10 tags"},
		{"no platform", func(r *Row) { r.Platform = "" }, "platform is empty"},
		{"unknown platform", func(r *Row) { r.Platform = "nope-platform" }, "nope-platform"},
		{"missing token", func(r *Row) { delete(r.Fields, "refreshToken") }, "refreshToken"},
		{"bad realm", func(r *Row) { r.Fields["realmId"] = "not-digits-secret" }, "realmId"},
		{"no fields", func(r *Row) { r.Fields = nil }, "no authorization fields"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			row := good
			row.Fields = map[string]codat.Secret{}
			for k, v := range good.Fields {
				row.Fields[k] = v
			}
			tt.edit(&row)
			_, err := checkRow(testRegistry(), row)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
			for _, v := range row.Fields {
				if len(v.Reveal()) >= minScrubLen {
					assert.NotContains(t, err.Error(), v.Reveal())
				}
			}
		})
	}
}

func TestScrub(t *testing.T) {
	row := Row{Fields: map[string]codat.Secret{"accessToken": "abcdef-secret", "x": "ab"}}
	assert.Equal(t, "got [REDACTED] and ab", scrub("got abcdef-secret and ab", row))
}

func TestSafeName(t *testing.T) {
	assert.Equal(t, `"accessToken"`, safeName("accessToken"))
	assert.Equal(t, "(name not shown)", safeName("eyJhbGciOi/JIUzI1+NiJ9"))
	assert.Equal(t, "(name not shown)", safeName(strings.Repeat("a", 65)))
}

func TestCredentialShaped(t *testing.T) {
	tests := []struct {
		v    string
		want bool
	}{
		{"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl", true},
		{"shpat_0123456789abcdef0123456789abcdef", true},
		{"AB11734567890aBcDeFgHiJkLmNoPqRsTuVwXyZ0123", true},
		{"Bearer abcdefghijklmnop", true},
		{strings.Repeat("0123456789abcdef", 4), true},
		{"8f1b3c9e-5a4e-4d7a-9a51-0c2f6f6d1a11", false},           // UUID
		{"0015g00000XyZabAAF", false},                             // Salesforce id
		{"cus_NffrFeUfNV2Hib", false},                             // Stripe-like id
		{"jane.doe+acme@example.com", false},                      // e-mail-like key
		{"cust-0005", false},                                      // CRM ref
		{"9130350000000001", false},                               // realmId
		{"0123456789abcdef0123456789abcdef", false},               // 32-digit hex id
		{"acme-holdings-international-europe-division-01", false}, // words
		{"Acme Holdings International Limited (Europe)", false},
		{"QuickBooks Online", false},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, credentialShaped(tt.v), tt.v)
	}
}

// TestCheckRowWithholdsCredentials: swapped or shifted columns put a token
// where a ref, name or platform belongs; the row is invalid offline, the
// message names the column and withholds the value, and the report shows
// none of it.
func TestCheckRowWithholdsCredentials(t *testing.T) {
	const tok = "tok-crm-1-s3cr3t-value"
	const jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"
	good := Row{Line: 2, Ref: "crm-1", CompanyName: "Acme", Platform: "qhyg",
		Fields: map[string]codat.Secret{"realmId": "9130350000000001", "accessToken": tok, "refreshToken": "refresh-token-value"}}
	tests := []struct {
		name string
		edit func(*Row)
		want string
	}{
		{"ref is the row's token", func(r *Row) { r.Ref = tok }, "the ref holds one of the row's authorization values"},
		{"ref is a JWT", func(r *Row) { r.Ref = jwt }, "the ref looks like a credential"},
		{"platform is the token", func(r *Row) { r.Platform = tok }, "the platform holds one of the row's authorization values"},
		{"platform is a JWT", func(r *Row) { r.Platform = jwt }, "the platform looks like a credential"},
		{"name is the token", func(r *Row) { r.CompanyName = tok }, "the company name holds one of the row's authorization values"},
		{"token holds a name", func(r *Row) { r.Fields["accessToken"] = "Acme Ltd" }, `"accessToken" holds spaces`},
		{"token holds a few characters", func(r *Row) { r.Fields["accessToken"] = "qhyg" }, `"accessToken" holds 4 characters`},
		{"column name is a token", func(r *Row) { r.Fields[jwt] = "x1234567" }, "(a column name, withheld)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			row := good
			row.Fields = maps.Clone(good.Fields)
			tt.edit(&row)
			_, err := checkRow(testRegistry(), row)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
			assert.NotContains(t, err.Error(), tok)
			assert.NotContains(t, err.Error(), jwt)
			rep := baseReport(row)
			for _, cell := range []string{rep.Ref, rep.CompanyName, rep.Platform} {
				assert.NotContains(t, cell, tok)
				assert.NotContains(t, cell, jwt)
			}
		})
	}
	for _, ref := range []string{"8f1b3c9e-5a4e-4d7a-9a51-0c2f6f6d1a11", "0015g00000XyZabAAF", "jane.doe@example.com", "9130350000000001"} {
		row := good
		row.Ref = ref
		_, err := checkRow(testRegistry(), row)
		assert.NoError(t, err, "an ordinary id is a valid ref: %s", ref)
	}
	row := good
	row.Platform = "Ledgerly Classic"
	_, err := checkRow(testRegistry(), row)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `unknown platform "Ledgerly Classic"`, "a platform that cannot be a credential is quoted")
	assert.NotContains(t, err.Error(), "integrations:")
	assert.NotContains(t, err.Error(), "Registry.")
}

// TestCompanyNameCodatStores: the report has the name Codat stores (and the
// input's beside it when it differs); a name with nothing Codat keeps is
// invalid offline.
func TestCompanyNameCodatStores(t *testing.T) {
	data := csvHeader +
		"n1,Café Müller GmbH,qhyg,1,tok-n1-s3cr3t,refresh-n1-s3cr3t\n" +
		"n2,Smith (UK) Ltd,qhyg,2,tok-n2-s3cr3t,refresh-n2-s3cr3t\n" +
		"n3,株式会社,qhyg,3,tok-n3-s3cr3t,refresh-n3-s3cr3t\n" +
		"n4,Plain Ltd,qhyg,4,tok-n4-s3cr3t,refresh-n4-s3cr3t\n"
	rep := &memReport{}
	sum, err := (&Runner{Registry: testRegistry()}).Validate(context.Background(), BytesInput("in.csv", FormatCSV, []byte(data)), rep)
	require.NoError(t, err)
	assert.Equal(t, 3, sum.Count(StatusValid))
	rows := rep.byLine()
	assert.Equal(t, "Cafe Muller GmbH", rows[2].CompanyName)
	assert.Equal(t, "Café Müller GmbH", rows[2].InputCompanyName)
	assert.Equal(t, "Smith UK Ltd", rows[3].CompanyName)
	assert.Equal(t, StatusInvalid, rows[4].Status)
	assert.Contains(t, rows[4].Error, "company name has no letter or digit Codat keeps")
	assert.Equal(t, "Plain Ltd", rows[5].CompanyName)
	assert.Empty(t, rows[5].InputCompanyName)
}

// TestRunReportsTheStoredName: a migrated row's report has the name Codat
// stored.
func TestRunReportsTheStoredName(t *testing.T) {
	clk := newFakeClock(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	f := newFakeCodat(clk)
	r := testRunner(t, f, clk)
	rep := &memReport{}
	data := csvHeader + "n1,Smith (UK) Ltd,qhyg,1,tok-n1-s3cr3t,refresh-n1-s3cr3t\n"
	_, err := r.Run(context.Background(), BytesInput("in.csv", FormatCSV, []byte(data)), rep)
	require.NoError(t, err)
	require.Len(t, rep.rows, 1)
	assert.Equal(t, StatusMigrated, rep.rows[0].Status)
	assert.Equal(t, "Smith UK Ltd", rep.rows[0].CompanyName)
	assert.Equal(t, "Smith (UK) Ltd", rep.rows[0].InputCompanyName)
}

// TestRunLeavesNoJournalForAnUnusableInput: a fatal input error creates
// nothing.
func TestRunLeavesNoJournalForAnUnusableInput(t *testing.T) {
	clk := newFakeClock(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	r := testRunner(t, newFakeCodat(clk), clk)
	_, err := r.Run(context.Background(), BytesInput("in.csv", FormatCSV, []byte("ref,accessToken\nx,y\n")), &memReport{})
	require.Error(t, err)
	_, statErr := os.Stat(r.JournalPath)
	assert.True(t, os.IsNotExist(statErr), "no journal is left behind")
}

// TestScrubKeepsWordsOfMetadata: a fragment of a shop domain is an
// ordinary word, not a secret; the domain in whole and a token's fragments
// are scrubbed.
func TestScrubKeepsWordsOfMetadata(t *testing.T) {
	row := Row{Fields: map[string]codat.Secret{"shop": "acme-12.myshopify.com", "accessToken": "shpat_0123456789abcdef"}}
	assert.Equal(t, "Shopify (fztf): [REDACTED] and [REDACTED]…", scrub("Shopify (fztf): acme-12.myshopify.com and shpat_0123456789…", row))
}

// TestJSONLFieldLimit: a value over MaxFieldBytes makes its row invalid, by
// name, and the next line is read.
func TestJSONLFieldLimit(t *testing.T) {
	long := strings.Repeat("a", MaxFieldBytes+1)
	data := `{"ref":"x","company":{"name":"N"},"platform":"qhyg","authorization":{"accessToken":"` + long + `"}}` + "\n" +
		`{"ref":"y","company":{"name":"` + long + `"},"platform":"qhyg","authorization":{"a":"b"}}` + "\n" +
		`{"ref":"ok","company":{"name":"N"},"platform":"qhyg","authorization":{"a":"b"}}` + "\n"
	rows, bad := readAll(t, FormatJSONL, data)
	require.Len(t, bad, 2)
	assert.Contains(t, bad[0].Reason, `authorization."accessToken" is longer than`)
	assert.Contains(t, bad[1].Reason, "company.name is longer than")
	require.Len(t, rows, 1)
	assert.Equal(t, "ok", rows[0].Ref)
}
