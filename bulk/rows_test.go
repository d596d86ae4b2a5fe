package bulk

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/codat-migrate/codat"
)

// memRow is the row csvRow(ref, realm) parses to, held in memory.
func memRow(ref string, realm int) Row {
	return Row{Ref: ref, CompanyName: "Company " + ref, Platform: "qhyg", Fields: map[string]codat.Secret{
		"realmId":      codat.Secret(fmt.Sprint(realm)),
		"accessToken":  codat.Secret(tokenOf(ref)),
		"refreshToken": codat.Secret("refresh-" + ref + "-s3cr3t"),
	}}
}

// A backend's own rows, fed from memory, migrate end to end against
// codattest: one company and one connection per valid ref, the invalid and
// the repeated rows reported as a CSV input's would be, and a rerun finds
// every row already migrated.
func TestRunRowsFromMemory(t *testing.T) {
	e := newE2E(t)
	e.r.Canary = 1
	noToken := memRow("m-3", 303)
	delete(noToken.Fields, "accessToken")
	src := RowSource{Name: "crm", List: []Row{memRow("m-1", 301), memRow("m-2", 302), noToken, memRow("m-1", 301),
		{Line: 9, Ref: "m-5"}, // no name, platform or fields
	}}
	rep := &memReport{}
	sum, err := e.r.Run(context.Background(), src, rep)
	require.NoError(t, err)
	assert.Equal(t, "crm", sum.Input)
	assert.Equal(t, 5, sum.Rows)
	byLine := rep.byLine()
	require.Len(t, byLine, 5)
	assert.Equal(t, StatusMigrated, byLine[1].Status)
	assert.Equal(t, StatusMigrated, byLine[2].Status)
	assert.Equal(t, StatusInvalid, byLine[3].Status, "no access token")
	assert.Equal(t, StatusDuplicate, byLine[4].Status, "a repeat of line 1")
	assert.Equal(t, StatusInvalid, byLine[9].Status, "its own line is kept")
	assert.Equal(t, map[string]int{"m-1": 1, "m-2": 1}, e.companiesByRef())

	rep2 := &memReport{}
	_, err = e.r.Run(context.Background(), src, rep2)
	require.NoError(t, err)
	assert.Equal(t, StatusAlreadyMigrated, rep2.byLine()[1].Status)
	assert.Equal(t, StatusAlreadyMigrated, rep2.byLine()[2].Status)
	assert.Equal(t, map[string]int{"m-1": 1, "m-2": 1}, e.companiesByRef(), "nothing created twice")
}

// passes is a source whose first pass yields first and every later pass
// yields later.
func passes(first, later []Row) (Source, *int) {
	n := 0
	return NamedRows("db", func(ctx context.Context) iter.Seq2[Row, error] {
		n++
		if n == 1 {
			return RowSource{List: first}.Rows(ctx)
		}
		return RowSource{List: later}.Rows(ctx)
	}), &n
}

// changedSources are second passes that differ from the first, three rows
// a, b, c.
func changedSources() (first []Row, cases map[string][]Row) {
	a, b, c := memRow("a", 1), memRow("b", 2), memRow("c", 3)
	changed := memRow("b", 2)
	changed.Fields["accessToken"] = "tok-other-token"
	renamed := memRow("b", 2)
	renamed.CompanyName = "Company B2"
	return []Row{a, b, c}, map[string][]Row{
		"reordered":       {b, a, c},
		"a token changed": {a, changed, c},
		"a name changed":  {a, renamed, c},
		"a row gone":      {a, b},
		"a row added":     {a, b, c, memRow("d", 4)},
		"a row moved":     {a, {Line: 5, Ref: b.Ref, CompanyName: b.CompanyName, Platform: b.Platform, Fields: b.Fields}, c},
	}
}

// A source whose rows change between Run's two passes is refused with
// ErrInputChanged: nothing is started from the first row that differs.
func TestRunRefusesASourceThatChanged(t *testing.T) {
	first, cases := changedSources()
	for name, later := range cases {
		t.Run(name, func(t *testing.T) {
			clk := newFakeClock(t0)
			f := newFakeCodat(clk)
			r := testRunner(t, f, clk)
			r.Canary, r.Concurrency = -1, 1
			src, n := passes(first, later)
			rep := &memReport{}
			_, err := r.Run(context.Background(), src, rep)
			require.ErrorIs(t, err, ErrInputChanged)
			assert.Equal(t, 2, *n, "read twice")
			assert.NotContains(t, err.Error(), "tok-")
			for _, row := range rep.rows {
				assert.NotEqual(t, StatusDuplicate, row.Status, "no row is misreported as a duplicate")
			}
			_, sentB := f.sentFP["b"]
			switch name {
			case "reordered":
				assert.Zero(t, f.calls, "nothing is migrated from the changed input")
			case "a row gone":
				assert.Equal(t, 2, f.calls, "the rows both passes agree on")
			case "a row added":
				assert.Equal(t, 3, f.calls, "the rows both passes agree on; not the new one")
				assert.NotContains(t, f.sentFP, "d")
			default:
				assert.LessOrEqual(t, f.calls, 1, "only the row before the change")
				assert.False(t, sentB, "the changed row is not sent")
			}
		})
	}
}

// Plan and Validate verify their second pass too: a source that changed
// between the passes is refused with ErrInputChanged, no plan is made from
// it, no row from the first that differs is reported, and Plan's account
// check (at the first row unknown to the journal) is not made once the
// change is seen.
func TestPlanAndValidateRefuseASourceThatChanged(t *testing.T) {
	first, cases := changedSources()
	for name, later := range cases {
		t.Run(name, func(t *testing.T) {
			// The rows before the first that differs.
			same := 0
			for same < min(len(first), len(later)) && rowHash(withLine(first[same], same+1), nil) == rowHash(withLine(later[same], same+1), nil) {
				same++
			}
			clk := newFakeClock(t0)
			r := testRunner(t, newFakeCodat(clk), clk)
			listings := 0
			r.listRefs = func(context.Context, accountKeep) (map[key]string, int, error) {
				listings++
				return map[key]string{}, 1, nil
			}
			src, n := passes(first, later)
			p, err := r.Plan(context.Background(), src)
			require.ErrorIs(t, err, ErrInputChanged)
			assert.Nil(t, p)
			assert.Equal(t, 2, *n)
			assert.Equal(t, min(same, 1), listings, "the account is listed only from a row both reads agree on")

			src, _ = passes(first, later)
			rep := &memReport{}
			_, err = r.Validate(context.Background(), src, rep)
			require.ErrorIs(t, err, ErrInputChanged)
			assert.Len(t, rep.rows, same, "no row reported from the first that differs")
		})
	}
}

// The same rows given as a CSV export and from memory are planned alike.
func TestPlanRowsFromMemoryMatchesCSV(t *testing.T) {
	clk := newFakeClock(t0)
	r := testRunner(t, newFakeCodat(clk), clk)
	r.SkipAccountCheck = true
	csv := csvHeader + csvRow("a", 1) + csvRow("b", 2) + csvRow("a", 1)
	fromCSV, err := r.Plan(context.Background(), BytesInput("in.csv", FormatCSV, []byte(csv)))
	require.NoError(t, err)
	rows := []Row{memRow("a", 1), memRow("b", 2), memRow("a", 1)}
	for i := range rows {
		rows[i].Line = i + 2 // as the CSV's lines
	}
	fromMem, err := r.Plan(context.Background(), RowSource{Name: "in.csv", List: rows})
	require.NoError(t, err)
	fromCSV.Quota, fromMem.Quota = codat.Quota{}, codat.Quota{}
	fromCSV.QuotaError, fromMem.QuotaError = "", ""
	assert.Equal(t, fromCSV, fromMem)
	assert.Equal(t, 1, fromMem.Duplicate)
	assert.Equal(t, 2, fromMem.New)
}

// A source's lines must increase (reports and the index key rows by line),
// and a source's own error ends the pass; a RowError does not.
func TestSourceLinesAndErrors(t *testing.T) {
	clk := newFakeClock(t0)
	r := testRunner(t, newFakeCodat(clk), clk)
	a, b := memRow("a", 1), memRow("b", 2)
	a.Line, b.Line = 4, 4
	_, err := r.Validate(context.Background(), RowSource{Name: "db", List: []Row{a, b}}, nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "has line 4, not after line 4")

	withInvalid := RowsFunc(func(ctx context.Context) iter.Seq2[Row, error] {
		return func(yield func(Row, error) bool) {
			_ = yield(memRow("a", 1), nil) && yield(Row{}, &RowError{Ref: "x", Reason: "no platform"}) && yield(memRow("b", 2), nil)
		}
	})
	rep := &memReport{}
	sum, err := r.Validate(context.Background(), withInvalid, rep)
	require.NoError(t, err)
	assert.Equal(t, "rows", sum.Input)
	require.Len(t, rep.rows, 3)
	assert.Equal(t, StatusInvalid, rep.byLine()[2].Status, "the RowError is row 2, reported invalid")
	assert.Contains(t, rep.byLine()[2].Error, "no platform")
	assert.Equal(t, StatusValid, rep.byLine()[3].Status)

	boom := errors.New("the query failed")
	failing := RowsFunc(func(ctx context.Context) iter.Seq2[Row, error] {
		return func(yield func(Row, error) bool) {
			_ = yield(memRow("a", 1), nil) && yield(Row{}, boom) && yield(memRow("b", 2), nil)
		}
	})
	_, err = r.Plan(context.Background(), failing)
	require.ErrorIs(t, err, boom)

	_, err = r.Run(context.Background(), nil, nil)
	require.Error(t, err)
}

// withLine is row with the line a source gives it at position pos.
func withLine(row Row, pos int) Row {
	if row.Line == 0 {
		row.Line = pos
	}
	return row
}

// SourceHash is the same for the same rows, and differs when a row
// changes, moves or goes; a source's error is its error.
func TestSourceHash(t *testing.T) {
	ctx := context.Background()
	a, b := memRow("a", 1), memRow("b", 2)
	h1, err := SourceHash(ctx, RowSource{List: []Row{a, b}})
	require.NoError(t, err)
	again, err := SourceHash(ctx, NamedRows("other", func(ctx context.Context) iter.Seq2[Row, error] {
		return RowSource{List: []Row{a, b}}.Rows(ctx)
	}))
	require.NoError(t, err)
	assert.Equal(t, h1, again, "the rows, not the source's name")
	assert.Len(t, h1, 64)
	changed := memRow("b", 2)
	changed.Fields["accessToken"] = "tok-other-token"
	for name, rows := range map[string][]Row{
		"reordered": {b, a}, "a token changed": {a, changed}, "a row gone": {a}, "a row added": {a, b, memRow("c", 3)},
	} {
		h, err := SourceHash(ctx, RowSource{List: rows})
		require.NoError(t, err, name)
		assert.NotEqual(t, h1, h, name)
		assert.NotContains(t, h, "tok-", name)
	}
	boom := errors.New("the query failed")
	_, err = SourceHash(ctx, RowsFunc(func(context.Context) iter.Seq2[Row, error] {
		return func(yield func(Row, error) bool) { yield(Row{}, boom) }
	}))
	require.ErrorIs(t, err, boom)
}
