package testutil

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// stateEnv names the user's state directory, where codat-migrate keeps its
// account locks (see bulk.AccountLockDir). Both that function and the
// command read it before any fallback derived from the home directory, so
// setting it is enough to move every lock.
const stateEnv = "XDG_STATE_HOME"

// RunWithPrivateState runs m's tests with XDG_STATE_HOME set to a new
// temporary directory, removed when they end, and returns m.Run's exit code.
// No account lock the tests take then lands in the user's state directory:
// neither one taken in process nor one taken by a child that inherits the
// environment. (A child given an environment without XDG_STATE_HOME still
// falls back to the home directory: a test helper that builds one must set
// it, to a directory of the test's own.) Use it as the whole of TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(testutil.RunWithPrivateState(m)) }
func RunWithPrivateState(m *testing.M) int {
	state, err := os.MkdirTemp("", "codat-migrate-state-*")
	if err != nil {
		fmt.Fprintln(os.Stderr, "testutil: a private state directory:", err)
		return 1
	}
	defer os.RemoveAll(state)
	old, had := os.LookupEnv(stateEnv)
	os.Setenv(stateEnv, state)
	defer func() {
		if had {
			os.Setenv(stateEnv, old)
		} else {
			os.Unsetenv(stateEnv)
		}
	}()
	return m.Run()
}

// AssertPrivateStateDir fails t unless env's XDG_STATE_HOME (the last one
// set, which is the one a child process gets) lies in the temporary
// directory; what names env in the failure message. A nil env is this
// process's own.
func AssertPrivateStateDir(t testing.TB, what string, env []string) bool {
	t.Helper()
	state, ok := os.LookupEnv(stateEnv)
	if env != nil {
		state, ok = "", false
		for _, kv := range env {
			if v, found := strings.CutPrefix(kv, stateEnv+"="); found {
				state, ok = v, true
			}
		}
	}
	if !ok || state == "" {
		t.Errorf("%s: no %s: account locks would land in the user's state directory", what, stateEnv)
		return false
	}
	return AssertUnderTempDir(t, what, state)
}

// AssertUnderTempDir fails t unless path lies in the temporary directory.
func AssertUnderTempDir(t testing.TB, what, path string) bool {
	t.Helper()
	rel, err := filepath.Rel(os.TempDir(), path)
	if err != nil || !filepath.IsLocal(rel) {
		t.Errorf("%s: %s is not in the temporary directory %s", what, path, os.TempDir())
		return false
	}
	return true
}
