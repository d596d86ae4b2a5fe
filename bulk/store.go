package bulk

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"time"
)

// Store keeps the state of a migration run: the per-ref step journal (a
// Record after every step of every migration, IDs and fingerprints only,
// never a token), the run's events (canary verdicts, quota stops), the
// index that finds one tenant under two refs, and per-ref claims.
//
// A runner may only journal a ref it holds a claim on. A claim has a lease:
// a claim whose lease expired (its runner died or stalled) may be taken by
// another runner, with a higher fencing token, and from then on the stale
// runner's Append for that ref fails with ErrFenced, which stops its
// migration before its next request.
//
// The file store (the journal, see Runner.JournalPath) is the default: one
// process holds it, so its claims never conflict. A shared store (package
// pgstore) lets several processes, on several machines, run one migration.
// A Store is safe for concurrent use.
type Store interface {
	// Get returns the latest record of ref, or nil when the store has none.
	Get(ctx context.Context, ref string) (*Record, error)
	// TenantRef returns the ref under which tenant (a tenant hash, as in
	// Record.Tenant) was journaled, or "" when none was.
	TenantRef(ctx context.Context, tenant string) (string, error)
	// Claim takes ref for this runner. It returns ErrClaimed when another
	// runner holds a live claim on it.
	Claim(ctx context.Context, ref string) (Claim, error)
	// Release gives a claim up (its ref's migration ended for this run).
	Release(ctx context.Context, c Claim) error
	// Append journals rec: for a ref (rec.Ref set, rec.Event empty) under
	// claim c, which must be the ref's live claim (ErrFenced otherwise); for
	// a run event (rec.Event set) c is the zero Claim. It returns once rec
	// is durable.
	Append(ctx context.Context, c Claim, rec *Record) error
	// Canary returns the state of the canary gate.
	Canary(ctx context.Context) (CanaryState, error)
	// Close releases the store's resources and locks.
	Close() error
}

// SharedQuota is a Store shared by several runners that share Codat's daily
// quota: a runner that finds it spent journals a quota-stop event with the
// reset time, and every runner checks QuotaReset before it starts a
// migration, so that all of them pause (or stop) until the reset.
type SharedQuota interface {
	// QuotaReset returns the reset time of the run's last quota stop if it
	// is still ahead, else the zero time.
	QuotaReset(ctx context.Context) (time.Time, error)
}

// SharedPace is a Store shared by runners that share one per-minute limit
// (Codat's, per IP address): Runner.RequestsPerMinute is then the budget of
// all of them, and each runner paces its starts to its share, 1/N of it for
// N live runners, asked again every few seconds.
type SharedPace interface {
	// Runners returns the number of live runners sharing the limit, this
	// one included.
	Runners(ctx context.Context) (int, error)
}

// Claim is a runner's hold on one ref.
type Claim struct {
	// Ref is the ref claimed.
	Ref string
	// Token is the fencing token: it grows every time the ref changes hands.
	Token int64
	// Until is when the lease ends unless renewed (zero: no lease; the file
	// store's claims last as long as its lock).
	Until time.Time
}

// CanaryState is the canary gate as a store records it.
type CanaryState struct {
	// Passed: a canary cohort passed and no canary failed since.
	Passed bool
	// Passes is the number of canaries that passed towards the next cohort.
	Passes int
	// Failed: the last canary verdict was a failure.
	Failed bool
}

// ErrClaimed is returned by Store.Claim when another runner holds the ref.
var ErrClaimed = errors.New("bulk: the ref is being migrated by another runner")

// ErrFenced is returned by Store.Append when the claim is no longer the
// ref's live claim: its lease expired and another runner took the ref.
var ErrFenced = errors.New("bulk: the claim on the ref was taken over by another runner")

// Outcome is the status a ref's latest record stands for, in a summary:
// migrated, already-migrated, token-rejected, failed, pending-quota,
// incomplete or token-changed.
func (r *Record) Outcome() Status { return r.outcome() }

// Finished reports whether the record ends its ref's migration successfully.
func (r *Record) Finished() bool { return r.finished() }

// CanaryTracker follows the canary verdicts of a run's records in the
// order they were journaled, for a Store's Canary.
type CanaryTracker struct{ t *canaryTrack }

// NewCanaryTracker returns a tracker that has seen nothing.
func NewCanaryTracker() *CanaryTracker { return &CanaryTracker{t: newCanaryTrack()} }

// Add takes the next record, in journal order.
func (c *CanaryTracker) Add(r *Record) { c.t.add(r) }

// State is the canary gate after the records added.
func (c *CanaryTracker) State() CanaryState {
	return CanaryState{Passed: c.t.passed, Passes: len(c.t.passes), Failed: c.t.failed}
}

// SummaryBuilder builds a JournalSummary from a store's records, for a
// Store's status: the run's events, then the latest record of each ref.
type SummaryBuilder struct {
	sum *JournalSummary
	ct  *canaryTrack
}

// NewSummaryBuilder returns an empty builder of a store's summary
// (JournalSummary.Store); name names the store's run.
func NewSummaryBuilder(name string) *SummaryBuilder {
	return &SummaryBuilder{sum: &JournalSummary{Path: name, Store: true, Counts: map[Status]int{}}, ct: newCanaryTrack()}
}

// Event takes a run event or a canary's record, in journal order.
func (b *SummaryBuilder) Event(r *Record) {
	b.sum.Lines++
	b.sum.add(r)
	b.ct.add(r)
}

// Latest takes the latest record of one ref (once per ref).
func (b *SummaryBuilder) Latest(r *Record) {
	b.sum.Lines++
	b.sum.add(r)
	b.sum.Refs++
	b.sum.Counts[r.outcome()]++
	b.sum.Requests += r.Requests
}

// Summary returns the summary of what was added.
func (b *SummaryBuilder) Summary() *JournalSummary {
	b.sum.CanaryPassed, b.sum.CanaryFailed = b.ct.passed, b.ct.failed
	return b.sum
}

// ErrTenantTaken is returned by a shared Store's Append of a ref's first
// record when the ref's tenant is already held by another ref (migrated by
// another run or another export): the row is a duplicate and nothing may
// be sent for it.
var ErrTenantTaken = errors.New("bulk: the tenant is already migrated under another ref")

// InputHash is the SHA-256 of in's bytes, hex-encoded: a shared store
// records it for a run, so that every runner of the run reads the same
// export.
func InputHash(ctx context.Context, in Input) (string, error) {
	if in.Open == nil {
		return "", errors.New("bulk: input has no Open function")
	}
	rc, err := in.Open()
	if err != nil {
		return "", fmt.Errorf("bulk: open input %s: %w", in.Name, err)
	}
	defer rc.Close()
	h := sha256.New()
	if _, err := io.Copy(h, readerCtx{ctx, rc}); err != nil {
		return "", fmt.Errorf("bulk: read input %s: %w", in.Name, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// SourceHash is the SHA-256 of src's rows as Run reads them (every field,
// the line included), hex-encoded: the content hash of a Source that is
// not an export file, for a shared store's run (pgstore's InputHash). It
// differs from InputHash of the same rows given as a file: every runner of
// a run must use the same one.
func SourceHash(ctx context.Context, src Source) (string, error) {
	h, rh := sha256.New(), sha256.New()
	err := eachRow(ctx, src, func(row Row, rowErr *RowError) error {
		// Each row's own digest, so that no two sequences of rows write
		// the same bytes.
		rh.Reset()
		writeRow(rh, row, rowErr)
		h.Write(rh.Sum(nil))
		return nil
	})
	if err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// readerCtx stops reading when ctx is done.
type readerCtx struct {
	ctx context.Context
	r   io.Reader
}

func (r readerCtx) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	return r.r.Read(p)
}
