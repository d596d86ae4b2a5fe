package main

import (
	"sort"
	"time"

	"github.com/codat-migrate/codat"
	"github.com/codat-migrate/codat/bulk"
	"github.com/codat-migrate/codat/codattest"
)

// The JSON outputs (plan --json, status --json, the fake's /_fake/status)
// share one style: camelCase keys as Codat's API, times in RFC 3339 (UTC),
// durations in seconds, and a value that is not known left out rather than
// given as a zero time.

// rfc3339 is t in RFC 3339 (UTC), or nil for the zero time.
func rfc3339(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := t.UTC().Format(time.RFC3339)
	return &s
}

// seconds is d in whole seconds.
func seconds(d time.Duration) int64 { return int64(d.Round(time.Second) / time.Second) }

// quotaOut is a quota snapshot.
type quotaOut struct {
	Limit     int     `json:"limit"`
	Remaining int     `json:"remaining"`
	Reset     *string `json:"reset,omitempty"`
	Observed  *string `json:"observed,omitempty"`
}

func quotaJSON(q codat.Quota) *quotaOut {
	if !q.Known() {
		return nil
	}
	return &quotaOut{Limit: q.Limit, Remaining: q.Remaining, Reset: rfc3339(q.Reset), Observed: rfc3339(q.Observed)}
}

// planOut is plan --json.
type planOut struct {
	Input                string      `json:"input"`
	Rows                 int         `json:"rows"`
	Valid                int         `json:"valid"`
	Invalid              int         `json:"invalid"`
	Duplicate            int         `json:"duplicate"`
	AlreadyMigrated      int         `json:"alreadyMigrated"`
	TokenChanged         int         `json:"tokenChanged"`
	TokenRejected        int         `json:"tokenRejected"`
	CanaryFailed         int         `json:"canaryFailed"`
	Resume               int         `json:"resume"`
	InCodat              int         `json:"inCodat"`
	New                  int         `json:"new"`
	Canary               int         `json:"canary"`
	RequestsPerCompany   int         `json:"requestsPerCompany"`
	AccountCheckRequests int         `json:"accountCheckRequests"`
	AccountCheckError    string      `json:"accountCheckError,omitempty"`
	RequestsNeeded       int         `json:"requestsNeeded"`
	Quota                *quotaOut   `json:"quota,omitempty"`
	QuotaError           string      `json:"quotaError,omitempty"`
	Estimate             estimateOut `json:"estimate"`
	// NameChanges are company names Codat stores otherwise (the first 100).
	NameChanges     []bulk.NameChange `json:"nameChanges"`
	NameChangeCount int               `json:"nameChangeCount"`
}

type estimateOut struct {
	Days            []dayOut `json:"days"`
	Finish          *string  `json:"finish,omitempty"`
	DurationSeconds int64    `json:"durationSeconds"`
}

type dayOut struct {
	Start     *string `json:"start"`
	End       *string `json:"end"`
	ACC       int     `json:"activeConnectedCompanies"`
	Quota     int     `json:"quota"`
	Companies int     `json:"companies"`
	Requests  int     `json:"requests"`
}

func planJSON(p *bulk.Plan) planOut {
	out := planOut{Input: p.Input, Rows: p.Rows, Valid: p.Valid, Invalid: p.Invalid, Duplicate: p.Duplicate,
		AlreadyMigrated: p.AlreadyMigrated, TokenChanged: p.TokenChanged, TokenRejected: p.TokenRejected,
		CanaryFailed: p.CanaryFailed, Resume: p.Resume, InCodat: p.InCodat, New: p.New, Canary: p.Canary,
		RequestsPerCompany: p.RequestsPerCompany, AccountCheckRequests: p.AccountCheckRequests,
		AccountCheckError: operatorText(p.AccountCheckError), RequestsNeeded: p.RequestsNeeded, Quota: quotaJSON(p.Quota),
		QuotaError: operatorText(p.QuotaError), Estimate: estimateOut{Days: []dayOut{}, DurationSeconds: seconds(p.Estimate.Duration)}}
	if p.ToMigrate() > 0 {
		out.Estimate.Finish = rfc3339(p.Estimate.Finish)
	}
	out.NameChanges, out.NameChangeCount = p.NameChanges, p.NameChangeCount
	if out.NameChanges == nil {
		out.NameChanges = []bulk.NameChange{}
	}
	for _, d := range p.Estimate.Days {
		out.Estimate.Days = append(out.Estimate.Days, dayOut{Start: rfc3339(d.Start), End: rfc3339(d.End), ACC: d.ACC,
			Quota: d.Quota, Companies: d.Companies, Requests: d.Requests})
	}
	return out
}

// statusOut is status --json.
type statusOut struct {
	Journal *journalOut `json:"journal,omitempty"`
	Export  *planOut    `json:"export,omitempty"`
}

type journalOut struct {
	Path         string         `json:"path"`
	Lines        int            `json:"lines"`
	Refs         int            `json:"refs"`
	Runs         int            `json:"runs"`
	Counts       map[string]int `json:"counts"`
	Requests     int            `json:"requests"`
	CanaryPassed bool           `json:"canaryPassed"`
	CanaryFailed bool           `json:"canaryFailed"`
	First        *string        `json:"first,omitempty"`
	Last         *string        `json:"last,omitempty"`
	QuotaReset   *string        `json:"quotaReset,omitempty"`
	TornTail     bool           `json:"tornTail"`
	Resumable    int            `json:"resumable"`
	// Running: a run holds the journal now; InProgress of its refs are
	// started and not finished.
	Running    bool `json:"running"`
	InProgress int  `json:"inProgress"`
	// Runners: the live runners of a shared store's run (absent for a
	// journal file).
	Runners int `json:"runners,omitempty"`
}

func journalJSON(s *bulk.JournalSummary) *journalOut {
	counts := map[string]int{}
	keys := make([]string, 0, len(s.Counts))
	for st, n := range s.Counts {
		if n > 0 {
			keys = append(keys, string(st))
			counts[string(st)] = n
		}
	}
	sort.Strings(keys)
	path := s.Path
	if !s.Store {
		path = absPath(path)
	}
	return &journalOut{Path: path, Lines: s.Lines, Refs: s.Refs, Runs: s.Runs, Counts: counts, Requests: s.Requests,
		CanaryPassed: s.CanaryPassed, CanaryFailed: s.CanaryFailed, First: rfc3339(s.First), Last: rfc3339(s.Last),
		QuotaReset: rfc3339(s.QuotaReset), TornTail: s.TornTail, Resumable: s.Resumable(), Running: s.Running, InProgress: s.InProgress, Runners: s.Runners}
}

// fakeStatus is the answer of GET /_fake/status and POST /_fake/next-day.
type fakeStatus struct {
	Now         string        `json:"now"`
	Companies   int           `json:"companies"`
	Connections int           `json:"connections"`
	Requests    int           `json:"requests"`
	TokenPuts   fakeTokenPuts `json:"tokenPuts"`
	Quota       fakeQuotaJSON `json:"quota"`
}

// fakeTokenPuts counts the authorization bodies the fake processed (PUT
// …/authorization requests that reached the platform; one refused by an
// injected fault before commit, or answered from the idempotency cache, is
// not counted): in all, the most any one connection received, and each
// connection that received more than one.
type fakeTokenPuts struct {
	Total            int                 `json:"total"`
	MaxPerConnection int                 `json:"maxPerConnection"`
	Repeated         []fakeRepeatedToken `json:"repeated"`
}

// fakeRepeatedToken is a connection that received the token more than once.
type fakeRepeatedToken struct {
	CompanyID    string `json:"companyId"`
	ConnectionID string `json:"connectionId"`
	Count        int    `json:"count"`
}

func fakeTokenPutsJSON(srv *codattest.Server) fakeTokenPuts {
	out := fakeTokenPuts{Repeated: []fakeRepeatedToken{}}
	for _, cn := range srv.AllConnections() {
		out.Total += cn.AuthAttempts
		out.MaxPerConnection = max(out.MaxPerConnection, cn.AuthAttempts)
		if cn.AuthAttempts > 1 {
			out.Repeated = append(out.Repeated, fakeRepeatedToken{CompanyID: cn.CompanyID, ConnectionID: cn.ID, Count: cn.AuthAttempts})
		}
	}
	return out
}

// fakeQuotaJSON is the fake's quota; -1 means unlimited.
type fakeQuotaJSON struct {
	Limit                    int    `json:"limit"`
	Used                     int    `json:"used"`
	Remaining                int    `json:"remaining"`
	Reset                    string `json:"reset"`
	ActiveConnectedCompanies int    `json:"activeConnectedCompanies"`
	InFlight                 int    `json:"inFlight"`
	ConcurrencyLimit         int    `json:"concurrencyLimit"`
}

func fakeStatusJSON(now time.Time, srv *codattest.Server) fakeStatus {
	q := srv.QuotaStatus()
	return fakeStatus{Now: now.UTC().Format(time.RFC3339), Companies: srv.CompanyCount(), Connections: srv.ConnectionCount(),
		Requests: srv.RequestCount(), TokenPuts: fakeTokenPutsJSON(srv), Quota: fakeQuotaJSON{Limit: q.Limit, Used: q.Used, Remaining: q.Remaining,
			Reset: q.Reset.UTC().Format(time.RFC3339), ActiveConnectedCompanies: q.ACC, InFlight: q.InFlight,
			ConcurrencyLimit: q.ConcurrencyLimit}}
}
