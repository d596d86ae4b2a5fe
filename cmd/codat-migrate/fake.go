package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/codat-migrate/codat"
	"github.com/codat-migrate/codat/codattest"
)

// fakeAdminPrefix is where `codat-migrate fake` serves its own controls,
// beside the fake Codat API.
const fakeAdminPrefix = "/_fake/"

func fakeCommand() *command {
	c := &command{
		name:     "fake",
		exits:    []int{exitOK, exitUsage, exitFatal},
		exitText: map[int]string{exitOK: "stopped by Ctrl-C", exitFatal: "cannot listen on the address"},
		summary:  "serve a fake Codat API on loopback, to try migrations without an account",
		synopsis: "[flags]",
		help: `Serves an in-memory fake of Codat's Platform API (package codattest) over plain
HTTP on a loopback address, with Codat's quota rules, idempotency keys and
optional faults. It accepts the key in --api-key, else CODAT_API_KEY, else a
key derived from --seed, which it prints. Point the other commands at it:

  codat-migrate fake --addr 127.0.0.1:8787 &
  codat-migrate migrate --base-url http://127.0.0.1:8787 --input export.csv

Beside the API it serves two controls for tests:
  POST /_fake/next-day   move the fake's clock past the next 00:00 UTC quota reset
  GET  /_fake/status     companies, connections, requests, token PUTs per
                         connection and quota, as JSON

Its state lives in memory: stopping it (Ctrl-C) forgets everything.`,
	}
	c.run = func(a *app, args []string) int {
		fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
		optsFn := fakeFlagOptions(fs)
		var addr string
		var rejected, required multiFlag
		fs.StringVar(&addr, "addr", "127.0.0.1:8787", "loopback `address` to listen on (port 0 picks a free one)")
		fs.Var(&rejected, "reject-token", "a token `value` the platforms reject (the connection becomes Deauthorized); repeatable")
		fs.Var(&required, "require-fields", "make PUT …/authorization for a platform require these fields, as `KEY=f1,f2`; repeatable")
		// The fake's key is made up, so --api-key is allowed here; skip the
		// check the other commands make.
		fs.SetOutput(nilWriter{})
		fs.Usage = func() {}
		err := parseInterleaved(fs, args)
		if errors.Is(err, flag.ErrHelp) {
			a.commandHelp(a.stdout, c, fs)
			return exitOK
		}
		if err != nil {
			a.errorf(c, "%s", flagMessage(err))
			fmt.Fprintf(a.stderr, "Run 'codat-migrate %s --help' for usage.\n", c.name)
			return exitUsage
		}
		if fs.NArg() > 0 {
			return a.exitForSetupError(c, usageError{fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))})
		}
		opts, err := optsFn()
		if err != nil {
			return a.exitForSetupError(c, usageError{err})
		}
		return a.fake(c, fs, opts, addr, rejected, required)
	}
	return c
}

// fake serves the fake Codat API and its controls on addr until Ctrl-C.
func (a *app) fake(c *command, fs *flag.FlagSet, opts []codattest.Option, addr string, rejected, required multiFlag) int {
	opts, keySource, err := a.fakeOptions(fs, opts, rejected, required)
	if err != nil {
		return a.exitForSetupError(c, usageError{err})
	}
	clk := &shiftClock{}
	opts = append(opts, codattest.WithClock(clk))

	if err := checkLoopbackAddr(addr); err != nil {
		return a.exitForSetupError(c, usageError{err})
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		a.errorf(c, "%v", err)
		return exitFatal
	}
	if err := checkLoopbackAddr(l.Addr().String()); err != nil {
		l.Close()
		a.errorf(c, "%v", err)
		return exitFatal
	}
	srv, err := codattest.Start(opts...)
	if err != nil {
		l.Close()
		return a.exitForSetupError(c, usageError{err})
	}
	defer srv.Close()
	mux := http.NewServeMux()
	mux.Handle(fakeAdminPrefix, fakeAdmin(srv, clk))
	mux.Handle("/", srv.Handler())
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	serveErr := make(chan error, 1)
	go func() { serveErr <- hs.Serve(l) }()

	a.fakeBanner("http://"+l.Addr().String(), srv, keySource)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	select {
	case <-ctx.Done():
	case err := <-serveErr:
		a.errorf(c, "%v", err)
		return exitFatal
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = hs.Shutdown(shutdown)
	fmt.Fprintf(a.stdout, "Stopped after %d requests; %d companies forgotten.\n", srv.RequestCount(), srv.CompanyCount())
	return exitOK
}

// fakeOptions adds to opts the API key from the environment (unless
// --api-key gives one), the rejected tokens and the required fields, and
// says where the key the fake accepts comes from.
func (a *app) fakeOptions(fs *flag.FlagSet, opts []codattest.Option, rejected, required multiFlag) ([]codattest.Option, string, error) {
	keySource := "derived from --seed; a made-up key this fake accepts"
	if fl := fs.Lookup("api-key"); fl != nil && fl.Value.String() != "" {
		keySource = "as given by --api-key"
	} else if env := strings.TrimSpace(a.getenv(envAPIKey)); env != "" {
		opts = append(opts, codattest.WithAPIKey(env))
		keySource = "the value of " + envAPIKey
	}
	for _, v := range rejected {
		opts = append(opts, codattest.WithRejectedToken(v))
	}
	for _, spec := range required {
		key, fields, ok := strings.Cut(spec, "=")
		if !ok || key == "" || fields == "" {
			return nil, "", fmt.Errorf("--require-fields %q: want KEY=field1,field2", spec)
		}
		opts = append(opts, codattest.WithRequiredFields(key, strings.Split(fields, ",")...))
	}
	return opts, keySource, nil
}

// fakeBanner says where the fake listens, the key it accepts (printed
// only when it is made up) and how to use it.
func (a *app) fakeBanner(url string, srv *codattest.Server, keySource string) {
	fmt.Fprintf(a.stdout, "Fake Codat API listening on %s\n", url)
	if strings.HasPrefix(keySource, "derived") {
		fmt.Fprintf(a.stdout, "API key: %s (%s)\n", srv.APIKey(), keySource)
		fmt.Fprintf(a.stdout, "  export %s=%s\n", envAPIKey, srv.APIKey())
	} else {
		fmt.Fprintf(a.stdout, "API key: %s\n", keySource)
	}
	fmt.Fprintf(a.stdout, "Try: codat-migrate migrate --base-url %s --input export.csv\n", url)
	fmt.Fprintf(a.stdout, "Controls: POST %s%snext-day, GET %s%sstatus. Ctrl-C stops (the state is lost).\n", url, fakeAdminPrefix, url, fakeAdminPrefix)
}

// shiftClock is the real clock moved forward by an offset that the
// next-day control increases, so quota days can pass in a test while pull
// operations still progress in real time.
type shiftClock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *shiftClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

// nextDay moves the clock one second past the next 00:00 UTC.
func (c *shiftClock) nextDay() {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now().Add(c.offset)
	c.offset += codat.NextQuotaReset(now).Add(time.Second).Sub(now)
}

func fakeAdmin(srv *codattest.Server, clk *shiftClock) http.Handler {
	mux := http.NewServeMux()
	status := func(w http.ResponseWriter) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(fakeStatusJSON(clk.Now(), srv))
	}
	mux.HandleFunc("GET "+fakeAdminPrefix+"status", func(w http.ResponseWriter, r *http.Request) { status(w) })
	mux.HandleFunc("POST "+fakeAdminPrefix+"next-day", func(w http.ResponseWriter, r *http.Request) {
		clk.nextDay()
		status(w)
	})
	return mux
}

// checkLoopbackAddr refuses any address that is not loopback: the fake has
// no security.
func checkLoopbackAddr(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("--addr %q: %v", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("--addr %q: the fake serves only loopback addresses (127.0.0.1, ::1, localhost)", addr)
}

// multiFlag is a repeatable string flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

type nilWriter struct{}

func (nilWriter) Write(p []byte) (int, error) { return len(p), nil }
