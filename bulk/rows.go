package bulk

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
)

// Source is the rows a run reads, as many times as it asks: Run, Plan and
// Validate read it once to find duplicates before anything is sent, then
// again to decide and migrate each row. Every pass after the first is
// checked against the first, row by row (a hash of each row, its line
// included): a source whose rows changed, moved, appeared or went between
// two passes stops the call with ErrInputChanged at the first row that
// differs, before that row is decided.
//
// An Input (a CSV or JSON Lines export) is a Source; RowSource and
// RowsFunc feed rows a program holds itself (read from its own database,
// say).
type Source interface {
	// Label names the source in messages, in Summary.Input and Plan.Input,
	// and in the journal.
	Label() string
	// Rows yields every row, in order, on each call. A *RowError yielded
	// is a row that cannot be used: it is reported invalid and the next
	// is read. Any other error stops the pass.
	//
	// A row's Line is its position for reports: lines must increase from
	// one row to the next. A Line of zero is given the row's 1-based
	// position among the rows yielded.
	Rows(ctx context.Context) iter.Seq2[Row, error]
}

// Label returns the input's Name.
func (in Input) Label() string { return in.Name }

// Rows opens the input, parses it in its format and yields its records:
// a *RowError for a record that cannot be used, and an error that ends
// the pass when the input as a whole cannot be read.
func (in Input) Rows(ctx context.Context) iter.Seq2[Row, error] {
	return func(yield func(Row, error) bool) {
		rd, closeInput, err := in.open()
		if err != nil {
			yield(Row{}, err)
			return
		}
		defer closeInput()
		for ctx.Err() == nil {
			row, err := rd.Next()
			if errors.Is(err, io.EOF) || !yield(row, err) {
				return
			}
			var re *RowError
			if err != nil && !errors.As(err, &re) {
				return
			}
		}
		yield(Row{}, ctx.Err())
	}
}

// open opens the input and a Reader of it, with the function that closes
// it.
func (in Input) open() (*Reader, func(), error) {
	if in.Open == nil {
		return nil, nil, errors.New("bulk: input has no Open function")
	}
	f := in.Format
	if f == "" {
		var err error
		if f, err = FormatFromPath(in.Name); err != nil {
			return nil, nil, err
		}
	}
	rc, err := in.Open()
	if err != nil {
		return nil, nil, fmt.Errorf("bulk: open input %s: %w", in.Name, err)
	}
	in.Format = f
	rd, err := in.NewReader(rc)
	if err != nil {
		_ = rc.Close()
		return nil, nil, fmt.Errorf("%w (input %s)", err, in.Name)
	}
	return rd, func() { _ = rc.Close() }, nil
}

// RowSource is a Source over rows held in memory: a page of a backend's
// own table, a test's rows. Rows yields them in order, every time.
type RowSource struct {
	// Name is the source's Label.
	Name string
	// List is the rows; a zero Line is the row's 1-based position.
	List []Row
}

// Label returns s.Name.
func (s RowSource) Label() string { return s.Name }

// Rows yields s.List.
func (s RowSource) Rows(ctx context.Context) iter.Seq2[Row, error] {
	return func(yield func(Row, error) bool) {
		for _, row := range s.List {
			if !yield(row, nil) {
				return
			}
		}
	}
}

// RowsFunc is a Source whose rows a function yields, called once a pass:
// a backend's query over its own database, run again for each pass (the
// query must return the same rows in the same order each time, or the
// call stops with ErrInputChanged). Its Label is "rows"; use NamedRows to
// give it another.
type RowsFunc func(ctx context.Context) iter.Seq2[Row, error]

// Label returns "rows".
func (f RowsFunc) Label() string { return "rows" }

// Rows calls f.
func (f RowsFunc) Rows(ctx context.Context) iter.Seq2[Row, error] { return f(ctx) }

// NamedRows is f with the Label name.
func NamedRows(name string, f RowsFunc) Source { return namedRows{name, f} }

type namedRows struct {
	name string
	RowsFunc
}

func (n namedRows) Label() string { return n.name }

// errNoInput is the error of a call given a nil Source.
var errNoInput = errors.New("bulk: no input (nil Source)")

// eachRow reads src once and calls fn for every row; rowErr is set for a
// row that could not be parsed. A zero line is given the row's position;
// lines that do not increase are an error (the index keys rows by line).
func eachRow(ctx context.Context, src Source, fn func(row Row, rowErr *RowError) error) error {
	if src == nil {
		return errNoInput
	}
	pos, last := 0, 0
	for row, err := range src.Rows(ctx) {
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
		pos++
		var re *RowError
		if errors.As(err, &re) {
			cp := *re
			re = &cp
			row = Row{Line: re.Line, Ref: re.Ref, CompanyName: re.CompanyName, Platform: re.Platform}
		} else if err != nil {
			return err
		}
		if row.Line == 0 {
			row.Line = pos
		}
		if row.Line <= last {
			return fmt.Errorf("bulk: input %s: the row at position %d has line %d, not after line %d (lines must increase)", src.Label(), pos, row.Line, last)
		}
		last = row.Line
		if re != nil {
			re.Line = row.Line
		}
		if err := fn(row, re); err != nil {
			return err
		}
	}
	return ctx.Err()
}
