package pgstore

import (
	"context"
	"fmt"
	"iter"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/codat-migrate/codat"
	"github.com/codat-migrate/codat/bulk"
)

// randomExport is a CSV export dense in what the index decides: refs
// repeated with the same token and with another, realm ids under several
// refs, invalid rows (no token, a bad ref) of refs with and without valid
// rows.
func randomExport(rng *rand.Rand, n int) string {
	var b strings.Builder
	b.WriteString("ref,company_name,platform,realmId,accessToken,refreshToken\n")
	for range n {
		ref := fmt.Sprintf("crm-%d", rng.IntN(n/3+1))
		realm := 4620000000 + rng.IntN(n/2+1)
		token := rng.IntN(3)
		switch rng.IntN(10) {
		case 0: // no token: invalid, its ref usable
			fmt.Fprintf(&b, "%s,Company,qhyg,%d,,\n", ref, realm)
		case 1: // an unusable ref
			fmt.Fprintf(&b, "bad{ref},Company,qhyg,%d,access-%d,refresh-%d\n", realm, token, token)
		default:
			fmt.Fprintf(&b, "%s,Company,qhyg,%d,access-%d,refresh-%d\n", ref, realm, token, token)
		}
	}
	return b.String()
}

// The store's index decides every row as the in-memory index does: Validate
// with the store and without it report the same status and reason for
// every row, on random exports.
func TestInputIndexAgreesWithMemory(t *testing.T) {
	dsn := testDSN(t)
	ctx := context.Background()
	st := open(t, dsn, "validate", "", 0)
	for seed := range uint64(40) {
		rng := rand.New(rand.NewPCG(seed, 11))
		data := randomExport(rng, 5+rng.IntN(120))
		validate := func(store bulk.Store) []bulk.ReportRow {
			rep := &rows{}
			_, err := (&bulk.Runner{Store: store}).Validate(ctx, bulk.BytesInput("export.csv", bulk.FormatCSV, []byte(data)), rep)
			require.NoError(t, err, "seed %d", seed)
			return rep.rows
		}
		inMemory, inStore := validate(nil), validate(st)
		require.Equal(t, len(inMemory), len(inStore), "seed %d", seed)
		dups := 0
		for i := range inMemory {
			m, s := inMemory[i], inStore[i]
			assert.Equal(t, [3]string{fmt.Sprint(m.Line), string(m.Status), m.Error}, [3]string{fmt.Sprint(s.Line), string(s.Status), s.Error},
				"seed %d, row %d", seed, i)
			if m.Status == bulk.StatusDuplicate {
				dups++
			}
		}
		if seed == 0 {
			require.NotZero(t, dups, "the export has duplicates to decide")
		}
	}
}

// Decisions on a hand-made index: repeats, a ref conflict, a tenant
// conflict, first invalid rows; HasRefs and HasTags; pages.
func TestInputIndexDecisions(t *testing.T) {
	dsn := testDSN(t)
	ctx := context.Background()
	st := open(t, dsn, "decisions", "", 0)
	ix, err := st.NewInputIndex(ctx)
	require.NoError(t, err)
	defer ix.Close()
	valid := func(line int, ref, sig, tenant uint64) bulk.IndexEntry {
		e := bulk.IndexEntry{Line: line, Hash: uint64(line) * 7919, Valid: true, Ref: ref, HasRef: true, Sig: sig, Tag: tenant + 1000, HasTag: tenant != 0}
		e.Tenant, e.HasTenant = tenant, tenant != 0
		return e
	}
	invalid := func(line int, ref uint64) bulk.IndexEntry {
		return bulk.IndexEntry{Line: line, Hash: 1<<63 + uint64(line), Ref: ref, HasRef: ref != 0}
	}
	entries := []bulk.IndexEntry{
		valid(2, 1, 10, 100), // ref 1 first
		valid(3, 1, 10, 100), // repeats line 2
		valid(4, 2, 20, 0),   // ref 2: conflict with line 6
		invalid(5, 3),        // ref 3 has no valid row: first invalid
		valid(6, 2, 21, 0),   // conflicts with line 4
		invalid(7, 3),        // not the first invalid of ref 3
		invalid(8, 1),        // ref 1 has a valid row
		valid(9, 4, 40, 100), // tenant 100 also at line 2
		valid(10, 5, 50, 0),  // unique
		invalid(11, 0),       // no usable ref
	}
	require.NoError(t, ix.Add(ctx, entries[:4]))
	require.NoError(t, ix.Add(ctx, entries[4:]))
	n, err := ix.Seal(ctx)
	require.NoError(t, err)
	assert.Equal(t, bulk.IndexCounts{Records: 10, Valid: 6, Invalid: 4, Duplicates: 5}, n)
	// Tenant 100: line 2 is ref 1's first and conflicts with line 9.
	want := []bulk.IndexDecision{
		{Line: 2, Kind: bulk.IndexTenantConflict, Other: 9},
		{Line: 3, Kind: bulk.IndexRepeat, Other: 2},
		{Line: 4, Kind: bulk.IndexRefConflict, Other: 6},
		{Line: 5, Kind: bulk.IndexFirstInvalid},
		{Line: 6, Kind: bulk.IndexRefConflict, Other: 4},
		{Line: 7, Kind: bulk.IndexInvalid},
		{Line: 8, Kind: bulk.IndexInvalid},
		{Line: 9, Kind: bulk.IndexTenantConflict, Other: 2},
		{Line: 10, Kind: bulk.IndexUnique},
		{Line: 11, Kind: bulk.IndexInvalid},
	}
	for i := range want {
		want[i].Hash = entries[i].Hash
	}
	var got []bulk.IndexDecision
	for from := 0; ; {
		page, err := ix.Decisions(ctx, from, 3)
		require.NoError(t, err)
		if len(page) == 0 {
			break
		}
		require.LessOrEqual(t, len(page), 3)
		got, from = append(got, page...), from+len(page)
	}
	assert.Equal(t, want, got)

	has, err := ix.HasRefs(ctx, []uint64{3, 1, 2, 99})
	require.NoError(t, err)
	assert.Equal(t, []bool{false, true, true, false}, has, "ref 3 has invalid rows only")
	has, err = ix.HasTags(ctx, []uint64{1100, 1000, 1040})
	require.NoError(t, err)
	assert.Equal(t, []bool{true, false, false}, has)
	has, err = ix.HasRefs(ctx, nil)
	require.NoError(t, err)
	assert.Empty(t, has)
}

// Two indexes of one store are each their caller's own, and closing one
// drops its tables.
func TestInputIndexesArePrivate(t *testing.T) {
	dsn := testDSN(t)
	ctx := context.Background()
	st := open(t, dsn, "private", "", 0)
	a, err := st.NewInputIndex(ctx)
	require.NoError(t, err)
	b, err := st.NewInputIndex(ctx)
	require.NoError(t, err)
	require.NoError(t, a.Add(ctx, []bulk.IndexEntry{{Line: 1, Valid: true, Ref: 1, HasRef: true}}))
	require.NoError(t, b.Add(ctx, []bulk.IndexEntry{{Line: 1, Valid: true, Ref: 2, HasRef: true}, {Line: 2}}))
	na, err := a.Seal(ctx)
	require.NoError(t, err)
	nb, err := b.Seal(ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, na.Records)
	assert.Equal(t, 2, nb.Records)
	require.NoError(t, a.Close())
	require.NoError(t, b.Close())
	// The server drops a session's temporary tables as its backend exits,
	// just after the connection closes.
	assert.Eventually(t, func() bool {
		var tables int
		err := st.pool.QueryRow(ctx, `SELECT count(*) FROM pg_class WHERE relname LIKE 'codat_migrate_input%' AND relpersistence = 't'`).Scan(&tables)
		return err == nil && tables == 0
	}, 10*time.Second, 20*time.Millisecond, "closed indexes leave no table behind")
}

// changing is a Source whose rows differ on the second read.
type changing struct{ reads int }

func (c *changing) Label() string { return "changing" }

func (c *changing) Rows(ctx context.Context) iter.Seq2[bulk.Row, error] {
	c.reads++
	return func(yield func(bulk.Row, error) bool) {
		for i := 1; i <= 3; i++ {
			realm := 4620000000 + i
			if c.reads > 1 && i == 2 {
				realm++ // another tenant the second time
			}
			row := bulk.Row{Line: i + 1, Ref: fmt.Sprintf("crm-%d", i), CompanyName: "Company", Platform: "qhyg",
				Fields: map[string]codat.Secret{"realmId": codat.Secret(fmt.Sprint(realm)), "accessToken": "access", "refreshToken": "refresh"}}
			if !yield(row, nil) {
				return
			}
		}
	}
}

// A run on the store checks the second read against the store's index: a
// row that changed stops it with bulk.ErrInputChanged, and nothing is sent
// for it or after it.
func TestRunOnTheStoreStopsWhenTheInputChanges(t *testing.T) {
	dsn := testDSN(t)
	ctx := context.Background()
	srv, client := fakeCodat(t)
	st, err := Open(ctx, dsn, Options{Run: "changing", APIKey: codat.Secret(srv.APIKey()), BaseURL: srv.URL()})
	require.NoError(t, err)
	defer st.Close()
	rep := &rows{}
	_, err = (&bulk.Runner{Client: client, Store: st, Concurrency: 1, Canary: -1, RequestsPerMinute: -1}).Run(ctx, &changing{}, rep)
	require.ErrorIs(t, err, bulk.ErrInputChanged)
	assert.Contains(t, err.Error(), "line 3")
	assert.Empty(t, srv.CompaniesWithTag(codat.RefTagKey, "crm-2"), "nothing is sent for the changed row")
	assert.Empty(t, srv.CompaniesWithTag(codat.RefTagKey, "crm-3"), "nor after it")
	require.Len(t, rep.rows, 1, "rows after the change are not reported")
	assert.Equal(t, "crm-1", rep.rows[0].Ref)
}

// The account check asks the store's index which listed refs and tenant
// tags are the export's: a ref already in Codat (migrated with another
// store) is continued from its company, and a tenant in Codat under another
// ref is reported duplicate; no second company either way.
func TestAccountCheckThroughTheStoreIndex(t *testing.T) {
	dsn := testDSN(t)
	ctx := context.Background()
	srv, client := fakeCodat(t)
	// Earlier, with a journal this run does not see: crm-1 and crm-2.
	earlier := &bulk.Runner{Client: client, JournalPath: t.TempDir() + "/earlier.jsonl", Canary: -1, RequestsPerMinute: -1}
	_, err := earlier.Run(ctx, bulk.BytesInput("earlier.csv", bulk.FormatCSV, export(2, 1)), nil)
	require.NoError(t, err)
	require.Equal(t, 2, srv.CompanyCount())

	// Now on the store: crm-1 again, crm-2's realm under crm-9, and crm-3.
	data := "ref,company_name,platform,realmId,accessToken,refreshToken\n" +
		"crm-1,Company 1,qhyg,4620000001,access-1,refresh-1\n" +
		"crm-9,Company 9,qhyg,4620000002,access-9,refresh-9\n" +
		"crm-3,Company 3,qhyg,4620000003,access-3,refresh-3\n"
	st, err := Open(ctx, dsn, Options{Run: "later", APIKey: codat.Secret(srv.APIKey()), BaseURL: srv.URL()})
	require.NoError(t, err)
	defer st.Close()
	rep := &rows{}
	sum, err := (&bulk.Runner{Client: client, Store: st, Canary: -1, RequestsPerMinute: -1}).Run(ctx, bulk.BytesInput("later.csv", bulk.FormatCSV, []byte(data)), rep)
	require.NoError(t, err)
	assert.Equal(t, 1, sum.AccountCheckRequests)
	byRef := map[string]bulk.ReportRow{}
	for _, row := range rep.rows {
		byRef[row.Ref] = row
	}
	assert.Equal(t, bulk.StatusAlreadyMigrated, byRef["crm-1"].Status)
	assert.Equal(t, bulk.StatusDuplicate, byRef["crm-9"].Status)
	assert.Contains(t, byRef["crm-9"].Error, `"crm-2"`)
	assert.Equal(t, bulk.StatusMigrated, byRef["crm-3"].Status)
	assert.Equal(t, 3, srv.CompanyCount(), "one company created: crm-3's")
}

// An index whose connection is lost (its backend terminated, as by a
// database restart) says so, as ErrIndexLost.
func TestInputIndexLost(t *testing.T) {
	dsn := testDSN(t)
	ctx := context.Background()
	st := open(t, dsn, "lost", "", 0)
	ix, err := st.NewInputIndex(ctx)
	require.NoError(t, err)
	defer ix.Close()
	require.NoError(t, ix.Add(ctx, []bulk.IndexEntry{{Line: 1, Valid: true, Ref: 1, HasRef: true}}))
	_, err = ix.Seal(ctx)
	require.NoError(t, err)
	pid := ix.(*inputIndex).conn.PgConn().PID()
	_, err = st.pool.Exec(ctx, `SELECT pg_terminate_backend($1)`, pid)
	require.NoError(t, err)
	_, err = ix.Decisions(ctx, 0, 10)
	require.ErrorIs(t, err, ErrIndexLost)
	_, err = ix.HasRefs(ctx, []uint64{1})
	require.ErrorIs(t, err, ErrIndexLost)
}
