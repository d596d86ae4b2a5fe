// Package bulk migrates many companies into Codat from an export of your
// customers' tokens: every row of a CSV or JSONL input becomes one
// codat.Client.Migrate call, and none is lost or done twice.
//
// A Runner
//
//   - reads the input twice: a pre-pass checks every row offline and finds
//     duplicate refs and one tenant (QuickBooks realmId, Xero tenantId, Shopify
//     shop, …) under two refs before any request is sent, keeping only hash
//     prefixes and line numbers (about 32 bytes per valid row, in sorted
//     slices in memory; in the database with a store that keeps the index
//     itself, an IndexStore such as package pgstore's, so that memory does
//     not grow with the input at all); the second pass streams the rows to
//     the migrations, and the journal's in-memory index holds only the refs
//     earlier runs left, so memory grows with the input by those 32 bytes a
//     row and nothing else;
//   - journals every step of every migration (an append-only, fsynced JSON
//     Lines file, mode 0600, locked against a second run) with Codat IDs and a
//     fingerprint of the token, never the token; a rerun with the same journal
//     resumes unfinished migrations through codat.Migration.Resume, skips
//     finished ones, and reports a row whose token changed since instead of
//     sending it silently (Runner.Relink sends it, with codat.Migration.Relink,
//     and the intent is journaled so a crash does not lose it). The journal
//     decides a row it knows before the offline checks do: a finished ref is
//     already-migrated, and one whose token Codat already accepted resumes,
//     even once its access token has expired;
//   - checks the account before it creates a company for a ref the journal
//     does not know: one listing of every company (5,000 a request) finds
//     the refs already tagged on a company in Codat — migrated with another
//     journal, or a lost one — and those rows continue from that company
//     instead of getting a second one (Runner.SkipAccountCheck turns it off);
//   - paces starts to Codat's 1,000 requests a minute, watches the daily quota
//     (Client.Quota) and stops cleanly when it is spent, with a *QuotaError
//     that says when it resets, or sleeps until then (WaitForQuota); a 429
//     that is not the daily quota (requests remain: codat.RateLimitOf) only
//     pauses new starts for its Retry-After (up to MaxRateLimitPause, and at
//     least a pause that grows with each refusal of the same migration, up to
//     a minute) and retries, however often that happens;
//   - stops cleanly on Runner.Stop (a first Ctrl-C, say): no new migration
//     starts, the migrations in flight finish (within Runner.StopGrace, 30 s
//     by default, after which they are cancelled and reported incomplete),
//     the rows not started are reported not-started, and Run returns an
//     error wrapping ErrStopped; cancelling Run's context is the hard stop,
//     which cancels the migrations in flight at once. Both are resumable;
//   - migrates a canary cohort first with codat.SyncWait and starts the rest
//     only if each canary ended Linked with its first sync complete
//     (ErrCanaryFailed otherwise), as Codat's own runbook advises. The
//     journal keeps each canary's verdict: a failed canary is not retried by
//     a rerun (it is reported failed again), and the rerun migrates a new
//     cohort first;
//   - reports every input row exactly once, to CSV, JSON or JSON Lines:
//     migrated, already-migrated, invalid, duplicate, token-changed,
//     token-rejected (with the linkUrl to send the customer to), failed,
//     incomplete, pending-quota or not-started, with Codat IDs, an error class
//     and the requests used. CreateReport's file is replaced only once the
//     run holds the journal (see ReportWriter), so a second run refused with
//     ErrJournalLocked leaves the first run's report alone.
//
// Plan estimates a run without migrating: the rows of each kind, the requests
// needed, the quota from one read-only request, and the calendar under Codat's
// quota rules (day one ≈ 1,000 requests ≈ 250 companies; later days
// 1,000 × (1 + ACC)). Validate checks every row offline. ReadJournal
// summarises a journal.
//
// # Stores
//
// The runner keeps its state behind a Store: the journal file by default
// (Runner.JournalPath), or a shared store (Runner.Store) such as package
// bulk/pgstore, on PostgreSQL, with which several processes on several
// machines run one migration. A runner claims each ref before it migrates
// it; a claim has a lease and a fencing token, so a runner that dies leaves
// its refs to the others once the lease ends, and one that stalls is refused
// its next journal write, which stops its migration before the next request.
//
// # Input
//
// CSV has a header: ref, company_name, platform, then one column per wire
// field of the authorization body (realmId, accessToken, refreshToken, …;
// names are matched through the integrations registry, so realm_id works
// too); optional description and tag:<key> columns. Blank cells are absent,
// so one file can hold several platforms. JSONL has one object per line:
//
//	{"ref":"crm-42","company":{"name":"Acme Ltd","tags":{"region":"eu"}},"platform":"qhyg",
//	 "authorization":{"realmId":"4620816365","accessToken":"…","refreshToken":"…"}}
//
// The runner reads a Source: an Input (a CSV or JSONL export) is one, and
// RowsFunc and RowSource feed rows a program holds itself (from its own
// database). Every pass after the first is checked against the first, row by
// row: a source that changed stops Run, Plan and Validate with
// ErrInputChanged.
//
// Token values are codat.Secret from the moment they are read, and no report,
// journal line, log line or error carries one.
package bulk
