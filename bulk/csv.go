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

// read returns the next record, io.EOF at the end, or an error for input
// that cannot be read (an I/O error, text that is not UTF-8).
func (s *csvScanner) read() (csvRecord, error) {
	if s.eof {
		return csvRecord{}, io.EOF
	}
	s.line++
	rec := csvRecord{line: s.line}
	var field []byte
	size := 0
	quoted, afterQuote, fieldStart := false, false, true
	flen := 0 // bytes of the current field, counted past the cap too
	endField := func() {
		if flen > MaxFieldBytes {
			if rec.long == nil {
				rec.long = map[int]bool{}
			}
			rec.long[len(rec.fields)] = true
		}
		rec.fields = append(rec.fields, string(field))
		field, flen = field[:0], 0
		quoted, afterQuote, fieldStart = false, false, true
	}
	add := func(b byte) {
		flen++
		if flen <= MaxFieldBytes {
			field = append(field, b)
		}
	}
	bad := func(format string, a ...any) {
		if rec.problem == "" {
			rec.problem = fmt.Sprintf("malformed CSV at line %d: ", s.line) + fmt.Sprintf(format, a...)
		}
	}
	for {
		b, err := s.br.ReadByte()
		if err != nil {
			if !errors.Is(err, io.EOF) {
				return csvRecord{}, fmt.Errorf("read CSV: %w", err)
			}
			s.eof = true
			if quoted && !afterQuote {
				bad("a quoted field that starts on line %d is never closed", rec.line)
			}
			if size == 0 && len(rec.fields) == 0 {
				return csvRecord{}, io.EOF
			}
			endField()
			return s.finish(rec)
		}
		size++
		if size > MaxRecordBytes {
			// A runaway record (an unterminated quote, a file that is not
			// an export): drop it, and go on at the next line break.
			rec.fields, rec.long = nil, nil
			rec.problem = fmt.Sprintf("record is longer than %d bytes (a runaway field, or an unterminated quote?); reading goes on at the next line", MaxRecordBytes)
			if b != '\n' {
				if err := s.skipLine(); err != nil {
					return csvRecord{}, err
				}
			}
			return rec, nil
		}
		switch {
		case quoted && !afterQuote:
			switch b {
			case '"':
				afterQuote = true
			case '\n':
				s.line++
				add(b)
			case '\r':
				if n, err := s.br.Peek(1); err == nil && n[0] == '\n' {
					continue // a quoted CRLF is read as LF
				}
				add(b)
			default:
				add(b)
			}
		case quoted && afterQuote:
			switch b {
			case '"': // a doubled quote
				add(b)
				afterQuote = false
			case s.comma:
				endField()
			case '\n':
				endField()
				return s.finish(rec)
			case '\r':
				if n, err := s.br.Peek(1); err == nil && n[0] == '\n' {
					continue
				}
				bad("a quote is followed by a carriage return")
				quoted = false
			default:
				bad("a closing quote is followed by more text in the field")
				quoted = false
				add(b)
			}
		default:
			switch b {
			case '"':
				if fieldStart && flen == 0 {
					quoted, fieldStart = true, false
					continue
				}
				bad("a quote in a field that is not quoted")
				add(b)
			case s.comma:
				endField()
			case '\n':
				endField()
				return s.finish(rec)
			case '\r':
				if n, err := s.br.Peek(1); err == nil && n[0] == '\n' {
					continue
				}
				add(b)
			default:
				fieldStart = false
				add(b)
			}
		}
	}
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
