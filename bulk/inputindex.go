package bulk

import (
	"context"
	"fmt"
)

// IndexStore is a Store that keeps the index of an input's records itself,
// so that Run, Plan and Validate hold nothing per row in memory: a runner's
// memory then does not grow with the input. The PostgreSQL store is one
// (package pgstore). Without it the index is kept in memory, about 32 bytes
// per valid row (see Run).
//
// Run, Plan and Validate each call NewInputIndex once, fill the index from
// their first read of the input, and close it when they return.
type IndexStore interface {
	Store
	// NewInputIndex returns an empty index, private to its caller.
	NewInputIndex(ctx context.Context) (InputIndex, error)
}

// InputIndex finds the duplicates of one input, from what the first read of
// it saw (an IndexEntry per record), and hands the second read each
// record's decision (an IndexDecision), in input order.
//
// The rule, as if each valid record were compared, in input order, with
// those before it:
//
//   - Valid records with the same Ref form a ref group; its first record
//     (lowest Line) is the group's first. When some record of the group has
//     a Sig other than the first's, every record of the group is an
//     IndexRefConflict, its Other the Line of the first record whose Sig
//     differs (or, for that very record, the first's Line).
//   - Otherwise every record of the group but the first is an IndexRepeat,
//     its Other the first's Line.
//   - The first records of the ref groups (conflicting groups included)
//     that have a Tenant form tenant groups. The first of a ref group that
//     is not in conflict and whose tenant group has two or more records is
//     an IndexTenantConflict, its Other the Line of the tenant group's
//     second record (or, for that record, of the group's first).
//   - Any other valid record is IndexUnique.
//   - An invalid record is IndexFirstInvalid when it has a Ref (HasRef),
//     no valid record has that Ref, and no invalid record before it has
//     it; else IndexInvalid.
//
// Keys (Ref, Sig, Tenant, Tag) are 64-bit hash prefixes: equal keys are
// taken for equal values. Methods are called from one goroutine.
type InputIndex interface {
	// Add appends the next entries of the first read, in input order.
	Add(ctx context.Context, entries []IndexEntry) error
	// Seal ends the first read and counts the entries.
	Seal(ctx context.Context) (IndexCounts, error)
	// Decisions returns the decisions of the entries from the from-th on
	// (counting from 0, in the order they were added): at most n of them,
	// and none only when no entry is left.
	Decisions(ctx context.Context, from, n int) ([]IndexDecision, error)
	// HasRefs reports, for each key, whether a valid entry has that Ref.
	HasRefs(ctx context.Context, refs []uint64) ([]bool, error)
	// HasTags reports, for each key, whether a valid entry has that Tag.
	HasTags(ctx context.Context, tags []uint64) ([]bool, error)
	// Close discards the index.
	Close() error
}

// IndexEntry is one record of an input as the first read saw it.
type IndexEntry struct {
	// Line is the record's line; lines increase.
	Line int
	// Hash is a hash of everything the record holds: the second read's
	// record must have the same.
	Hash uint64
	// Valid: the record passes the offline checks.
	Valid bool
	// Ref is the key of the record's ref, when HasRef (always for a valid
	// record; for an invalid one, when its ref is usable).
	Ref    uint64
	HasRef bool
	// Sig is the key of what a valid record would send: its authorization
	// and its tenant.
	Sig uint64
	// Tenant is the key of a valid record's tenant, when HasTenant.
	Tenant    uint64
	HasTenant bool
	// Tag is the key of a valid record's tenant tag (codat.TenantTag), when
	// HasTag.
	Tag    uint64
	HasTag bool
}

// IndexCounts counts the entries of a sealed InputIndex.
type IndexCounts struct {
	// Records is the number of entries; Valid and Invalid split them.
	Records, Valid, Invalid int
	// Duplicates is the number of valid entries whose decision is not
	// IndexUnique.
	Duplicates int
}

// IndexDecision is what an InputIndex decided for one entry.
type IndexDecision struct {
	// Line and Hash are the entry's.
	Line int
	Hash uint64
	// Kind is the decision, Other the line it names (see InputIndex).
	Kind  IndexKind
	Other int
}

// IndexKind is the kind of an IndexDecision.
type IndexKind uint8

// The kinds of IndexDecision (see InputIndex for the rule).
const (
	IndexUnique IndexKind = iota
	IndexRepeat
	IndexRefConflict
	IndexTenantConflict
	IndexInvalid
	IndexFirstInvalid
	// indexChanged: the record is not one the first read saw (the
	// in-memory index's lookups only).
	indexChanged
)

// rowIndex is the pre-pass index as a run uses it: in memory (*index) or
// in an IndexStore (*storeIndex).
type rowIndex interface {
	// add takes the first read's next entry; seal ends the first read.
	add(ctx context.Context, e IndexEntry) error
	seal(ctx context.Context) error
	// counts are the first read's, after seal.
	counts() IndexCounts
	// verified wraps fn, a callback of the second read, so that it stops
	// with ErrInputChanged at the first record that differs from the first
	// read's, before fn sees it. done reports a second read that ended early.
	verified(ctx context.Context, fn func(Row, *RowError) error) (wrapped func(Row, *RowError) error, done func() error)
	// duplicate tells whether the valid row fn was last called with is a
	// duplicate, and why.
	duplicate(row Row, c checked) (string, bool)
	// firstInvalid reports whether the invalid row fn was last called with
	// is IndexFirstInvalid.
	firstInvalid(row Row) bool
	// hasRefs and hasTags are InputIndex's HasRefs and HasTags for the
	// account check, by value.
	hasRefs(ctx context.Context, refs []string) ([]bool, error)
	hasTags(ctx context.Context, tags []string) ([]bool, error)
	close() error
}

// duplicateReason is why a valid row decided d is a duplicate, or false.
func duplicateReason(d IndexDecision, row Row, c checked) (string, bool) {
	switch d.Kind {
	case IndexUnique:
		return "", false
	case IndexRepeat:
		return fmt.Sprintf("repeats line %d (same ref and authorization)", d.Other), true
	case IndexRefConflict:
		return fmt.Sprintf("ref %q is also at line %d with a different authorization or tenant; no row of this ref is migrated", row.Ref, d.Other), true
	case IndexTenantConflict:
		return fmt.Sprintf("the same %s tenant is also at line %d under another ref; neither is migrated", c.platformLabel(), d.Other), true
	}
	return "the input changed since it was first read", true
}

// indexBatch is the number of entries (and decisions) a storeIndex sends
// (and reads) at a time: what it holds in memory.
const indexBatch = 4096

// storeIndex is a rowIndex kept by an IndexStore: it holds one batch of
// entries while the first read fills it, and one batch of decisions while
// the second read goes through them.
type storeIndex struct {
	ix      InputIndex
	n       IndexCounts
	pending []IndexEntry
	page    []IndexDecision // the decisions from seq on
	seq     int             // the entry of page[0]
	next    int             // the entries the second read has seen
	cur     IndexDecision
}

func (x *storeIndex) add(ctx context.Context, e IndexEntry) error {
	x.pending = append(x.pending, e)
	if len(x.pending) < indexBatch {
		return nil
	}
	return x.flush(ctx)
}

func (x *storeIndex) flush(ctx context.Context) error {
	if len(x.pending) == 0 {
		return nil
	}
	err := x.ix.Add(ctx, x.pending)
	x.pending = x.pending[:0]
	return err
}

func (x *storeIndex) seal(ctx context.Context) error {
	if err := x.flush(ctx); err != nil {
		return err
	}
	x.pending = nil
	n, err := x.ix.Seal(ctx)
	x.n = n
	return err
}

func (x *storeIndex) counts() IndexCounts { return x.n }

func (x *storeIndex) verified(ctx context.Context, fn func(Row, *RowError) error) (func(Row, *RowError) error, func() error) {
	wrapped := func(row Row, rowErr *RowError) error {
		if x.next-x.seq >= len(x.page) && x.next < x.n.Records {
			page, err := x.ix.Decisions(ctx, x.next, indexBatch)
			if err != nil {
				return err
			}
			x.page, x.seq = page, x.next
		}
		i := x.next - x.seq
		if i >= len(x.page) || x.page[i].Line != row.Line || x.page[i].Hash != rowHash(row, rowErr) {
			return changedAt(row)
		}
		x.cur = x.page[i]
		x.next++
		return fn(row, rowErr)
	}
	done := func() error { return endedEarly(x.next, x.n.Records) }
	return wrapped, done
}

// decision is the decision of row, the record the second read is at.
func (x *storeIndex) decision(row Row) IndexDecision {
	if x.cur.Line != row.Line {
		return IndexDecision{Line: row.Line, Kind: indexChanged}
	}
	return x.cur
}

func (x *storeIndex) duplicate(row Row, c checked) (string, bool) {
	return duplicateReason(x.decision(row), row, c)
}

func (x *storeIndex) firstInvalid(row Row) bool { return x.decision(row).Kind == IndexFirstInvalid }

func (x *storeIndex) hasRefs(ctx context.Context, refs []string) ([]bool, error) {
	keys := make([]uint64, len(refs))
	for i, r := range refs {
		keys[i] = short(refKey(r))
	}
	return x.ix.HasRefs(ctx, keys)
}

func (x *storeIndex) hasTags(ctx context.Context, tags []string) ([]bool, error) {
	keys := make([]uint64, len(tags))
	for i, t := range tags {
		keys[i] = short(tagKey(t))
	}
	return x.ix.HasTags(ctx, keys)
}

func (x *storeIndex) close() error { return x.ix.Close() }

// changedAt is the error of a second read whose record at row differs from
// the first read's.
func changedAt(row Row) error {
	return fmt.Errorf("%w: the record at line %d differs from the first read; nothing more was started (rerun with the input as it is now)", ErrInputChanged, row.Line)
}

// endedEarly is the error of a second read that saw fewer records (seen)
// than the first (records), or nil.
func endedEarly(seen, records int) error {
	if seen < records {
		return fmt.Errorf("%w: it has %d records, the first read had %d", ErrInputChanged, seen, records)
	}
	return nil
}
