package testutil

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

// stateEnv names the user's state directory, where codat-migrate keeps its
// account locks (see bulk.AccountLockDir). Both that function and the
// command read it before any fallback derived from the home directory, so
// setting it is enough to move every lock.
const stateEnv = "XDG_STATE_HOME"

// RunWithPrivateState runs m's tests with XDG_STATE_HOME set to a new
// temporary directory, removed when they end, so that no account lock they
// take lands in the user's state directory: neither one taken in process nor
// one taken by a child that inherits the environment. After the tests it
// looks at the lock directories the user's environment names ($XDG_STATE_HOME
// as it was, ~/.local/state, the user cache directory) and, when a lock file
// appeared or changed there during the run (a child started with
// XDG_STATE_HOME removed and HOME kept, say), names it and returns a failing
// exit code. Use it as the whole of TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(testutil.RunWithPrivateState(m)) }
func RunWithPrivateState(m *testing.M) int {
	dirs := userLockDirs()
	before := make([]map[string]lockStamp, len(dirs))
	for i, d := range dirs {
		before[i] = lockFiles(d)
	}
	state, err := os.MkdirTemp("", "codat-migrate-state-*")
	if err != nil {
		fmt.Fprintln(os.Stderr, "testutil: a private state directory:", err)
		return 1
	}
	old, had := os.LookupEnv(stateEnv)
	os.Setenv(stateEnv, state)
	code := m.Run()
	if had {
		os.Setenv(stateEnv, old)
	} else {
		os.Unsetenv(stateEnv)
	}
	os.RemoveAll(state)

	var leaked []string
	for i, d := range dirs {
		for name, st := range lockFiles(d) {
			if was, ok := before[i][name]; !ok || was != st {
				leaked = append(leaked, filepath.Join(d, name))
			}
		}
	}
	if len(leaked) > 0 {
		slices.Sort(leaked)
		fmt.Fprintf(os.Stderr, "FAIL: the tests wrote account locks under the user's state directory "+
			"(give each run an XDG_STATE_HOME of its own; a codat-migrate running outside the tests meanwhile "+
			"would also be seen here):\n\t%s\n", strings.Join(leaked, "\n\t"))
		return 1
	}
	return code
}

// lockStamp is what tells a lock file rewritten during the run from the one
// there before it.
type lockStamp struct {
	size    int64
	modTime time.Time
}

// userLockDirs are the account lock directories of the user's environment:
// where a test's lock would land without a state directory of its own.
func userLockDirs() []string {
	var bases []string
	if s := os.Getenv(stateEnv); s != "" {
		bases = append(bases, s)
	}
	if runtime.GOOS != "windows" && runtime.GOOS != "darwin" {
		if home, err := os.UserHomeDir(); err == nil {
			bases = append(bases, filepath.Join(home, ".local", "state"))
		}
	}
	if cache, err := os.UserCacheDir(); err == nil {
		bases = append(bases, cache)
	}
	var dirs []string
	for _, b := range bases {
		d := filepath.Join(b, "codat-migrate", "locks")
		if !slices.Contains(dirs, d) {
			dirs = append(dirs, d)
		}
	}
	return dirs
}

// lockFiles lists the account lock files in dir (none when it is absent).
func lockFiles(dir string) map[string]lockStamp {
	out := map[string]lockStamp{}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return out
	}
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), "account-") || !strings.HasSuffix(e.Name(), ".lock") {
			continue
		}
		if info, err := e.Info(); err == nil {
			out[e.Name()] = lockStamp{size: info.Size(), modTime: info.ModTime()}
		}
	}
	return out
}
