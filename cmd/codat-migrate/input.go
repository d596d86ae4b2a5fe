package main

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
)

// inputFile is an export opened for a command: a path on disk that can be read
// more than once (a duplicate pre-pass, then the run). Standard input is
// spooled to a private temporary file first; Close removes it.
type inputFile struct {
	mu sync.Mutex

	// Path is the file to read.
	Path string
	// Name is what messages call it: the path given, or "stdin".
	Name string
	// Format is "csv" or "jsonl".
	Format string
	// Stdin reports whether the rows came from standard input.
	Stdin   bool
	cleanup func()
}

// Close removes the spooled copy of standard input, if there is one.
func (in *inputFile) Close() {
	if in == nil {
		return
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.cleanup != nil {
		in.cleanup()
		in.cleanup = nil
	}
}

// errNoInput is a usage error: no --input and no positional file.
var errNoInput = errors.New("no input: pass --input FILE (or --input - for standard input)")

// openInput resolves --input and --format. arg "-" reads standard input into a
// 0600 temporary file, removed by Close. A file that other users can read is
// reported on warn, because exports hold live tokens.
func openInput(arg, format string, stdin io.Reader, warn io.Writer) (*inputFile, error) {
	format = strings.ToLower(strings.TrimSpace(format))
	switch format {
	case "", "csv", "jsonl":
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
	return &inputFile{Path: arg, Name: arg, Format: format}, nil
}

// formatFromName returns the format a file name's extension implies, or "".
func formatFromName(name string) string {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".csv":
		return "csv"
	case ".jsonl", ".ndjson", ".json":
		return "jsonl"
	}
	return ""
}

// sniffFormat guesses the format from the first non-blank byte: a JSON object
// starts with '{'; anything else is read as CSV.
func sniffFormat(r *bufio.Reader) string {
	head, _ := r.Peek(4096)
	head = bytes.TrimLeft(bytes.TrimPrefix(head, []byte("\xef\xbb\xbf")), " \t\r\n")
	if len(head) > 0 && head[0] == '{' {
		return "jsonl"
	}
	return "csv"
}

func spoolStdin(stdin io.Reader, format string) (*inputFile, error) {
	f, err := os.CreateTemp("", "codat-migrate-stdin-*")
	if err != nil {
		return nil, fmt.Errorf("spooling standard input: %w", err)
	}
	name := f.Name()
	cleanup := func() { os.Remove(name) }
	// CreateTemp already creates the file 0600; say so explicitly, since it
	// holds tokens.
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		cleanup()
		return nil, fmt.Errorf("spooling standard input: %w", err)
	}
	br := bufio.NewReader(stdin)
	if format == "" {
		format = sniffFormat(br)
	}
	if _, err := io.Copy(f, br); err != nil {
		f.Close()
		cleanup()
		return nil, fmt.Errorf("reading standard input: %w", err)
	}
	if err := f.Close(); err != nil {
		cleanup()
		return nil, fmt.Errorf("spooling standard input: %w", err)
	}
	return &inputFile{Path: name, Name: "stdin", Format: format, Stdin: true, cleanup: cleanup}, nil
}

// usageError marks an error that should end the command with exit code 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }
