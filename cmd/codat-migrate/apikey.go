package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/codat-migrate/codat"
)

// envAPIKey is the environment variable that holds the Codat API key.
const envAPIKey = "CODAT_API_KEY"

// maxKeyFileSize bounds what --api-key-file reads: a key is short, and a
// mistaken path to a large file should fail rather than be held in memory.
const maxKeyFileSize = 4096

// errNoAPIKey is returned when neither CODAT_API_KEY nor --api-key-file gives a key.
var errNoAPIKey = errors.New("no API key: set " + envAPIKey + " or pass --api-key-file FILE (the key is never passed as a flag)")

// loadAPIKey returns the Codat API key, read from the file at path when path is
// set and from CODAT_API_KEY otherwise. The value becomes a codat.Secret at
// once; no error or warning contains it.
func loadAPIKey(path string, getenv func(string) string, warn io.Writer) (codat.Secret, error) {
	if path != "" {
		f, err := os.Open(path)
		if err != nil {
			return "", fmt.Errorf("API key file: %w", err)
		}
		defer f.Close()
		if st, err := f.Stat(); err == nil {
			if !st.Mode().IsRegular() && st.Mode()&os.ModeNamedPipe == 0 {
				return "", fmt.Errorf("API key file %s: not a regular file", path)
			}
			if st.Mode().IsRegular() && st.Mode().Perm()&0o077 != 0 {
				fmt.Fprintf(warn, "warning: API key file %s can be read by other users (mode %04o); run: chmod 600 %s\n",
					path, st.Mode().Perm(), path)
			}
		}
		b, err := io.ReadAll(io.LimitReader(f, maxKeyFileSize+1))
		if err != nil {
			return "", fmt.Errorf("API key file %s: %w", path, err)
		}
		if len(b) > maxKeyFileSize {
			return "", fmt.Errorf("API key file %s: larger than %d bytes; it should hold only the key", path, maxKeyFileSize)
		}
		key := codat.Secret(strings.TrimSpace(string(b)))
		clear(b)
		if key.IsZero() {
			return "", fmt.Errorf("API key file %s is empty", path)
		}
		if strings.ContainsAny(key.Reveal(), " \t\r\n") {
			return "", fmt.Errorf("API key file %s: holds more than one word; it should hold only the key", path)
		}
		return key, nil
	}
	key := codat.Secret(strings.TrimSpace(getenv(envAPIKey)))
	if key.IsZero() {
		return "", errNoAPIKey
	}
	return key, nil
}
