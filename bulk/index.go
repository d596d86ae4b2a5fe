package bulk

import (
	"context"
	"errors"
	"fmt"
	"io"

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

// refInfo and tenantInfo are kept small: the pre-pass holds one of each per
// valid row. Lines are int32 (two billion lines is beyond any export); sig and
// ref are 64-bit hash prefixes, compared only among rows of one ref or tenant.
type refInfo struct {
	first    int32  // line of the first valid row with this ref
	other    int32  // line of the first row that conflicts with it
	sig      uint64 // what the first row would send
	conflict bool
}

type tenantInfo struct {
	first    int32
	other    int32
	ref      uint64
	conflict bool
}

func short(k key) uint64 {
	var v uint64
	for _, b := range k[:8] {
		v = v<<8 | uint64(b)
	}
	return v
}

type index struct {
	refs    map[key]refInfo
	tenants map[key]tenantInfo
	// invalid holds, for each ref that only invalid rows have, the first
	// such row's line: that row alone may be continued from the journal
	// (see classifier.invalid).
	invalidRefs map[key]int32
	rows        int // records, valid or not
	invalid     int
	repeats     int // rows that repeat an earlier one exactly
	conflts     int // rows in a conflict
	valid       int
}

func newIndex() *index {
	return &index{refs: map[key]refInfo{}, tenants: map[key]tenantInfo{}, invalidRefs: map[key]int32{}}
}

// add records one valid row.
func (x *index) add(row Row, c checked) {
	x.valid++
	rk := refKey(row.Ref)
	sig := short(keyOf('s', c.fingerprint+"\x00"+c.tenant))
	line := int32(row.Line)
	ri, seen := x.refs[rk]
	switch {
	case !seen:
		x.refs[rk] = refInfo{first: line, sig: sig}
	case ri.sig == sig && !ri.conflict:
		x.repeats++
		return
	default:
		if !ri.conflict {
			x.conflts += 2
			ri.conflict, ri.other = true, line
			x.refs[rk] = ri
		} else {
			x.conflts++
		}
		return
	}
	if c.tenant == "" {
		return
	}
	tk := tenantKey(c.tenant)
	ti, seen := x.tenants[tk]
	switch {
	case !seen:
		x.tenants[tk] = tenantInfo{first: line, ref: short(rk)}
	case ti.ref != short(rk):
		if !ti.conflict {
			x.conflts += 2
			ti.conflict, ti.other = true, line
			x.tenants[tk] = ti
		} else {
			x.conflts++
		}
	}
}

// duplicate tells whether the valid row is a duplicate, and why. It must be
// called with the rows add saw, in the same order.
func (x *index) duplicate(row Row, c checked) (string, bool) {
	rk := refKey(row.Ref)
	ri, ok := x.refs[rk]
	if !ok {
		return "the input changed since it was first read", true
	}
	line := int32(row.Line)
	if ri.conflict {
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
	ti, ok := x.tenants[tenantKey(c.tenant)]
	if !ok {
		return "the input changed since it was first read", true
	}
	if ti.conflict {
		other := ti.other
		if other == line {
			other = ti.first
		}
		return fmt.Sprintf("the same %s tenant is also at line %d under another ref; neither is migrated", c.platformKey, other), true
	}
	return "", false
}

// firstInvalid reports whether the invalid row is the first invalid row of a
// ref that no valid row has.
func (x *index) firstInvalid(row Row) bool {
	rk := refKey(row.Ref)
	if _, valid := x.refs[rk]; valid {
		return false
	}
	line, ok := x.invalidRefs[rk]
	return ok && line == int32(row.Line)
}

// scanInput is the pre-pass: it reads the whole input, checks every row
// offline and indexes the valid ones (calling onValid, if set, for each)
// and the refs of the invalid ones (calling onInvalid, if set, for each
// record with a usable ref). An error means the input as a whole cannot be
// read (nothing has been sent).
func scanInput(ctx context.Context, in Input, reg *integrations.Registry, onValid func(Row, checked), onInvalid func(Row)) (*index, error) {
	x := newIndex()
	err := eachRow(ctx, in, func(row Row, rowErr *RowError) error {
		x.rows++
		var err error
		c := checked{}
		if rowErr == nil {
			c, err = checkRow(reg, row)
		}
		if rowErr != nil || err != nil {
			x.invalid++
			if codat.ValidateRef(row.Ref) == nil {
				rk := refKey(row.Ref)
				if _, seen := x.invalidRefs[rk]; !seen {
					x.invalidRefs[rk] = int32(row.Line)
				}
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
	return x, err
}

// eachRow opens the input and calls fn for every record; rowErr is set for a
// record that could not be parsed.
func eachRow(ctx context.Context, in Input, fn func(row Row, rowErr *RowError) error) error {
	if in.Open == nil {
		return errors.New("bulk: input has no Open function")
	}
	rc, err := in.Open()
	if err != nil {
		return fmt.Errorf("bulk: open input %s: %w", in.Name, err)
	}
	defer rc.Close()
	f := in.Format
	if f == "" {
		if f, err = FormatFromPath(in.Name); err != nil {
			return err
		}
	}
	rd, err := NewReader(rc, f)
	if err != nil {
		return fmt.Errorf("%w (input %s)", err, in.Name)
	}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		row, err := rd.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		var re *RowError
		if errors.As(err, &re) {
			if err := fn(Row{Line: re.Line, Ref: re.Ref, CompanyName: re.CompanyName, Platform: re.Platform}, re); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return err
		}
		if err := fn(row, nil); err != nil {
			return err
		}
	}
}
