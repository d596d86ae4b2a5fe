package bulk

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/codat-migrate/codat"
)

// stored is rec as the journal gives it back: the first line of an attempt
// to the millisecond, its later lines to the second since the first (a
// token send's time to the millisecond), empty slices and maps as nil.
func stored(rec Record, startMs int64, first bool) Record {
	ms := rec.Time.UnixMilli()
	if !first {
		ms = startMs + (ms-startMs)/1000*1000
	}
	rec.Time = time.UnixMilli(ms).UTC()
	if rec.TokenSend != nil {
		ts := *rec.TokenSend
		ts.At = time.UnixMilli(ts.At.UnixMilli()).UTC()
		rec.TokenSend = &ts
	}
	if len(rec.Steps) == 0 {
		rec.Steps = nil
	}
	if len(rec.KeyGen) == 0 {
		rec.KeyGen = nil
	}
	return rec
}

// Every field of a Record survives the compact lines: set, changed and
// emptied again, across interleaved attempts, a released claim, a run
// event between lines, IDs that are and are not UUIDs and link URLs that do
// and do not contain them.
func TestJournalCompactRoundTrip(t *testing.T) {
	const (
		co   = "6707fb32-43eb-4a43-99b4-34c7ec7ba5dc"
		cn   = "f75a52b5-c4a9-440a-be58-1d413d499d2a"
		link = "https://link-api.codat.io/companies/" + co + "/connections/" + cn + "/start"
	)
	base := time.Date(2026, 12, 4, 23, 0, 0, 123456789, time.UTC)
	at := func(d time.Duration) time.Time { return base.Add(d) }
	type step struct {
		rec     Record
		release bool // Release the ref's claim after the line
	}
	steps := []step{
		{rec: Record{Time: at(0), Event: eventRun, Input: "x.csv"}},
		{rec: Record{Time: at(time.Millisecond), Ref: "a", Line: 2, Step: stepStart, Fingerprint: "fa", Tenant: "ta", Canary: true}},
		{rec: Record{Time: at(1500 * time.Millisecond), Ref: "b", Line: 3, Step: stepStart, Steps: []codat.Step{codat.StepCompany},
			CompanyID: "CO-Not-A-UUID", Fingerprint: "fb", Relink: true, Requests: 7, KeyGen: map[codat.Step]int{codat.StepAuthorize: 2}}},
		{rec: Record{Time: at(2 * time.Second), Ref: "a", Line: 2, Step: "company", Steps: []codat.Step{"company"}, CompanyID: co,
			Fingerprint: "fa", Tenant: "ta", Canary: true, Requests: 1}},
		{rec: Record{Time: at(2500 * time.Millisecond), Ref: "a", Line: 2, Step: "connection", Steps: []codat.Step{"company", "connection"},
			CompanyID: co, ConnectionID: cn, Status: "PendingAuth", LinkURL: link, PlatformKey: "qhyg", Fingerprint: "fa", Tenant: "ta",
			Canary: true, Requests: 2}},
		{rec: Record{Time: at(3 * time.Second), Event: eventQuota, Reset: func() *time.Time { r := at(time.Hour); return &r }()}},
		{rec: Record{Time: at(3100 * time.Millisecond), Ref: "a", Line: 2, Step: stepState, Steps: []codat.Step{"company", "connection"},
			CompanyID: co, ConnectionID: cn, Status: "PendingAuth", LinkURL: link, PlatformKey: "qhyg", Fingerprint: "fa", Tenant: "ta",
			Canary: true, Requests: 2, TokenSend: &codat.TokenSend{At: at(3099*time.Millisecond + 7), Fingerprint: "other"},
			KeyGen: map[codat.Step]int{codat.StepAuthorize: 1}}},
		{rec: Record{Time: at(3200 * time.Millisecond), Ref: "b", Line: 3, Step: stepFailed, Steps: []codat.Step{codat.StepCompany},
			CompanyID: "~tilde", ConnectionID: "6707FB32-43EB-4A43-99B4-34C7EC7BA5DC", LinkURL: "https://x/{weird}", Fingerprint: "fb",
			Relink: true, Requests: 9, Result: StatusFailed, ErrorClass: "server", Error: "HTTP 500", NoWrite: true, Verdict: verdictFailed}},
		{rec: Record{Time: at(9 * time.Second), Ref: "a", Line: 2, Step: "authorize", Steps: []codat.Step{"connection"},
			CompanyID: co, ConnectionID: cn, Status: "", LinkURL: "", Fingerprint: "fa", Tenant: "ta", Canary: true, TokenSent: true,
			Requests: 1}, release: true},
		{rec: Record{Time: at(10 * time.Second), Ref: "a", Line: 5, Step: stepStart, Steps: []codat.Step{"company", "connection", "authorize"},
			CompanyID: co, ConnectionID: cn, Status: "Linked", LinkURL: link, Fingerprint: "fa2", Tenant: "ta", AlreadyMigrated: true,
			TokenSend: &codat.TokenSend{At: at(3 * time.Second), Fingerprint: "fa2"}, Requests: 4}},
		{rec: Record{Time: at(11 * time.Second), Ref: "a", Line: 5, Step: "done", Steps: []codat.Step{"company", "connection", "authorize", "done"},
			CompanyID: co, ConnectionID: cn, Status: "Linked", LinkURL: link, Fingerprint: "fa2", Tenant: "ta", AlreadyMigrated: true,
			Requests: 4, Verdict: verdictPassed}},
	}
	path := filepath.Join(t.TempDir(), "j")
	j, err := openJournal(path)
	require.NoError(t, err)
	var want []Record
	latest := map[string]Record{}
	startMs := map[string]int64{}
	ctx := context.Background()
	for i, s := range steps {
		require.NoError(t, j.Append(ctx, Claim{Ref: s.rec.Ref}, &s.rec), "line %d", i)
		if s.rec.Event != "" {
			want = append(want, s.rec)
			continue
		}
		_, open := startMs[s.rec.Ref]
		if !open {
			startMs[s.rec.Ref] = s.rec.Time.UnixMilli()
		}
		w := stored(s.rec, startMs[s.rec.Ref], !open)
		want = append(want, w)
		latest[s.rec.Ref] = w
		got, err := j.Get(ctx, s.rec.Ref)
		require.NoError(t, err, "line %d", i)
		assert.Equal(t, w, *got, "line %d read back while the journal is open", i)
		if s.release || s.rec.Step == stepFailed || s.rec.Step == string(codat.StepDone) {
			require.NoError(t, j.Release(ctx, Claim{Ref: s.rec.Ref}))
			delete(startMs, s.rec.Ref)
		}
	}
	require.NoError(t, j.Close())
	b := readFile(t, path)
	assert.NotContains(t, string(b), link, "the link URL is not written out")
	assert.Equal(t, 1, strings.Count(string(b), `"ud":`), "one link template, defined once")

	lines := journalLines(t, path)
	require.Len(t, lines, len(want))
	for i := range want {
		if want[i].Event != "" {
			assert.True(t, want[i].Time.Equal(lines[i].Time), "event %d time", i)
			lines[i].Time, want[i].Time = time.Time{}, time.Time{}
			if want[i].Reset != nil {
				require.NotNil(t, lines[i].Reset)
				assert.True(t, want[i].Reset.Equal(*lines[i].Reset))
				lines[i].Reset, want[i].Reset = nil, nil
			}
		}
		assert.Equal(t, want[i], lines[i], "line %d decoded from the file", i)
	}
	j, err = openJournal(path)
	require.NoError(t, err)
	defer j.Close()
	for ref, w := range latest {
		got, err := j.Get(ctx, ref)
		require.NoError(t, err)
		assert.Equal(t, w, *got, "%s after reopening", ref)
	}
	holder, err := j.TenantRef(ctx, "ta")
	require.NoError(t, err)
	assert.Equal(t, "a", holder)
}

// A journal in the version 1 format (every line a whole Record, as written
// before the compact format) still resumes: its records are read as they
// were, its header becomes version 2 when a run opens it, and the lines
// appended after it are compact.
func TestJournalReadsVersion1(t *testing.T) {
	v1 := journalHeaderV1 +
		`{"t":"2026-12-04T23:49:14.952878527Z","event":"run","input":"export.csv"}` + "\n" +
		`{"t":"2026-12-04T23:49:14.955477686Z","ref":"crm-1","line":2,"step":"start","fp":"98f10b50c62d","tenant":"26d167c08c6d"}` + "\n" +
		`{"t":"2026-12-04T23:49:14.956413076Z","ref":"crm-1","line":2,"step":"company","steps":["company"],"companyId":"6707fb32-43eb-4a43-99b4-34c7ec7ba5dc","fp":"98f10b50c62d","tenant":"26d167c08c6d","requests":1}` + "\n" +
		`{"t":"2026-12-04T23:49:14.957309426Z","ref":"crm-1","line":2,"step":"connection","steps":["company","connection"],"companyId":"6707fb32-43eb-4a43-99b4-34c7ec7ba5dc","connectionId":"f75a52b5-c4a9-440a-be58-1d413d499d2a","status":"PendingAuth","linkUrl":"https://link-api.codat.io/companies/6707fb32-43eb-4a43-99b4-34c7ec7ba5dc/connections/f75a52b5-c4a9-440a-be58-1d413d499d2a/start","fp":"98f10b50c62d","tenant":"26d167c08c6d","platformKey":"qhyg","requests":2}` + "\n" +
		`{"t":"2026-12-04T23:49:14.957620078Z","ref":"crm-1","line":2,"step":"state","steps":["company","connection"],"companyId":"6707fb32-43eb-4a43-99b4-34c7ec7ba5dc","connectionId":"f75a52b5-c4a9-440a-be58-1d413d499d2a","status":"PendingAuth","linkUrl":"https://link-api.codat.io/companies/6707fb32-43eb-4a43-99b4-34c7ec7ba5dc/connections/f75a52b5-c4a9-440a-be58-1d413d499d2a/start","fp":"98f10b50c62d","tenant":"26d167c08c6d","platformKey":"qhyg","tokenSend":{"at":"2026-12-04T23:49:14.957618683Z","fingerprint":"98f10b50c62d"},"requests":2}` + "\n" +
		`{"t":"2026-12-04T23:49:14.963306829Z","ref":"crm-2","line":3,"step":"done","steps":["company","connection","authorize","verify","sync","done"],"companyId":"7749ecb4-3d45-4e37-ad1a-7e2746521768","connectionId":"02469761-8b4b-4352-9cf2-36767f10f988","status":"Linked","fp":"798d04e0cec5","tenant":"c7323e9e8355","tokenSent":true,"platformKey":"qhyg","requests":4}` + "\n"
	path := filepath.Join(t.TempDir(), "j")
	require.NoError(t, os.WriteFile(path, []byte(v1), 0o600))

	sum, err := ReadJournal(path)
	require.NoError(t, err)
	assert.Equal(t, map[Status]int{StatusIncomplete: 1, StatusMigrated: 1}, sum.Counts)
	assert.Equal(t, 1, sum.Runs)
	assert.Equal(t, string(readFile(t, path)), v1, "status changes nothing")

	ctx := context.Background()
	j, err := openJournal(path)
	require.NoError(t, err)
	e, err := j.Get(ctx, "crm-1")
	require.NoError(t, err)
	require.NotNil(t, e)
	assert.Equal(t, stepState, e.Step)
	assert.Equal(t, "f75a52b5-c4a9-440a-be58-1d413d499d2a", e.ConnectionID)
	assert.Equal(t, "https://link-api.codat.io/companies/6707fb32-43eb-4a43-99b4-34c7ec7ba5dc/connections/f75a52b5-c4a9-440a-be58-1d413d499d2a/start", e.LinkURL)
	require.NotNil(t, e.TokenSend, "the send intent resumes")
	assert.True(t, e.sendUnknown())
	assert.Equal(t, []codat.Step{codat.StepCompany, codat.StepConnection}, e.result().Steps)
	done, err := j.Get(ctx, "crm-2")
	require.NoError(t, err)
	assert.Equal(t, StatusMigrated, done.Outcome())
	holder, err := j.TenantRef(ctx, "c7323e9e8355")
	require.NoError(t, err)
	assert.Equal(t, "crm-2", holder)

	// The resume continues crm-1 in the compact format.
	next := *e
	next.Time, next.Step = e.Time.Add(time.Second), string(codat.StepAuthorize)
	next.Steps = append(next.Steps, codat.StepAuthorize)
	next.TokenSend, next.TokenSent, next.Status, next.Requests = nil, true, "Linked", 3
	require.NoError(t, j.Append(ctx, Claim{Ref: "crm-1"}, &next))
	require.NoError(t, j.Close())
	b := string(readFile(t, path))
	assert.True(t, strings.HasPrefix(b, journalHeader), "the header is version 2 now")
	assert.Equal(t, v1[len(journalHeaderV1):], b[len(journalHeader):len(v1)], "the version 1 lines are kept as they were")
	assert.True(t, strings.HasPrefix(b[len(v1):], "[0,"), "the appended line is compact: %s", b[len(v1):])

	j, err = openJournal(path)
	require.NoError(t, err)
	defer j.Close()
	e, err = j.Get(ctx, "crm-1")
	require.NoError(t, err)
	assert.Equal(t, stored(next, 0, true), *e, "the resumed ref reads back from its compact line")
	sum, err = ReadJournal(path)
	require.NoError(t, err)
	assert.Equal(t, map[Status]int{StatusIncomplete: 1, StatusMigrated: 1}, sum.Counts)
}

// A crash that tears an attempt's compact line leaves the attempt at its
// line before; the next run continues the ref with a new attempt, and a
// line that continues an attempt the file never started is corruption.
func TestJournalCompactTornLine(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "j")
	j, err := openJournal(path)
	require.NoError(t, err)
	start := Record{Time: t0, Ref: "a", Line: 2, Step: stepStart, Fingerprint: "fp", Tenant: "tn"}
	company := start
	company.Time, company.Step, company.Steps, company.CompanyID, company.Requests = t0.Add(time.Second), "company", []codat.Step{"company"}, "co1", 1
	require.NoError(t, j.Append(ctx, Claim{Ref: "a"}, &start))
	require.NoError(t, j.Append(ctx, Claim{Ref: "a"}, &company))
	require.NoError(t, j.Close())
	good := readFile(t, path)

	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	require.NoError(t, err)
	_, err = f.WriteString(`[0,"n",{"n":"co`)
	require.NoError(t, err)
	require.NoError(t, f.Close())

	sum, err := ReadJournal(path)
	require.NoError(t, err)
	assert.True(t, sum.TornTail)
	j, err = openJournal(path)
	require.NoError(t, err)
	assert.Equal(t, good, readFile(t, path), "the torn line is cut")
	e, err := j.Get(ctx, "a")
	require.NoError(t, err)
	assert.Equal(t, stored(company, t0.UnixMilli(), false), *e, "the ref resumes from the line before")
	conn := company
	conn.Time, conn.Step, conn.Steps, conn.ConnectionID, conn.Requests = t0.Add(time.Hour), "connection", []codat.Step{"company", "connection"}, "cn1", 2
	require.NoError(t, j.Append(ctx, Claim{Ref: "a"}, &conn))
	require.NoError(t, j.Close())
	b := readFile(t, path)
	assert.Contains(t, string(b[len(good):]), `"r":"a"`, "the next run's first line of the ref is complete on its own")
	j, err = openJournal(path)
	require.NoError(t, err)
	e, err = j.Get(ctx, "a")
	require.NoError(t, err)
	assert.Equal(t, stored(conn, 0, true), *e)
	require.NoError(t, j.Close())

	// A continuation line of an attempt that never started, not last.
	require.NoError(t, os.WriteFile(path, []byte(journalHeader+`[3,"c",{"c":"x"}]`+"\n"+`[0,"S",{"r":"b"}]`+"\n"), 0o600))
	_, err = openJournal(path)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "line 2 is corrupt")
}

// FuzzJournalCodec: a line encoded against any previous Record of its
// attempt decodes to the Record appended, whatever the IDs, link URL and
// steps hold.
func FuzzJournalCodec(f *testing.F) {
	f.Add("6707fb32-43eb-4a43-99b4-34c7ec7ba5dc", "f75a52b5-c4a9-440a-be58-1d413d499d2a",
		"https://link-api.codat.io/companies/6707fb32-43eb-4a43-99b4-34c7ec7ba5dc/connections/f75a52b5-c4a9-440a-be58-1d413d499d2a/start",
		"connection", "company,connection", 2, int64(1500), true)
	f.Add("c", "cc", "https://x/c/cc/{c}", "state", "", 0, int64(-3), false)
	f.Add("~", "~~a", "", "sync", "done,,sync", 7, int64(0), true)
	f.Fuzz(func(t *testing.T, company, connection, link, step, steps string, requests int, sendMs int64, flag bool) {
		for _, s := range []string{company, connection, link, step, steps} {
			if !utf8.ValidString(s) {
				t.Skip("JSON holds valid UTF-8 only (as in version 1)")
			}
		}
		c := newCodecState()
		at := time.UnixMilli(1_800_000_000_000).UTC()
		prev := &Record{Time: at, Ref: "r", Step: stepStart, CompanyID: connection, Fingerprint: "fp", Requests: 1}
		rec := Record{Time: at.Add(2 * time.Second), Ref: "r", Step: step, CompanyID: company, ConnectionID: connection,
			LinkURL: link, Fingerprint: "fp", TokenSent: flag, Requests: requests, Status: step}
		if steps != "" {
			for _, s := range strings.Split(steps, ",") {
				rec.Steps = append(rec.Steps, codat.Step(s))
			}
		}
		if flag {
			rec.TokenSend = &codat.TokenSend{At: at.Add(time.Duration(sendMs) * time.Millisecond), Fingerprint: company}
			rec.KeyGen = map[codat.Step]int{codat.Step(step): requests}
		}
		for _, p := range []*Record{nil, prev} {
			startMs := at.UnixMilli()
			b, w, err := c.encodeRefLine(0, &rec, p, 100, startMs)
			if err != nil {
				t.Skip("not encodable as JSON")
			}
			c.note(100, nil, w)
			_, gotStep, gw, err := parseRefLine(bytes.TrimSpace(b))
			require.NoError(t, err, string(b))
			got, err := c.apply(gotStep, gw, p, 100, startMs)
			require.NoError(t, err, string(b))
			assert.Equal(t, stored(rec, startMs, p == nil), *got, string(b))
		}
	})
}
