package bulk

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/codat-migrate/codat"
)

// CSV column names with a fixed meaning, in normColumn's form.
const (
	colRef         = "ref"
	colCompanyName = "companyname"
	colPlatform    = "platform"
	colDescription = "description"
	colTagPrefix   = "tag:"
)

type csvColumn struct {
	kind int // one of the kind* values below
	name string
}

const (
	kindField = iota
	kindRef
	kindCompanyName
	kindPlatform
	kindDescription
	kindTag
	kindIgnored // --ignore-columns
	kindUnnamed // an empty header cell at the end of the header
)

type csvReader struct {
	s    *csvScanner
	cols []csvColumn
}

func newCSVReader(br *bufio.Reader, ignore []string) (*csvReader, error) {
	s := &csvScanner{br: br, comma: sniffDelimiter(br)}
	rec, err := s.read()
	if errors.Is(err, io.EOF) {
		return nil, errors.New("the CSV input is empty: it needs a header line (ref,company_name,platform,<fields>)")
	}
	if err != nil {
		return nil, err
	}
	if rec.problem != "" {
		return nil, fmt.Errorf("CSV header: %s", rec.problem)
	}
	header := rec.fields
	// Spreadsheets write empty cells after the last named column.
	named := len(header)
	for named > 0 && strings.TrimSpace(header[named-1]) == "" {
		named--
	}
	ign := columnSet(ignore)
	c := &csvReader{s: s}
	iRef, iName, iPlatform := -1, -1, -1
	seen := map[string]int{}
	for i, h := range header {
		h = strings.TrimSpace(h)
		norm := normColumn(h)
		col := csvColumn{kind: kindField, name: h}
		switch {
		case i >= named:
			col.kind = kindUnnamed
		case h == "":
			return nil, fmt.Errorf("CSV header: column %d has no name", i+1)
		case ign[norm]:
			col.kind = kindIgnored
		case norm == colRef:
			col.kind, iRef = kindRef, i
		case norm == colCompanyName:
			col.kind, iName = kindCompanyName, i
		case norm == colPlatform:
			col.kind, iPlatform = kindPlatform, i
		case norm == colDescription:
			col.kind = kindDescription
		case strings.HasPrefix(strings.ToLower(h), colTagPrefix):
			col.kind, col.name = kindTag, strings.TrimSpace(h[len(colTagPrefix):])
			if col.name == "" {
				return nil, fmt.Errorf("CSV header: column %d has no tag key", i+1)
			}
		}
		if col.kind != kindUnnamed && col.kind != kindIgnored {
			key := norm
			if col.kind == kindField || col.kind == kindTag {
				key = h // wire field names and tag keys are case-sensitive
			}
			if j, dup := seen[key]; dup {
				return nil, fmt.Errorf("CSV header: column %s appears twice (columns %d and %d)", safeName(h), j+1, i+1)
			}
			seen[key] = i
		}
		c.cols = append(c.cols, col)
	}
	var missing []string
	if iRef < 0 {
		missing = append(missing, "ref")
	}
	if iName < 0 {
		missing = append(missing, "company_name")
	}
	if iPlatform < 0 {
		missing = append(missing, "platform")
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("the CSV header (read with %s as the delimiter) lacks column(s) %s: it needs ref, company_name, "+
			"platform and one column per authorization field", delimiterName(s.comma), strings.Join(missing, ", "))
	}
	return c, nil
}

// sniffDelimiter returns the one of ',', ';' and tab that the first line
// uses most outside quotes; ',' when none is used.
func sniffDelimiter(br *bufio.Reader) byte {
	head, _ := br.Peek(64 << 10)
	counts := map[byte]int{}
	quoted := false
	for _, b := range head {
		if b == '"' {
			quoted = !quoted
			continue
		}
		if quoted {
			continue
		}
		if b == '\n' {
			break
		}
		switch b {
		case ',', ';', '\t':
			counts[b]++
		}
	}
	best := byte(',')
	for _, d := range []byte{';', '\t'} {
		if counts[d] > counts[best] {
			best = d
		}
	}
	return best
}

func delimiterName(d byte) string {
	switch d {
	case ';':
		return "';'"
	case '\t':
		return "tab"
	}
	return "','"
}

func (c *csvReader) next() (Row, error) {
	for {
		rec, err := c.s.read()
		if err != nil {
			return Row{}, err
		}
		if rec.problem != "" {
			// Nothing of a malformed record is kept: its cells may be
			// shifted, and a token could land in the ref column.
			return Row{}, &RowError{Line: rec.line, Reason: rec.problem}
		}
		if blank(rec.fields) {
			continue
		}
		if len(rec.fields) != len(c.cols) && !c.trailingBlanks(rec.fields) {
			// As above: a short or long record's cells may be shifted.
			return Row{}, &RowError{Line: rec.line, Reason: fmt.Sprintf("has %d fields, the header has %d", len(rec.fields), c.named())}
		}
		row := Row{Line: rec.line, Fields: map[string]codat.Secret{}}
		var problems []string
		for i, col := range c.cols {
			v := ""
			if i < len(rec.fields) {
				v = strings.TrimSpace(rec.fields[i])
			}
			if rec.long[i] && col.kind != kindIgnored {
				problems = append(problems, fmt.Sprintf("column %s is longer than %d bytes", columnLabel(col, i), MaxFieldBytes))
				continue
			}
			switch col.kind {
			case kindRef:
				row.Ref = v
			case kindCompanyName:
				row.CompanyName = v
			case kindPlatform:
				row.Platform = v
			case kindDescription:
				row.Description = v
			case kindIgnored:
			case kindUnnamed:
				if v != "" {
					problems = append(problems, fmt.Sprintf("column %d has a value but no name in the header", i+1))
				}
			case kindTag:
				if v != "" {
					if row.Tags == nil {
						row.Tags = map[string]string{}
					}
					row.Tags[col.name] = v
				}
			default:
				// A CSV for several platforms has the columns of all of
				// them; a row fills only its own.
				if v != "" {
					row.Fields[col.name] = codat.Secret(v)
				}
			}
		}
		if len(problems) > 0 {
			// The cells are suspect: report none of them.
			return Row{}, &RowError{Line: rec.line, Reason: strings.Join(problems, "; ")}
		}
		return row, nil
	}
}

// named is the number of named header columns.
func (c *csvReader) named() int {
	n := 0
	for _, col := range c.cols {
		if col.kind != kindUnnamed {
			n++
		}
	}
	return n
}

// trailingBlanks accepts a record that differs from the header only in
// empty trailing cells: fewer or more empty cells after the named columns,
// as spreadsheets write them.
func (c *csvReader) trailingBlanks(fields []string) bool {
	n := c.named()
	if len(fields) < n {
		return false
	}
	for _, f := range fields[n:] {
		if strings.TrimSpace(f) != "" {
			return false
		}
	}
	return true
}

func columnLabel(col csvColumn, i int) string {
	switch col.kind {
	case kindRef:
		return "ref"
	case kindCompanyName:
		return "company_name"
	case kindPlatform:
		return "platform"
	case kindDescription:
		return "description"
	case kindTag:
		return "tag:" + strings.Trim(safeName(col.name), `"`)
	case kindUnnamed:
		return fmt.Sprintf("%d", i+1)
	}
	return safeName(col.name)
}

func blank(rec []string) bool {
	for _, f := range rec {
		if strings.TrimSpace(f) != "" {
			return false
		}
	}
	return true
}

// csvRecord is one record as csvScanner split it.
type csvRecord struct {
	fields []string
	long   map[int]bool // fields cut at MaxFieldBytes
	line   int          // the line the record starts on
	// problem, when set, says why the record is malformed (it is then to
	// be reported, not used).
	problem string
}

// csvScanner splits CSV records (RFC 4180: quoted fields may hold the
// delimiter, doubled quotes and line breaks; a quoted CRLF is read as LF)
// holding at most MaxRecordBytes of one record and MaxFieldBytes of one
// field in memory.
type csvScanner struct {
	br    *bufio.Reader
	comma byte
	line  int // physical lines begun so far
	eof   bool
}

// csvField is the state of the record being split.
type csvField struct {
	rec        csvRecord
	buf        []byte // the field so far, up to MaxFieldBytes
	n          int    // bytes of the field, counted past the cap too
	quoted     bool   // inside a quoted field
	afterQuote bool   // a quote was just read inside a quoted field
}

func (f *csvField) add(b byte) {
	f.n++
	if f.n <= MaxFieldBytes {
		f.buf = append(f.buf, b)
	}
}

func (f *csvField) end() {
	if f.n > MaxFieldBytes {
		if f.rec.long == nil {
			f.rec.long = map[int]bool{}
		}
		f.rec.long[len(f.rec.fields)] = true
	}
	f.rec.fields = append(f.rec.fields, string(f.buf))
	f.buf, f.n = f.buf[:0], 0
	f.quoted, f.afterQuote = false, false
}

// read returns the next record, io.EOF at the end, or an error for input
// that cannot be read (an I/O error, text that is not UTF-8).
func (s *csvScanner) read() (csvRecord, error) {
	if s.eof {
		return csvRecord{}, io.EOF
	}
	s.line++
	f := &csvField{rec: csvRecord{line: s.line}}
	for size := 1; ; size++ {
		b, err := s.br.ReadByte()
		if err != nil {
			if !errors.Is(err, io.EOF) {
				return csvRecord{}, fmt.Errorf("read CSV: %w", err)
			}
			s.eof = true
			if f.quoted && !f.afterQuote {
				s.bad(f, "a quoted field that starts on line %d is never closed", f.rec.line)
			}
			if size == 1 {
				return csvRecord{}, io.EOF
			}
			f.end()
			return s.finish(f.rec)
		}
		if size > MaxRecordBytes {
			// A runaway record (an unterminated quote, a file that is not
			// an export): drop it, and go on at the next line break.
			rec := csvRecord{line: f.rec.line, problem: fmt.Sprintf("record is longer than %d bytes (a runaway field, "+
				"or an unterminated quote?); reading goes on at the next line", MaxRecordBytes)}
			if b != '\n' {
				if err := s.skipLine(); err != nil {
					return csvRecord{}, err
				}
			}
			return rec, nil
		}
		if s.step(f, b) {
			return s.finish(f.rec)
		}
	}
}

// bad records why the record is malformed (the first reason only).
func (s *csvScanner) bad(f *csvField, format string, a ...any) {
	if f.rec.problem == "" {
		f.rec.problem = fmt.Sprintf("malformed CSV at line %d: ", s.line) + fmt.Sprintf(format, a...)
	}
}

// crlf reports whether the next byte is a line feed (b, a carriage return,
// ends a line).
func (s *csvScanner) crlf() bool {
	n, err := s.br.Peek(1)
	return err == nil && n[0] == '\n'
}

// step takes one byte of the record; it reports whether the record ended.
func (s *csvScanner) step(f *csvField, b byte) bool {
	switch {
	case f.quoted && !f.afterQuote:
		switch {
		case b == '"':
			f.afterQuote = true
		case b == '\r' && s.crlf():
			// a quoted CRLF is read as LF
		default:
			if b == '\n' {
				s.line++
			}
			f.add(b)
		}
	case f.quoted:
		switch {
		case b == '"': // a doubled quote
			f.add(b)
			f.afterQuote = false
		case b == s.comma:
			f.end()
		case b == '\n':
			f.end()
			return true
		case b == '\r' && s.crlf():
		default:
			s.bad(f, "a closing quote is followed by more text in the field")
			f.quoted = false
			f.add(b)
		}
	default:
		switch {
		case b == '"' && f.n == 0:
			f.quoted = true
		case b == '"':
			s.bad(f, "a quote in a field that is not quoted")
			f.add(b)
		case b == s.comma:
			f.end()
		case b == '\n':
			f.end()
			return true
		case b == '\r' && s.crlf():
		default:
			f.add(b)
		}
	}
	return false
}

// finish checks a complete record's encoding.
func (s *csvScanner) finish(rec csvRecord) (csvRecord, error) {
	for _, f := range rec.fields {
		if !utf8.ValidString(f) {
			return csvRecord{}, notUTF8(rec.line)
		}
	}
	return rec, nil
}

// skipLine discards the input up to and including the next line break.
func (s *csvScanner) skipLine() error {
	for {
		_, err := s.br.ReadSlice('\n')
		switch {
		case err == nil:
			return nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF):
			s.eof = true
			return nil
		default:
			return fmt.Errorf("read CSV: %w", err)
		}
	}
}
