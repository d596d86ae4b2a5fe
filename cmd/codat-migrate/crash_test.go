package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/codat-migrate/codat"
)

// The crash test: `codat-migrate migrate` is killed with SIGKILL at seeded
// random points of one run against a `codat-migrate fake` subprocess (whose
// state survives the kills) and resumed each time with the same command.
// In the end every valid row is migrated exactly once: one company per ref,
// one Linked connection per company, the token PUT at most twice per
// connection, nothing for invalid or duplicate rows.

const (
	crashSeed      = 8
	crashKills     = 16 // SIGKILLs landed while the run was working
	crashValidRows = 200
	crashAPIKey    = "crash-test-key-93e1c07b5a4f28d6"
)

// crashBuild builds the command into dir.
func crashBuild(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "codat-migrate")
	if runtime.GOOS == "windows" {
		bin += ".exe"
	}
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	return bin
}

// crashEnv is the environment of every process: the test key, no inherited
// one, and state as the state directory, so that every run of the test
// takes the account lock in the same directory of the test's own.
func crashEnv(state string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, envAPIKey+"=") && !strings.HasPrefix(kv, "XDG_STATE_HOME=") {
			env = append(env, kv)
		}
	}
	return append(env, envAPIKey+"="+crashAPIKey, "XDG_STATE_HOME="+state)
}

// crashFake is the `codat-migrate fake` subprocess.
type crashFake struct {
	url string
	out syncBuffer
}

func crashStartFake(t *testing.T, bin string, args ...string) *crashFake {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"fake", "--addr", "127.0.0.1:0"}, args...)...)
	cmd.Env = crashEnv(t.TempDir())
	f := &crashFake{}
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = &f.out
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	urlRe := regexp.MustCompile(`listening on (http://\S+)`)
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			f.out.Write([]byte(sc.Text() + "\n"))
			if m := urlRe.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case found <- m[1]:
				default:
				}
			}
		}
	}()
	select {
	case f.url = <-found:
	case <-time.After(30 * time.Second):
		t.Fatalf("codat-migrate fake did not start: %s", f.out.String())
	}
	return f
}

// status is the fake's GET /_fake/status.
func (f *crashFake) status(t *testing.T) fakeStatus {
	t.Helper()
	resp, err := http.Get(f.url + fakeAdminPrefix + "status")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var st fakeStatus
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&st))
	return st
}

// requests is the number of API requests the fake has received.
func (f *crashFake) requests(t *testing.T) int {
	t.Helper()
	return f.status(t).Requests
}

// crashExport writes the export: crashValidRows valid QuickBooks Online rows
// (one of them repeated exactly), three invalid rows and two rows that give
// one tenant to two refs. It returns the refs that must be migrated, the
// refs that must not, and every token.
func crashExport(t *testing.T, path string) (valid, notMigrated, tokens []string) {
	t.Helper()
	var b strings.Builder
	b.WriteString("ref,company_name,platform,realmId,accessToken,refreshToken\n")
	tok := func(kind string, i int) string {
		s := fmt.Sprintf("crash-%s-%04d-b7e2c9d1", kind, i)
		tokens = append(tokens, s)
		return s
	}
	row := func(ref string, i, realm int) string {
		return fmt.Sprintf("%s,Crash Company %d,qhyg,%d,%s,%s\n", ref, i, realm, tok("at", i), tok("rt", i))
	}
	for i := 0; i < crashValidRows; i++ {
		ref := fmt.Sprintf("crash-%04d", i)
		line := row(ref, i, 4_620_000_000+i)
		b.WriteString(line)
		valid = append(valid, ref)
		switch i {
		case 10:
			b.WriteString(line) // an exact repeat: migrated once, reported duplicate
		case 40:
			// invalid: realmId must be digits
			b.WriteString(fmt.Sprintf("crash-bad-1,Bad One,qhyg,not-a-realm,%s,%s\n", tok("at", 1001), tok("rt", 1001)))
			notMigrated = append(notMigrated, "crash-bad-1")
		case 60:
			// invalid: no access token
			b.WriteString(fmt.Sprintf("crash-bad-2,Bad Two,qhyg,4620999001,,%s\n", tok("rt", 1002)))
			notMigrated = append(notMigrated, "crash-bad-2")
		case 80:
			// invalid: unknown platform
			b.WriteString(fmt.Sprintf("crash-bad-3,Bad Three,no-such-platform,4620999002,%s,%s\n", tok("at", 1003), tok("rt", 1003)))
			notMigrated = append(notMigrated, "crash-bad-3")
		case 100:
			// one tenant under two refs: both are duplicates
			b.WriteString(row("crash-dup-a", 1004, 4_620_999_003))
			b.WriteString(row("crash-dup-b", 1005, 4_620_999_003))
			notMigrated = append(notMigrated, "crash-dup-a", "crash-dup-b")
		}
	}
	require.NoError(t, os.WriteFile(path, []byte(b.String()), 0o600))
	return valid, notMigrated, tokens
}

func TestCrashAndResume(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test: skipped under -short")
	}
	if runtime.GOOS == "windows" {
		t.Skip("needs SIGKILL")
	}
	tmp := t.TempDir()
	state := t.TempDir()
	bin := crashBuild(t, tmp)
	f := crashStartFake(t, bin, "--no-quota", "--seed", "5", "--latency", "10ms",
		"--sync-fetch-after", "0", "--sync-complete-after", "0")

	export := filepath.Join(tmp, "export.csv")
	valid, notMigrated, tokens := crashExport(t, export)
	args := []string{"migrate", "--input", export, "--base-url", f.url, "--concurrency", "4",
		"--canary", "1", "--canary-poll", "10ms", "--requests-per-minute", "-1", "--quiet", "--log-level", "debug",
		// A killed run's token PUT ended with its process: the next run need
		// not wait the default settle window before it reads the connection
		// and, if it is not Linked, sends the token again.
		"--settle-window", "1ms"}

	// Kill points: two within 40ms of a start (while the input is read or
	// the first requests leave), and the rest at request counts of the fake
	// drawn from the seeded generator over 90% of what a clean run sends
	// (4 per row), so every kill lands before the run could have finished.
	rng := rand.New(rand.NewPCG(crashSeed, crashSeed))
	span := 4 * crashValidRows * 9 / 10
	targets := []int{0, 0}
	for len(targets) < crashKills {
		targets = append(targets, 1+rng.IntN(span))
	}
	sort.Ints(targets)

	var outputs []string
	kills, launches := 0, 0
	for _, target := range targets {
		if kills == crashKills {
			break
		}
		cmd := exec.Command(bin, args...)
		cmd.Env = crashEnv(state)
		var stdout, stderr syncBuffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		require.NoError(t, cmd.Start())
		launches++
		exited := make(chan struct{})
		go func() { _ = cmd.Wait(); close(exited) }()

		base := f.requests(t)
		killed := false
		if target == 0 {
			time.Sleep(time.Duration(rng.IntN(40)) * time.Millisecond)
			killed = cmd.Process.Signal(syscall.SIGKILL) == nil
		} else {
		wait:
			for {
				select {
				case <-exited:
					break wait
				default:
				}
				if f.requests(t) >= max(target, base+1) {
					killed = cmd.Process.Signal(syscall.SIGKILL) == nil
					break
				}
				time.Sleep(time.Millisecond)
			}
		}
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			t.Fatalf("migrate did not end after SIGKILL")
		}
		outputs = append(outputs, stdout.String(), stderr.String())
		ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus)
		if killed && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
			kills++
			t.Logf("kill %d at request %d (target %d)", kills, f.requests(t), target)
			continue
		}
		// The run ended before the kill point: everything is done.
		t.Logf("run ended before request %d with exit %d", target, cmd.ProcessState.ExitCode())
		break
	}
	require.GreaterOrEqual(t, kills, 10, "SIGKILLs that interrupted the run")

	// The last resume runs to the end.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	final := exec.CommandContext(ctx, bin, args...)
	final.Env = crashEnv(state)
	var stdout, stderr syncBuffer
	final.Stdout, final.Stderr = &stdout, &stderr
	err := final.Run()
	outputs = append(outputs, stdout.String(), stderr.String())
	require.Equal(t, exitRowsFailed, final.ProcessState.ExitCode(),
		"invalid and duplicate rows make exit code 1 (err %v)\nstdout: %s\nstderr: %s", err, stdout.String(), stderr.String())

	// The report of the last run: every input line once, every valid row done.
	report := export + ".report.csv"
	rb, err := os.ReadFile(report)
	require.NoError(t, err)
	recs, err := crashCSV(rb)
	require.NoError(t, err)
	require.Len(t, recs, 1+crashValidRows+1+5, "header + one line per input row")
	col := map[string]int{}
	for i, h := range recs[0] {
		col[h] = i
	}
	lines := map[string]bool{}
	statusByRef := map[string][]string{}
	for _, r := range recs[1:] {
		require.False(t, lines[r[col["line"]]], "line %s reported twice", r[col["line"]])
		lines[r[col["line"]]] = true
		statusByRef[r[col["ref"]]] = append(statusByRef[r[col["ref"]]], r[col["status"]])
	}
	for _, ref := range valid {
		st := statusByRef[ref]
		require.NotEmpty(t, st, ref)
		assert.Contains(t, []string{"migrated", "already-migrated"}, st[0], "%s: %v", ref, st)
	}
	assert.Equal(t, []string{"already-migrated", "duplicate"}, crashSorted(statusByRef["crash-0010"]), "the exact repeat")
	for _, ref := range []string{"crash-bad-1", "crash-bad-2", "crash-bad-3"} {
		assert.Equal(t, []string{"invalid"}, statusByRef[ref], ref)
	}
	for _, ref := range []string{"crash-dup-a", "crash-dup-b"} {
		assert.Equal(t, []string{"duplicate"}, statusByRef[ref], ref)
	}

	// What Codat holds, through the fake's HTTP API: companies grouped by
	// the migrationRef tag, and each company's connections.
	client, err := codat.NewClient(crashAPIKey, codat.WithBaseURL(f.url))
	require.NoError(t, err)
	page, err := client.Companies.List(context.Background(), &codat.ListOptions{PageSize: codat.MaxPageSize})
	require.NoError(t, err)
	require.Len(t, page.Results, page.TotalResults, "one page holds every company")
	byRef := map[string][]codat.Company{}
	for _, co := range page.Results {
		byRef[co.Tags[codat.RefTagKey]] = append(byRef[co.Tags[codat.RefTagKey]], co)
	}
	assert.Len(t, page.Results, len(valid), "companies: one per valid ref, no duplicates")
	for _, ref := range notMigrated {
		assert.Empty(t, byRef[ref], "nothing created for %s", ref)
	}
	for _, ref := range valid {
		cos := byRef[ref]
		if !assert.Len(t, cos, 1, "companies tagged %s", ref) {
			continue
		}
		cns, err := client.Connections.List(context.Background(), cos[0].ID, nil)
		require.NoError(t, err)
		if assert.Len(t, cns.Results, 1, "connections of %s", ref) {
			assert.True(t, cns.Results[0].Status.Is(codat.StatusLinked), "%s is Linked, not %s", ref, cns.Results[0].Status)
		}
	}
	puts := f.status(t).TokenPuts
	assert.Equal(t, len(valid), puts.Total-repeatedExtra(puts), "each connection got its token")
	assert.LessOrEqual(t, puts.MaxPerConnection, 2, "the token PUT at most twice per connection: %+v", puts.Repeated)
	t.Logf("%d kills over %d launches; %d requests in all for %d companies; %d token PUTs, %d connections got it twice",
		kills, launches, f.requests(t), len(valid), puts.Total, len(puts.Repeated))

	// No key or token in any output, the journal or the report.
	journal, err := os.ReadFile(export + ".journal")
	require.NoError(t, err)
	outputs = append(outputs, string(journal), string(rb), f.out.String())
	for i, out := range outputs {
		for j, s := range append([]string{crashAPIKey}, tokens...) {
			if strings.Contains(out, s) {
				t.Errorf("output %d holds secret #%d", i, j)
			}
		}
	}
}

// repeatedExtra is how many token PUTs went beyond the first of their connection.
func repeatedExtra(p fakeTokenPuts) int {
	n := 0
	for _, r := range p.Repeated {
		n += r.Count - 1
	}
	return n
}

func crashCSV(b []byte) ([][]string, error) {
	return csv.NewReader(bytes.NewReader(b)).ReadAll()
}

func crashSorted(xs []string) []string {
	out := append([]string(nil), xs...)
	sort.Strings(out)
	return out
}
