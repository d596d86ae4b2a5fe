package bulk

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"unicode"

	"github.com/codat-migrate/codat"
)

// Format is the encoding of an input file.
type Format string

const (
	// FormatCSV is a CSV file whose header names the columns: ref,
	// company_name, platform, then one column per wire field of the
	// authorization body (accessToken, realmId, …), plus the optional columns
	// description and tag:<key>. Header names are matched ignoring case,
	// spaces, '_' and '-' ("Company Name" is company_name). The delimiter is
	// the one of ',', ';' and tab that the header line uses most (European
	// spreadsheets write ';', .tsv files a tab). Empty header cells at the end
	// of the header (spreadsheets write them) are ignored.
	FormatCSV Format = "csv"
	// FormatJSONL is one JSON object per line:
	// {"ref":"…","company":{"name":"…","description":"…","tags":{…}},"platform":"…","authorization":{"field":"value",…}}.
	// An authorization value may be a JSON string or number (an epoch
	// expiresAt, a numeric realmId): a number is taken as the text it is
	// written as, as a CSV cell would be.
	FormatJSONL Format = "jsonl"
)

// FormatFromPath returns the format a file name implies: .csv and .tsv are
// FormatCSV; .jsonl, .ndjson and .json are FormatJSONL.
func FormatFromPath(path string) (Format, error) {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".csv", ".tsv":
		return FormatCSV, nil
	case ".jsonl", ".ndjson", ".json":
		return FormatJSONL, nil
	}
	return "", fmt.Errorf("cannot tell the format of %q from its extension (want .csv, .tsv or .jsonl)", filepath.Base(path))
}

// Input is a CSV or JSON Lines export that can be opened more than once: a
// Source whose Rows parse it afresh each pass. A run reads it twice, first to
// find duplicate refs and tenants before any request is sent, then to
// migrate. A one-shot stream such as standard input must be spooled first
// (see Spool).
type Input struct {
	// Name identifies the input in messages and in the journal (a file name).
	Name string
	// Format is the encoding of the input.
	Format Format
	// Open returns a fresh reader positioned at the start of the input.
	Open func() (io.ReadCloser, error)
	// IgnoreColumns are input columns that are not for Codat (an owner's
	// e-mail, a CRM note): CSV columns, or JSONL keys of the authorization
	// object, matched as header names are (ignoring case, spaces, '_' and
	// '-'). Their cells are neither read nor checked.
	IgnoreColumns []string
}

// NewReader returns a Reader of r, an opened copy of the input, in the
// input's format (from its name when Format is empty), with its
// IgnoreColumns.
func (in Input) NewReader(r io.Reader) (*Reader, error) {
	f := in.Format
	if f == "" {
		var err error
		if f, err = FormatFromPath(in.Name); err != nil {
			return nil, err
		}
	}
	return newReader(r, f, in.IgnoreColumns)
}

// FileInput is an Input that reads the file at path. An empty format is
// taken from the file's extension when the file is opened.
func FileInput(path string, f Format) Input {
	if f == "" {
		f, _ = FormatFromPath(path)
	}
	return Input{Name: path, Format: f, Open: func() (io.ReadCloser, error) { return os.Open(path) }}
}

// BytesInput is an Input over data held in memory, for tests and small inputs.
func BytesInput(name string, f Format, data []byte) Input {
	return Input{Name: name, Format: f, Open: func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(data)), nil
	}}
}

// Spool copies a one-shot stream (standard input) into a private temporary
// file (mode 0600, in dir, or the system temporary directory when dir is
// empty) so that it can be read twice. The file is unlinked as soon as it is
// created, where the system allows it (not on Windows), so that nothing of
// the export (it holds tokens) is left on disk even if the process is
// killed: every Open reads the one open file from its start. The returned
// cleanup closes the file (and removes it where it could not be unlinked);
// call it when the run is over.
func Spool(r io.Reader, dir, name string, f Format) (Input, func() error, error) {
	tmp, err := os.CreateTemp(dir, "codat-migrate-input-*")
	if err != nil {
		return Input{}, nil, fmt.Errorf("spool %s: %w", name, err)
	}
	path := tmp.Name()
	// Unlinked at once: the open file stays readable, and no name is left.
	linked := os.Remove(path) != nil
	var once sync.Once
	var cerr error
	cleanup := func() error {
		once.Do(func() {
			cerr = tmp.Close()
			if linked {
				if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
					cerr = errors.Join(cerr, err)
				}
			}
		})
		return cerr
	}
	fail := func(err error) (Input, func() error, error) {
		_ = cleanup()
		return Input{}, nil, fmt.Errorf("spool %s: %w", name, err)
	}
	if err := tmp.Chmod(0o600); err != nil && linked {
		return fail(err)
	}
	size, err := io.Copy(tmp, r)
	if err != nil {
		return fail(err)
	}
	open := func() (io.ReadCloser, error) {
		// Each reader has its own offset over the shared file.
		return io.NopCloser(io.NewSectionReader(tmp, 0, size)), nil
	}
	return Input{Name: name, Format: f, Open: open}, cleanup, nil
}

// Row is one input record: a customer to migrate.
type Row struct {
	// Line is the 1-based line of the input where the record starts.
	Line int
	// Ref is the caller's identifier of the customer. It becomes the Codat
	// company tag codat.RefTagKey and keys the journal.
	Ref string
	// CompanyName and Description are the Codat company's.
	CompanyName, Description string
	// Platform is a Codat platform key ("qhyg") or an integration name
	// ("QuickBooks Online").
	Platform string
	// Tags are extra company tags (CSV columns tag:<key>, JSONL company.tags).
	Tags map[string]string
	// Fields is the authorization body, wire field name → value. Every value
	// is a codat.Secret, metadata such as realmId included.
	Fields map[string]codat.Secret
}

// RowError is a record that cannot be used. Reason names the problem and the
// field, never a field's value. A RowError does not stop a run: the row is
// reported invalid and the next one is read.
type RowError struct {
	// Line is the 1-based line where the record starts.
	Line int
	// Ref, CompanyName and Platform are whatever of the record could be read,
	// for the report; they may be empty.
	Ref, CompanyName, Platform string
	// Reason says what is wrong.
	Reason string
}

// Error returns "line N (ref R): reason"; it never holds a field value.
func (e *RowError) Error() string {
	if e.Ref != "" && len(e.Ref) <= maxEchoLen && !credentialShaped(e.Ref) {
		return fmt.Sprintf("line %d (ref %q): %s", e.Line, e.Ref, e.Reason)
	}
	return fmt.Sprintf("line %d: %s", e.Line, e.Reason)
}

// Limits on one input record, so that no input (a runaway quoted field, a
// file that is not an export) can make a run hold more than about
// MaxRecordBytes of it in memory. A record over a limit is reported invalid
// at its line, and reading goes on with the next record.
const (
	// MaxRecordBytes bounds one record: a JSONL line, or a CSV record (whose
	// quoted fields may span lines). A CSV record that reaches it (an
	// unterminated quote, say) is cut there, and reading resumes at the next
	// line break.
	MaxRecordBytes = 1 << 20
	// MaxFieldBytes bounds one field (a CSV cell, a JSON string): tokens are
	// a few KB at most; a longer value makes the row invalid.
	MaxFieldBytes = 16 << 10
)

// Reader streams Rows from an input. Its memory does not grow with the input.
type Reader struct {
	next func() (Row, error)
}

// NewReader returns a Reader of r in format f. Next returns io.EOF at the end,
// a *RowError for an unusable record (keep calling Next), and any other error
// when the input as a whole cannot be read (a missing CSV column, a file that
// is not UTF-8 text, a JSON array given as JSON Lines, an I/O error).
func NewReader(r io.Reader, f Format) (*Reader, error) {
	return newReader(r, f, nil)
}

func newReader(r io.Reader, f Format, ignore []string) (*Reader, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	switch f {
	case FormatCSV, FormatJSONL:
	case "":
		return nil, errors.New("input format not set (csv or jsonl)")
	default:
		return nil, fmt.Errorf("unknown input format %q (want csv or jsonl)", string(f))
	}
	if err := sniffText(br, f); err != nil {
		return nil, err
	}
	skipBOM(br)
	if f == FormatCSV {
		c, err := newCSVReader(br, ignore)
		if err != nil {
			return nil, err
		}
		return &Reader{next: c.next}, nil
	}
	j := &jsonlReader{r: br, ignore: columnSet(ignore)}
	return &Reader{next: j.next}, nil
}

// Next returns the next row; see NewReader.
func (r *Reader) Next() (Row, error) { return r.next() }

func skipBOM(br *bufio.Reader) {
	if b, err := br.Peek(3); err == nil && b[0] == 0xEF && b[1] == 0xBB && b[2] == 0xBF {
		_, _ = br.Discard(3)
	}
}

// sniffText refuses, from the start of the input, what is not a text export
// in format f: binary data, UTF-16, a JSON array or CSV given as JSON
// Lines, JSON given as CSV. It does not consume anything.
func sniffText(br *bufio.Reader, f Format) error {
	head, _ := br.Peek(8 << 10)
	switch {
	case bytes.HasPrefix(head, []byte{0xFF, 0xFE}), bytes.HasPrefix(head, []byte{0xFE, 0xFF}):
		return errors.New("the input is UTF-16 text (Excel's \"Unicode Text\"): save it as UTF-8 (\"CSV UTF-8\") and retry")
	case bytes.IndexByte(head, 0) >= 0:
		return errors.New("the input is not a text export: it holds binary data (NUL bytes); export the customers as CSV or JSON Lines")
	}
	first := bytes.TrimLeft(bytes.TrimPrefix(head, []byte("\xef\xbb\xbf")), " \t\r\n")
	if len(first) == 0 {
		return nil
	}
	switch {
	case f == FormatJSONL && first[0] == '[':
		return errors.New("the input is a JSON array, not JSON Lines (one object per line): convert it, e.g. jq -c '.[]' export.json > export.jsonl")
	case f == FormatJSONL && first[0] != '{':
		return errors.New("the input does not look like JSON Lines (its first line does not start with '{'): is it CSV? (--format csv)")
	case f == FormatCSV && (first[0] == '{' || first[0] == '['):
		return errors.New("the input looks like JSON, not CSV: give it a .jsonl name or --format jsonl")
	}
	return nil
}

// notUTF8 is the error for an input line that is not UTF-8.
func notUTF8(line int) error {
	return fmt.Errorf("line %d is not UTF-8 text: the file is probably Windows-1252 (Excel's \"CSV (Comma delimited)\"); "+
		"save it as \"CSV UTF-8\", or convert it: iconv -f WINDOWS-1252 -t UTF-8 export.csv > export-utf8.csv", line)
}

// normColumn is the form column names are compared in: lower case, without
// spaces, '_' and '-' ("Company Name", "company_name" and "companyName"
// are one name).
func normColumn(s string) string {
	var b strings.Builder
	for _, r := range strings.TrimSpace(s) {
		switch r {
		case ' ', '_', '-', '\t':
			continue
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
}

// columnSet is the normalised set of names (nil when there are none).
func columnSet(names []string) map[string]bool {
	if len(names) == 0 {
		return nil
	}
	m := make(map[string]bool, len(names))
	for _, n := range names {
		if n = normColumn(n); n != "" {
			m[n] = true
		}
	}
	return m
}

// maxJournalLine bounds one journal line when a journal is read: its lines
// are a few hundred bytes, and a file that is not a journal (a device, a
// binary) must not be read into memory whole.
const maxJournalLine = MaxRecordBytes

// errLineTooLong is readBoundedLine's error for a line over its bound.
var errLineTooLong = errors.New("line too long")

// readBoundedLine is bufio.Reader.ReadBytes('\n') holding at most max bytes:
// a longer line is errLineTooLong.
func readBoundedLine(br *bufio.Reader, max int) ([]byte, error) {
	var buf []byte
	for {
		chunk, err := br.ReadSlice('\n')
		if len(buf)+len(chunk) > max {
			return nil, errLineTooLong
		}
		buf = append(buf, chunk...)
		if !errors.Is(err, bufio.ErrBufferFull) {
			return buf, err
		}
	}
}
