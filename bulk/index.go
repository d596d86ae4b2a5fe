package bulk

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"hash"
	"maps"
	"slices"
	"strconv"

	"github.com/codat-migrate/codat"
	"github.com/codat-migrate/codat/integrations"
)

// The pre-pass reads the whole input once before anything is sent and keeps,
// per valid row, only compact hashes: of its ref, of its tenant, and of what
// it would send. That is enough to tell, on the second pass, which rows are
// duplicates.
//
// The rule: rows that repeat a ref with the same authorization and tenant
// are harmless repeats, and only the first is migrated. Rows that give one
// ref two different authorizations, or one tenant to two refs, conflict: no
// row can be trusted to be the right one (migrating the wrong one would link
// a customer to another business's books, and two refs sharing one grant
// would refresh each other's tokens into invalid_grant), so every row of the
// conflict is reported duplicate and none is migrated.

// This file's index is the one kept in memory; an IndexStore keeps its own
// (see InputIndex, whose rule is this one).
//
// The index holds, per valid row, 64-bit hash prefixes (of the ref, of what
// the row would send, of its tenant) and a line number, first in one flat
// slice filled in input order, then (seal) in two sorted slices looked up by
// binary search: 16 bytes per distinct ref and 16 per tenant, no map.
//
// Refs and tenants are identified by 64-bit prefixes of their SHA-256 keys.
// Two different refs (or tenants) with the same prefix are taken for one:
// among n rows, the chance that any two collide is about n²/2⁶⁵ (3·10⁻⁸ for
// a million rows). A collision can only make rows look like duplicates (a
// repeat or a conflict), which are reported and not migrated; it never
// migrates a row twice or under another row's identity.

// pending is one valid row as the pre-pass saw it, before seal.
type pending struct {
	ref, sig, tenant uint64
	line             int32
	hasTenant        bool
}

// refInfo is a ref after seal. Lines are int32 (two billion lines is beyond
// any export); line numbers start at 1, so other == 0 means no conflict.
type refInfo struct {
	ref   uint64
	first int32 // line of the first valid row with this ref
	other int32 // line of the first row that conflicts with it, or 0
}

// tenantInfo is a tenant after seal: the first rows (of their refs) that
// carry it.
type tenantInfo struct {
	tenant uint64
	first  int32
	other  int32
}

// invalidRef is the first invalid row of a ref.
type invalidRef struct {
	ref  uint64
	line int32
}

func short(k key) uint64 {
	var v uint64
	for _, b := range k[:8] {
		v = v<<8 | uint64(b)
	}
	return v
}

type index struct {
	pending []pending // valid rows in input order; nil after seal
	refs    []refInfo // sorted by ref
	tenants []tenantInfo
	// invalidRefs holds, for each ref that only invalid rows have, the
	// first such row's line: that row alone may be continued from the
	// journal (see classifier.invalid). Sorted by ref after seal.
	invalidRefs []invalidRef
	// hashes holds a 64-bit hash of every record, in input order, so that
	// the second pass can tell the input changed (see verified).
	hashes []uint64
	// tags holds the 64-bit prefixes of the valid rows' tenant tags
	// (codat.TenantTag), sorted after seal, for the account check.
	tags    []uint64
	rows    int // records, valid or not
	invalid int
	repeats int // rows that repeat an earlier one exactly
	conflts int // rows in a conflict (a row in two conflicts counts twice)
	valid   int
	dups    int // valid rows that are not IndexUnique
}

func newIndex() *index { return &index{} }

var _ rowIndex = (*index)(nil)

// entryOf is the index entry of a record: c is nil for an invalid one.
func entryOf(row Row, rowErr *RowError, c *checked) IndexEntry {
	e := IndexEntry{Line: row.Line, Hash: rowHash(row, rowErr)}
	if c == nil {
		if codat.ValidateRef(row.Ref) == nil {
			e.Ref, e.HasRef = short(refKey(row.Ref)), true
		}
		return e
	}
	e.Valid, e.Ref, e.HasRef = true, short(refKey(row.Ref)), true
	e.Sig = short(keyOf('s', c.fingerprint+"\x00"+c.tenant))
	if c.tenant != "" {
		e.Tenant, e.HasTenant = short(tenantKey(c.tenant)), true
	}
	if c.tenantID != "" {
		e.Tag, e.HasTag = short(tagKey(codat.TenantTag(c.platformKey, c.tenantID))), true
	}
	return e
}

// add records one entry. The counts and the lookups are ready after seal.
func (x *index) add(_ context.Context, e IndexEntry) error {
	x.rows++
	x.hashes = append(x.hashes, e.Hash)
	if !e.Valid {
		x.invalid++
		if e.HasRef {
			x.invalidRefs = append(x.invalidRefs, invalidRef{ref: e.Ref, line: int32(e.Line)})
		}
		return nil
	}
	x.valid++
	x.pending = append(x.pending, pending{ref: e.Ref, sig: e.Sig, tenant: e.Tenant, hasTenant: e.HasTenant, line: int32(e.Line)})
	if e.HasTag {
		x.tags = append(x.tags, e.Tag)
	}
	return nil
}

func (x *index) counts() IndexCounts {
	return IndexCounts{Records: x.rows, Valid: x.valid, Invalid: x.invalid, Duplicates: x.dups}
}

func (x *index) close() error { return nil }

// seal decides, from the rows add saw, which are repeats and which conflict,
// as if each row were compared in input order with those before it: a row
// whose ref was seen repeats it when it would send the same (and the ref is
// not in conflict), and conflicts otherwise; the first row of each ref with
// a tenant conflicts with the first row of another ref with that tenant.
func (x *index) seal(context.Context) error {
	rows := x.pending
	x.pending = nil
	x.sealRefs(rows)
	x.sealTenants()
	// Only the first invalid row of a ref that no valid row has is kept.
	slices.SortStableFunc(x.invalidRefs, func(a, b invalidRef) int { return cmp.Compare(a.ref, b.ref) })
	inv := x.invalidRefs[:0]
	for i, r := range x.invalidRefs {
		if i > 0 && r.ref == x.invalidRefs[i-1].ref {
			continue
		}
		if _, valid := x.ref(r.ref); !valid {
			inv = append(inv, r)
		}
	}
	x.invalidRefs = slices.Clip(inv)
	slices.Sort(x.tags)
	x.tags = slices.Clip(slices.Compact(x.tags))
	return nil
}

// sealRefs fills refs from rows, and tenants (unsorted) with the first row
// of each ref that has a tenant.
func (x *index) sealRefs(rows []pending) {
	// A stable sort keeps input order within a ref.
	slices.SortStableFunc(rows, func(a, b pending) int { return cmp.Compare(a.ref, b.ref) })
	nRefs, nTenants := 0, 0
	for i := range rows {
		if i == 0 || rows[i].ref != rows[i-1].ref {
			nRefs++
			if rows[i].hasTenant {
				nTenants++
			}
		}
	}
	x.refs = make([]refInfo, 0, nRefs)
	x.tenants = make([]tenantInfo, 0, nTenants)
	for i := 0; i < len(rows); {
		first := rows[i]
		ri := refInfo{ref: first.ref, first: first.line}
		j := i + 1
		for ; j < len(rows) && rows[j].ref == first.ref; j++ {
			switch {
			case ri.other == 0 && rows[j].sig == first.sig:
				x.repeats++
			case ri.other == 0:
				x.conflts += 2
				ri.other = rows[j].line
			default:
				x.conflts++
			}
		}
		x.refs = append(x.refs, ri)
		// Every row of a ref in conflict is a duplicate, and every row but
		// the first of any other ref.
		x.dups += j - i - 1
		inConflict := int32(0)
		if ri.other != 0 {
			x.dups++
			inConflict = 1
		}
		if first.hasTenant {
			// other marks, until sealTenants, a ref in conflict.
			x.tenants = append(x.tenants, tenantInfo{tenant: first.tenant, first: first.line, other: inConflict})
		}
		i = j
	}
}

// sealTenants sorts tenants and keeps one entry per tenant, with the first
// row that conflicts with it.
func (x *index) sealTenants() {
	// Within a tenant, the rows are distinct refs; input order is line order.
	slices.SortFunc(x.tenants, func(a, b tenantInfo) int {
		return cmp.Or(cmp.Compare(a.tenant, b.tenant), cmp.Compare(a.first, b.first))
	})
	ts := x.tenants[:0]
	for i := 0; i < len(x.tenants); {
		ti := x.tenants[i]
		ti.other = 0
		j := i + 1
		for ; j < len(x.tenants) && x.tenants[j].tenant == ti.tenant; j++ {
			if ti.other == 0 {
				x.conflts += 2
				ti.other = x.tenants[j].first
			} else {
				x.conflts++
			}
		}
		if j-i > 1 {
			// The first rows of refs not in conflict become duplicates.
			for _, t := range x.tenants[i:j] {
				x.dups += int(1 - t.other)
			}
		}
		ts = append(ts, ti)
		i = j
	}
	x.tenants = slices.Clip(ts)
}

// hasTags reports, for each tenant tag, whether a valid row's tenant has it.
func (x *index) hasTags(_ context.Context, tags []string) ([]bool, error) {
	has := make([]bool, len(tags))
	for i, tag := range tags {
		_, has[i] = slices.BinarySearch(x.tags, short(tagKey(tag)))
	}
	return has, nil
}

// ref looks up a ref (a 64-bit prefix) after seal.
func (x *index) ref(ref uint64) (refInfo, bool) {
	i, ok := slices.BinarySearchFunc(x.refs, ref, func(r refInfo, ref uint64) int { return cmp.Compare(r.ref, ref) })
	if !ok {
		return refInfo{}, false
	}
	return x.refs[i], true
}

func (x *index) tenant(tenant uint64) (tenantInfo, bool) {
	i, ok := slices.BinarySearchFunc(x.tenants, tenant, func(t tenantInfo, tenant uint64) int { return cmp.Compare(t.tenant, tenant) })
	if !ok {
		return tenantInfo{}, false
	}
	return x.tenants[i], true
}

// hasRefs reports, for each ref, whether a valid row has it.
func (x *index) hasRefs(_ context.Context, refs []string) ([]bool, error) {
	has := make([]bool, len(refs))
	for i, ref := range refs {
		_, has[i] = x.ref(short(refKey(ref)))
	}
	return has, nil
}

// decide is the decision of the valid row (see InputIndex). It must be
// called, after seal, with the rows add saw.
func (x *index) decide(row Row, c checked) IndexDecision {
	d := IndexDecision{Line: row.Line, Kind: indexChanged}
	ri, ok := x.ref(short(refKey(row.Ref)))
	if !ok {
		return d
	}
	line := int32(row.Line)
	if ri.other != 0 {
		d.Kind, d.Other = IndexRefConflict, int(ri.other)
		if ri.other == line {
			d.Other = int(ri.first)
		}
		return d
	}
	if ri.first != line {
		d.Kind, d.Other = IndexRepeat, int(ri.first)
		return d
	}
	if c.tenant == "" {
		d.Kind = IndexUnique
		return d
	}
	ti, ok := x.tenant(short(tenantKey(c.tenant)))
	switch {
	case !ok:
	case ti.other != 0:
		d.Kind, d.Other = IndexTenantConflict, int(ti.other)
		if ti.other == line {
			d.Other = int(ti.first)
		}
	case ti.first == line:
		d.Kind = IndexUnique
	}
	// A tenant the pre-pass saw on another row only is a changed input: at
	// most one row of a run migrates a tenant, whatever the input became.
	return d
}

// duplicate tells whether the valid row is a duplicate, and why.
func (x *index) duplicate(row Row, c checked) (string, bool) {
	return duplicateReason(x.decide(row, c), row, c)
}

// firstInvalid reports whether the invalid row is the first invalid row of a
// ref that no valid row has.
func (x *index) firstInvalid(row Row) bool {
	rk := short(refKey(row.Ref))
	i, ok := slices.BinarySearchFunc(x.invalidRefs, rk, func(r invalidRef, ref uint64) int { return cmp.Compare(r.ref, ref) })
	return ok && x.invalidRefs[i].line == int32(row.Line)
}

// newRowIndex is an empty index for one run over an input: kept by st
// when st is an IndexStore, else in memory.
func newRowIndex(ctx context.Context, st Store) (rowIndex, error) {
	is, ok := st.(IndexStore)
	if !ok {
		return newIndex(), nil
	}
	ix, err := is.NewInputIndex(ctx)
	if err != nil {
		return nil, err
	}
	return &storeIndex{ix: ix}, nil
}

// scanInput is the pre-pass: it reads the whole input, checks every row
// offline and indexes every record (calling onValid, if set, for each
// valid row) in an index kept by st (see newRowIndex). An error means the
// input as a whole cannot be read (nothing has been sent); the index is
// then closed.
func scanInput(ctx context.Context, in Source, reg *integrations.Registry, st Store, onValid func(Row, checked)) (rowIndex, error) {
	x, err := newRowIndex(ctx, st)
	if err != nil {
		return nil, err
	}
	err = eachRow(ctx, in, func(row Row, rowErr *RowError) error {
		if rowErr != nil {
			return x.add(ctx, entryOf(row, rowErr, nil))
		}
		c, err := checkRow(reg, row)
		if err != nil {
			return x.add(ctx, entryOf(row, nil, nil))
		}
		if err := x.add(ctx, entryOf(row, nil, &c)); err != nil {
			return err
		}
		if onValid != nil {
			onValid(row, c)
		}
		return nil
	})
	if err == nil {
		err = x.seal(ctx)
	}
	if err != nil {
		_ = x.close()
		return nil, err
	}
	return x, nil
}

// ErrInputChanged is returned when the input read a second time differs
// from the first read (a record changed, moved, appeared or went): what
// the run decided from the first read no longer holds, so it stops.
var ErrInputChanged = errors.New("bulk: the input changed since it was first read")

// rowHash is a 64-bit hash of everything a record holds, for verified.
func rowHash(row Row, rowErr *RowError) uint64 {
	h := sha256.New()
	writeRow(h, row, rowErr)
	return binary.BigEndian.Uint64(h.Sum(nil))
}

// writeRow writes everything a record holds to h, each string preceded by
// its length.
func writeRow(h hash.Hash, row Row, rowErr *RowError) {
	put := func(s string) {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(s)))
		h.Write(n[:])
		h.Write([]byte(s))
	}
	put(strconv.Itoa(row.Line))
	put(row.Ref)
	put(row.CompanyName)
	put(row.Description)
	put(row.Platform)
	for _, k := range slices.Sorted(maps.Keys(row.Tags)) {
		put(k)
		put(row.Tags[k])
	}
	put("")
	for _, k := range slices.Sorted(maps.Keys(row.Fields)) {
		put(k)
		put(row.Fields[k].Reveal())
	}
	if rowErr != nil {
		put(rowErr.Reason)
	}
}

func (x *index) verified(_ context.Context, fn func(Row, *RowError) error) (wrapped func(Row, *RowError) error, done func() error) {
	i := 0
	wrapped = func(row Row, rowErr *RowError) error {
		if i >= len(x.hashes) || x.hashes[i] != rowHash(row, rowErr) {
			return changedAt(row)
		}
		i++
		return fn(row, rowErr)
	}
	return wrapped, func() error { return endedEarly(i, len(x.hashes)) }
}
