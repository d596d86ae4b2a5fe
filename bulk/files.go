package bulk

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/codat-migrate/codat"
)

// NamedFile is a path with what it is for, for DistinctFiles.
type NamedFile struct {
	// Role says what the file is for ("input", "journal", "report").
	Role string
	// Path is the file's path; empty paths are ignored.
	Path string
}

// DistinctFiles returns an error when two of files are the same file: the
// same existing file (os.SameFile: links and other spellings of one path
// included) or, for a path that does not exist yet, the same absolute path.
// Run it before opening any of them, so that a report written over the
// input, or a journal appended to an export, is refused before any byte
// changes.
func DistinctFiles(files ...NamedFile) error {
	type seen struct {
		NamedFile
		abs string
		fi  os.FileInfo
	}
	var all []seen
	for _, f := range files {
		if f.Path == "" {
			continue
		}
		s := seen{NamedFile: f, abs: f.Path}
		if abs, err := filepath.Abs(f.Path); err == nil {
			s.abs = abs
		}
		if fi, err := os.Stat(f.Path); err == nil {
			s.fi = fi
		}
		for _, o := range all {
			same := s.fi != nil && o.fi != nil && os.SameFile(s.fi, o.fi)
			if !same && (s.fi == nil || o.fi == nil) {
				same = s.abs == o.abs
			}
			if same {
				return fmt.Errorf("bulk: the %s and the %s are the same file (%s); give each its own path", o.Role, s.Role, f.Path)
			}
		}
		all = append(all, s)
	}
	return nil
}

// ErrAccountLocked is returned by LockAccount when another process holds
// the account's lock.
var ErrAccountLocked = errors.New("bulk: another codat-migrate is migrating into this Codat account on this machine")

// AccountLockedError is the error of LockAccount when another process holds
// the lock; it matches ErrAccountLocked.
type AccountLockedError struct {
	// Holder is what the running process wrote in the lock: its journal or
	// store, and its process ID ("" when it could not be read).
	Holder string
}

func (e *AccountLockedError) Error() string {
	if e.Holder == "" {
		return ErrAccountLocked.Error()
	}
	return ErrAccountLocked.Error() + " (" + e.Holder + ")"
}

func (e *AccountLockedError) Unwrap() error { return ErrAccountLocked }

// AccountLockDir is where LockAccount keeps its locks by default: the user's
// state directory ($XDG_STATE_HOME, else ~/.local/state; on Windows and
// macOS the user's cache directory), under codat-migrate/locks.
func AccountLockDir() (string, error) {
	base := os.Getenv("XDG_STATE_HOME")
	if base == "" && runtime.GOOS != "windows" && runtime.GOOS != "darwin" {
		if home, err := os.UserHomeDir(); err == nil {
			base = filepath.Join(home, ".local", "state")
		}
	}
	if base == "" {
		dir, err := os.UserCacheDir()
		if err != nil {
			return "", fmt.Errorf("bulk: no state directory for the account lock: %w", err)
		}
		base = dir
	}
	return filepath.Join(base, "codat-migrate", "locks"), nil
}

// LockAccount takes the machine-wide lock of one Codat account: the API
// key's fingerprint with the base URL names a lock file in dir (created
// mode 0700). A second migration into the same account on the same machine,
// with any journal, gets an *AccountLockedError naming holder as the first
// one wrote it (say, its journal path). The kernel releases the lock when
// the process dies. The key itself is never written: only a hash of its
// fingerprint and the base URL names the file.
func LockAccount(dir string, apiKey codat.Secret, baseURL, holder string) (release func() error, err error) {
	return lockAccount(dir, apiKey, baseURL, holder, false)
}

// LockAccountShared takes the account's lock of LockAccount shared: any
// number of processes may hold it together (the runners of one shared
// Store, which coordinate through the store's claims), but not while
// LockAccount holds it, and LockAccount is refused while any of them does
// (an *AccountLockedError; its Holder is empty, as shared holders write
// none). Where flock is not available (not unix), it keeps a shared holder
// out while LockAccount holds the lock but not the other way round.
func LockAccountShared(dir string, apiKey codat.Secret, baseURL string) (release func() error, err error) {
	return lockAccount(dir, apiKey, baseURL, "", true)
}

func lockAccount(dir string, apiKey codat.Secret, baseURL, holder string, shared bool) (release func() error, err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("bulk: account lock: %w", err)
	}
	sum := sha256.Sum256([]byte(apiKey.Fingerprint() + "\x00" + strings.TrimRight(baseURL, "/")))
	path := filepath.Join(dir, "account-"+hex.EncodeToString(sum[:8])+".lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("bulk: account lock: %w", err)
	}
	lock := lockFile
	if shared {
		lock = lockFileShared
	}
	unlock, err := lock(f)
	if err != nil {
		b, _ := os.ReadFile(path)
		_ = f.Close()
		if errors.Is(err, ErrJournalLocked) {
			return nil, &AccountLockedError{Holder: strings.TrimSpace(string(b))}
		}
		return nil, fmt.Errorf("bulk: account lock: %w", err)
	}
	if shared {
		return func() error { return errors.Join(unlock(), f.Close()) }, nil
	}
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(fmt.Sprintf("%s, process %d\n", holder, os.Getpid())), 0)
	}
	return func() error {
		// Emptied before it is unlocked, so that nobody reads a stale holder.
		_ = f.Truncate(0)
		return errors.Join(unlock(), f.Close())
	}, nil
}
