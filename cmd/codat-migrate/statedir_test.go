package main

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/codat-migrate/codat/bulk"
	"github.com/codat-migrate/codat/internal/testutil"
)

// TestStateDirIsPrivate checks that the account locks of the tests, in
// process and in the CLI processes they start, land in temporary
// directories, never in the user's state directory.
func TestStateDirIsPrivate(t *testing.T) {
	tests := []struct {
		name string
		env  []string
	}{
		{"the tests' own", nil},
		{"baseEnv", baseEnv(t, t.TempDir())},
		{"crashEnv", crashEnv(t.TempDir())},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			testutil.AssertPrivateStateDir(t, tt.name, tt.env)
		})
	}
	dir, err := bulk.AccountLockDir()
	require.NoError(t, err)
	testutil.AssertUnderTempDir(t, "bulk.AccountLockDir", dir)
}
