package proof_test

import (
	"testing"

	"github.com/codat-migrate/codat/internal/testutil"
)

// TestStateDirIsPrivate checks that the account locks of the CLI processes
// the proofs start land in temporary directories, never in the user's state
// directory.
func TestStateDirIsPrivate(t *testing.T) {
	tests := []struct {
		name string
		env  []string
	}{
		{"the tests' own", nil},
		{"cleanEnv", cleanEnv(t.TempDir())},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			testutil.AssertPrivateStateDir(t, tt.name, tt.env)
		})
	}
}
