package bulk

import (
	"context"
	"errors"
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
