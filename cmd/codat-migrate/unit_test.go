package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/codat-migrate/codat/bulk"
)

func TestLoadAPIKey(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(content), mode))
		require.NoError(t, os.Chmod(p, mode))
		return p
	}
	good := write("good", "  key-from-file-123\n", 0o600)
	open := write("open", "key-open-456\n", 0o644)
	empty := write("empty", "\n\n", 0o600)
	twoWords := write("two", "key-a key-b\n", 0o600)
	big := write("big", strings.Repeat("k", maxKeyFileSize+1), 0o600)
	env := func(v string) func(string) string {
		return func(k string) string {
			if k == envAPIKey {
				return v
			}
			return ""
		}
	}

	tests := []struct {
		name     string
		path     string
		env      string
		want     string
		wantErr  string
		wantWarn string
	}{
		{name: "env", env: " key-from-env-789 ", want: "key-from-env-789"},
		{name: "file wins over env", path: good, env: "key-from-env-789", want: "key-from-file-123"},
		{name: "file readable by others warns", path: open, want: "key-open-456", wantWarn: "chmod 600"},
		{name: "neither", wantErr: "set CODAT_API_KEY"},
		{name: "empty file", path: empty, wantErr: "is empty"},
		{name: "two words", path: twoWords, wantErr: "more than one word"},
		{name: "too big", path: big, wantErr: "larger than"},
		{name: "missing file", path: filepath.Join(dir, "nope"), wantErr: "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var warn bytes.Buffer
			got, err := loadAPIKey(tt.path, env(tt.env), &warn)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				for _, secret := range []string{"key-a", "key-b", "key-from-env"} {
					assert.NotContains(t, err.Error(), secret)
				}
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got.Reveal())
			assert.Equal(t, "[REDACTED]", fmt.Sprint(got))
			if tt.wantWarn != "" {
				assert.Contains(t, warn.String(), tt.wantWarn)
			} else {
				assert.Empty(t, warn.String())
			}
			assert.NotContains(t, warn.String(), tt.want)
		})
	}
}

func TestForbiddenKeyFlag(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--input", "x.csv"}, ""},
		{[]string{"--api-key", "sekrit"}, "--api-key"},
		{[]string{"-api-key=sekrit"}, "--api-key"},
		{[]string{"--token=abc"}, "--token"},
		{[]string{"--", "--api-key"}, ""},
		{[]string{"api-key"}, ""},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, forbiddenKeyFlag(tt.args), "%q", tt.args)
	}
}

func TestOpenInput(t *testing.T) {
	dir := t.TempDir()
	csvPath := filepath.Join(dir, "export.csv")
	require.NoError(t, os.WriteFile(csvPath, []byte("ref,name\n"), 0o600))
	open := filepath.Join(dir, "open.jsonl")
	require.NoError(t, os.WriteFile(open, []byte("{}\n"), 0o644))
	require.NoError(t, os.Chmod(open, 0o644))
	noExt := filepath.Join(dir, "export")
	require.NoError(t, os.WriteFile(noExt, []byte("\n  {\"ref\":\"a\"}\n"), 0o600))

	tests := []struct {
		name, arg, format string
		stdin             string
		wantFormat        string
		wantWarn          bool
		wantErr           string
	}{
		{name: "csv by extension", arg: csvPath, wantFormat: "csv"},
		{name: "explicit format wins", arg: csvPath, format: "jsonl", wantFormat: "jsonl"},
		{name: "jsonl readable by others", arg: open, wantFormat: "jsonl", wantWarn: true},
		{name: "sniffed", arg: noExt, wantFormat: "jsonl"},
		{name: "stdin csv", arg: "-", stdin: "ref,name\nr1,Acme\n", wantFormat: "csv"},
		{name: "stdin jsonl", arg: "-", stdin: "{\"ref\":\"r1\"}\n", wantFormat: "jsonl"},
		{name: "bad format", arg: csvPath, format: "xml", wantErr: "want csv or jsonl"},
		{name: "missing", arg: filepath.Join(dir, "missing.csv"), wantErr: "no such file"},
		{name: "none", wantErr: "no input"},
		{name: "directory", arg: dir, wantErr: "directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var warn bytes.Buffer
			in, err := openInput(tt.arg, tt.format, strings.NewReader(tt.stdin), &warn)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.wantFormat, in.Format)
			assert.Equal(t, tt.wantWarn, strings.Contains(warn.String(), "chmod 600"), warn.String())
			if tt.arg == "-" {
				assert.True(t, in.Stdin)
				assert.Empty(t, in.Path, "the spooled copy of stdin has no name on disk")
				for range 2 {
					rc, err := in.bulkInput().Open()
					require.NoError(t, err)
					b, err := io.ReadAll(rc)
					require.NoError(t, err)
					assert.Equal(t, tt.stdin, string(b))
				}
				in.Close()
				rc, err := in.bulkInput().Open()
				if err == nil {
					_, err = io.ReadAll(rc)
				}
				assert.Error(t, err, "Close closes the spooled copy")
			} else {
				assert.Equal(t, tt.arg, in.Path)
				in.Close()
				_, err = os.Stat(in.Path)
				assert.NoError(t, err, "Close never removes the user's file")
			}
		})
	}
}

func TestLineProgress(t *testing.T) {
	var out syncBuffer
	var mu sync.Mutex
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	p := newLineProgress(&out, time.Hour, clock)
	p.Update(progressSnapshot{Total: 10, Phase: bulk.PhaseMigrate})
	advance(4 * time.Second)
	p.Update(progressSnapshot{Total: 10, Done: 4, OK: 3, Failed: 1, Phase: bulk.PhaseMigrate, Quota: "84/100 left"})
	p.tick()
	// A long wait: its line says since when, and a heartbeat repeats it.
	since := clock()
	p.Update(progressSnapshot{Total: 10, Done: 4, OK: 3, Failed: 1, Phase: bulk.PhaseCanarySync, PhaseSince: since})
	advance(13 * time.Hour)
	p.tick()
	p.tick() // nothing new, and no heartbeat due yet
	p.Finish()
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	require.Len(t, lines, 4, out.String())
	assert.Contains(t, lines[0], "0/10 migrations (0%)")
	assert.Contains(t, lines[1], "4/10 migrations (40%), 3 ok, 1 failed, 0 skipped, 60/min, ETA 6s, quota 84/100 left")
	assert.Contains(t, lines[2], "canary: waiting for its first sync to complete, for 0s")
	assert.Contains(t, lines[3], "canary: waiting for its first sync to complete, for 13h")
	p.Update(progressSnapshot{Total: 10, Done: 9})
	assert.Len(t, strings.Split(strings.TrimSpace(out.String()), "\n"), 4, "nothing after Finish")
}

// TestBarProgress: the status line stays at the bottom with messages above
// it, shows a wait's time, and ends at the real count.
func TestBarProgress(t *testing.T) {
	var buf bytes.Buffer
	c := &console{w: &buf}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	p := newBarProgress(c, 200, func() time.Time { return now })
	p.Update(progressSnapshot{Total: 100, Done: 3, OK: 3, Phase: bulk.PhaseRateLimited, Until: now.Add(40 * time.Second)})
	fmt.Fprintln(c, "level=INFO msg=row ref=r1")
	p.Update(progressSnapshot{Total: 100, Done: 7, OK: 7, Phase: bulk.PhaseStopped})
	p.Finish()
	out := buf.String()
	assert.Contains(t, out, "paused by a rate limit until 00:00:40 UTC (40s left)")
	assert.Contains(t, out, "\r\x1b[Klevel=INFO msg=row ref=r1\n[", "a log line clears the bar, then the bar is drawn again under it")
	assert.Contains(t, out, "7/100 (7%)")
	assert.NotContains(t, out, "100/100", "a stopped run's bar stays at its count")
	assert.True(t, strings.HasSuffix(out, "\n"), "the last state is left on its own line")
}

func TestExitCodeHelpMatchesConstants(t *testing.T) {
	for _, code := range []int{exitOK, exitRowsFailed, exitUsage, exitFatal, exitQuota, exitInterrupted} {
		assert.Contains(t, exitCodesHelp, fmt.Sprintf("\n  %-4d ", code)[1:])
		assert.NotEmpty(t, exitCodeText[code])
	}
}

func TestInterruptWatcher(t *testing.T) {
	var stderr bytes.Buffer
	exited := make(chan int, 1)
	a := &app{stderr: &syncWriter{w: &stderr}, signals: make(chan os.Signal, 3), exit: func(code int) { exited <- code }}
	stopped, cancelled := make(chan struct{}), make(chan struct{})
	w := a.watchInterrupts(func() { close(stopped) }, func() { close(cancelled) }, "first", "second", "third")
	assert.False(t, w.Interrupted())

	noExit := func(which string) {
		select {
		case code := <-exited:
			t.Fatalf("the %s interrupt exited with %d", which, code)
		default:
		}
	}
	a.signals <- os.Interrupt
	select {
	case <-stopped:
	case <-time.After(5 * time.Second):
		t.Fatal("the first interrupt did not stop the work")
	}
	assert.True(t, w.Interrupted())
	noExit("first")

	a.signals <- os.Interrupt
	select {
	case <-cancelled:
	case <-time.After(5 * time.Second):
		t.Fatal("the second interrupt did not cancel the work in flight")
	}
	noExit("second")

	a.signals <- os.Interrupt
	select {
	case code := <-exited:
		assert.Equal(t, exitInterrupted, code)
	case <-time.After(5 * time.Second):
		t.Fatal("the third interrupt did not exit")
	}
	w.Stop()
	out := stderr.String()
	assert.Contains(t, out, "first")
	assert.Contains(t, out, "second")
	assert.Contains(t, out, "third")
}

func TestExitForCounts(t *testing.T) {
	tests := []struct {
		counts map[bulk.Status]int
		want   int
	}{
		{map[bulk.Status]int{bulk.StatusMigrated: 3, bulk.StatusAlreadyMigrated: 2}, exitOK},
		{map[bulk.Status]int{bulk.StatusMigrated: 3, bulk.StatusInvalid: 1}, exitRowsFailed},
		{map[bulk.Status]int{bulk.StatusMigrated: 3, bulk.StatusTokenRejected: 1}, exitRowsFailed},
		{map[bulk.Status]int{bulk.StatusDuplicate: 2}, exitRowsFailed},
		{map[bulk.Status]int{bulk.StatusMigrated: 0, bulk.StatusFailed: 0}, exitOK},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, exitForCounts(&bulk.Summary{Counts: tt.counts}), "%v", tt.counts)
	}
	assert.Equal(t, exitFatal, exitForCounts(nil))
}

func TestShellQuote(t *testing.T) {
	assert.Equal(t, "export.csv", shellQuote("export.csv"))
	assert.Equal(t, "''", shellQuote(""))
	assert.Equal(t, "'my export.csv'", shellQuote("my export.csv"))
	assert.Equal(t, `'it'\''s.csv'`, shellQuote("it's.csv"))
	assert.Equal(t, "codat-migrate migrate --input 'a b.csv' --wait", commandLine("migrate", []string{"--input", "a b.csv", "--wait"}))
}

// syncWriter serialises writes for a test reading the buffer afterwards.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

func TestRunOutcomeQuotaStops(t *testing.T) {
	now := time.Date(2026, 3, 2, 21, 0, 0, 0, time.UTC)
	tests := []struct {
		name      string
		qe        *bulk.QuotaError
		want      []string
		forbidden string
	}{
		{
			name: "daily quota",
			qe:   &bulk.QuotaError{Reset: time.Date(2026, 3, 3, 0, 0, 0, 0, time.UTC), Pending: 4},
			want: []string{"Codat's daily request quota is spent; 4 row(s) are pending.",
				"It resets at 2026-03-03 00:00:00 UTC (in 3h", "Resume then with:"},
		},
		{
			name: "a limit not known to be the daily quota",
			qe:   &bulk.QuotaError{Reset: now.Add(2 * time.Minute), Pending: 2, NotDaily: true},
			want: []string{"a rate limit not known to be the daily quota; 2 row(s) are pending.",
				"It ends at 2026-03-02 21:02:00 UTC (in 2m", "Resume then with:"},
			forbidden: "daily request quota is spent",
		},
		{
			name:      "a limit not known to be the daily quota, no end given",
			qe:        &bulk.QuotaError{Pending: 1, NotDaily: true},
			want:      []string{"Resume in a few minutes with:"},
			forbidden: "00:00 UTC",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			a := &app{stderr: &stderr}
			res := a.runOutcome(runSpec{cmd: &command{}}, nil, nil, tt.qe, false, "codat-migrate migrate --input x.csv", now)
			assert.Equal(t, exitQuota, res.code)
			for _, w := range tt.want {
				assert.Contains(t, stderr.String(), w)
			}
			if tt.forbidden != "" {
				assert.NotContains(t, stderr.String(), tt.forbidden)
			}
		})
	}
}
