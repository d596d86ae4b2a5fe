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

	"github.com/codat-migrate/codat"
)

// Format is the encoding of an input file.
type Format string

const (
	// FormatCSV is a CSV file whose header names the columns: ref,
	// company_name, platform, then one column per wire field of the
	// authorization body (accessToken, realmId, …), plus the optional columns
	// description and tag:<key>.
	FormatCSV Format = "csv"
	// FormatJSONL is one JSON object per line:
	// {"ref":"…","company":{"name":"…","description":"…","tags":{…}},"platform":"…","authorization":{"field":"value",…}}.
	FormatJSONL Format = "jsonl"
)

// FormatFromPath returns the format a file name implies: .csv is FormatCSV;
// .jsonl, .ndjson and .json are FormatJSONL.
func FormatFromPath(path string) (Format, error) {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".csv":
		return FormatCSV, nil
	case ".jsonl", ".ndjson", ".json":
		return FormatJSONL, nil
	}
	return "", fmt.Errorf("bulk: cannot tell the format of %q from its extension (want .csv or .jsonl)", filepath.Base(path))
}

// Input is a source of rows that can be opened more than once: a run reads it
// twice, first to find duplicate refs and tenants before any request is sent,
// then to migrate. A one-shot stream such as standard input must be spooled
// first (see Spool).
type Input struct {
	// Name identifies the input in messages and in the journal (a file name).
	Name string
	// Format is the encoding of the input.
	Format Format
	// Open returns a fresh reader positioned at the start of the input.
	Open func() (io.ReadCloser, error)
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
// empty) so that it can be opened twice. The returned cleanup removes the
// file; call it when the run is over, because the file holds tokens.
func Spool(r io.Reader, dir, name string, f Format) (Input, func() error, error) {
	tmp, err := os.CreateTemp(dir, "codat-migrate-input-*")
	if err != nil {
		return Input{}, nil, fmt.Errorf("bulk: spool %s: %w", name, err)
	}
	path := tmp.Name()
	cleanup := func() error {
		err := os.Remove(path)
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return err
	}
	if err := tmp.Chmod(0o600); err != nil {
		_ = tmp.Close()
		_ = cleanup()
		return Input{}, nil, fmt.Errorf("bulk: spool %s: %w", name, err)
	}
	if _, err := io.Copy(tmp, r); err != nil {
		_ = tmp.Close()
		_ = cleanup()
		return Input{}, nil, fmt.Errorf("bulk: spool %s: %w", name, err)
	}
	if err := tmp.Close(); err != nil {
		_ = cleanup()
		return Input{}, nil, fmt.Errorf("bulk: spool %s: %w", name, err)
	}
	in := FileInput(path, f)
	in.Name = name
	return in, cleanup, nil
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
	if e.Ref != "" {
		return fmt.Sprintf("line %d (ref %q): %s", e.Line, e.Ref, e.Reason)
	}
	return fmt.Sprintf("line %d: %s", e.Line, e.Reason)
}

// MaxRecordBytes bounds one input line (JSONL) so that a corrupt file cannot
// make a run hold an unbounded record in memory.
const MaxRecordBytes = 1 << 20

// Reader streams Rows from an input. Its memory does not grow with the input.
type Reader struct {
	next func() (Row, error)
}

// NewReader returns a Reader of r in format f. Next returns io.EOF at the end,
// a *RowError for an unusable record (keep calling Next), and any other error
// when the input as a whole cannot be read (a missing CSV column, an I/O error).
func NewReader(r io.Reader, f Format) (*Reader, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	skipBOM(br)
	switch f {
	case FormatCSV:
		c, err := newCSVReader(br)
		if err != nil {
			return nil, err
		}
		return &Reader{next: c.next}, nil
	case FormatJSONL:
		j := &jsonlReader{r: br}
		return &Reader{next: j.next}, nil
	case "":
		return nil, errors.New("bulk: input format not set (csv or jsonl)")
	}
	return nil, fmt.Errorf("bulk: unknown input format %q (want csv or jsonl)", string(f))
}

// Next returns the next row; see NewReader.
func (r *Reader) Next() (Row, error) { return r.next() }

func skipBOM(br *bufio.Reader) {
	if b, err := br.Peek(3); err == nil && b[0] == 0xEF && b[1] == 0xBB && b[2] == 0xBF {
		_, _ = br.Discard(3)
	}
}
