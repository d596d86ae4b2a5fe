package bulk

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// addRow and addInvalid record a valid row and an invalid one.
func (x *index) addRow(row Row, c checked) { _ = x.add(context.Background(), entryOf(row, nil, &c)) }
func (x *index) addInvalid(row Row)        { _ = x.add(context.Background(), entryOf(row, &RowError{}, nil)) }

// refModel is the duplicate rule applied row by row in input order, with
// maps keyed by the full strings: what the sealed index must agree with.
type refModel struct {
	refs    map[string]*modelInfo
	tenants map[string]*modelInfo
	repeats int
	conflts int
}

type modelInfo struct {
	first, other int
	sig, ref     string
	conflict     bool
}

func (m *refModel) add(line int, ref, sig, tenant string) {
	ri, seen := m.refs[ref]
	switch {
	case !seen:
		m.refs[ref] = &modelInfo{first: line, sig: sig}
	case ri.sig == sig && !ri.conflict:
		m.repeats++
		return
	default:
		if !ri.conflict {
			m.conflts += 2
			ri.conflict, ri.other = true, line
		} else {
			m.conflts++
		}
		return
	}
	if tenant == "" {
		return
	}
	ti, seen := m.tenants[tenant]
	switch {
	case !seen:
		m.tenants[tenant] = &modelInfo{first: line, ref: ref}
	case ti.ref != ref:
		if !ti.conflict {
			m.conflts += 2
			ti.conflict, ti.other = true, line
		} else {
			m.conflts++
		}
	}
}

// verdict is what the model says of the row at line: "" (migrate), or the
// duplicate kind with the line it names.
func (m *refModel) verdict(line int, ref, tenant string) string {
	ri := m.refs[ref]
	other := func(i *modelInfo) int {
		if i.other == line {
			return i.first
		}
		return i.other
	}
	switch {
	case ri.conflict:
		return fmt.Sprintf("ref-conflict %d", other(ri))
	case ri.first != line:
		return fmt.Sprintf("repeat %d", ri.first)
	case tenant == "":
		return ""
	case m.tenants[tenant].conflict:
		return fmt.Sprintf("tenant-conflict %d", other(m.tenants[tenant]))
	}
	return ""
}

// The sealed index (sorted slices, decided after the pre-pass) gives every
// row the verdict and the counts of the rule applied row by row in input
// order, on random inputs dense in repeats and conflicts.
func TestIndexMatchesInOrderRule(t *testing.T) {
	for seed := range uint64(200) {
		rng := rand.New(rand.NewPCG(seed, 7))
		n := 1 + rng.IntN(60)
		type in struct {
			row Row
			c   checked
		}
		var rows []in
		x := newIndex()
		m := &refModel{refs: map[string]*modelInfo{}, tenants: map[string]*modelInfo{}}
		line := 1
		for range n {
			line += 1 + rng.IntN(3) // lines increase, with gaps (invalid rows, multi-line records)
			ref := fmt.Sprintf("r%d", rng.IntN(12))
			c := checked{fingerprint: fmt.Sprintf("fp%d", rng.IntN(3)), platformKey: "qhyg"}
			if rng.IntN(4) > 0 {
				c.tenant = fmt.Sprintf("qhyg\x00t%d", rng.IntN(10))
			}
			row := Row{Line: line, Ref: ref}
			rows = append(rows, in{row, c})
			x.addRow(row, c)
			m.add(line, ref, c.fingerprint+"\x00"+c.tenant, c.tenant)
		}
		require.NoError(t, x.seal(context.Background()))
		require.Equal(t, m.repeats, x.repeats, "seed %d: repeats", seed)
		require.Equal(t, m.conflts, x.conflts, "seed %d: rows in conflicts", seed)
		dups := 0
		for _, r := range rows {
			why, dup := x.duplicate(r.row, r.c)
			want := m.verdict(r.row.Line, r.row.Ref, r.c.tenant)
			require.Equal(t, want != "", dup, "seed %d line %d: %s", seed, r.row.Line, why)
			if !dup {
				continue
			}
			dups++
			var kind string
			var other int
			refConflict := fmt.Sprintf("ref %q is also at line ", r.row.Ref)
			switch {
			case strings.HasPrefix(why, refConflict):
				kind = "ref-conflict"
				_, err := fmt.Sscanf(why[len(refConflict):], "%d", &other)
				require.NoError(t, err, why)
			case strings.HasPrefix(why, "repeats line "):
				kind = "repeat"
				_, err := fmt.Sscanf(why, "repeats line %d", &other)
				require.NoError(t, err, why)
			default:
				kind = "tenant-conflict"
				_, err := fmt.Sscanf(why, "the same qhyg tenant is also at line %d", &other)
				require.NoError(t, err, why)
			}
			assert.Equal(t, want, fmt.Sprintf("%s %d", kind, other), "seed %d line %d", seed, r.row.Line)
		}
		assert.Equal(t, IndexCounts{Records: n, Valid: n, Duplicates: dups}, x.counts(), "seed %d: counts", seed)
	}
}

// After the pre-pass the index holds 16 bytes per distinct ref and 16 per
// tenant, in slices cut to size, and nothing per row.
func TestIndexIsCompact(t *testing.T) {
	assert.Equal(t, uintptr(16), unsafe.Sizeof(refInfo{}))
	assert.Equal(t, uintptr(16), unsafe.Sizeof(tenantInfo{}))
	const n = 5000
	x := newIndex()
	for i := 1; i <= n; i++ {
		ref := fmt.Sprintf("ref-%d", i/2) // every ref twice: a repeat
		x.addRow(Row{Line: i + 1, Ref: ref}, checked{fingerprint: "fp-" + ref, tenant: "qhyg\x00" + ref})
	}
	x.addInvalid(Row{Line: n + 2, Ref: "ref-1"}) // a ref with valid rows: not kept
	x.addInvalid(Row{Line: n + 3, Ref: "only-invalid"})
	x.addInvalid(Row{Line: n + 4, Ref: "only-invalid"})
	require.NoError(t, x.seal(context.Background()))
	assert.Nil(t, x.pending)
	assert.Len(t, x.refs, n/2+1)
	assert.Equal(t, len(x.refs), cap(x.refs))
	assert.Len(t, x.tenants, n/2+1)
	assert.Equal(t, len(x.tenants), cap(x.tenants))
	assert.Equal(t, n/2-1, x.repeats) // ref-0 and ref-2500 have one row each
	assert.Zero(t, x.conflts)
	assert.Len(t, x.invalidRefs, 1)
	assert.True(t, x.firstInvalid(Row{Line: n + 3, Ref: "only-invalid"}))
	assert.False(t, x.firstInvalid(Row{Line: n + 4, Ref: "only-invalid"}), "only the first invalid row of a ref")
	assert.False(t, x.firstInvalid(Row{Line: n + 2, Ref: "ref-1"}), "a ref with a valid row")
	has, err := x.hasRefs(context.Background(), []string{"ref-7", "only-invalid"})
	require.NoError(t, err)
	assert.Equal(t, []bool{true, false}, has)
}

// With loadedOnly (as Run sets it), appends keep the entries of refs and
// tenants the journal held when it was opened up to date, and add none.
func TestJournalLoadedOnlyDoesNotGrow(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.jsonl")
	j, err := openJournal(path)
	require.NoError(t, err)
	require.NoError(t, j.append(&Record{Time: t0, Ref: "old", Step: stepStart, Tenant: "t-old"}))
	require.NoError(t, j.close())

	j, err = openJournal(path)
	require.NoError(t, err)
	defer j.close()
	j.loadedOnly = true
	for i := range 100 {
		ref := fmt.Sprintf("new-%d", i)
		require.NoError(t, j.append(&Record{Time: t0, Ref: ref, Step: stepStart, Tenant: "t-" + ref}))
	}
	require.NoError(t, j.append(&Record{Time: t0, Ref: "old", Step: "company", CompanyID: "co1", Tenant: "t-old"}))
	assert.Len(t, j.index, 1)
	assert.Len(t, j.tenants, 1)
	e, err := j.get("old")
	require.NoError(t, err)
	require.NotNil(t, e)
	assert.Equal(t, "co1", e.CompanyID, "a loaded ref points at its latest line")
	holder, err := j.tenantRef("t-old")
	require.NoError(t, err)
	assert.Equal(t, "old", holder)
	assert.Len(t, journalLines(t, path), 102, "every line is written")
}

// Starts are paced one at a time, just under the limit.
func TestStartLimiter(t *testing.T) {
	l := startLimiter(1000, 4)
	assert.Equal(t, 1, l.Burst(), "no burst: starts bunched in one window would exceed a fixed-window limit")
	assert.InDelta(t, 1000*paceShare/60/4, float64(l.Limit()), 1e-9)
	assert.Less(t, float64(l.Limit())*4*60, 1000.0)
	assert.Greater(t, float64(l.Limit())*4*60, 980.0)
}

// A row whose tenant the pre-pass saw on another row only is refused as a
// changed input: at most one row of a run migrates a tenant, which is what
// lets the journal forget the tenants a run journals (see Run).
func TestIndexTenantMovedToAnotherRow(t *testing.T) {
	x := newIndex()
	a := checked{fingerprint: "fa", tenant: "qhyg\x00A", platformKey: "qhyg"}
	b := checked{fingerprint: "fb", tenant: "qhyg\x00B", platformKey: "qhyg"}
	x.addRow(Row{Line: 2, Ref: "a"}, a)
	x.addRow(Row{Line: 3, Ref: "b"}, b)
	require.NoError(t, x.seal(context.Background()))
	why, dup := x.duplicate(Row{Line: 2, Ref: "a"}, a)
	assert.False(t, dup, why)
	why, dup = x.duplicate(Row{Line: 3, Ref: "b"}, a) // the row at line 3 now carries a's tenant
	assert.True(t, dup)
	assert.Equal(t, "the input changed since it was first read", why)
	why, dup = x.duplicate(Row{Line: 3, Ref: "b"}, checked{fingerprint: "fc", tenant: "qhyg\x00C"})
	assert.True(t, dup, "a tenant the pre-pass never saw")
	assert.Equal(t, "the input changed since it was first read", why)
}
