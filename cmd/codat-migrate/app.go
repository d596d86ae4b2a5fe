package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strings"
	"sync"

	"golang.org/x/term"
)

// Exit codes. They are part of the command's interface: scripts and CI jobs
// branch on them, so they are documented in the usage text and the README.
const (
	exitOK          = 0   // every row migrated (or was already migrated)
	exitRowsFailed  = 1   // some rows failed or were invalid: see the report
	exitUsage       = 2   // bad flags or arguments
	exitFatal       = 3   // could not run at all: bad key, unreadable input, API unreachable…
	exitQuota       = 75  // the daily quota is spent; resumable after the reset (EX_TEMPFAIL)
	exitInterrupted = 130 // stopped by Ctrl-C; resumable (128 + SIGINT)
)

// exitCodeText says what each exit code means; a command may say it in its
// own terms (command.exits).
var exitCodeText = map[int]string{
	exitOK:          "success",
	exitRowsFailed:  "some rows failed or were invalid: see the report",
	exitUsage:       "usage error (a flag, an argument, no API key)",
	exitFatal:       "fatal error (bad key, unreadable input, API unreachable, canary failed…)",
	exitQuota:       "daily quota spent (or Codat kept refusing requests with a rate limit of unknown kind): resumable; the message gives the time and the command to resume",
	exitInterrupted: "interrupted (Ctrl-C): resumable with the same command",
}

// exitCodesHelp lists the exit codes of migrate, the command that can return
// them all, for the general usage text.
var exitCodesHelp = exitHelp("Exit codes: (of 'migrate'; each command's --help lists its own)",
	migrateExitText, migrateExits...)

// exitHelp is an exit codes block for codes under header, in the words of
// exitCodeText unless own says otherwise.
func exitHelp(header string, own map[int]string, codes ...int) string {
	var b strings.Builder
	b.WriteString(header + "\n")
	for _, c := range codes {
		text := exitCodeText[c]
		if t, ok := own[c]; ok {
			text = t
		}
		fmt.Fprintf(&b, "  %-4d %s\n", c, text)
	}
	return b.String()
}

// app is one invocation of the command: its streams, environment and the
// few operating-system hooks the commands need, so tests can run it in process.
type app struct {
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	getenv func(string) string

	// stderrTTY reports whether stderr is a terminal: progress bars there,
	// plain periodic lines elsewhere.
	stderrTTY bool
	// termWidth returns the terminal's width, or 0 when unknown.
	termWidth func() int
	// exit ends the process at once (a second Ctrl-C).
	exit func(code int)
	// signals, when set, replaces the operating system's interrupt signals
	// (tests send on it).
	signals chan os.Signal

	// beforeExit runs before a second Ctrl-C ends the process, which skips
	// deferred calls: it removes the spooled copy of standard input.
	mu         sync.Mutex
	beforeExit []func()
}

// onHardExit registers f to run if the process is ended by a second Ctrl-C.
func (a *app) onHardExit(f func()) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.beforeExit = append(a.beforeExit, f)
}

// hardExit runs the registered clean-ups and ends the process.
func (a *app) hardExit(code int) {
	a.mu.Lock()
	fs := a.beforeExit
	a.beforeExit = nil
	a.mu.Unlock()
	for _, f := range fs {
		f()
	}
	a.exit(code)
}

func newApp() *app {
	fd := int(os.Stderr.Fd())
	tty := term.IsTerminal(fd)
	var stderr io.Writer = os.Stderr
	if tty {
		// Messages and log lines go above the progress bar.
		stderr = &console{w: os.Stderr}
	}
	return &app{
		stdin:     os.Stdin,
		stdout:    os.Stdout,
		stderr:    stderr,
		getenv:    os.Getenv,
		stderrTTY: tty,
		termWidth: func() int {
			w, _, err := term.GetSize(fd)
			if err != nil {
				return 0
			}
			return w
		},
		exit: os.Exit,
	}
}

// command is one subcommand.
type command struct {
	name     string
	summary  string
	synopsis string // the arguments after the command's name
	help     string // paragraphs printed by --help before the flags
	run      func(a *app, args []string) int
	hidden   bool
	// exits are the exit codes the command can return, and what each means
	// for it when exitCodeText's words do not fit.
	exits    []int
	exitText map[int]string
}

func commands() []*command {
	return []*command{
		demoCommand(),
		validateCommand(),
		planCommand(),
		migrateCommand(),
		statusCommand(),
		integrationsCommand(),
		fakeCommand(),
		versionCommand(),
	}
}

func (a *app) run(args []string) int {
	if len(args) == 0 {
		a.usage(a.stderr)
		return exitUsage
	}
	name := args[0]
	switch name {
	case "-h", "-help", "--help", "help":
		if len(args) > 1 && name == "help" {
			if c := findCommand(args[1]); c != nil {
				return c.run(a, []string{"--help"})
			}
		}
		a.usage(a.stdout)
		return exitOK
	case "-version", "--version":
		name = "version"
	}
	c := findCommand(name)
	if c == nil {
		fmt.Fprintf(a.stderr, "codat-migrate: unknown command %q\n\n", name)
		a.usage(a.stderr)
		return exitUsage
	}
	return c.run(a, args[1:])
}

func findCommand(name string) *command {
	for _, c := range commands() {
		if c.name == name {
			return c
		}
	}
	return nil
}

func (a *app) usage(w io.Writer) {
	fmt.Fprint(w, `codat-migrate moves existing OAuth connections (QuickBooks Online, Xero, FreeAgent,
Shopify, …) into Codat without the end customer reconnecting.

Usage:
  codat-migrate <command> [flags]

Start here (no key, no network):
  codat-migrate demo

Commands:
`)
	for _, c := range commands() {
		if c.hidden {
			continue
		}
		fmt.Fprintf(w, "  %-13s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, `
A migration, step by step:
  1. stop the old system's syncing for these customers (refresh tokens rotate:
     two systems refreshing one grant invalidate each other)
  2. codat-migrate validate --input export.csv      every row checked offline
  3. codat-migrate plan --input export.csv          requests, quota and days needed
  4. codat-migrate migrate --input export.csv       one canary company first, then the rest
  5. codat-migrate status --journal export.csv.journal

Run 'codat-migrate <command> --help' for a command's flags.

Environment:
  CODAT_API_KEY   your Codat API key (or --api-key-file FILE); never passed as a flag

`)
	fmt.Fprint(w, exitCodesHelp)
}

// parse parses a subcommand's flags. It prints the command's help to stdout
// for --help (ok false, code 0) and a short error to stderr for a bad flag
// (ok false, code 2).
func (a *app) parse(c *command, fs *flag.FlagSet, args []string) (ok bool, code int) {
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	if bad := forbiddenKeyFlag(args); bad != "" {
		fmt.Fprintf(a.stderr, "codat-migrate %s: %s is not accepted: a key on the command line is visible to other users and kept in shell history.\n"+
			"Set CODAT_API_KEY in the environment, or pass --api-key-file FILE.\n", c.name, bad)
		return false, exitUsage
	}
	err := parseInterleaved(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		a.commandHelp(a.stdout, c, fs)
		return false, exitOK
	}
	if err != nil {
		fmt.Fprintf(a.stderr, "codat-migrate %s: %s\nRun 'codat-migrate %s --help' for usage.\n", c.name, flagMessage(err), c.name)
		return false, exitUsage
	}
	return true, exitOK
}

// parseInterleaved parses args with flags before, between and after the
// positional arguments (the standard flag package stops at the first
// positional one): "validate export.csv --report r.json" works. A "--"
// ends the flags; what follows it is positional. Afterwards fs.Args() holds
// the positional arguments in order.
func parseInterleaved(fs *flag.FlagSet, args []string) error {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		// The flag package consumes a "--" that ends the flags; find out
		// whether it did, from what was left before the positional.
		consumed := len(args) - len(rest)
		if consumed > 0 && args[consumed-1] == "--" {
			pos = append(pos, rest...)
			break
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
	return fs.Parse(append([]string{"--"}, pos...))
}

// forbiddenKeyFlag reports a flag that would put the API key on the command
// line, without echoing its value.
func forbiddenKeyFlag(args []string) string {
	for _, arg := range args {
		if arg == "--" {
			return ""
		}
		name := strings.TrimLeft(arg, "-")
		if name == arg {
			continue
		}
		name, _, _ = strings.Cut(name, "=")
		switch strings.ToLower(name) {
		case "api-key", "apikey", "key", "token", "api_key":
			return "--" + name
		}
	}
	return ""
}

func (a *app) commandHelp(w io.Writer, c *command, fs *flag.FlagSet) {
	fmt.Fprintf(w, "Usage: codat-migrate %s %s\n\n", c.name, c.synopsis)
	if c.help != "" {
		fmt.Fprintln(w, strings.TrimSpace(c.help))
		fmt.Fprintln(w)
	}
	var names []string
	fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
	if len(names) > 0 {
		fmt.Fprintln(w, "Flags:")
		sort.Strings(names)
		for _, n := range names {
			f := fs.Lookup(n)
			typ, usage := flag.UnquoteUsage(f)
			line := "  --" + f.Name
			if typ != "" {
				line += " " + typ
			}
			fmt.Fprintln(w, line)
			usage = strings.ReplaceAll(usage, "\n", "\n      ")
			if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" && f.DefValue != "0s" {
				usage += fmt.Sprintf(" (default %s)", f.DefValue)
			}
			fmt.Fprintf(w, "      %s\n", usage)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprint(w, exitHelp("Exit codes:", c.exitText, c.exits...))
}

// errorf prints "codat-migrate CMD: message" to stderr, in the CLI's terms
// (see operatorText).
func (a *app) errorf(c *command, format string, args ...any) {
	fmt.Fprintf(a.stderr, "codat-migrate %s: %s\n", c.name, operatorText(fmt.Sprintf(format, args...)))
}

// warnf prints a warning to stderr.
func (a *app) warnf(format string, args ...any) {
	fmt.Fprintf(a.stderr, "warning: %s\n", fmt.Sprintf(format, args...))
}

// singleDash matches the flag package's "-name" in its error messages.
var singleDash = regexp.MustCompile(`(^|[\s:])-([A-Za-z][\w-]*)`)

// flagMessage is a flag parsing error with flags written --name, as the
// help writes them.
func flagMessage(err error) string {
	return singleDash.ReplaceAllString(err.Error(), "$1--$2")
}
