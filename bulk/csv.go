package bulk

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/codat-migrate/codat"
)

// CSV column names with a fixed meaning; matched case-insensitively.
const (
	colRef         = "ref"
	colCompanyName = "company_name"
	colPlatform    = "platform"
	colDescription = "description"
	colTagPrefix   = "tag:"
)

type csvColumn struct {
	kind int // one of the col* kinds below
	name string
}

const (
	kindField = iota
	kindRef
	kindCompanyName
	kindPlatform
	kindDescription
	kindTag
)

type csvReader struct {
	r    *csv.Reader
	cols []csvColumn
}

func newCSVReader(r io.Reader) (*csvReader, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, errors.New("bulk: CSV input is empty: it needs a header line (ref,company_name,platform,<fields>)")
	}
	if err != nil {
		return nil, fmt.Errorf("bulk: CSV header: %s", csvErrorReason(err))
	}
	c := &csvReader{r: cr}
	iRef, iName, iPlatform := -1, -1, -1
	seen := map[string]int{}
	for i, h := range header {
		h = strings.TrimSpace(h)
		lower := strings.ToLower(h)
		col := csvColumn{kind: kindField, name: h}
		switch {
		case h == "":
			return nil, fmt.Errorf("bulk: CSV header: column %d has no name", i+1)
		case lower == colRef:
			col.kind, iRef = kindRef, i
		case lower == colCompanyName:
			col.kind, iName = kindCompanyName, i
		case lower == colPlatform:
			col.kind, iPlatform = kindPlatform, i
		case lower == colDescription:
			col.kind = kindDescription
		case strings.HasPrefix(lower, colTagPrefix):
			col.kind, col.name = kindTag, strings.TrimSpace(h[len(colTagPrefix):])
			if col.name == "" {
				return nil, fmt.Errorf("bulk: CSV header: column %d has no tag key", i+1)
			}
		}
		key := lower
		if col.kind == kindField {
			key = h // wire field names are case-sensitive
		}
		if j, dup := seen[key]; dup {
			return nil, fmt.Errorf("bulk: CSV header: column %s appears twice (columns %d and %d)", safeName(h), j+1, i+1)
		}
		seen[key] = i
		c.cols = append(c.cols, col)
	}
	var missing []string
	if iRef < 0 {
		missing = append(missing, colRef)
	}
	if iName < 0 {
		missing = append(missing, colCompanyName)
	}
	if iPlatform < 0 {
		missing = append(missing, colPlatform)
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("bulk: CSV header lacks column(s) %s (it needs ref,company_name,platform and one column per authorization field)", strings.Join(missing, ", "))
	}
	return c, nil
}

// csvErrorReason describes a CSV parse error without quoting the input.
func csvErrorReason(err error) string {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return fmt.Sprintf("malformed CSV at line %d, column %d: %s", pe.Line, pe.Column, pe.Err)
	}
	return err.Error()
}

func (c *csvReader) next() (Row, error) {
	for {
		rec, err := c.r.Read()
		if errors.Is(err, io.EOF) {
			return Row{}, io.EOF
		}
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			// The reader has consumed the bad record; the next call goes on
			// after it. Nothing of a malformed record is kept: its cells may
			// be shifted, and a token could land in the ref column.
			return Row{}, &RowError{Line: pe.StartLine, Reason: csvErrorReason(err)}
		}
		if err != nil {
			return Row{}, fmt.Errorf("bulk: read CSV: %w", err)
		}
		line, _ := c.r.FieldPos(0)
		if blank(rec) {
			continue
		}
		if len(rec) != len(c.cols) {
			// As above: a short or long record's cells may be shifted.
			return Row{}, &RowError{Line: line, Reason: fmt.Sprintf("has %d fields, the header has %d", len(rec), len(c.cols))}
		}
		row := Row{Line: line, Fields: map[string]codat.Secret{}}
		for i, col := range c.cols {
			v := strings.TrimSpace(rec[i])
			switch col.kind {
			case kindRef:
				row.Ref = v
			case kindCompanyName:
				row.CompanyName = v
			case kindPlatform:
				row.Platform = v
			case kindDescription:
				row.Description = v
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
		return row, nil
	}
}

func blank(rec []string) bool {
	for _, f := range rec {
		if strings.TrimSpace(f) != "" {
			return false
		}
	}
	return true
}
