package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	"github.com/codat-migrate/codat/bulk"
)

// inputFile is an export opened for a command: a source of rows that can be
// read more than once (a duplicate pre-pass, then the run). Standard input is
// spooled to a private temporary file, unlinked at once; Close closes it.
type inputFile struct {
	mu sync.Mutex

	// Path is the file given, "" for standard input.
	Path string
	// Name is what messages call it: the path given, or "stdin".
	Name string
	// Format is "csv" or "jsonl".
	Format string
	// Stdin reports whether the rows came from standard input.
	Stdin   bool
	input   bulk.Input
	cleanup func() error
}

// bulkInput is the input for bulk, with the columns to ignore.
func (in *inputFile) bulkInput() bulk.Input { return in.input }

// Close closes the spooled copy of standard input, if there is one.
func (in *inputFile) Close() {
	if in == nil {
		return
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.cleanup != nil {
		_ = in.cleanup()
		in.cleanup = nil
	}
}

// errNoInput is a usage error: no --input and no positional file.
var errNoInput = errors.New("no input: pass --input FILE (or --input - for standard input)")

// openInput resolves --input and --format. arg "-" reads standard input into a
// 0600 temporary file, unlinked at once and closed by Close. A file that other
// users can read is reported on warn, because exports hold live tokens.
func openInput(arg, format string, stdin io.Reader, warn io.Writer) (*inputFile, error) {
	format = strings.ToLower(strings.TrimSpace(format))
	switch format {
	case "", "csv", "jsonl":
	case "tsv":
		format = "csv" // the delimiter is detected
	case "ndjson", "json":
		format = "jsonl"
	default:
		return nil, usageError{fmt.Errorf("--format %q: want csv or jsonl", format)}
	}
	if arg == "" {
		return nil, usageError{errNoInput}
	}
	if arg == "-" {
		return spoolStdin(stdin, format)
	}
	st, err := os.Stat(arg)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("input %s: no such file", arg)
		}
		return nil, err
	}
	if st.IsDir() {
		return nil, fmt.Errorf("%s is a directory, not an export file", arg)
	}
	if st.Mode().IsRegular() && st.Mode().Perm()&0o044 != 0 {
		fmt.Fprintf(warn, "warning: %s can be read by other users (mode %04o) and holds live tokens; run: chmod 600 %s\n",
			arg, st.Mode().Perm(), arg)
	}
	if format == "" {
		format = formatFromName(arg)
	}
	if format == "" {
		f, err := os.Open(arg)
		if err != nil {
			return nil, err
		}
		format = sniffFormat(bufio.NewReader(f))
		f.Close()
	}
	in := bulk.FileInput(arg, bulk.Format(format))
	return &inputFile{Path: arg, Name: arg, Format: format, input: in}, nil
}

// formatFromName returns the format a file name's extension implies, or "".
func formatFromName(name string) string {
	f, err := bulk.FormatFromPath(name)
	if err != nil {
		return ""
	}
	return string(f)
}

// sniffFormat guesses the format from the first non-blank byte: JSON starts
// with '{' (or '[', which the reader then refuses by name); anything else is
// read as CSV.
func sniffFormat(r *bufio.Reader) string {
	head, _ := r.Peek(4096)
	head = bytes.TrimLeft(bytes.TrimPrefix(head, []byte("\xef\xbb\xbf")), " \t\r\n")
	if len(head) > 0 && (head[0] == '{' || head[0] == '[') {
		return "jsonl"
	}
	return "csv"
}

func spoolStdin(stdin io.Reader, format string) (*inputFile, error) {
	br := bufio.NewReader(stdin)
	if format == "" {
		format = sniffFormat(br)
	}
	in, cleanup, err := bulk.Spool(br, "", "stdin", bulk.Format(format))
	if err != nil {
		return nil, fmt.Errorf("reading standard input: %w", err)
	}
	return &inputFile{Name: "stdin", Format: format, Stdin: true, input: in, cleanup: cleanup}, nil
}

// usageError marks an error that should end the command with exit code 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }
