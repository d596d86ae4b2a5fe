package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPlanEstimateMatchesTheRun: plan's requests are within 5% of what the
// run then sends on the fake, and validate, plan and the run's summary
// count the rows alike.
func TestPlanEstimateMatchesTheRun(t *testing.T) {
	f := startFake(t, fastSync...)
	dir := t.TempDir()
	// The canary's first-sync polls are the estimate's one unknown (it
	// assumes bulk.EstimatedWaitPolls; the fake's sync is over at the
	// first): 100 rows keep them under 5% of the run.
	ex := writeExport(t, dir, sampleOptions{Customers: 100})

	v := run(t, runOpts{}, "validate", ex.Path)
	require.Equal(t, exitRowsFailed, v.code, v)
	m := regexp.MustCompile(`(\d+) rows, (\d+) valid, (\d+) invalid, (\d+) duplicate`).FindStringSubmatch(v.stdout)
	require.NotNil(t, m, v.stdout)

	p := run(t, runOpts{env: keyEnv()}, "plan", "--json", "--base-url", f.url, ex.Path)
	require.Equal(t, exitOK, p.code, p)
	var plan struct{ Rows, Valid, Invalid, Duplicate, New, RequestsNeeded int }
	require.NoError(t, json.Unmarshal([]byte(p.stdout), &plan))
	assert.Equal(t, m[1:5], []string{strconv.Itoa(plan.Rows), strconv.Itoa(plan.Valid), strconv.Itoa(plan.Invalid), strconv.Itoa(plan.Duplicate)},
		"validate and plan count the rows alike")
	assert.Equal(t, plan.Rows, plan.Valid+plan.Invalid+plan.Duplicate)

	before := f.admin(t, http.MethodGet, "status").Requests
	res := run(t, runOpts{env: keyEnv()}, migrateArgs(f, ex.Path)...)
	require.Contains(t, []int{exitOK, exitRowsFailed}, res.code, res)
	sent := f.admin(t, http.MethodGet, "status").Requests - before
	assert.InEpsilon(t, sent, plan.RequestsNeeded, 0.05, "plan said %d, the run sent %d", plan.RequestsNeeded, sent)
	assert.Contains(t, res.stdout, "Requests: "+strconv.Itoa(sent)+" sent", "the run's summary counts what Codat saw")
	counts := statusCounts(readReport(t, ex.Path+".report.csv"))
	assert.Equal(t, plan.Invalid, counts["invalid"])
	assert.Equal(t, plan.Duplicate, counts["duplicate"])
	assert.Equal(t, plan.New, counts["migrated"]+counts["token-rejected"]+counts["failed"])
}

// TestPlanNextCommandRuns runs the command plan suggests, for a file and
// for standard input.
func TestPlanNextCommandRuns(t *testing.T) {
	f := startFake(t, fastSync...)
	dir := t.TempDir()
	ex := writeExport(t, dir, sampleOptions{Customers: 5, Clean: true})
	data, err := os.ReadFile(ex.Path)
	require.NoError(t, err)

	for _, tc := range []struct {
		name  string
		args  []string
		stdin bool
	}{
		{"offline, a file", []string{"plan", "--offline", "--base-url", f.url, "--canary", "0", "--requests-per-minute", "-1", ex.Path}, false},
		{"standard input", []string{"plan", "--offline", "--input", "-", "--base-url=" + f.url, "--canary=0", "--sync", "none"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := runOpts{dir: t.TempDir()}
			if tc.stdin {
				o.stdin = strings.NewReader(string(data))
			}
			p := run(t, o, tc.args...)
			require.Equal(t, exitOK, p.code, p)
			m := regexp.MustCompile(`(?m)^  (codat-migrate migrate .*)$`).FindStringSubmatch(p.stdout)
			require.NotNil(t, m, p.stdout)
			next := splitShell(t, m[1])
			require.Equal(t, "codat-migrate", next[0])
			assert.NotContains(t, next, "--offline")
			o.env = keyEnv()
			if tc.stdin {
				o.stdin = strings.NewReader(string(data))
			}
			res := run(t, o, next[1:]...)
			assert.Equal(t, exitOK, res.code, "the suggested %q runs: %s", m[1], res)
		})
	}
	assert.Len(t, f.companiesByRef(t), 5)
}

// splitShell splits a command line made by commandLine (words, and words
// in single quotes with '\” for a quote).
func splitShell(t *testing.T, s string) []string {
	t.Helper()
	var out []string
	var cur strings.Builder
	in, word := false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case in && c == '\'':
			in = false
		case in:
			cur.WriteByte(c)
		case c == '\'':
			in, word = true, true
		case c == '\\' && i+1 < len(s):
			i++
			cur.WriteByte(s[i])
			word = true
		case c == ' ':
			if word {
				out = append(out, cur.String())
				cur.Reset()
				word = false
			}
		default:
			cur.WriteByte(c)
			word = true
		}
	}
	require.False(t, in, "unbalanced quote in %q", s)
	if word {
		out = append(out, cur.String())
	}
	return out
}

// TestPlanNoValidRow: plan fails when there is nothing to migrate.
func TestPlanNoValidRow(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "bad.csv")
	require.NoError(t, os.WriteFile(p, []byte("ref,company_name,platform,accessToken\nr1,,qhyg,x\n"), 0o600))
	res := run(t, runOpts{}, "plan", "--offline", p)
	assert.Equal(t, exitRowsFailed, res.code, res)
	assert.Contains(t, res.stdout, "No row is valid")
	assert.NotContains(t, res.stdout, "Next:")
}

// TestJSONOutputsStyle: plan --json, status --json and the fake's status use
// camelCase keys, RFC 3339 times, durations in seconds and no zero time.
func TestJSONOutputsStyle(t *testing.T) {
	f := startFake(t, fastSync...)
	dir := t.TempDir()
	ex := writeExport(t, dir, sampleOptions{Customers: 5, Clean: true})
	res := run(t, runOpts{env: keyEnv()}, migrateArgs(f, ex.Path)...)
	require.Equal(t, exitOK, res.code, res)

	outputs := map[string]string{}
	p := run(t, runOpts{env: keyEnv()}, "plan", "--json", "--base-url", f.url, ex.Path)
	require.Equal(t, exitOK, p.code, p)
	outputs["plan"] = p.stdout
	offline := run(t, runOpts{}, "plan", "--json", "--offline", ex.Path)
	require.Equal(t, exitOK, offline.code, offline)
	outputs["plan --offline"] = offline.stdout
	s := run(t, runOpts{}, "status", "--json", "--input", ex.Path)
	require.Equal(t, exitOK, s.code, s)
	outputs["status"] = s.stdout
	resp, err := http.Get(f.url + fakeAdminPrefix + "status")
	require.NoError(t, err)
	var fake json.RawMessage
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&fake))
	resp.Body.Close()
	outputs["fake"] = string(fake)

	camel := regexp.MustCompile(`^[a-z][a-zA-Z0-9]*$`)
	for name, out := range outputs {
		var v any
		require.NoError(t, json.Unmarshal([]byte(out), &v), name)
		walkJSON(v, func(key string, val any) {
			assert.Regexp(t, camel, key, "%s: key %q", name, key)
			if s, ok := val.(string); ok {
				assert.NotContains(t, s, "0001-01-01", "%s: %s is a zero time", name, key)
			}
			if strings.HasSuffix(strings.ToLower(key), "duration") {
				t.Errorf("%s: %s: durations are in seconds, named …Seconds", name, key)
			}
		})
	}
	assert.Contains(t, outputs["plan"], `"durationSeconds"`)
	assert.NotContains(t, outputs["plan --offline"], `"quota"`, "an unknown quota is left out")
}

func walkJSON(v any, fn func(key string, val any)) {
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			fn(k, val)
			if k != "counts" { // keyed by report status: already-migrated…
				walkJSON(val, fn)
			}
		}
	case []any:
		for _, e := range x {
			walkJSON(e, fn)
		}
	}
}

// TestUsageProblemsExit2 and operator wording: a bad --report or base URL is
// a usage error; a refused key says to check the key first.
func TestUsageProblemsExit2(t *testing.T) {
	dir := t.TempDir()
	ex := writeExport(t, dir, sampleOptions{Customers: 3, Clean: true})
	for _, args := range [][]string{
		{"migrate", "--report", filepath.Join(dir, "r.txt"), ex.Path},
		{"validate", "--report", filepath.Join(dir, "r.txt"), ex.Path},
		{"migrate", "--base-url", "http://api.example.com", ex.Path},
		{"plan", "--base-url", "http://api.example.com", ex.Path},
	} {
		res := run(t, runOpts{env: keyEnv()}, args...)
		assert.Equal(t, exitUsage, res.code, "%v: %s", args, res)
		assert.NotContains(t, res.stderr, "codat: ", "%v", args)
		assert.NotContains(t, res.stderr, "WithBaseURL", "%v", args)
	}

	f := startFake(t, fastSync...)
	res := run(t, runOpts{env: []string{envAPIKey + "=wrong-key-0123456789"}}, migrateArgs(f, ex.Path)...)
	assert.Equal(t, exitFatal, res.code, res)
	first := strings.SplitN(strings.TrimSpace(res.stderr[strings.Index(res.stderr, "codat-migrate migrate:"):]), "\n", 2)[0]
	assert.Contains(t, first, "check CODAT_API_KEY", res.stderr)
	assert.NotContains(t, first, "skip-account-check")
	assert.NotContains(t, res.stderr, "SkipAccountCheck")
	assert.NotContains(t, res.stderr, "bulk:")
}

func TestOperatorText(t *testing.T) {
	tests := []struct{ in, want string }{
		{"bulk: the account check failed; rerun, or set SkipAccountCheck if…: codat: 401", "the account check failed; rerun, or pass --skip-account-check if…: 401"},
		{"codat: WithBaseURL: http is allowed only for loopback hosts", "--base-url: http is allowed only for loopback hosts"},
		{"integrations: unknown platform \"x\" (Registry.Platforms lists them)", "unknown platform \"x\" ('codat-migrate integrations' lists them)"},
		{"keeps bulk:less text", "keeps bulk:less text"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, operatorText(tt.in))
	}
}

// TestJournalWriteFailureKeepsTheReport: a run whose first journal write
// fails (a full disk; here a file size limit) stops before it replaces the
// earlier report.
func TestJournalWriteFailureKeepsTheReport(t *testing.T) {
	if _, err := exec.LookPath("sh"); err != nil || runtime.GOOS == "windows" {
		t.Skip("needs a POSIX shell for ulimit")
	}
	f := startFake(t, fastSync...)
	dir := t.TempDir()
	ex := writeExport(t, dir, sampleOptions{Customers: 5, Clean: true})
	args := migrateArgs(f, ex.Path)
	res := run(t, runOpts{env: keyEnv()}, args...)
	require.Equal(t, exitOK, res.code, res)
	report := ex.Path + ".report.csv"
	before, err := os.ReadFile(report)
	require.NoError(t, err)
	st, err := os.Stat(ex.Path + ".journal")
	require.NoError(t, err)

	// Files may not grow past the journal's size (in 512-byte blocks): the
	// journal's next write fails.
	script := fmt.Sprintf("ulimit -f %d && exec %s", st.Size()/512, shellQuote(binary))
	for _, a := range args {
		script += " " + shellQuote(a)
	}
	cmd := exec.Command("sh", "-c", script)
	cmd.Env = append(baseEnv(t, t.TempDir()), keyEnv()...)
	out, err := cmd.CombinedOutput()
	require.Error(t, err, "the run fails: %s", out)
	assert.Contains(t, string(out), "journal", "the failure names the journal")
	after, err := os.ReadFile(report)
	require.NoError(t, err)
	assert.Equal(t, string(before), string(after), "the earlier report is left as it was")
}
