package bulk

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
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
	conflts int // rows in a conflict
	valid   int
}

func newIndex() *index { return &index{} }

// add records one valid row. The counts and the lookups are ready after
// seal.
func (x *index) add(row Row, c checked) {
	x.valid++
	p := pending{ref: short(refKey(row.Ref)), sig: short(keyOf('s', c.fingerprint+"\x00"+c.tenant)), line: int32(row.Line)}
	if c.tenant != "" {
		p.tenant, p.hasTenant = short(tenantKey(c.tenant)), true
	}
	if c.tenantID != "" {
		x.tags = append(x.tags, short(tagKey(codat.TenantTag(c.platformKey, c.tenantID))))
	}
	x.pending = append(x.pending, p)
}

// addInvalid records an invalid row whose ref is usable.
func (x *index) addInvalid(row Row) {
	x.invalidRefs = append(x.invalidRefs, invalidRef{ref: short(refKey(row.Ref)), line: int32(row.Line)})
}

// seal decides, from the rows add saw, which are repeats and which conflict,
// as if each row were compared in input order with those before it: a row
// whose ref was seen repeats it when it would send the same (and the ref is
// not in conflict), and conflicts otherwise; the first row of each ref with
// a tenant conflicts with the first row of another ref with that tenant.
func (x *index) seal() {
	rows := x.pending
	x.pending = nil
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
		if first.hasTenant {
			x.tenants = append(x.tenants, tenantInfo{tenant: first.tenant, first: first.line})
		}
		i = j
	}
	rows = nil
	// Within a tenant, the rows are distinct refs; input order is line order.
	slices.SortFunc(x.tenants, func(a, b tenantInfo) int {
		return cmp.Or(cmp.Compare(a.tenant, b.tenant), cmp.Compare(a.first, b.first))
	})
	ts := x.tenants[:0]
	for i := 0; i < len(x.tenants); {
		ti := x.tenants[i]
		j := i + 1
		for ; j < len(x.tenants) && x.tenants[j].tenant == ti.tenant; j++ {
			if ti.other == 0 {
				x.conflts += 2
				ti.other = x.tenants[j].first
			} else {
				x.conflts++
			}
		}
		ts = append(ts, ti)
		i = j
	}
	x.tenants = slices.Clip(ts)
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
}

// hasTenantTag reports whether a valid row's tenant has the tenant tag tag.
func (x *index) hasTenantTag(tag string) bool {
	_, ok := slices.BinarySearch(x.tags, short(tagKey(tag)))
	return ok
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

// hasRef reports whether a valid row has ref.
func (x *index) hasRef(ref string) bool {
	_, ok := x.ref(short(refKey(ref)))
	return ok
}

// duplicate tells whether the valid row is a duplicate, and why. It must be
// called, after seal, with the rows add saw, in the same order.
func (x *index) duplicate(row Row, c checked) (string, bool) {
	ri, ok := x.ref(short(refKey(row.Ref)))
	if !ok {
		return "the input changed since it was first read", true
	}
	line := int32(row.Line)
	if ri.other != 0 {
		other := ri.other
		if other == line {
			other = ri.first
		}
		return fmt.Sprintf("ref %q is also at line %d with a different authorization or tenant; no row of this ref is migrated", row.Ref, other), true
	}
	if ri.first != line {
		return fmt.Sprintf("repeats line %d (same ref and authorization)", ri.first), true
	}
	if c.tenant == "" {
		return "", false
	}
	ti, ok := x.tenant(short(tenantKey(c.tenant)))
	if !ok {
		return "the input changed since it was first read", true
	}
	if ti.other != 0 {
		other := ti.other
		if other == line {
			other = ti.first
		}
		return fmt.Sprintf("the same %s tenant is also at line %d under another ref; neither is migrated", c.platformLabel(), other), true
	}
	if ti.first != line {
		// The pre-pass saw this tenant on another row only: at most one
		// row of a run migrates a tenant, whatever the input became.
		return "the input changed since it was first read", true
	}
	return "", false
}

// firstInvalid reports whether the invalid row is the first invalid row of a
// ref that no valid row has.
func (x *index) firstInvalid(row Row) bool {
	rk := short(refKey(row.Ref))
	i, ok := slices.BinarySearchFunc(x.invalidRefs, rk, func(r invalidRef, ref uint64) int { return cmp.Compare(r.ref, ref) })
	return ok && x.invalidRefs[i].line == int32(row.Line)
}

// scanInput is the pre-pass: it reads the whole input, checks every row
// offline and indexes the valid ones (calling onValid, if set, for each)
// and the refs of the invalid ones (calling onInvalid, if set, for each
// record with a usable ref). An error means the input as a whole cannot be
// read (nothing has been sent).
func scanInput(ctx context.Context, in Source, reg *integrations.Registry, onValid func(Row, checked), onInvalid func(Row)) (*index, error) {
	x := newIndex()
	err := eachRow(ctx, in, func(row Row, rowErr *RowError) error {
		x.rows++
		x.hashes = append(x.hashes, rowHash(row, rowErr))
		var err error
		c := checked{}
		if rowErr == nil {
			c, err = checkRow(reg, row)
		}
		if rowErr != nil || err != nil {
			x.invalid++
			if codat.ValidateRef(row.Ref) == nil {
				x.addInvalid(row)
				if onInvalid != nil {
					onInvalid(row)
				}
			}
			return nil
		}
		x.add(row, c)
		if onValid != nil {
			onValid(row, c)
		}
		return nil
	})
	x.seal()
	return x, err
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

// verified wraps fn, a callback of the second pass over the input, so that
// it stops with ErrInputChanged at the first record that differs from the
// first pass's, before fn sees it. done reports a second pass that ended
// early (records went).
func (x *index) verified(fn func(Row, *RowError) error) (wrapped func(Row, *RowError) error, done func() error) {
	i := 0
	wrapped = func(row Row, rowErr *RowError) error {
		if i >= len(x.hashes) || x.hashes[i] != rowHash(row, rowErr) {
			return fmt.Errorf("%w: the record at line %d differs from the first read; nothing more was started (rerun with the input as it is now)", ErrInputChanged, row.Line)
		}
		i++
		return fn(row, rowErr)
	}
	done = func() error {
		if i < len(x.hashes) {
			return fmt.Errorf("%w: it has %d records, the first read had %d", ErrInputChanged, i, len(x.hashes))
		}
		return nil
	}
	return wrapped, done
}
