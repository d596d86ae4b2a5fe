package pgstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/codat-migrate/codat/bulk"
)

// The input index of a run (bulk.InputIndex) lives in temporary tables on a
// connection of its own, taken out of the pool for as long as the index
// lives: PostgreSQL drops them when that connection closes, whether the
// index is closed or its runner killed. Nothing of it is shared between
// runners, and nothing of it reaches the store's tables.
//
// The first read's entries are copied into codat_migrate_input (COPY, a
// batch at a time). Seal derives, each keyed by a primary key, the refs of
// the valid entries with their first line and their first conflicting line,
// the tenants of the refs' first entries, the first invalid entry of each
// ref, and the valid entries' tenant tags. Decisions joins an entry with
// those, a page at a time in input order.
const indexSchema = `
CREATE TEMP TABLE codat_migrate_input (
	seq    integer PRIMARY KEY,
	line   integer NOT NULL,
	hash   bigint NOT NULL,
	valid  boolean NOT NULL,
	ref    bigint,
	sig    bigint,
	tenant bigint,
	tag    bigint
);
CREATE TEMP TABLE codat_migrate_input_refs (
	ref    bigint PRIMARY KEY,
	first  integer NOT NULL,
	tenant bigint,
	other  integer
);
CREATE TEMP TABLE codat_migrate_input_tenants (
	tenant bigint PRIMARY KEY,
	first  integer NOT NULL,
	other  integer
);
CREATE TEMP TABLE codat_migrate_input_invalid (
	ref bigint PRIMARY KEY,
	seq integer NOT NULL
);
CREATE TEMP TABLE codat_migrate_input_tags (
	tag bigint PRIMARY KEY
);
`

// indexSeal fills the derived tables from codat_migrate_input.
const indexSeal = `
ANALYZE codat_migrate_input;
INSERT INTO codat_migrate_input_refs (ref, first, tenant, other)
SELECT ref, min(line) FILTER (WHERE n = 1), min(tenant) FILTER (WHERE n = 1), min(line) FILTER (WHERE sig <> first_sig)
FROM (SELECT ref, line, tenant, sig, row_number() OVER w AS n, first_value(sig) OVER w AS first_sig
	FROM codat_migrate_input WHERE valid WINDOW w AS (PARTITION BY ref ORDER BY seq)) g
GROUP BY ref;
INSERT INTO codat_migrate_input_tenants (tenant, first, other)
SELECT tenant, min(first), (array_agg(first ORDER BY first))[2]
FROM codat_migrate_input_refs WHERE tenant IS NOT NULL GROUP BY tenant;
INSERT INTO codat_migrate_input_invalid (ref, seq)
SELECT ref, min(seq) FROM codat_migrate_input WHERE NOT valid AND ref IS NOT NULL GROUP BY ref;
INSERT INTO codat_migrate_input_tags (tag)
SELECT DISTINCT tag FROM codat_migrate_input WHERE valid AND tag IS NOT NULL;
ANALYZE codat_migrate_input_refs;
ANALYZE codat_migrate_input_tenants;
ANALYZE codat_migrate_input_invalid;
ANALYZE codat_migrate_input_tags;
`

// Decision codes of indexDecisions, in indexKinds' order.
var indexKinds = [...]bulk.IndexKind{bulk.IndexUnique, bulk.IndexRepeat, bulk.IndexRefConflict,
	bulk.IndexTenantConflict, bulk.IndexInvalid, bulk.IndexFirstInvalid}

// indexDecisions is every entry with its decision code (see indexKinds) and
// the line it names: bulk.InputIndex's rule.
const indexDecisions = `
SELECT i.seq, i.line, i.hash, i.valid,
	CASE
		WHEN NOT i.valid THEN CASE WHEN v.seq = i.seq AND r.ref IS NULL THEN 5 ELSE 4 END
		WHEN r.other IS NOT NULL THEN 2
		WHEN i.line <> r.first THEN 1
		WHEN t.other IS NOT NULL THEN 3
		ELSE 0
	END AS kind,
	CASE
		WHEN NOT i.valid THEN 0
		WHEN r.other IS NOT NULL THEN CASE WHEN i.line = r.other THEN r.first ELSE r.other END
		WHEN i.line <> r.first THEN r.first
		WHEN t.other IS NOT NULL THEN CASE WHEN i.line = t.other THEN t.first ELSE t.other END
		ELSE 0
	END AS other
FROM codat_migrate_input i
LEFT JOIN codat_migrate_input_refs r ON r.ref = i.ref
LEFT JOIN codat_migrate_input_tenants t ON t.tenant = i.tenant AND i.valid
LEFT JOIN codat_migrate_input_invalid v ON v.ref = i.ref AND NOT i.valid`

// inputIndex is a bulk.InputIndex in temporary tables on conn.
type inputIndex struct {
	s    *Store
	conn *pgx.Conn
	seq  int // entries added
}

var _ bulk.IndexStore = (*Store)(nil)

// NewInputIndex implements bulk.IndexStore: the index lives in temporary
// tables of a connection of its own, which Close closes.
func (s *Store) NewInputIndex(ctx context.Context) (bulk.InputIndex, error) {
	pc, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("pgstore: input index: %w", scrub(err))
	}
	// Out of the pool: its temporary tables go with it when it closes.
	conn := pc.Hijack()
	s.count()
	if _, err := conn.Exec(ctx, indexSchema); err != nil {
		_ = conn.Close(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("pgstore: input index: %w", scrub(err))
	}
	return &inputIndex{s: s, conn: conn}, nil
}

// Add implements bulk.InputIndex.
func (x *inputIndex) Add(ctx context.Context, entries []bulk.IndexEntry) error {
	rows := make([][]any, len(entries))
	for i, e := range entries {
		row := []any{x.seq + i, e.Line, int64(e.Hash), e.Valid, nil, nil, nil, nil}
		if e.HasRef {
			row[4] = int64(e.Ref)
		}
		if e.Valid {
			row[5] = int64(e.Sig)
		}
		if e.HasTenant {
			row[6] = int64(e.Tenant)
		}
		if e.HasTag {
			row[7] = int64(e.Tag)
		}
		rows[i] = row
	}
	x.s.count()
	_, err := x.conn.CopyFrom(ctx, pgx.Identifier{"codat_migrate_input"},
		[]string{"seq", "line", "hash", "valid", "ref", "sig", "tenant", "tag"}, pgx.CopyFromRows(rows))
	if err != nil {
		return x.fail(err)
	}
	x.seq += len(entries)
	return nil
}

// Seal implements bulk.InputIndex.
func (x *inputIndex) Seal(ctx context.Context) (bulk.IndexCounts, error) {
	var n bulk.IndexCounts
	x.s.count()
	if _, err := x.conn.Exec(ctx, indexSeal); err != nil {
		return n, x.fail(err)
	}
	x.s.count()
	err := x.conn.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE valid), count(*) FILTER (WHERE valid AND kind <> 0)
		FROM (`+indexDecisions+`) d`).Scan(&n.Records, &n.Valid, &n.Duplicates)
	if err != nil {
		return n, x.fail(err)
	}
	n.Invalid = n.Records - n.Valid
	return n, nil
}

// Decisions implements bulk.InputIndex.
func (x *inputIndex) Decisions(ctx context.Context, from, n int) ([]bulk.IndexDecision, error) {
	x.s.count()
	rows, err := x.conn.Query(ctx, indexDecisions+` WHERE i.seq >= $1 ORDER BY i.seq LIMIT $2`, from, n)
	if err != nil {
		return nil, x.fail(err)
	}
	var ds []bulk.IndexDecision
	var seq, kind int
	var hash int64
	var valid bool
	var d bulk.IndexDecision
	_, err = pgx.ForEachRow(rows, []any{&seq, &d.Line, &hash, &valid, &kind, &d.Other}, func() error {
		if seq != from+len(ds) || kind < 0 || kind >= len(indexKinds) {
			return fmt.Errorf("the index's entry %d is not the one expected", seq)
		}
		d.Hash, d.Kind = uint64(hash), indexKinds[kind]
		ds = append(ds, d)
		return nil
	})
	if err != nil {
		return nil, x.fail(err)
	}
	return ds, nil
}

// HasRefs implements bulk.InputIndex.
func (x *inputIndex) HasRefs(ctx context.Context, refs []uint64) ([]bool, error) {
	return x.has(ctx, `codat_migrate_input_refs WHERE ref = k`, refs)
}

// HasTags implements bulk.InputIndex.
func (x *inputIndex) HasTags(ctx context.Context, tags []uint64) ([]bool, error) {
	return x.has(ctx, `codat_migrate_input_tags WHERE tag = k`, tags)
}

// has reports, for each key, whether the table and condition in where
// (over the key k) match a row.
func (x *inputIndex) has(ctx context.Context, where string, keys []uint64) ([]bool, error) {
	ks := make([]int64, len(keys))
	for i, k := range keys {
		ks[i] = int64(k)
	}
	x.s.count()
	rows, err := x.conn.Query(ctx, `SELECT EXISTS (SELECT 1 FROM `+where+`)
		FROM unnest($1::bigint[]) WITH ORDINALITY AS u(k, n) ORDER BY n`, ks)
	if err != nil {
		return nil, x.fail(err)
	}
	has, err := pgx.CollectRows(rows, pgx.RowTo[bool])
	if err == nil && len(has) != len(keys) {
		err = fmt.Errorf("%d answers for %d keys", len(has), len(keys))
	}
	if err != nil {
		return nil, x.fail(err)
	}
	return has, nil
}

// ErrIndexLost is returned by the methods of an input index whose
// connection closed (the database restarted, the network dropped it): its
// temporary tables went with it. The run stops; a rerun resumes it.
var ErrIndexLost = errors.New("pgstore: the connection that held the run's input index was lost; rerun to resume")

// fail is the error of a failed statement on the index's connection.
func (x *inputIndex) fail(err error) error {
	if x.conn.IsClosed() {
		return fmt.Errorf("%w (%w)", ErrIndexLost, scrub(err))
	}
	return fmt.Errorf("pgstore: input index: %w", scrub(err))
}

// Close implements bulk.InputIndex: it closes the index's connection, and
// its tables go with it.
func (x *inputIndex) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return x.conn.Close(ctx)
}
