package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/codat-migrate/codat"
)

// Two migrations into one account on one machine, each with its own
// journal, would each create the other's companies: the second is refused
// at start, naming the running one, and nothing is created twice.
func TestSecondMigrateIntoOneAccountIsRefused(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("holds the account lock with flock")
	}
	f := startFake(t, append(fastSync, "--latency", "40ms")...)
	dir := t.TempDir()
	state := t.TempDir() // one machine: one state directory for both
	ex := writeExport(t, dir, sampleOptions{Customers: 30, Clean: true})
	firstJournal := filepath.Join(dir, "first.journal")
	cmd := exec.Command(binary, migrateArgs(f, ex.Path, "--journal", firstJournal, "--concurrency", "2", "--quiet")...)
	cmd.Env = append(baseEnv(t, t.TempDir()), append(keyEnv(), "XDG_STATE_HOME="+state)...)
	var stdout, stderr syncBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Start())
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	require.Eventually(t, func() bool { return f.admin(t, http.MethodGet, "status").Connections >= 2 },
		30*time.Second, 20*time.Millisecond, "the first migration is under way")

	secondReport := filepath.Join(dir, "second.report.csv")
	res := run(t, runOpts{env: append(keyEnv(), "XDG_STATE_HOME="+state)},
		migrateArgs(f, ex.Path, "--journal", filepath.Join(dir, "second.journal"), "--report", secondReport, "--quiet")...)
	assert.Equal(t, exitFatal, res.code, res)
	assert.Contains(t, res.stderr, "another codat-migrate is migrating into this Codat account on this machine")
	assert.Contains(t, res.stderr, firstJournal, "the refusal names the running migration")
	assert.NoFileExists(t, filepath.Join(dir, "second.journal"), "the refused run creates no journal")
	assert.NoFileExists(t, secondReport, "nor a report")

	select {
	case <-done:
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("the first migration did not finish: %s", stderr.String())
	}
	require.Equal(t, exitOK, cmd.ProcessState.ExitCode(), "stdout: %s\nstderr: %s", stdout.String(), stderr.String())
	byRef := f.companiesByRef(t)
	assert.Len(t, byRef, 30)
	for ref, cos := range byRef {
		assert.Len(t, cos, 1, "ref %s has one company", ref)
	}
	assertNoSecrets(t, ex, []string{res.stdout, res.stderr, stdout.String(), stderr.String()}, firstJournal)
}

// A store's runners hold the account's machine lock shared: a second
// runner on the store starts beside the first, and a run with a journal
// file into the same account is refused while they run.
func TestJournalMigrateBesideAStoreRunIsRefused(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("holds the account lock with flock")
	}
	dsn := testStoreDSN(t)
	f := startFake(t, append(fastSync, "--latency", "40ms", "--no-quota")...)
	dir := t.TempDir()
	state := t.TempDir() // one machine: one state directory for every run
	env := append(keyEnv(), "XDG_STATE_HOME="+state)
	ex := writeExport(t, dir, sampleOptions{Customers: 30, Clean: true})
	runName := fmt.Sprintf("beside-%d", time.Now().UnixNano())
	storeArgs := func(report string) []string {
		return migrateArgs(f, ex.Path, "--store", dsn, "--run", runName,
			"--concurrency", "2", "--report", filepath.Join(dir, report), "--quiet")
	}
	cmd := exec.Command(binary, storeArgs("first.csv")...)
	cmd.Env = append(baseEnv(t, t.TempDir()), env...)
	var stdout, stderr syncBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Start())
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	require.Eventually(t, func() bool { return f.admin(t, http.MethodGet, "status").Connections >= 2 },
		30*time.Second, 20*time.Millisecond, "the store's run is under way")

	journal := filepath.Join(dir, "file.journal")
	res := run(t, runOpts{env: env}, migrateArgs(f, ex.Path, "--journal", journal, "--quiet")...)
	assert.Equal(t, exitFatal, res.code, res)
	assert.Contains(t, res.stderr, "another codat-migrate is migrating into this Codat account on this machine")
	assert.Contains(t, res.stderr, "shared store (--store)")
	assert.NoFileExists(t, journal, "the refused run creates no journal")
	st := run(t, runOpts{}, "status", "--store", dsn, "--run", runName, "--input", ex.Path)
	assert.Equal(t, exitOK, st.code, st)
	assert.Contains(t, st.stdout, fmt.Sprintf("Store run %q on ", runName), "a store's run is named as such, not as a file")
	assert.Contains(t, st.stdout, "1 codat-migrate runner(s) of this run are live")
	assert.Contains(t, st.stdout, "more runners may join it")
	select {
	case <-done:
		t.Fatalf("the store's first runner ended before the refusal was checked: %s", stderr.String())
	default:
	}

	// Rows the other runner held are reported incomplete (exit 1).
	res2 := run(t, runOpts{env: env}, storeArgs("second.csv")...)
	assert.Contains(t, []int{exitOK, exitRowsFailed}, res2.code, "a second runner on the store is let in: %s", res2.stderr)
	assert.NotContains(t, res2.stderr, "another codat-migrate")

	select {
	case <-done:
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("the store's run did not finish: %s", stderr.String())
	}
	require.Contains(t, []int{exitOK, exitRowsFailed}, cmd.ProcessState.ExitCode(), "stdout: %s\nstderr: %s", stdout.String(), stderr.String())
	res3 := run(t, runOpts{env: env}, storeArgs("final.csv")...)
	require.Equal(t, exitOK, res3.code, "once both ended, the store's run finishes: %s", res3.stderr)
	st = run(t, runOpts{}, "status", "--store", dsn, "--run", runName)
	assert.Equal(t, exitOK, st.code, st)
	assert.NotContains(t, st.stdout, "in progress", "a runner that ended is not live")
	for ref, cos := range f.companiesByRef(t) {
		assert.Len(t, cos, 1, "ref %s has one company", ref)
	}
	assert.Len(t, f.companiesByRef(t), 30)
}

// The run's state is in the store or in the journal: every command that
// reads it refuses both, before reading anything (the store here is
// never reached).
func TestJournalWithStoreIsRefused(t *testing.T) {
	dir := t.TempDir()
	ex := writeExport(t, dir, sampleOptions{Customers: 2, Clean: true})
	journal := filepath.Join(dir, "run.journal")
	const store = "postgres://nobody@127.0.0.1:1/none"
	cases := []struct {
		name string
		env  []string
		args []string
	}{
		{"plan", nil, []string{"plan", "--input", ex.Path, "--offline", "--journal", journal, "--store", store}},
		{"plan, the store from the environment", []string{envStore + "=" + store}, []string{"plan", "--input", ex.Path, "--offline", "--journal", journal}},
		{"status", nil, []string{"status", "--journal", journal, "--store", store}},
		{"status, the journal as an argument", nil, []string{"status", "--store", store, journal}},
		{"migrate", keyEnv(), []string{"migrate", "--input", ex.Path, "--journal", journal, "--store", store}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := run(t, runOpts{env: tc.env}, tc.args...)
			assert.Equal(t, exitUsage, res.code, res)
			assert.Contains(t, res.stderr, "--journal and --store: the run's state is in one or the other")
			assert.NoFileExists(t, journal)
		})
	}
}

// The report, the journal and the input must be three files: a report over
// the export, or a journal appended to it, is refused before anything is
// written, and a journal path naming a file that is not a journal is
// refused and left as it was.
func TestMigrateFileSafety(t *testing.T) {
	f := startFake(t, fastSync...)
	dir := t.TempDir()
	ex := writeExport(t, dir, sampleOptions{Customers: 3, Clean: true})
	jsonl := writeExport(t, dir, sampleOptions{Customers: 3, Clean: true, Format: "jsonl"})
	other := filepath.Join(dir, "notes.txt")
	require.NoError(t, os.WriteFile(other, []byte("my notes\n"), 0o644))
	cases := []struct {
		name  string
		input string
		extra []string
		code  int
		want  string
	}{
		{"report equal to the input", ex.Path, []string{"--report", ex.Path}, exitUsage, "the input and the report are the same file"},
		{"journal equal to a JSONL input", jsonl.Path, []string{"--journal", jsonl.Path}, exitUsage, "the input and the journal are the same file"},
		{"journal and report the same file", ex.Path, []string{"--journal", filepath.Join(dir, "x.csv"), "--report", filepath.Join(dir, "x.csv")}, exitUsage, "the journal and the report are the same file"},
		{"journal is an existing file that is not one", ex.Path, []string{"--journal", other}, exitFatal, "not a codat-migrate journal"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := map[string][]byte{}
			for _, p := range []string{ex.Path, jsonl.Path, other} {
				b, err := os.ReadFile(p)
				require.NoError(t, err)
				before[p] = b
			}
			res := run(t, runOpts{env: keyEnv()}, migrateArgs(f, tc.input, append(tc.extra, "--quiet")...)...)
			assert.Equal(t, tc.code, res.code, res)
			assert.Contains(t, res.stderr, tc.want)
			for p, b := range before {
				after, err := os.ReadFile(p)
				require.NoError(t, err)
				assert.Equal(t, string(b), string(after), "%s is untouched", p)
			}
			fi, err := os.Stat(other)
			require.NoError(t, err)
			assert.Equal(t, os.FileMode(0o644), fi.Mode().Perm(), "nothing is chmod-ed before it is validated")
		})
	}
	assert.Empty(t, f.companiesByRef(t), "nothing was sent")
}

// status while a run holds the journal says so, and calls the rows in
// flight in progress, not interrupted.
func TestStatusDuringARun(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("holds the journal with flock")
	}
	f := startFake(t, append(fastSync, "--latency", "60ms")...)
	dir := t.TempDir()
	ex := writeExport(t, dir, sampleOptions{Customers: 30, Clean: true})
	cmd := exec.Command(binary, migrateArgs(f, ex.Path, "--concurrency", "3", "--quiet")...)
	cmd.Env = append(baseEnv(t, t.TempDir()), keyEnv()...)
	var stdout, stderr syncBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Start())
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	require.Eventually(t, func() bool { return f.admin(t, http.MethodGet, "status").Connections >= 3 },
		30*time.Second, 10*time.Millisecond, "the run is under way")

	res := run(t, runOpts{}, "status", "--input", ex.Path)
	assert.Equal(t, exitOK, res.code, res)
	assert.Contains(t, res.stdout, "A run is in progress")
	assert.Contains(t, res.stdout, "in-progress")
	assert.NotContains(t, res.stdout, "incomplete")
	assert.NotContains(t, res.stdout, "interrupted")
	js := run(t, runOpts{}, "status", "--input", ex.Path, "--json")
	assert.Equal(t, exitOK, js.code, js)
	assert.Contains(t, js.stdout, `"running": true`)

	select {
	case <-done:
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("the run did not finish: %s", stderr.String())
	}
	require.Equal(t, exitOK, cmd.ProcessState.ExitCode(), stderr.String())
	after := run(t, runOpts{}, "status", "--input", ex.Path)
	assert.Equal(t, exitOK, after.code, after)
	assert.NotContains(t, after.stdout, "A run is in progress", "once it ended, no run holds the journal")
}

// status on an export no run has started says so and counts its rows.
func TestStatusBeforeAnyRun(t *testing.T) {
	dir := t.TempDir()
	ex := writeExport(t, dir, sampleOptions{Customers: 7, Clean: true})
	res := run(t, runOpts{}, "status", "--input", ex.Path)
	assert.Equal(t, exitOK, res.code, res)
	assert.Contains(t, res.stdout, "Nothing has started")
	assert.Contains(t, res.stdout, "7 rows")
	assert.NotContains(t, res.stderr, "no such file")
	assert.NoFileExists(t, ex.Path+".journal", "status creates nothing")
}

// envTestDSN names the PostgreSQL the store tests use (.ci/run starts one).
const envTestDSN = "CODAT_MIGRATE_TEST_PG_DSN"

func testStoreDSN(t *testing.T) string {
	t.Helper()
	dsn := os.Getenv(envTestDSN)
	if dsn == "" {
		t.Skipf("%s is not set: no PostgreSQL to test against (.ci/run starts one; see .ci/postgres)", envTestDSN)
	}
	return dsn
}

// Three runners on one PostgreSQL store against a fake with faults and
// latency, one SIGKILLed mid-run, a fourth started once the others ended:
// one company and one Linked connection per ref, the token PUT at most
// twice per connection, and the last runner's report holds every input row
// exactly once, each migrated.
func TestMigrateSharedStoreChaos(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("sends SIGKILL")
	}
	dsn := testStoreDSN(t)
	f := startFake(t, append(fastSync, "--latency", "15ms", "--fault-rate", "0.03", "--seed", "12", "--no-quota")...)
	dir := t.TempDir()
	const customers = 60
	ex := writeExport(t, dir, sampleOptions{Customers: customers, Clean: true})
	runName := fmt.Sprintf("chaos-%d", time.Now().UnixNano())
	args := func(report string) []string {
		return migrateArgs(f, ex.Path, "--store", dsn, "--run", runName, "--lease", "2s", "--concurrency", "3",
			"--settle-window", "1ms", "--report", report, "--quiet")
	}
	type proc struct {
		cmd            *exec.Cmd
		stdout, stderr syncBuffer
		done           chan struct{}
	}
	start := func(i int) *proc {
		p := &proc{done: make(chan struct{})}
		p.cmd = exec.Command(binary, args(filepath.Join(dir, fmt.Sprintf("report-%d.csv", i)))...)
		p.cmd.Env = append(baseEnv(t, t.TempDir()), keyEnv()...)
		p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
		require.NoError(t, p.cmd.Start())
		go func() { _ = p.cmd.Wait(); close(p.done) }()
		return p
	}
	procs := []*proc{start(0), start(1), start(2)}
	// The seeded kill point: runner 1, once a third of the connections exist.
	require.Eventually(t, func() bool { return f.admin(t, http.MethodGet, "status").Connections >= customers/3 },
		60*time.Second, 5*time.Millisecond, "the runners are under way")
	require.NoError(t, procs[1].cmd.Process.Signal(syscall.SIGKILL), "runner 1 ended before the kill: %s", procs[1].stderr.String())
	var outputs []string
	for i, p := range procs {
		select {
		case <-p.done:
		case <-time.After(90 * time.Second):
			_ = p.cmd.Process.Kill()
			t.Fatalf("runner %d did not finish: %s", i, p.stderr.String())
		}
		outputs = append(outputs, p.stdout.String(), p.stderr.String())
		if i != 1 {
			assert.Contains(t, []int{exitOK, exitRowsFailed}, p.cmd.ProcessState.ExitCode(), "runner %d: %s", i, p.stderr.String())
		}
	}

	// The fourth runner, after the dead one's leases ran out; rerun while
	// faults leave rows unfinished (a run that ends exit 0 finished all).
	time.Sleep(2500 * time.Millisecond)
	final := filepath.Join(dir, "report-final.csv")
	var last cliResult
	for attempt := 0; attempt < 6; attempt++ {
		last = run(t, runOpts{env: keyEnv()}, args(final)...)
		outputs = append(outputs, last.stdout, last.stderr)
		if last.code == exitOK {
			break
		}
		time.Sleep(300 * time.Millisecond)
	}
	require.Equal(t, exitOK, last.code, last)
	rows := readReport(t, final)
	require.Len(t, rows, customers, "the final report has every input row")
	seen := map[string]int{}
	for _, r := range rows {
		seen[r["line"]]++
		assert.Contains(t, []string{"migrated", "already-migrated"}, r["status"], "row %v", r)
	}
	assert.Len(t, seen, customers, "each input row exactly once")

	byRef := f.companiesByRef(t)
	assert.Len(t, byRef, customers, "one company per ref")
	client := f.client(t)
	for ref, cos := range byRef {
		if !assert.Len(t, cos, 1, "ref %s has one company", ref) {
			continue
		}
		cns, err := client.Connections.List(context.Background(), cos[0].ID, nil)
		require.NoError(t, err)
		if assert.Len(t, cns.Results, 1, "ref %s has one connection", ref) {
			assert.True(t, cns.Results[0].Status.Is(codat.StatusLinked), "ref %s: connection %s", ref, cns.Results[0].Status)
		}
	}
	puts := f.admin(t, http.MethodGet, "status").TokenPuts
	assert.GreaterOrEqual(t, puts.Total, customers, "every connection got its token")
	assert.LessOrEqual(t, puts.MaxPerConnection, 2, "the token PUT at most twice per connection: %+v", puts.Repeated)
	t.Logf("token PUTs: %d for %d connections, %d connections got it twice", puts.Total, customers, len(puts.Repeated))
	plan := run(t, runOpts{env: keyEnv()}, "plan", "--input", ex.Path, "--base-url", f.url, "--store", dsn, "--run", runName)
	assert.Equal(t, exitOK, plan.code, plan)
	assert.Regexp(t, fmt.Sprintf(`already migrated\s+%d`, customers), plan.stdout, "plan reads the store")
	outputs = append(outputs, plan.stdout, plan.stderr)
	st := run(t, runOpts{}, "status", "--store", dsn, "--run", runName)
	assert.Equal(t, exitOK, st.code, st)
	assert.Contains(t, st.stdout, fmt.Sprintf("%d refs", customers))
	if u, err := url.Parse(dsn); err == nil {
		if pw, ok := u.User.Password(); ok {
			for _, out := range append(outputs, st.stdout, st.stderr) {
				assert.NotContains(t, out, pw, "the store's password is never printed")
			}
		}
	}
	assertNoSecrets(t, ex, append(outputs, st.stdout, st.stderr), final)
}

func TestResumeCommandLeavesTheStorePasswordOut(t *testing.T) {
	cases := []struct {
		name string
		args []string
		want []string
	}{
		{"separate value", []string{"--input", "x.csv", "--store", "postgres://u:s3cret@db:5432/m?sslmode=disable", "--run", "r"},
			[]string{"--input", "x.csv", "--store", "postgres://u@db:5432/m?sslmode=disable", "--run", "r"}},
		{"inline value", []string{"--store=postgres://u:s3cret@db/m"}, []string{"--store=postgres://u@db/m"}},
		{"single dash", []string{"-store", "postgres://u:s3cret@db/m"}, []string{"-store", "postgres://u@db/m"}},
		{"no password", []string{"--store", "postgres://u@db/m"}, []string{"--store", "postgres://u@db/m"}},
		{"no store", []string{"--input", "s3cret.csv"}, []string{"--input", "s3cret.csv"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := withoutStorePassword(tc.args)
			assert.Equal(t, tc.want, got)
			if tc.name != "no store" {
				assert.NotContains(t, commandLine("migrate", got), "s3cret")
			}
		})
	}
}
