//go:build !unix

package bulk

import (
	"errors"
	"fmt"
	"os"
)

// lockFile uses a lock file beside f, created exclusively, where flock is not
// available. A crash leaves it behind; delete it by hand once no run is active.
func lockFile(f *os.File) (func() error, error) {
	name := f.Name() + ".lock"
	l, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("%w: %s exists", ErrJournalLocked, name)
		}
		return nil, fmt.Errorf("bulk: lock journal: %w", err)
	}
	_ = l.Close()
	return func() error { return os.Remove(name) }, nil
}

// lockFileShared refuses f while lockFile holds it; where flock is not
// available it leaves no mark, so it does not keep lockFile out.
func lockFileShared(f *os.File) (func() error, error) {
	name := f.Name() + ".lock"
	if _, err := os.Stat(name); err == nil {
		return nil, fmt.Errorf("%w: %s exists", ErrJournalLocked, name)
	}
	return func() error { return nil }, nil
}

// journalInUse reports whether the lock file beside path exists (a run
// holds the journal, or a crashed one left it).
func journalInUse(path string) (bool, error) {
	_, err := os.Stat(path + ".lock")
	if err == nil {
		return true, nil
	}
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	return false, err
}
