package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/codat-migrate/codat"
	"github.com/codat-migrate/codat/bulk"
	"github.com/codat-migrate/codat/integrations"
	"github.com/codat-migrate/codat/internal/testutil"
)

// binary is the codat-migrate executable built once for every test.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "codat-migrate-test-bin-*")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "codat-migrate")
	if runtime.GOOS == "windows" {
		binary += ".exe"
	}
	build := exec.Command("go", "build", "-o", binary, ".")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building codat-migrate:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := testutil.RunWithPrivateState(m)
	os.RemoveAll(dir)
	os.Exit(code)
}

// testAPIKey is the key the fakes accept and the CLI sends; it must never be
// printed or written.
const testAPIKey = "cm-test-key-4f1d8a7c2b9e6d3f0a5c"

// cliResult is one finished run of the binary.
type cliResult struct {
	stdout, stderr string
	code           int
}

func (r cliResult) String() string {
	return fmt.Sprintf("exit %d\n--- stdout:\n%s\n--- stderr:\n%s", r.code, r.stdout, r.stderr)
}

// baseEnv is the environment of every run: no inherited API key, a private
// temporary directory.
func baseEnv(t *testing.T, tmp string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, envAPIKey+"=") || strings.HasPrefix(kv, "TMPDIR=") || strings.HasPrefix(kv, "XDG_STATE_HOME=") {
			continue
		}
		env = append(env, kv)
	}
	// The account lock lives in the state directory: the test's own.
	return append(env, "TMPDIR="+tmp, "XDG_STATE_HOME="+t.TempDir())
}

type runOpts struct {
	env   []string // extra KEY=VALUE
	stdin io.Reader
	dir   string
}

// run runs the binary to completion (at most a minute).
func run(t *testing.T, o runOpts, args ...string) cliResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	tmp := t.TempDir()
	cmd.Env = append(baseEnv(t, tmp), o.env...)
	cmd.Dir = o.dir
	cmd.Stdin = o.stdin
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	res := cliResult{stdout: stdout.String(), stderr: stderr.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		res.code = ee.ExitCode()
	} else {
		require.NoError(t, err, "running %v", args)
	}
	return res
}

// fake is a `codat-migrate fake` subprocess.
type fake struct {
	url string
	cmd *exec.Cmd
}

// startFake runs `codat-migrate fake` on a free loopback port with the test
// key and returns once it listens. It is stopped with SIGINT at cleanup.
func startFake(t *testing.T, args ...string) *fake {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"fake", "--addr", "127.0.0.1:0"}, args...)...)
	cmd.Env = append(baseEnv(t, t.TempDir()), envAPIKey+"="+testAPIKey)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	var stderr syncBuffer
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	f := &fake{cmd: cmd}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	urlRe := regexp.MustCompile(`listening on (http://\S+)`)
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	deadline := time.After(15 * time.Second)
	for f.url == "" {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatalf("fake exited before listening: %s", stderr.String())
			}
			assert.NotContains(t, line, testAPIKey, "the fake never prints a key it was given")
			if m := urlRe.FindStringSubmatch(line); m != nil {
				f.url = m[1]
			}
		case <-deadline:
			t.Fatalf("fake did not start: %s", stderr.String())
		}
	}
	go func() {
		for range lines {
		}
	}()
	return f
}

// client is a Codat client for inspecting the fake's state through its API.
func (f *fake) client(t *testing.T) *codat.Client {
	t.Helper()
	c, err := codat.NewClient(testAPIKey, codat.WithBaseURL(f.url))
	require.NoError(t, err)
	return c
}

// companiesByRef lists every company in the fake (one request) and groups
// them by their migrationRef tag.
func (f *fake) companiesByRef(t *testing.T) map[string][]codat.Company {
	t.Helper()
	page, err := f.client(t).Companies.List(context.Background(), &codat.ListOptions{PageSize: codat.MaxPageSize})
	require.NoError(t, err)
	require.Len(t, page.Results, page.TotalResults, "one page holds every company")
	out := map[string][]codat.Company{}
	for _, co := range page.Results {
		out[co.Tags[codat.RefTagKey]] = append(out[co.Tags[codat.RefTagKey]], co)
	}
	return out
}

// admin calls one of the fake's controls.
func (f *fake) admin(t *testing.T, method, name string) fakeStatus {
	t.Helper()
	req, err := http.NewRequest(method, f.url+fakeAdminPrefix+name, nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var st fakeStatus
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&st))
	return st
}

// writeExport writes a sample export into dir and returns it.
func writeExport(t *testing.T, dir string, o sampleOptions) *sampleExport {
	t.Helper()
	if o.Format == "" {
		o.Format = "csv"
	}
	if o.Seed == 0 {
		o.Seed = 11
	}
	ex, err := generateSample(filepath.Join(dir, "export."+o.Format), integrations.Default(), o)
	require.NoError(t, err)
	require.NotEmpty(t, ex.Tokens)
	return ex
}

// readReport reads a CSV report into maps keyed by column name.
func readReport(t *testing.T, path string) []map[string]string {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	require.NoError(t, err)
	require.NotEmpty(t, recs, "the report has a header")
	var out []map[string]string
	for _, rec := range recs[1:] {
		m := map[string]string{}
		for i, h := range recs[0] {
			m[h] = rec[i]
		}
		out = append(out, m)
	}
	return out
}

func statusCounts(rows []map[string]string) map[string]int {
	m := map[string]int{}
	for _, r := range rows {
		m[r["status"]]++
	}
	return m
}

// assertNoSecrets checks that neither the API key nor any token of the export
// appears in the outputs or in the files.
func assertNoSecrets(t *testing.T, ex *sampleExport, outputs []string, files ...string) {
	t.Helper()
	secrets := append([]string{testAPIKey}, ex.Tokens...)
	for _, p := range files {
		b, err := os.ReadFile(p)
		require.NoError(t, err, "reading %s", p)
		outputs = append(outputs, string(b))
	}
	for i, out := range outputs {
		for _, s := range secrets {
			if strings.Contains(out, s) {
				// Say which secret leaked by position only: printing it
				// would put it in the test log.
				t.Errorf("output %d holds a secret (secret #%d of %d)", i, indexOf(secrets, s), len(secrets))
			}
		}
	}
}

func indexOf(xs []string, x string) int {
	for i, v := range xs {
		if v == x {
			return i
		}
	}
	return -1
}

func keyEnv() []string { return []string{envAPIKey + "=" + testAPIKey} }

func TestUsageHelpAndVersion(t *testing.T) {
	res := run(t, runOpts{})
	assert.Equal(t, exitUsage, res.code, res)
	assert.Contains(t, res.stderr, "Usage:")
	assert.Contains(t, res.stderr, "Exit codes:")

	res = run(t, runOpts{}, "--help")
	assert.Equal(t, exitOK, res.code, res)
	for _, c := range commands() {
		assert.Contains(t, res.stdout, "  "+c.name+" ", "usage lists %s", c.name)
	}

	for _, c := range commands() {
		t.Run(c.name, func(t *testing.T) {
			res := run(t, runOpts{}, c.name, "--help")
			assert.Equal(t, exitOK, res.code, res)
			assert.Contains(t, res.stdout, "Usage: codat-migrate "+c.name)
			assert.Contains(t, res.stdout, "Exit codes:")
			// Each command lists the codes it can return, and no other.
			require.NotEmpty(t, c.exits)
			block := res.stdout[strings.Index(res.stdout, "Exit codes:"):]
			for _, code := range []int{exitOK, exitRowsFailed, exitUsage, exitFatal, exitQuota, exitInterrupted} {
				listed := regexp.MustCompile(fmt.Sprintf(`(?m)^  %d\s`, code)).MatchString(block)
				assert.Equal(t, slices.Contains(c.exits, code), listed, "exit code %d", code)
			}
			// One dash style, and every flag documented.
			assert.NotRegexp(t, `(?m)^  -[a-z]`, res.stdout, "flags are shown as --flag")
			for _, m := range regexp.MustCompile(`(?m)^  --(\S+)`).FindAllStringSubmatch(res.stdout, -1) {
				assert.NotContains(t, res.stdout, "\n  --"+m[1]+"\n      \n", "--%s has a description", m[1])
			}
		})
	}

	res = run(t, runOpts{}, "version")
	assert.Equal(t, exitOK, res.code, res)
	assert.Regexp(t, `^codat-migrate \S+ \(go`, res.stdout)
	assert.True(t, strings.HasPrefix(res.stdout, "codat-migrate "+codat.Version+" "), "version agrees with codat.Version: %s", res.stdout)

	res = run(t, runOpts{}, "validate", "--no-such-flag", "x.csv")
	assert.Equal(t, exitUsage, res.code, res)
	assert.Contains(t, res.stderr, "flag provided but not defined: --no-such-flag", "flags are written --name")

	res = run(t, runOpts{}, "frobnicate")
	assert.Equal(t, exitUsage, res.code, res)
	assert.Contains(t, res.stderr, `unknown command "frobnicate"`)

	res = run(t, runOpts{}, "migrate", "--concurrency", "nope", "x.csv")
	assert.Equal(t, exitUsage, res.code, res)
	assert.Contains(t, res.stderr, "codat-migrate migrate --help")
}

func TestKeyNeverAFlag(t *testing.T) {
	for _, args := range [][]string{
		{"migrate", "--api-key", testAPIKey, "--input", "x.csv"},
		{"plan", "--api-key=" + testAPIKey, "x.csv"},
		{"integrations", "--remote", "-token", testAPIKey},
	} {
		res := run(t, runOpts{}, args...)
		assert.Equal(t, exitUsage, res.code, res)
		assert.Contains(t, res.stderr, "CODAT_API_KEY")
		assert.NotContains(t, res.stderr+res.stdout, testAPIKey, "the rejected flag's value is not echoed")
	}
}

func TestMissingKeyIsAUsageError(t *testing.T) {
	dir := t.TempDir()
	ex := writeExport(t, dir, sampleOptions{Customers: 20, Clean: true})
	res := run(t, runOpts{}, "migrate", "--input", ex.Path, "--base-url", "http://127.0.0.1:9")
	assert.Equal(t, exitUsage, res.code, res)
	assert.Contains(t, res.stderr, "no API key")
	_, err := os.Stat(ex.Path + ".journal")
	assert.True(t, os.IsNotExist(err), "nothing was started")
}

func TestDemo(t *testing.T) {
	dir := t.TempDir()
	res := run(t, runOpts{}, "demo", "--dir", dir, "--latency", "0")
	require.Equal(t, exitOK, res.code, res)
	for _, want := range []string{
		"1. Sample export: 200 customers",
		"2. Validate", "3. Plan", "4. Migrate", "5. What Codat saw", "6. Run the same migration again",
		"migrated", "token-rejected", "per migrated company: 4 requests",
		"Token rejected: send these customers their re-link URL",
		"0 requests sent;",
		"Report:",
	} {
		assert.Contains(t, res.stdout, want)
	}
	report := filepath.Join(dir, "export.csv.report.csv")
	rows := readReport(t, report)
	require.Len(t, rows, 200, "one report line per input row")
	counts := statusCounts(rows)
	assert.Equal(t, 1, counts["token-rejected"])
	assert.Equal(t, 5, counts["invalid"])
	assert.Equal(t, 2, counts["duplicate"])
	assert.Equal(t, 192, counts["migrated"])

	// The demo's export is the one generateSample writes with the demo's
	// seed; regenerate its tokens to check none leaked.
	ex, err := generateSample(filepath.Join(t.TempDir(), "again.csv"), integrations.Default(),
		sampleOptions{Customers: 200, Format: "csv", Seed: 2024, RejectedToken: demoRejectedToken})
	require.NoError(t, err)
	want, err := os.ReadFile(filepath.Join(dir, "export.csv"))
	require.NoError(t, err)
	for _, tok := range ex.Tokens[:20] {
		require.Contains(t, string(want), tok, "the regenerated tokens are the demo's")
	}
	assertNoSecrets(t, ex, []string{res.stdout, res.stderr}, report, filepath.Join(dir, "export.csv.journal"))
	st, err := os.Stat(filepath.Join(dir, "export.csv"))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm())
}

func TestValidateNamesEveryBadRow(t *testing.T) {
	dir := t.TempDir()
	ex := writeExport(t, dir, sampleOptions{Customers: 40})
	require.Len(t, ex.Special, 7, "5 invalid rows and a duplicate pair")

	res := run(t, runOpts{}, "validate", "--input", ex.Path)
	assert.Equal(t, exitRowsFailed, res.code, res)
	for line, what := range ex.Special {
		assert.Regexp(t, fmt.Sprintf(`(?m)^line %d\s+ref cust-\d+\s+%s`, line, strings.Fields(what)[0][:len(strings.Fields(what)[0])-1]),
			res.stdout, "line %d (%s) is named", line, what)
	}
	assert.Contains(t, res.stdout, "33 valid, 5 invalid, 2 duplicate; nothing was sent")
	assertNoSecrets(t, ex, []string{res.stdout, res.stderr})

	// The same rows as JSONL on standard input.
	jex := writeExport(t, t.TempDir(), sampleOptions{Customers: 40, Format: "jsonl"})
	data, err := os.ReadFile(jex.Path)
	require.NoError(t, err)
	res = run(t, runOpts{stdin: bytes.NewReader(data)}, "validate", "--input", "-")
	assert.Equal(t, exitRowsFailed, res.code, res)
	for line := range jex.Special {
		assert.Regexp(t, fmt.Sprintf(`(?m)^line %d\s`, line), res.stdout)
	}

	clean := writeExport(t, t.TempDir(), sampleOptions{Customers: 25, Clean: true})
	res = run(t, runOpts{}, "validate", clean.Path)
	assert.Equal(t, exitOK, res.code, res)
	assert.Contains(t, res.stdout, "25 rows, 25 valid")
}

func TestInputReadableByOthersWarns(t *testing.T) {
	ex := writeExport(t, t.TempDir(), sampleOptions{Customers: 20, Clean: true})
	require.NoError(t, os.Chmod(ex.Path, 0o644))
	res := run(t, runOpts{}, "validate", "--input", ex.Path)
	assert.Equal(t, exitOK, res.code, res)
	assert.Contains(t, res.stderr, "can be read by other users")
	assert.Contains(t, res.stderr, "chmod 600")
}

// migrateArgs are the flags every migrate test uses against a fake: quick
// canary polling and progress lines, and no client-side pacing (1,000
// requests a minute would make each test take seconds).
func migrateArgs(f *fake, input string, extra ...string) []string {
	return append([]string{"migrate", "--input", input, "--base-url", f.url, "--canary-poll", "20ms",
		"--progress-interval", "100ms", "--requests-per-minute", "-1"}, extra...)
}

// fastSync makes the fake's pull operations finish at once, so canaries
// pass on their first poll.
var fastSync = []string{"--sync-fetch-after", "0", "--sync-complete-after", "0"}

func TestMigrateAgainstFake(t *testing.T) {
	f := startFake(t, fastSync...)
	dir := t.TempDir()
	ex := writeExport(t, dir, sampleOptions{Customers: 30, Clean: true})
	keyFile := filepath.Join(t.TempDir(), "key")
	require.NoError(t, os.WriteFile(keyFile, []byte(testAPIKey+"\n"), 0o600))

	res := run(t, runOpts{}, migrateArgs(f, ex.Path, "--api-key-file", keyFile)...)
	require.Equal(t, exitOK, res.code, res)
	assert.Contains(t, res.stdout, "30 rows in")
	assert.Contains(t, res.stdout, "per migrated company: 4 requests")
	assert.Contains(t, res.stderr, "progress [", "plain progress lines when stderr is not a terminal")

	report := ex.Path + ".report.csv"
	journal := ex.Path + ".journal"
	rows := readReport(t, report)
	require.Len(t, rows, 30)
	assert.Equal(t, map[string]int{"migrated": 30}, statusCounts(rows))
	byRef := f.companiesByRef(t)
	for _, r := range rows {
		assert.Len(t, byRef[r["ref"]], 1, "ref %s has one company", r["ref"])
		assert.NotEmpty(t, r["company_id"])
	}
	for _, p := range []string{journal, report} {
		st, err := os.Stat(p)
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o600), st.Mode().Perm(), p)
	}

	// status reads the journal.
	st := run(t, runOpts{}, "status", "--journal", journal)
	assert.Equal(t, exitOK, st.code, st)
	assert.Regexp(t, `migrated\s+30`, st.stdout)
	assert.Contains(t, st.stdout, "No started migration is left unfinished")

	// A rerun sends nothing for finished rows.
	before := f.admin(t, http.MethodGet, "status").Requests
	res2 := run(t, runOpts{env: keyEnv()}, migrateArgs(f, ex.Path)...)
	require.Equal(t, exitOK, res2.code, res2)
	assert.Equal(t, map[string]int{"already-migrated": 30}, statusCounts(readReport(t, report)))
	assert.Equal(t, before, f.admin(t, http.MethodGet, "status").Requests, "no request for finished rows")

	assertNoSecrets(t, ex, []string{res.stdout, res.stderr, st.stdout, res2.stdout, res2.stderr}, report, journal)
}

func TestMigrateReportsBadRows(t *testing.T) {
	f := startFake(t, append(fastSync, "--reject-token", "revoked-token-for-the-test")...)
	dir := t.TempDir()
	ex := writeExport(t, dir, sampleOptions{Customers: 40, RejectedToken: "revoked-token-for-the-test"})
	report := filepath.Join(dir, "out.json")
	res := run(t, runOpts{env: keyEnv()}, migrateArgs(f, ex.Path, "--report", report)...)
	require.Equal(t, exitRowsFailed, res.code, res)
	assert.Contains(t, res.stdout, "Token rejected: send these customers their re-link URL")

	var rows []struct {
		Line    int    `json:"line"`
		Ref     string `json:"ref"`
		Status  string `json:"status"`
		LinkURL string `json:"linkUrl"`
	}
	b, err := os.ReadFile(report)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &rows))
	require.Len(t, rows, 40, "every input row is reported exactly once")
	seen := map[int]bool{}
	counts := map[string]int{}
	for _, r := range rows {
		assert.False(t, seen[r.Line], "line %d reported once", r.Line)
		seen[r.Line] = true
		counts[r.Status]++
		if r.Status == "token-rejected" {
			assert.NotEmpty(t, r.LinkURL)
		}
	}
	assert.Equal(t, map[string]int{"migrated": 32, "invalid": 5, "duplicate": 2, "token-rejected": 1}, counts)
	assertNoSecrets(t, ex, []string{res.stdout, res.stderr}, report, ex.Path+".journal")
}

func TestQuotaExhaustedThenResume(t *testing.T) {
	// 40 requests a day: the canary (5 requests with its sync poll) and a few
	// companies fit, then the quota is spent.
	f := startFake(t, append(fastSync, "--quota-daily", "40")...)
	dir := t.TempDir()
	ex := writeExport(t, dir, sampleOptions{Customers: 20, Clean: true})
	args := migrateArgs(f, ex.Path, "--concurrency", "2")

	res := run(t, runOpts{env: keyEnv()}, args...)
	require.Equal(t, exitQuota, res.code, res)
	assert.Contains(t, res.stderr, "daily request quota is spent")
	assert.Regexp(t, `It resets at \d{4}-\d\d-\d\d 00:00:\d\d UTC`, res.stderr)
	assert.Contains(t, res.stderr, "Resume then with:\n  codat-migrate migrate --input "+ex.Path)
	report := ex.Path + ".report.csv"
	first := statusCounts(readReport(t, report))
	require.Positive(t, first["migrated"])
	require.Positive(t, first["pending-quota"])
	assert.Equal(t, 20, first["migrated"]+first["pending-quota"], "%v", first)

	st := run(t, runOpts{}, "status", "--input", ex.Path)
	assert.Equal(t, exitOK, st.code, st)
	assert.Contains(t, st.stdout, "Last stop for quota")
	assert.Contains(t, st.stdout, fmt.Sprintf("%d done, 0 to resume, %d not started", first["migrated"], first["pending-quota"]))

	// Tomorrow: the fake's clock passes 00:00 UTC and the quota resets
	// (larger now: every linked company counts).
	day2 := f.admin(t, http.MethodPost, "next-day")
	require.Equal(t, 0, day2.Quota.Used)
	require.Equal(t, first["migrated"], day2.Companies, "the first run created a company only for each migrated row")

	res2 := run(t, runOpts{env: keyEnv()}, args...)
	require.Equal(t, exitOK, res2.code, res2)
	second := statusCounts(readReport(t, report))
	assert.Equal(t, first["migrated"], second["already-migrated"])
	assert.Equal(t, first["pending-quota"], second["migrated"])

	byRef := f.companiesByRef(t)
	assert.Len(t, byRef, 20)
	for ref, cos := range byRef {
		assert.Len(t, cos, 1, "ref %s has exactly one company", ref)
	}
	assertNoSecrets(t, ex, []string{res.stdout, res.stderr, res2.stdout, res2.stderr, st.stdout}, report, ex.Path+".journal")
}

func TestWaitForQuotaReset(t *testing.T) {
	f := startFake(t, append(fastSync, "--quota-daily", "30")...)
	dir := t.TempDir()
	ex := writeExport(t, dir, sampleOptions{Customers: 12, Clean: true})
	cmd := exec.Command(binary, migrateArgs(f, ex.Path, "--wait")...)
	cmd.Env = append(baseEnv(t, t.TempDir()), keyEnv()...)
	var stdout, stderr syncBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Start())
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	// The run waits for a reset hours away on the fake's clock: wait for the
	// progress line that says so, then move the fake to the next day.
	require.Eventually(t, func() bool { return strings.Contains(stderr.String(), "waiting for the quota reset") },
		20*time.Second, 50*time.Millisecond, "stderr: %s", stderr.String())
	f.admin(t, http.MethodPost, "next-day")
	// The runner sleeps until the reset on its own clock, which is real
	// time: it cannot see the fake's jump, so stop it and resume.
	require.NoError(t, cmd.Process.Signal(os.Interrupt))
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("migrate --wait did not stop on Ctrl-C")
	}
	assert.Equal(t, exitInterrupted, cmd.ProcessState.ExitCode(), "stderr: %s", stderr.String())
	assert.Contains(t, stderr.String(), "Resume with:")

	res := run(t, runOpts{env: keyEnv()}, migrateArgs(f, ex.Path)...)
	require.Equal(t, exitOK, res.code, res)
	byRef := f.companiesByRef(t)
	assert.Len(t, byRef, 12)
	for ref, cos := range byRef {
		assert.Len(t, cos, 1, "ref %s", ref)
	}
}

func TestInterruptAndResume(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("sends SIGINT")
	}
	for _, tc := range []struct {
		name        string
		signals     int
		latency     string
		concurrency string
	}{{"one Ctrl-C: in-flight steps finish", 1, "40ms", "3"}, {"two Ctrl-C: in-flight cut short, report complete", 2, "250ms", "6"}} {
		t.Run(tc.name, func(t *testing.T) {
			f := startFake(t, append(fastSync, "--latency", tc.latency)...)
			dir := t.TempDir()
			ex := writeExport(t, dir, sampleOptions{Customers: 40, Clean: true})
			args := migrateArgs(f, ex.Path, "--concurrency", tc.concurrency)
			cmd := exec.Command(binary, args...)
			cmd.Env = append(baseEnv(t, t.TempDir()), keyEnv()...)
			var stdout, stderr syncBuffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			require.NoError(t, cmd.Start())
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()

			// Interrupt once a few companies are done and others in flight.
			require.Eventually(t, func() bool { return f.admin(t, http.MethodGet, "status").Connections >= 6 },
				30*time.Second, 20*time.Millisecond)
			for i := 0; i < tc.signals; i++ {
				require.NoError(t, cmd.Process.Signal(syscall.SIGINT))
				// Apart enough not to be merged into one signal.
				time.Sleep(150 * time.Millisecond)
			}
			select {
			case <-done:
			case <-time.After(30 * time.Second):
				_ = cmd.Process.Kill()
				t.Fatalf("migrate did not stop on Ctrl-C: %s", stderr.String())
			}
			require.Equal(t, exitInterrupted, cmd.ProcessState.ExitCode(), "stdout: %s\nstderr: %s", stdout.String(), stderr.String())
			stopped := f.admin(t, http.MethodGet, "status")
			require.Less(t, stopped.Companies, 40, "the run stopped before the end")
			firstMigrated := -1
			if tc.signals == 1 {
				assert.Contains(t, stderr.String(), "no new migration will start; the migrations in flight finish (for up to 30s)")
				assert.Contains(t, stderr.String(), "Interrupted:")
				assert.NotContains(t, stderr.String(), "Quitting now")
				rows := readReport(t, ex.Path+".report.csv")
				assert.Len(t, rows, 40, "the report of an interrupted run is complete")
				counts := statusCounts(rows)
				assert.Positive(t, counts["migrated"], "%v", counts)
				assert.Positive(t, counts["not-started"], "%v", counts)
				assert.Zero(t, counts["failed"], "an interruption is not a failure: %v", counts)
				// The migrations in flight at the Ctrl-C finished: none is
				// left incomplete, and every company Codat has belongs to a
				// row reported migrated, with its connection Linked.
				assert.Zero(t, counts["incomplete"], "in-flight migrations finish on one Ctrl-C: %v", counts)
				assert.Equal(t, 40, counts["migrated"]+counts["not-started"], "%v", counts)
				assert.Equal(t, counts["migrated"], stopped.Companies, "a company per migrated row, no half-done one")
				assert.Equal(t, counts["migrated"], stopped.Connections)
				assert.Contains(t, stderr.String(), fmt.Sprintf("Interrupted: %d row(s) left to do", counts["not-started"]))
				firstMigrated = counts["migrated"]
			} else {
				assert.Contains(t, stderr.String(), "Cutting the migrations in flight short")
				assert.NotContains(t, stderr.String(), "Quitting now")
				rows := readReport(t, ex.Path+".report.csv")
				require.Len(t, rows, 40, "after two Ctrl-C every input row has its report line")
				for i, r := range rows {
					assert.Equal(t, fmt.Sprint(i+2), r["line"], "the report is in input order")
				}
				counts := statusCounts(rows)
				assert.Positive(t, counts["incomplete"], "the migrations in flight are reported incomplete: %v", counts)
				assert.Equal(t, 40, counts["migrated"]+counts["incomplete"]+counts["not-started"], "%v", counts)
				assert.Contains(t, stderr.String(), fmt.Sprintf("Interrupted: %d row(s) left to do", counts["incomplete"]+counts["not-started"]))
			}
			assert.Contains(t, stderr.String(), "codat-migrate migrate --input "+ex.Path)

			// The rerun comes after the window in which a token PUT cut
			// off in flight might still be running at Codat.
			res := run(t, runOpts{env: keyEnv()}, append(args, "--settle-window", "1ns")...)
			require.Equal(t, exitOK, res.code, res)
			counts := statusCounts(readReport(t, ex.Path+".report.csv"))
			assert.Equal(t, 40, counts["migrated"]+counts["already-migrated"], "%v", counts)
			if firstMigrated >= 0 {
				assert.Equal(t, firstMigrated, counts["already-migrated"], "what the first run finished is not redone: %v", counts)
			}

			byRef := f.companiesByRef(t)
			assert.Len(t, byRef, 40)
			for ref, cos := range byRef {
				require.Len(t, cos, 1, "ref %s has exactly one company", ref)
				cns, err := f.client(t).Connections.List(context.Background(), cos[0].ID, nil)
				require.NoError(t, err)
				require.Len(t, cns.Results, 1, "ref %s has exactly one connection", ref)
				assert.True(t, cns.Results[0].Status.Is(codat.StatusLinked), "ref %s is linked", ref)
			}
			assertNoSecrets(t, ex, []string{stdout.String(), stderr.String(), res.stdout, res.stderr},
				ex.Path+".report.csv", ex.Path+".journal")
		})
	}
}

func TestMigrateFromStdin(t *testing.T) {
	f := startFake(t, fastSync...)
	dir := t.TempDir()
	ex := writeExport(t, dir, sampleOptions{Customers: 20, Format: "jsonl", Clean: true})
	data, err := os.ReadFile(ex.Path)
	require.NoError(t, err)

	res := run(t, runOpts{env: keyEnv(), stdin: bytes.NewReader(data)}, "migrate", "--input", "-", "--base-url", f.url)
	assert.Equal(t, exitUsage, res.code, "stdin needs an explicit journal: %s", res)

	journal := filepath.Join(dir, "stdin.journal")
	tmp := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, append(migrateArgs(f, "-"), "--journal", journal)...)
	cmd.Env = append(baseEnv(t, tmp), keyEnv()...)
	cmd.Stdin = bytes.NewReader(data)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	rows := readReport(t, filepath.Join(dir, "stdin.report.csv"))
	assert.Equal(t, map[string]int{"migrated": 20}, statusCounts(rows))
	left, err := os.ReadDir(tmp)
	require.NoError(t, err)
	assert.Empty(t, left, "the spooled copy of standard input is removed")
	assertNoSecrets(t, ex, []string{string(out)}, journal)
}

func TestPlan(t *testing.T) {
	dir := t.TempDir()
	ex := writeExport(t, dir, sampleOptions{Customers: 300, Clean: true})
	before := time.Now()
	res := run(t, runOpts{}, "plan", "--input", ex.Path)
	after := time.Now()
	require.Equal(t, exitOK, res.code, res)
	assert.Contains(t, res.stdout, "no API key: assuming a fresh quota")
	assert.Contains(t, res.stdout, "about 1212 needed: 300 migrations × 4 = 1200, +12 for the canary's first-sync polls")
	// The schedule splits at 00:00 UTC, and the plan reads the real clock:
	// it must be the schedule of some moment while the plan ran.
	schedule := func(now time.Time) []string {
		est := bulk.EstimateSchedule(bulk.Schedule{Companies: 300, RequestsPerCompany: 4, Overhead: 12, Now: now})
		return scheduleLines(est.Days)
	}
	printed := printedSchedule(res.stdout)
	require.NotEmpty(t, printed, res.stdout)
	assert.True(t, scheduledDuring(before, after, schedule, printed),
		"the schedule printed is the one for a moment of the plan's run (%s – %s): %q", before.UTC(), after.UTC(), printed)
	if reset := codat.NextQuotaReset(after); reset.Sub(after) > 2*time.Minute {
		// Well before the reset: the whole day's quota is spent on day 1.
		assert.Regexp(t, `day 1 .* 1000 requests\n.*day 2 .* 212 requests\n`, res.stdout, "the schedule adds up to the requests needed")
	}
	assert.Contains(t, res.stdout, "day 2", "300 companies need more than one quota day")

	f := startFake(t)
	res = run(t, runOpts{env: keyEnv()}, "plan", "--input", ex.Path, "--base-url", f.url, "--json")
	require.Equal(t, exitOK, res.code, res)
	var p struct {
		Rows               int `json:"rows"`
		New                int `json:"new"`
		RequestsPerCompany int `json:"requestsPerCompany"`
		Quota              struct {
			Limit, Remaining int
		} `json:"quota"`
	}
	require.NoError(t, json.Unmarshal([]byte(res.stdout), &p), res.stdout)
	assert.Equal(t, 300, p.Rows)
	assert.Equal(t, 300, p.New)
	assert.Equal(t, 4, p.RequestsPerCompany)
	assert.Equal(t, 1000, p.Quota.Limit, "read from the fake's headers")
	assert.Equal(t, 0, f.admin(t, http.MethodGet, "status").Companies, "plan migrates nothing")
}

// scheduleDay matches a day of plan's schedule: start, ACC, quota,
// companies, requests.
var scheduleDay = regexp.MustCompile(`(?m)^\s*day \d+\s+(\d{4}-\d\d-\d\d \d\d:\d\d)\s+ACC (\d+)\s+quota (\d+)\s+(\d+) companies\s+(\d+) requests$`)

// printedSchedule is the days of plan's schedule in out, as scheduleLines
// writes them.
func printedSchedule(out string) []string {
	var days []string
	for _, m := range scheduleDay.FindAllStringSubmatch(out, -1) {
		days = append(days, strings.Join(m[1:], " "))
	}
	return days
}

// scheduleLines writes days as printedSchedule reads them from plan.
func scheduleLines(days []bulk.EstimateDay) []string {
	var out []string
	for _, d := range days {
		out = append(out, fmt.Sprintf("%s %d %d %d %d", d.Start.UTC().Format("2006-01-02 15:04"), d.ACC, d.Quota, d.Companies, d.Requests))
	}
	return out
}

// scheduledDuring reports whether printed is the schedule of a moment
// between before and after, tried every millisecond (the schedule changes
// at most every few hundred).
func scheduledDuring(before, after time.Time, schedule func(time.Time) []string, printed []string) bool {
	before, after = before.Round(0), after.Round(0)
	for t := before; !t.After(after.Add(time.Millisecond)); t = t.Add(time.Millisecond) {
		if slices.Equal(schedule(t), printed) {
			return true
		}
	}
	return false
}

func TestIntegrationsCommand(t *testing.T) {
	res := run(t, runOpts{}, "integrations")
	require.Equal(t, exitOK, res.code, res)
	assert.Regexp(t, `(?m)^qhyg\s+QuickBooks Online\s+Accounting\s+inferred\s+realmId`, res.stdout)
	assert.Regexp(t, `(?m)^olpr\s+Sage Bank Feeds\s+BankFeed\s+documented\s+authorizationId, bankId$`, res.stdout)
	assert.Regexp(t, `(?m)^akxx\s+Oracle NetSuite\s+Accounting\s+doubtful\s+accountId`, res.stdout)
	assert.Contains(t, res.stdout, "1 doubtful")
	assert.Contains(t, res.stdout, "Doubtful: Codat's documentation points to another credential for Oracle NetSuite (akxx); load the real body with --spec")

	res = run(t, runOpts{}, "integrations", "Xero")
	require.Equal(t, exitOK, res.code, res)
	assert.Contains(t, res.stdout, "Xero (gbol)")
	assert.Contains(t, res.stdout, "tenantId")

	spec := filepath.Join(t.TempDir(), "fields.json")
	require.NoError(t, os.WriteFile(spec, []byte(`{"version": 1, "platforms": [
		{"key": "wvzu", "name": "Kashflow", "sourceType": "Accounting", "source": "support ticket",
		 "fields": [{"name": "accessToken"}, {"name": "refreshToken"}]}]}`), 0o600))
	res = run(t, runOpts{}, "integrations", "--spec", spec)
	require.Equal(t, exitOK, res.code, res)
	assert.Regexp(t, `(?m)^wvzu\s+Kashflow\s+Accounting\s+loaded`, res.stdout)
	assert.Contains(t, res.stderr, "Loaded spec file")

	f := startFake(t)
	res = run(t, runOpts{env: keyEnv()}, "integrations", "--remote", "--base-url", f.url)
	require.Equal(t, exitOK, res.code, res)
	assert.Contains(t, res.stdout, "IN ACCOUNT")
	assert.Regexp(t, `(?m)^qhyg\s+QuickBooks Online\s+Accounting\s+inferred\s+enabled`, res.stdout)
}

func TestSpecDetection(t *testing.T) {
	assert.Equal(t, "Postman collection", specKind([]byte(`{"info":{"schema":"https://schema.getpostman.com/json/collection/v2.1.0/collection.json"},"item":[]}`)))
	assert.Equal(t, "Postman collection", specKind([]byte(`{"item":[{"name":"OAuth Token Migrations"}]}`)))
	assert.Equal(t, "spec file", specKind([]byte(`{"version":1,"platforms":[]}`)))
	assert.Equal(t, "spec file", specKind([]byte(`not json`)))
}

// syncBuffer is a bytes.Buffer safe for a writer and a reader at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestCanaryFailureThenSpecFix(t *testing.T) {
	// This Codat wants QuickBooks Online's refresh token as refresh_token,
	// not the registry's inferred refreshToken.
	f := startFake(t, append(fastSync, "--require-fields", "qhyg=realmId,accessToken,refresh_token")...)
	dir := t.TempDir()
	ex := writeExport(t, dir, sampleOptions{Customers: 12, Clean: true})
	args := migrateArgs(f, ex.Path)

	res := run(t, runOpts{env: keyEnv()}, args...)
	require.Equal(t, exitFatal, res.code, res)
	assert.Contains(t, res.stderr, "canary did not pass")
	assert.Equal(t, 1, f.admin(t, http.MethodGet, "status").Companies, "only the canary was started")
	counts := statusCounts(readReport(t, ex.Path+".report.csv"))
	assert.Equal(t, 1, counts["failed"], "%v", counts)
	assert.Equal(t, 11, counts["not-started"], "%v", counts)

	spec := filepath.Join(t.TempDir(), "fields.json")
	require.NoError(t, os.WriteFile(spec, []byte(`{"version": 1, "platforms": [{"key": "qhyg", "source": "Codat support",
		"fields": [{"name": "realmId"}, {"name": "accessToken"}, {"name": "refresh_token"}, {"name": "expiresAt", "required": false}]}]}`), 0o600))
	res2 := run(t, runOpts{env: keyEnv()}, append(args, "--spec", spec)...)
	require.Equal(t, exitOK, res2.code, res2)
	assert.Contains(t, res2.stderr, "renamed refreshToken → refresh_token")
	byRef := f.companiesByRef(t)
	assert.Len(t, byRef, 12)
	for ref, cos := range byRef {
		assert.Len(t, cos, 1, "ref %s has one company: the canary's was resumed, not created again", ref)
	}
	assertNoSecrets(t, ex, []string{res.stdout, res.stderr, res2.stdout, res2.stderr}, ex.Path+".report.csv", ex.Path+".journal")
}

func TestIntegrationsLoadsAPostmanCollection(t *testing.T) {
	res := run(t, runOpts{}, "integrations", "--spec", filepath.Join("..", "..", "examples", "custom-integration", "collection.json"), "wvzu")
	require.Equal(t, exitOK, res.code, res)
	assert.Contains(t, res.stderr, "Loaded Postman collection")
	assert.Contains(t, res.stdout, "Kashflow (wvzu)")
	assert.Contains(t, res.stdout, "Evidence: loaded")
}

// A second migrate on a journal another run holds fails before touching
// anything: the first run's report is left as it is.
func TestSecondRunOnALockedJournalKeepsTheReport(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("holds the journal with flock")
	}
	dir := t.TempDir()
	ex := writeExport(t, dir, sampleOptions{Customers: 3, Clean: true})
	journal := ex.Path + ".journal"
	report := ex.Path + ".report.csv"
	const first = "line,ref,status\n2,crm-1,migrated\n"
	require.NoError(t, os.WriteFile(report, []byte(first), 0o600))
	// The run in progress holds the journal.
	jf, err := os.OpenFile(journal, os.O_RDWR|os.O_CREATE, 0o600)
	require.NoError(t, err)
	defer jf.Close()
	require.NoError(t, syscall.Flock(int(jf.Fd()), syscall.LOCK_EX|syscall.LOCK_NB))

	res := run(t, runOpts{env: keyEnv()}, "migrate", "--input", ex.Path, "--base-url", "http://127.0.0.1:9", "--quiet")
	require.Equal(t, exitFatal, res.code, res)
	assert.Contains(t, res.stderr, "another codat-migrate is running")
	b, err := os.ReadFile(report)
	require.NoError(t, err)
	assert.Equal(t, first, string(b), "the running migration's report is intact")
}

// plan and migrate check the account for refs another journal migrated:
// nothing is created twice.
func TestAccountCheckAcrossJournals(t *testing.T) {
	f := startFake(t, fastSync...)
	dir := t.TempDir()
	ex := writeExport(t, dir, sampleOptions{Customers: 6, Clean: true})
	res := run(t, runOpts{env: keyEnv()}, migrateArgs(f, ex.Path, "--journal", filepath.Join(dir, "first.journal"))...)
	require.Equal(t, exitOK, res.code, res)

	other := filepath.Join(dir, "second.journal")
	plan := run(t, runOpts{env: keyEnv()}, "plan", "--input", ex.Path, "--base-url", f.url, "--journal", other)
	require.Equal(t, exitOK, plan.code, plan)
	assert.Regexp(t, `in Codat\s+6`, plan.stdout)
	assert.Contains(t, plan.stdout, ", +1 for the account check")

	before := f.admin(t, http.MethodGet, "status").Requests
	res = run(t, runOpts{env: keyEnv()}, migrateArgs(f, ex.Path, "--journal", other)...)
	require.Equal(t, exitOK, res.code, res)
	assert.Equal(t, map[string]int{"already-migrated": 6}, statusCounts(readReport(t, ex.Path+".report.csv")))
	saw := f.admin(t, http.MethodGet, "status").Requests - before
	assert.Contains(t, res.stdout, fmt.Sprintf("Requests: %d sent (%d by the migrations, 1 for the account check)", saw, saw-1),
		"the summary's count is what Codat saw")
	byRef := f.companiesByRef(t)
	assert.Len(t, byRef, 6)
	for ref, cos := range byRef {
		assert.Len(t, cos, 1, "ref %s has one company", ref)
	}
	assertNoSecrets(t, ex, []string{res.stdout, res.stderr, plan.stdout, plan.stderr}, ex.Path+".report.csv", other)
}
