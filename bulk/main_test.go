package bulk

import (
	"os"
	"testing"

	"github.com/codat-migrate/codat/internal/testutil"
)

// TestMain keeps every account lock the tests take out of the user's state
// directory.
func TestMain(m *testing.M) { os.Exit(testutil.RunWithPrivateState(m)) }
