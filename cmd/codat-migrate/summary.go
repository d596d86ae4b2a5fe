package main

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/codat-migrate/codat"
	"github.com/codat-migrate/codat/bulk"
)

// maxShown bounds the rows a summary lists by name.
const maxShown = 15

// reportTee passes every report row on to the report file and keeps what the
// summary on the terminal needs: counts, the rows that need attention, and the
// requests each migrated company took. Report rows never hold a token.
type reportTee struct {
	next bulk.ReportWriter

	mu        sync.Mutex
	counts    map[bulk.Status]int
	attention []bulk.ReportRow // failed, invalid, duplicate, token-changed (first maxShown)
	moreAttn  int
	relink    []bulk.ReportRow // token-rejected (first maxShown)
	moreRel   int
	perCo     map[int]int // requests → migrated companies that took that many
	requests  int
}

func newReportTee(next bulk.ReportWriter) *reportTee {
	if next == nil {
		next = bulk.DiscardReport
	}
	return &reportTee{next: next, counts: map[bulk.Status]int{}, perCo: map[int]int{}}
}

func (t *reportTee) Write(r bulk.ReportRow) error {
	t.mu.Lock()
	t.counts[r.Status]++
	t.requests += r.Requests
	switch r.Status {
	case bulk.StatusMigrated:
		t.perCo[r.Requests]++
	case bulk.StatusTokenRejected:
		if len(t.relink) < maxShown {
			t.relink = append(t.relink, r)
		} else {
			t.moreRel++
		}
	case bulk.StatusFailed, bulk.StatusInvalid, bulk.StatusDuplicate, bulk.StatusTokenChanged:
		if len(t.attention) < maxShown {
			t.attention = append(t.attention, r)
		} else {
			t.moreAttn++
		}
	}
	t.mu.Unlock()
	return t.next.Write(r)
}

func (t *reportTee) Close() error { return t.next.Close() }

// Open passes on Run's Open call (see bulk.ReportWriter): the report file
// is replaced only once the run holds the journal.
func (t *reportTee) Open() error {
	if o, ok := t.next.(interface{ Open() error }); ok {
		return o.Open()
	}
	return nil
}

// statusOrder is the order statuses are listed in.
var statusOrder = []bulk.Status{
	bulk.StatusMigrated, bulk.StatusAlreadyMigrated, bulk.StatusValid,
	bulk.StatusInvalid, bulk.StatusDuplicate, bulk.StatusTokenRejected, bulk.StatusTokenChanged,
	bulk.StatusFailed, bulk.StatusIncomplete, bulk.StatusPendingQuota, bulk.StatusNotStarted,
}

// statusNotes explains each status in one line.
var statusNotes = map[bulk.Status]string{
	bulk.StatusMigrated:        "linked in Codat by this run",
	statusInProgress:           "started by the running run, not finished yet",
	bulk.StatusAlreadyMigrated: "done before (journal or already linked); nothing sent",
	bulk.StatusValid:           "passed every offline check",
	bulk.StatusInvalid:         "cannot be used as it is; nothing sent",
	bulk.StatusDuplicate:       "ref or tenant appears in another row; nothing sent",
	bulk.StatusTokenRejected:   "Codat did not accept the token; the customer must re-link",
	bulk.StatusTokenChanged:    "migrated earlier with another token; --relink sends the new one",
	bulk.StatusFailed:          "failed; a rerun resumes it",
	bulk.StatusIncomplete:      "interrupted; a rerun resumes it",
	bulk.StatusPendingQuota:    "waiting for the quota reset; a rerun resumes it",
	bulk.StatusNotStarted:      "not attempted; a rerun starts it",
}

// printCounts lists the non-zero statuses of counts.
func printCounts(w io.Writer, counts map[bulk.Status]int, indent string) {
	seen := map[bulk.Status]bool{}
	var order []bulk.Status
	for _, st := range statusOrder {
		seen[st] = true
		order = append(order, st)
	}
	var extra []bulk.Status
	for st := range counts {
		if !seen[st] {
			extra = append(extra, st)
		}
	}
	sort.Slice(extra, func(i, j int) bool { return extra[i] < extra[j] })
	for _, st := range append(order, extra...) {
		n := counts[st]
		if n == 0 {
			continue
		}
		fmt.Fprintf(w, "%s%-17s %6d  %s\n", indent, st, n, statusNotes[st])
	}
}

// printAttention lists the rows that need a look, by line and ref.
func (t *reportTee) printAttention(w io.Writer, indent string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.attention) > 0 {
		fmt.Fprintf(w, "%sRows that need attention:\n", indent)
		for _, r := range t.attention {
			fmt.Fprintf(w, "%s  %s\n", indent, rowLine(r))
		}
		if t.moreAttn > 0 {
			fmt.Fprintf(w, "%s  … and %d more (see the report)\n", indent, t.moreAttn)
		}
	}
	if len(t.relink) > 0 {
		fmt.Fprintf(w, "%sToken rejected: send these customers their re-link URL:\n", indent)
		for _, r := range t.relink {
			link := r.LinkURL
			if link == "" {
				link = "(no link URL: see the report)"
			}
			fmt.Fprintf(w, "%s  line %-4d %s  %s\n", indent, r.Line, refOrDash(r.Ref), link)
		}
		if t.moreRel > 0 {
			fmt.Fprintf(w, "%s  … and %d more (see the report)\n", indent, t.moreRel)
		}
	}
}

// rowLine is one report row for the terminal: line, ref, status, reason.
func rowLine(r bulk.ReportRow) string {
	s := fmt.Sprintf("line %-4d %s  %s", r.Line, refOrDash(r.Ref), r.Status)
	if r.Error != "" {
		s += ": " + operatorText(r.Error)
	}
	return s
}

func refOrDash(ref string) string {
	if ref == "" {
		return "(no ref)"
	}
	return "ref " + ref
}

// requestsPerCompany describes how many requests migrated companies took,
// e.g. "4 (185 companies), 6 (1)".
func (t *reportTee) requestsPerCompany() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.perCo) == 0 {
		return ""
	}
	keys := make([]int, 0, len(t.perCo))
	for k := range t.perCo {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		return t.perCo[keys[i]] > t.perCo[keys[j]] || t.perCo[keys[i]] == t.perCo[keys[j]] && keys[i] < keys[j]
	})
	var parts []string
	for i, k := range keys {
		n := t.perCo[k]
		unit := "companies"
		if n == 1 {
			unit = "company"
		}
		if i == 0 {
			parts = append(parts, fmt.Sprintf("%d requests (%d %s)", k, n, unit))
		} else {
			parts = append(parts, fmt.Sprintf("%d (%d %s)", k, n, unit))
		}
	}
	return strings.Join(parts, ", ")
}

// quotaLine describes a quota snapshot, or "" when none was seen.
func quotaLine(q codat.Quota, now time.Time) string {
	if !q.Known() {
		return ""
	}
	s := fmt.Sprintf("%d of %d requests left today", q.Remaining, q.Limit)
	if !q.Reset.IsZero() {
		s += fmt.Sprintf("; resets %s (in %s)", q.Reset.UTC().Format("2006-01-02 15:04 MST"), humanDuration(q.Reset.Sub(now)))
	}
	return s
}

// quotaShort is the quota for a progress line: "812/1000 left".
func quotaShort(q codat.Quota) string {
	if !q.Known() {
		return ""
	}
	return fmt.Sprintf("%d/%d left", q.Remaining, q.Limit)
}
