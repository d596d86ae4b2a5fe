package bulk

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/codat-migrate/codat"
)

func TestJournalRefusesAFileThatIsNotOne(t *testing.T) {
	cases := []struct {
		name    string
		content string
		mode    os.FileMode
	}{
		{"a CSV export", "ref,company_name,platform,accessToken\nr1,Acme,xero,tok-secret\n", 0o644},
		{"a JSONL export", `{"ref":"r1","platform":"xero","authorization":{"accessToken":"tok"}}` + "\n", 0o640},
		{"a report", "line,ref,status\n2,r1,migrated\n", 0o600},
		{"one byte", "x", 0o666},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "export")
			require.NoError(t, os.WriteFile(path, []byte(tc.content), tc.mode))
			require.NoError(t, os.Chmod(path, tc.mode)) // past the umask
			_, err := openJournal(path)
			require.ErrorIs(t, err, ErrNotJournal)
			assert.Equal(t, tc.content, string(readFile(t, path)), "the file is left untouched")
			fi, err := os.Stat(path)
			require.NoError(t, err)
			assert.Equal(t, tc.mode, fi.Mode().Perm(), "the file's mode is left untouched")

			r := &Runner{JournalPath: path, migrate: func(context.Context, codat.Migration) (*codat.MigrationResult, error) {
				t.Fatal("nothing is migrated with a journal that is not one")
				return nil, nil
			}}
			_, err = r.Run(context.Background(), BytesInput("in.csv", FormatCSV, []byte("ref,company_name,platform\n")), nil)
			require.ErrorIs(t, err, ErrNotJournal)
			assert.Equal(t, tc.content, string(readFile(t, path)), "Run leaves it untouched too")
		})
	}
}

func TestJournalHeaderCutShortIsRewritten(t *testing.T) {
	path := filepath.Join(t.TempDir(), "new.journal")
	require.NoError(t, os.WriteFile(path, []byte(journalHeader[:10]), 0o600))
	j, err := openJournal(path)
	require.NoError(t, err, "a creation cut short while writing the header journaled nothing")
	require.NoError(t, j.close())
	assert.Equal(t, journalHeader, string(readFile(t, path)))
}

func TestJournalNewFileGetsTheHeader(t *testing.T) {
	path := filepath.Join(t.TempDir(), "new.journal")
	j, err := openJournal(path)
	require.NoError(t, err)
	require.NoError(t, j.close())
	assert.Equal(t, journalHeader, string(readFile(t, path)))
	j, err = openJournal(path)
	require.NoError(t, err, "a journal with only its header reopens")
	require.NoError(t, j.close())
	sum, err := ReadJournal(path)
	require.NoError(t, err)
	assert.Equal(t, 0, sum.Lines)
}

func TestDistinctFiles(t *testing.T) {
	dir := t.TempDir()
	input := filepath.Join(dir, "export.csv")
	require.NoError(t, os.WriteFile(input, []byte("ref\n"), 0o600))
	link := filepath.Join(dir, "link.csv")
	require.NoError(t, os.Symlink(input, link))
	hard := filepath.Join(dir, "hard.csv")
	require.NoError(t, os.Link(input, hard))
	missing := filepath.Join(dir, "new.journal")
	cases := []struct {
		name  string
		files []NamedFile
		want  string // "" for no error
	}{
		{"all different", []NamedFile{{"input", input}, {"journal", missing}, {"report", filepath.Join(dir, "r.csv")}}, ""},
		{"report is the input", []NamedFile{{"input", input}, {"journal", missing}, {"report", input}}, "the input and the report are the same file"},
		{"journal is the input through a symlink", []NamedFile{{"input", input}, {"journal", link}}, "the input and the journal are the same file"},
		{"report is a hard link to the input", []NamedFile{{"input", input}, {"report", hard}}, "the input and the report are the same file"},
		{"journal and report the same new path", []NamedFile{{"input", input}, {"journal", missing}, {"report", filepath.Join(dir, ".", "new.journal")}}, "the journal and the report are the same file"},
		{"empty paths are ignored", []NamedFile{{"input", ""}, {"journal", ""}}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := DistinctFiles(tc.files...)
			if tc.want == "" {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestLockAccount(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "locks")
	const key = codat.Secret("api-key-secret-value")
	release, err := LockAccount(dir, key, "https://api.codat.io", "journal a.journal")
	require.NoError(t, err)

	_, err = LockAccount(dir, key, "https://api.codat.io/", "journal b.journal")
	require.ErrorIs(t, err, ErrAccountLocked, "the same account with another journal is refused")
	var le *AccountLockedError
	require.ErrorAs(t, err, &le)
	assert.Contains(t, le.Holder, "journal a.journal", "the refusal names the running one")
	assert.NotContains(t, err.Error(), key.Reveal())

	other, err := LockAccount(dir, "another-key", "https://api.codat.io", "journal c.journal")
	require.NoError(t, err, "another account is not locked")
	require.NoError(t, other())
	elsewhere, err := LockAccount(dir, key, "http://127.0.0.1:8080", "journal d.journal")
	require.NoError(t, err, "the same key against another base URL is another account")
	require.NoError(t, elsewhere())

	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		require.NoError(t, err)
		assert.NotContains(t, string(b)+e.Name(), key.Reveal(), "the key is never written")
		assert.NotContains(t, string(b)+e.Name(), key.Fingerprint(), "nor its fingerprint")
	}

	require.NoError(t, release())
	again, err := LockAccount(dir, key, "https://api.codat.io", "journal b.journal")
	require.NoError(t, err, "released, the account can be locked again")
	require.NoError(t, again())
}

func TestLockAccountShared(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "locks")
	const key = codat.Secret("api-key-secret-value")
	const url = "https://api.codat.io"
	a, err := LockAccountShared(dir, key, url)
	require.NoError(t, err)
	b, err := LockAccountShared(dir, key, url+"/")
	require.NoError(t, err, "shared holders of one account are let in together")

	_, err = LockAccount(dir, key, url, "journal a.journal")
	require.ErrorIs(t, err, ErrAccountLocked, "an exclusive run is refused while shared holders run")
	require.NoError(t, a())
	_, err = LockAccount(dir, key, url, "journal a.journal")
	require.ErrorIs(t, err, ErrAccountLocked, "while any shared holder is left")
	require.NoError(t, b())

	release, err := LockAccount(dir, key, url, "journal a.journal")
	require.NoError(t, err, "with the shared holders gone, the exclusive lock is taken")
	_, err = LockAccountShared(dir, key, url)
	var le *AccountLockedError
	require.ErrorAs(t, err, &le, "a shared holder is refused while the exclusive lock is held")
	assert.Contains(t, le.Holder, "journal a.journal")
	require.NoError(t, release())
}
