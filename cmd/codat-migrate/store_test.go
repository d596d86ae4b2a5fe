package main

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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
