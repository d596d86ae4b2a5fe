package bulk

import (
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/codat-migrate/codat"
)

var t0 = time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)

func TestJournalRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.jsonl")
	j, err := openJournal(path)
	require.NoError(t, err)
	st, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm())

	require.NoError(t, j.append(&Record{Time: t0, Ref: "a", Step: stepStart, Fingerprint: "fp1", Tenant: "t1"}))
	require.NoError(t, j.append(&Record{Time: t0, Ref: "a", Step: "company", Steps: []codat.Step{"company"}, CompanyID: "co1", Fingerprint: "fp1", Tenant: "t1", Requests: 1}))
	require.NoError(t, j.append(&Record{Time: t0, Ref: "b", Step: stepFailed, Result: StatusTokenRejected, LinkURL: "https://l", Fingerprint: "fp2", Requests: 3}))
	require.NoError(t, j.append(&Record{Time: t0, Ref: "c", Step: "done", Steps: []codat.Step{"company", "done"}, Canary: true, Requests: 4}))
	require.NoError(t, j.append(&Record{Time: t0, Event: eventCanaryPassed}))

	e, err := j.get("a")
	require.NoError(t, err)
	require.NotNil(t, e)
	assert.Equal(t, "co1", e.CompanyID, "get returns the latest line of the ref")
	assert.Equal(t, []codat.Step{"company"}, e.result().Steps)
	missing, err := j.get("zzz")
	require.NoError(t, err)
	assert.Nil(t, missing)
	holder, err := j.tenantRef("t1")
	require.NoError(t, err)
	assert.Equal(t, "a", holder, "the tenant is known under the ref it was journaled with")
	holder, err = j.tenantRef("t-unknown")
	require.NoError(t, err)
	assert.Empty(t, holder)
	require.NoError(t, j.close())

	// Reopen: the index is rebuilt from the file.
	j, err = openJournal(path)
	require.NoError(t, err)
	defer j.close()
	e, err = j.get("b")
	require.NoError(t, err)
	assert.True(t, e.rejected())
	passed, passes, failed := j.canaryState()
	assert.True(t, passed)
	assert.Equal(t, 1, passes)
	assert.False(t, failed)

	sum, err := ReadJournal(path)
	require.NoError(t, err)
	assert.Equal(t, 3, sum.Refs)
	assert.Equal(t, map[Status]int{StatusIncomplete: 1, StatusTokenRejected: 1, StatusMigrated: 1}, sum.Counts)
	assert.Equal(t, 1+3+4, sum.Requests)
	assert.True(t, sum.CanaryPassed)
	assert.Equal(t, 1, sum.Resumable(), "only the incomplete ref resumes; a rejected token waits for a new one")
}

// The canary gate follows the verdicts in journal order: a failed canary
// closes it, a canary that passed in the same run does not count, and a new
// cohort in a later run must pass.
func TestJournalCanaryVerdicts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.jsonl")
	j, err := openJournal(path)
	require.NoError(t, err)
	done := []codat.Step{"company", "connection", "authorize", "verify", "sync", "wait", "done"}
	line := func(ref, verdict string) *Record {
		return &Record{Time: t0, Ref: ref, Step: "done", Steps: done, Canary: true, Verdict: verdict}
	}
	require.NoError(t, j.append(&Record{Time: t0, Event: eventRun}))
	require.NoError(t, j.append(line("a", verdictPassed)))
	require.NoError(t, j.append(line("b", verdictFailed)))
	require.NoError(t, j.append(line("c", verdictPassed))) // same run as the failure
	require.NoError(t, j.append(&Record{Time: t0, Event: eventCanaryFailed}))
	passed, passes, failed := j.canaryState()
	assert.False(t, passed)
	assert.Zero(t, passes, "a failure discards the passes before it and in its run")
	assert.True(t, failed)
	e, err := j.get("b")
	require.NoError(t, err)
	assert.Equal(t, StatusFailed, e.outcome(), "a finished canary that failed is a failure")

	require.NoError(t, j.append(&Record{Time: t0, Event: eventRun}))
	require.NoError(t, j.append(line("d", verdictPassed)))
	passed, passes, failed = j.canaryState()
	assert.False(t, passed)
	assert.Equal(t, 1, passes, "a pass in a later run counts towards the new cohort")
	assert.True(t, failed)
	require.NoError(t, j.close())

	sum, err := ReadJournal(path)
	require.NoError(t, err)
	assert.True(t, sum.CanaryFailed)
	assert.False(t, sum.CanaryPassed)
	assert.Equal(t, map[Status]int{StatusMigrated: 3, StatusFailed: 1}, sum.Counts)

	j, err = openJournal(path)
	require.NoError(t, err)
	passed, passes, failed = j.canaryState()
	assert.Equal(t, []any{false, 1, true}, []any{passed, passes, failed}, "the same state from the file")
	require.NoError(t, j.append(&Record{Time: t0, Event: eventCanaryPassed}))
	passed, _, failed = j.canaryState()
	assert.True(t, passed)
	assert.False(t, failed)
	require.NoError(t, j.close())
}

func TestJournalTornLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.jsonl")
	j, err := openJournal(path)
	require.NoError(t, err)
	require.NoError(t, j.append(&Record{Time: t0, Ref: "a", Step: "company", Steps: []codat.Step{"company"}, CompanyID: "co1"}))
	require.NoError(t, j.close())
	good := readFile(t, path)

	// A crash in the middle of a write leaves half a line.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	require.NoError(t, err)
	_, err = f.WriteString(`{"t":"2025-03-01T09:00:00Z","ref":"a","step":"conn`)
	require.NoError(t, err)
	require.NoError(t, f.Close())

	sum, err := ReadJournal(path)
	require.NoError(t, err, "status reads a journal with a torn tail")
	assert.True(t, sum.TornTail)
	assert.Equal(t, 1, sum.Lines)
	assert.Len(t, readFile(t, path), len(good)+len(`{"t":"2025-03-01T09:00:00Z","ref":"a","step":"conn`), "ReadJournal changes nothing")

	j, err = openJournal(path)
	require.NoError(t, err)
	e, err := j.get("a")
	require.NoError(t, err)
	assert.Equal(t, "company", e.Step, "the torn line is dropped; the ref resumes from the line before")
	require.NoError(t, j.append(&Record{Time: t0, Ref: "a", Step: "connection"}))
	require.NoError(t, j.close())
	lines := journalLines(t, path)
	require.Len(t, lines, 2)
	assert.Equal(t, "connection", lines[1].Step)
}

func TestJournalCorruptMiddleLineIsAnError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.jsonl")
	require.NoError(t, os.WriteFile(path, []byte(journalHeader+"{\"ref\":\"a\"}\nnot json\n{\"ref\":\"b\"}\n"), 0o600))
	_, err := openJournal(path)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "line 3 is corrupt", "lines are numbered in the file, the header first")
	_, err = ReadJournal(path)
	require.Error(t, err)
}

func TestJournalLockAndMode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.jsonl")
	require.NoError(t, os.WriteFile(path, nil, 0o644))
	j, err := openJournal(path)
	require.NoError(t, err)
	st, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm(), "a wider mode is narrowed")

	_, err = openJournal(path)
	require.Error(t, err)
	assert.True(t, errors.Is(err, ErrJournalLocked), "a second run cannot share the journal: %v", err)
	require.NoError(t, j.close())
	j2, err := openJournal(path)
	require.NoError(t, err, "the lock is released on close")
	require.NoError(t, j2.close())
}

func TestJournalConcurrentAppends(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.jsonl")
	j, err := openJournal(path)
	require.NoError(t, err)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range 25 {
				ref := string(rune('a'+i)) + "-" + string(rune('a'+k))
				assert.NoError(t, j.append(&Record{Time: t0, Ref: ref, Step: stepStart}))
			}
		}()
	}
	wg.Wait()
	require.NoError(t, j.close())
	assert.Len(t, journalLines(t, path), 200)
	sum, err := ReadJournal(path)
	require.NoError(t, err)
	assert.Equal(t, 200, sum.Refs)
}

// TestReadJournalBoundsALine: a file that is not a journal (a device that
// never ends a line) is refused at the line bound, not read into memory.
func TestReadJournalBoundsALine(t *testing.T) {
	r := &patternReader{head: journalHeader + `{"ref":"a"}` + "\n", body: 8 * maxJournalLine}
	_, _, err := scanJournal(r, nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "journal line 3 is longer than", "lines are numbered in the file, the header first")
}
