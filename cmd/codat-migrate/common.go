package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/codat-migrate/codat"
	"github.com/codat-migrate/codat/integrations"
)

// connFlags are the flags of commands that talk to Codat.
type connFlags struct {
	apiKeyFile string
	baseURL    string
}

func (f *connFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.apiKeyFile, "api-key-file", "", "read the Codat API key from this `file` (default: the CODAT_API_KEY environment variable)")
	fs.StringVar(&f.baseURL, "base-url", codat.DefaultBaseURL, "Codat API base `URL` (http only for loopback, e.g. a 'codat-migrate fake')")
}

// logFlags set up the diagnostic log on stderr.
type logFlags struct{ level string }

func (f *logFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.level, "log-level", "warn", "diagnostic log `level` on stderr: debug, info (one line per row), warn or error")
}

func (f *logFlags) logger(w io.Writer) (*slog.Logger, error) {
	var lvl slog.Level
	switch strings.ToLower(f.level) {
	case "debug":
		lvl = slog.LevelDebug
	case "info":
		lvl = slog.LevelInfo
	case "warn", "warning":
		lvl = slog.LevelWarn
	case "error":
		lvl = slog.LevelError
	default:
		return nil, usageError{fmt.Errorf("--log-level %q: want debug, info, warn or error", f.level)}
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: lvl})), nil
}

// inputFlags name the export to read.
type inputFlags struct {
	input  string
	format string
	spec   string
	ignore listFlag
}

func (f *inputFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.input, "input", "", "the export to read: a CSV or JSONL `file`, or - for standard input")
	fs.StringVar(&f.format, "format", "", "input `format`: csv or jsonl (default: from the file extension, else sniffed); the CSV delimiter (',', ';' or tab) is detected")
	fs.StringVar(&f.spec, "spec", "", "correct or extend the integrations' field names from a Postman collection or a spec `file` (detected)")
	fs.Var(&f.ignore, "ignore-columns", "input `columns` that are not for Codat (owner_email,notes): not read, not checked; comma-separated, repeatable")
}

// open opens the input the flags name, with the columns to ignore.
func (f *inputFlags) open(a *app) (*inputFile, error) {
	in, err := openInput(f.input, f.format, a.stdin, a.stderr)
	if err != nil {
		return nil, err
	}
	in.input.IgnoreColumns = f.ignore
	return in, nil
}

// listFlag is a comma-separated, repeatable list of names.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*l = append(*l, s)
		}
	}
	return nil
}

// resolveInput takes --input, or the single positional argument.
func (f *inputFlags) resolveInput(fs *flag.FlagSet) error {
	switch {
	case fs.NArg() > 1:
		return usageError{fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args()[1:], " "))}
	case fs.NArg() == 1 && f.input != "":
		return usageError{fmt.Errorf("input given twice: --input %s and %s", f.input, fs.Arg(0))}
	case fs.NArg() == 1:
		f.input = fs.Arg(0)
	}
	if f.input == "" {
		return usageError{errNoInput}
	}
	return nil
}

// loadRegistry returns a fresh registry, corrected by the --spec file when
// one is given. It says what the file changed on w.
func loadRegistry(spec string, w io.Writer) (*integrations.Registry, error) {
	reg, err := integrations.NewRegistry()
	if err != nil || spec == "" {
		return reg, err
	}
	b, err := os.ReadFile(spec)
	if err != nil {
		return nil, fmt.Errorf("--spec: %w", err)
	}
	kind := specKind(b)
	var ch integrations.Changes
	switch kind {
	case "Postman collection":
		ch, err = reg.LoadPostman(bytes.NewReader(b))
	default:
		ch, err = reg.LoadSpec(bytes.NewReader(b))
	}
	clear(b)
	if err != nil {
		return nil, fmt.Errorf("--spec %s (read as a %s): %w", spec, kind, err)
	}
	if ch.Empty() {
		fmt.Fprintf(w, "%s %s changed no integration\n", kind, spec)
	} else {
		fmt.Fprintf(w, "Loaded %s %s:\n", kind, spec)
		for _, line := range strings.Split(strings.TrimSpace(ch.String()), "\n") {
			fmt.Fprintf(w, "  %s\n", line)
		}
	}
	return reg, nil
}

// specKind tells a Postman collection (info.schema or info._postman_id, or a
// top-level item list) from a spec file (a platforms list).
func specKind(b []byte) string {
	var probe struct {
		Info *struct {
			Schema    string `json:"schema"`
			PostmanID string `json:"_postman_id"`
		} `json:"info"`
		Item      json.RawMessage `json:"item"`
		Platforms json.RawMessage `json:"platforms"`
	}
	if err := json.Unmarshal(b, &probe); err != nil {
		return "spec file"
	}
	if probe.Platforms != nil {
		return "spec file"
	}
	if probe.Info != nil && (strings.Contains(strings.ToLower(probe.Info.Schema), "postman") || probe.Info.PostmanID != "") {
		return "Postman collection"
	}
	if probe.Item != nil {
		return "Postman collection"
	}
	return "spec file"
}

// newClient builds a Codat client from --api-key-file or CODAT_API_KEY. The
// key is a codat.Secret from the moment it is read; it is revealed only to
// NewClient.
func (a *app) newClient(cf *connFlags, logger *slog.Logger) (*codat.Client, error) {
	c, _, err := a.newClientKey(cf, logger)
	return c, err
}

// newClientKey is newClient that also returns the API key (read once: it
// may come from a pipe), for the account lock.
func (a *app) newClientKey(cf *connFlags, logger *slog.Logger) (*codat.Client, codat.Secret, error) {
	key, err := loadAPIKey(cf.apiKeyFile, a.getenv, a.stderr)
	if err != nil {
		return nil, "", err
	}
	// A migration's context is cancelled only when the first Ctrl-C's grace
	// period runs out, and that ends its request at once; the resume
	// reconciles what the request may have done.
	c, err := codat.NewClient(key.Reveal(),
		codat.WithHTTPClient(newHTTPClient()),
		codat.WithBaseURL(cf.baseURL),
		codat.WithUserAgent(userAgent()),
		codat.WithLogger(logger),
	)
	if err != nil && strings.Contains(err.Error(), "WithBaseURL") {
		err = usageError{err} // a --base-url the client refuses
	}
	return c, key, err
}

// checkReportPath refuses a --report whose extension names no report format.
func checkReportPath(path string) error {
	if path == "" {
		return nil
	}
	switch strings.ToLower(filepath.Ext(path)) {
	case ".csv", ".json", ".jsonl", ".ndjson":
		return nil
	}
	return usageError{fmt.Errorf("--report %s: want a .csv, .json or .jsonl file", path)}
}

// idleConnsPerHost is how many idle connections the CLI's HTTP client keeps
// to Codat. It must be at least --concurrency: http.DefaultTransport keeps 2,
// so with 4 migrations in flight every burst of requests would open new TLS
// connections and close them again. Idle connections beyond the requests
// actually in flight are never opened, so a large value costs nothing.
const idleConnsPerHost = 256

// newHTTPClient is the CLI's HTTP client: the codat.NewClient default (a 60 s
// timeout per attempt) over a copy of http.DefaultTransport that keeps
// idleConnsPerHost idle connections.
func newHTTPClient() *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = max(tr.MaxIdleConns, idleConnsPerHost)
	tr.MaxIdleConnsPerHost = idleConnsPerHost
	return &http.Client{Timeout: 60 * time.Second, Transport: tr}
}

// isProduction reports whether the base URL is Codat's production API.
func isProduction(base string) bool {
	u, err := url.Parse(base)
	if err != nil {
		return false
	}
	return strings.EqualFold(u.Hostname(), "api.codat.io")
}

// defaultSidecar returns the default journal or report path for an input:
// next to it, "<input><suffix>".
func defaultSidecar(in *inputFile, journal, suffix string) string {
	if !in.Stdin {
		return in.Path + suffix
	}
	base := strings.TrimSuffix(journal, ".journal")
	if base == "" {
		base = "codat-migrate"
	}
	return base + suffix
}

// absPath returns p made absolute for messages, or p when that fails.
func absPath(p string) string {
	if abs, err := filepath.Abs(p); err == nil {
		return abs
	}
	return p
}

// exitForSetupError maps an error raised before any work started.
func (a *app) exitForSetupError(c *command, err error) int {
	var ue usageError
	if errors.As(err, &ue) {
		a.errorf(c, "%v", err)
		fmt.Fprintf(a.stderr, "Run 'codat-migrate %s --help' for usage.\n", c.name)
		return exitUsage
	}
	if errors.Is(err, errNoAPIKey) {
		a.errorf(c, "%v", err)
		return exitUsage
	}
	a.errorf(c, "%v", err)
	return exitFatal
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s == "" {
		return "''"
	}
	safe := true
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./=:,+@%", r)) {
			safe = false
			break
		}
	}
	if safe {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// commandLine renders "codat-migrate <name> <args…>" for messages.
func commandLine(name string, args []string) string {
	parts := []string{"codat-migrate", name}
	for _, a := range args {
		parts = append(parts, shellQuote(a))
	}
	return strings.Join(parts, " ")
}

// humanDuration prints a duration to the minute for long waits and to the
// second for short ones.
func humanDuration(d time.Duration) string {
	switch {
	case d < 0:
		return "now"
	case d < time.Minute:
		return d.Round(time.Second).String()
	case d < 48*time.Hour:
		return strings.TrimSuffix(d.Round(time.Minute).String(), "0s")
	default:
		days := int(d.Hours()) / 24
		return fmt.Sprintf("%dd%dh", days, int(d.Hours())%24)
	}
}
