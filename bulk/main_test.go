package bulk

import (
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/codat-migrate/codat/internal/testutil"
)

// TestMain keeps every account lock the tests take out of the user's state
// directory.
func TestMain(m *testing.M) { os.Exit(testutil.RunWithPrivateState(m)) }

// TestStateDirIsPrivate checks that AccountLockDir, where the tests' locks
// land by default, is in a temporary directory.
func TestStateDirIsPrivate(t *testing.T) {
	dir, err := AccountLockDir()
	require.NoError(t, err)
	testutil.AssertUnderTempDir(t, "AccountLockDir", dir)
}
