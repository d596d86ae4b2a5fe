// Package pgstore is a bulk.Store on PostgreSQL: one migration run by
// several processes, on several machines, with nothing done twice.
//
// Every runner opens the store with the same run name and the same export
// (its content hash is recorded when the run is created; another content
// under the same name is refused). A runner claims a ref before it migrates
// it; the claim has a lease, renewed while the runner lives, and a fencing
// token: a runner that dies or stalls loses its claims when their lease
// ends, another runner takes them over with a higher token, and the stale
// runner's later writes are refused (bulk.ErrFenced).
//
// Refs and tenants are unique per Codat account (the API key's fingerprint
// with the base URL), across runs: a ref or a tenant migrated by one run is
// known to every later run into the same account, whatever export it reads.
// The database holds IDs, statuses and fingerprints only, never a token.
//
// The index of a runner's input (bulk.IndexStore: duplicate refs and
// tenants within the export, and the hashes that check its second read) is
// kept in temporary tables on a connection of the runner's own, so that the
// runner's memory does not grow with the export; PostgreSQL drops them when
// that connection closes. That needs session state: connect to PostgreSQL
// itself or through a pooler in session mode, not one in transaction mode.
// When that connection is lost (the database restarted, the network dropped
// it), the index is gone: the run stops with ErrIndexLost, every step done
// journaled, and a rerun resumes it.
//
// The schema (tables codat_migrate_*) is created, or migrated, on first use;
// Schema is its text. Connection settings come from the DSN and the
// standard PG* environment variables, the password from PGPASSWORD or
// ~/.pgpass as well: it need not be in the DSN.
package pgstore

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/codat-migrate/codat"
	"github.com/codat-migrate/codat/bulk"
)

// DefaultLease is how long a claim lasts without renewal.
const DefaultLease = 2 * time.Minute

// schemaVersion is the version of Schema; an older database is migrated.
const schemaVersion = 2

// Schema creates the store's tables; it is run, under an advisory lock, by
// the first Open on a database that lacks them.
const Schema = `
CREATE TABLE IF NOT EXISTS codat_migrate_schema (
	version integer NOT NULL
);
CREATE TABLE IF NOT EXISTS codat_migrate_runs (
	name        text PRIMARY KEY,
	account     text NOT NULL,
	input_hash  text NOT NULL,
	created     timestamptz NOT NULL DEFAULT now(),
	quota_reset timestamptz
);
CREATE TABLE IF NOT EXISTS codat_migrate_refs (
	account     text NOT NULL,
	ref         text NOT NULL,
	run         text NOT NULL, -- the run that claimed it last
	fence       bigint NOT NULL,
	holder      text,
	lease_until timestamptz,
	record      jsonb,
	updated     timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (account, ref)
);
CREATE INDEX IF NOT EXISTS codat_migrate_refs_run ON codat_migrate_refs (run);
CREATE TABLE IF NOT EXISTS codat_migrate_tenants (
	account text NOT NULL,
	tenant  text NOT NULL,
	ref     text NOT NULL,
	PRIMARY KEY (account, tenant)
);
CREATE TABLE IF NOT EXISTS codat_migrate_journal (
	seq     bigserial PRIMARY KEY,
	run     text NOT NULL,
	ref     text,
	fence   bigint,
	event   text,
	canary  boolean NOT NULL DEFAULT false,
	record  jsonb NOT NULL
);
CREATE INDEX IF NOT EXISTS codat_migrate_journal_run ON codat_migrate_journal (run, seq);
CREATE TABLE IF NOT EXISTS codat_migrate_runners (
	holder  text PRIMARY KEY,
	account text NOT NULL,
	run     text NOT NULL,
	seen    timestamptz NOT NULL DEFAULT now()
);
`

// Options configure Open.
type Options struct {
	// Run names the run: every runner of one migration uses the same name.
	Run string
	// InputHash is the input's content hash: bulk.InputHash of an export
	// file (what the CLI records), or bulk.SourceHash of a bulk.Source that
	// is not one. Every runner of a run must use the same function; a run
	// created with another hash is refused. Empty: not checked (status,
	// plan).
	InputHash string
	// APIKey and BaseURL name the Codat account; refs and tenants are unique
	// per account. The key itself is never stored.
	APIKey  codat.Secret
	BaseURL string
	// Lease is how long a claim lasts without renewal (0: DefaultLease).
	Lease time.Duration
	// ReadOnly opens an existing run without creating anything (status).
	ReadOnly bool
}

// ErrInputChanged is returned by Open when the run was created from another
// export.
var ErrInputChanged = errors.New("pgstore: the run was started with another export (its content differs)")

// ErrNoRun is returned by Open with ReadOnly when the run does not exist.
var ErrNoRun = errors.New("pgstore: no such run")

// Store is a bulk.Store on PostgreSQL. It is safe for concurrent use.
type Store struct {
	pool    *pgxpool.Pool
	run     string
	account string
	holder  string
	lease   time.Duration
	name    string

	mu     sync.Mutex
	trips  int64
	stop   chan struct{}
	done   chan struct{}
	closed bool
}

var _ bulk.Store = (*Store)(nil)

// Account is the account key of a Codat API key and base URL: a hash of
// the key's fingerprint and the URL, never the key.
func Account(apiKey codat.Secret, baseURL string) string {
	sum := sha256.Sum256([]byte(apiKey.Fingerprint() + "\x00" + strings.TrimRight(baseURL, "/")))
	return hex.EncodeToString(sum[:16])
}

// Open connects to the database at dsn, creates or migrates the schema, and
// opens (creating it unless ReadOnly) the run o.Run.
func Open(ctx context.Context, dsn string, o Options) (*Store, error) {
	if o.Run == "" {
		return nil, errors.New("pgstore: the run has no name")
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// pgx's message may quote the DSN, password included.
		return nil, errors.New("pgstore: the store's connection string cannot be parsed")
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("pgstore: connect: %w", scrub(err))
	}
	var id [8]byte
	_, _ = rand.Read(id[:])
	s := &Store{pool: pool, run: o.Run, holder: hex.EncodeToString(id[:]), lease: o.Lease,
		name: fmt.Sprintf("run %q on %s:%d/%s", o.Run, cfg.ConnConfig.Host, cfg.ConnConfig.Port, cfg.ConnConfig.Database)}
	if s.lease <= 0 {
		s.lease = DefaultLease
	}
	fail := func(err error) (*Store, error) {
		pool.Close()
		return nil, err
	}
	if err := s.migrate(ctx); err != nil {
		return fail(err)
	}
	if o.ReadOnly {
		err := pool.QueryRow(ctx, `SELECT account FROM codat_migrate_runs WHERE name = $1`, o.Run).Scan(&s.account)
		if errors.Is(err, pgx.ErrNoRows) {
			return fail(fmt.Errorf("%w: %q", ErrNoRun, o.Run))
		}
		if err != nil {
			return fail(fmt.Errorf("pgstore: read run: %w", scrub(err)))
		}
		return s, nil
	}
	s.account = Account(o.APIKey, o.BaseURL)
	var account, hash string
	err = pool.QueryRow(ctx, `
		WITH ins AS (
			INSERT INTO codat_migrate_runs (name, account, input_hash) VALUES ($1, $2, $3)
			ON CONFLICT (name) DO NOTHING RETURNING account, input_hash)
		SELECT account, input_hash FROM ins
		UNION ALL SELECT account, input_hash FROM codat_migrate_runs WHERE name = $1
		LIMIT 1`, o.Run, s.account, o.InputHash).Scan(&account, &hash)
	if err != nil {
		return fail(fmt.Errorf("pgstore: open run: %w", scrub(err)))
	}
	if account != s.account {
		return fail(fmt.Errorf("pgstore: run %q migrates into another Codat account (another API key or base URL)", o.Run))
	}
	if o.InputHash != "" && hash != "" && hash != o.InputHash {
		return fail(fmt.Errorf("%w: run %q; give this export another --run name, or rerun with the export it started with", ErrInputChanged, o.Run))
	}
	// The runner is live while it renews its row (see Runners); rows of
	// runners that died long ago go.
	_, err = pool.Exec(ctx, `
		WITH gone AS (DELETE FROM codat_migrate_runners WHERE seen < now() - interval '1 day')
		INSERT INTO codat_migrate_runners (holder, account, run) VALUES ($1, $2, $3)`, s.holder, s.account, s.run)
	if err != nil {
		return fail(fmt.Errorf("pgstore: register the runner: %w", scrub(err)))
	}
	s.stop, s.done = make(chan struct{}), make(chan struct{})
	go s.renew()
	return s, nil
}

// migrate creates the schema, or brings it to schemaVersion, once.
func (s *Store) migrate(ctx context.Context) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("pgstore: schema: %w", scrub(err))
	}
	defer func() { _ = tx.Rollback(ctx) }()
	// One migrator at a time: runners started together wait for the first.
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(746163)`); err != nil {
		return fmt.Errorf("pgstore: schema lock: %w", scrub(err))
	}
	if _, err := tx.Exec(ctx, Schema); err != nil {
		return fmt.Errorf("pgstore: create schema: %w", scrub(err))
	}
	var v int
	err = tx.QueryRow(ctx, `SELECT COALESCE(max(version), 0) FROM codat_migrate_schema`).Scan(&v)
	if err != nil {
		return fmt.Errorf("pgstore: schema version: %w", scrub(err))
	}
	switch {
	case v > schemaVersion:
		return fmt.Errorf("pgstore: the database's schema (version %d) is newer than this program's (%d); upgrade codat-migrate", v, schemaVersion)
	case v < schemaVersion:
		// Every version so far only added tables, which Schema created
		// above: version 2 added codat_migrate_runners.
		if _, err := tx.Exec(ctx, `WITH old AS (DELETE FROM codat_migrate_schema) INSERT INTO codat_migrate_schema (version) VALUES ($1)`, schemaVersion); err != nil {
			return fmt.Errorf("pgstore: schema version: %w", scrub(err))
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("pgstore: schema: %w", scrub(err))
	}
	return nil
}

// renew extends the lease of every claim this store holds, three times a
// lease, until Close.
func (s *Store) renew() {
	defer close(s.done)
	t := time.NewTicker(s.lease / 3)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), s.lease/3)
			s.count()
			_, _ = s.pool.Exec(ctx, `
				WITH me AS (UPDATE codat_migrate_runners SET seen = now() WHERE holder = $2)
				UPDATE codat_migrate_refs SET lease_until = now() + $3 * interval '1 millisecond'
				WHERE account = $1 AND holder = $2`, s.account, s.holder, s.lease.Milliseconds())
			cancel()
		}
	}
}

func (s *Store) count() {
	s.mu.Lock()
	s.trips++
	s.mu.Unlock()
}

// RoundTrips is the number of statements sent to the database so far.
func (s *Store) RoundTrips() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.trips
}

// Name describes the store in messages: the run and the database, never
// the password.
func (s *Store) Name() string { return s.name }

// Get implements bulk.Store.
func (s *Store) Get(ctx context.Context, ref string) (*bulk.Record, error) {
	s.count()
	var b []byte
	err := s.pool.QueryRow(ctx, `SELECT record FROM codat_migrate_refs WHERE account = $1 AND ref = $2`, s.account, ref).Scan(&b)
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && b == nil) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("pgstore: read ref: %w", scrub(err))
	}
	var r bulk.Record
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("pgstore: a ref's record is corrupt: %w", err)
	}
	return &r, nil
}

// TenantRef implements bulk.Store.
func (s *Store) TenantRef(ctx context.Context, tenant string) (string, error) {
	if tenant == "" {
		return "", nil
	}
	s.count()
	var ref string
	err := s.pool.QueryRow(ctx, `SELECT ref FROM codat_migrate_tenants WHERE account = $1 AND tenant = $2`, s.account, tenant).Scan(&ref)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("pgstore: read tenant: %w", scrub(err))
	}
	return ref, nil
}

// Claim implements bulk.Store: it takes ref when nobody holds it, when its
// holder's lease ended, or when this store already holds it; each taking
// raises the fencing token.
func (s *Store) Claim(ctx context.Context, ref string) (bulk.Claim, error) {
	s.count()
	var c bulk.Claim
	err := s.pool.QueryRow(ctx, `
		INSERT INTO codat_migrate_refs AS r (account, ref, run, fence, holder, lease_until)
		VALUES ($1, $2, $3, 1, $4, now() + $5 * interval '1 millisecond')
		ON CONFLICT (account, ref) DO UPDATE
			SET fence = r.fence + 1, holder = $4, lease_until = now() + $5 * interval '1 millisecond', run = $3
			WHERE r.holder IS NULL OR r.lease_until < now() OR r.holder = $4
		RETURNING fence, lease_until`, s.account, ref, s.run, s.holder, s.lease.Milliseconds()).Scan(&c.Token, &c.Until)
	if errors.Is(err, pgx.ErrNoRows) {
		return bulk.Claim{}, bulk.ErrClaimed
	}
	if err != nil {
		return bulk.Claim{}, fmt.Errorf("pgstore: claim: %w", scrub(err))
	}
	c.Ref = ref
	return c, nil
}

// Release implements bulk.Store.
func (s *Store) Release(ctx context.Context, c bulk.Claim) error {
	s.count()
	_, err := s.pool.Exec(ctx, `UPDATE codat_migrate_refs SET holder = NULL, lease_until = NULL
		WHERE account = $1 AND ref = $2 AND fence = $3 AND holder = $4`, s.account, c.Ref, c.Token, s.holder)
	if err != nil {
		return fmt.Errorf("pgstore: release: %w", scrub(err))
	}
	return nil
}

// Append implements bulk.Store. A ref's record is written only under its
// live claim (bulk.ErrFenced otherwise), in one statement with its journal
// line and, for a record with a tenant, the tenant's claim: a tenant held
// by another ref gives bulk.ErrTenantTaken, and nothing is written.
func (s *Store) Append(ctx context.Context, c bulk.Claim, rec *bulk.Record) error {
	b, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("pgstore: %w", err)
	}
	s.count()
	if rec.Event != "" || rec.Ref == "" {
		_, err := s.pool.Exec(ctx, `
			WITH q AS (UPDATE codat_migrate_runs SET quota_reset = $4 WHERE name = $1 AND $4::timestamptz IS NOT NULL)
			INSERT INTO codat_migrate_journal (run, event, record) VALUES ($1, $2, $3)`,
			s.run, rec.Event, b, rec.Reset)
		if err != nil {
			return fmt.Errorf("pgstore: journal an event: %w", scrub(err))
		}
		return nil
	}
	if c.Ref != rec.Ref {
		return fmt.Errorf("pgstore: a record of one ref journaled under the claim of another")
	}
	var written bool
	var holder *string
	err = s.pool.QueryRow(ctx, `
		WITH t AS (
			INSERT INTO codat_migrate_tenants (account, tenant, ref)
			SELECT $1, $6, $2 WHERE $6 <> ''
			ON CONFLICT (account, tenant) DO UPDATE SET ref = codat_migrate_tenants.ref
			RETURNING ref),
		ok AS (
			SELECT NOT EXISTS (SELECT 1 FROM t WHERE t.ref <> $2) AS free),
		u AS (
			UPDATE codat_migrate_refs SET record = $5, updated = now(), lease_until = now() + $7 * interval '1 millisecond'
			WHERE account = $1 AND ref = $2 AND fence = $3 AND holder = $4 AND (SELECT free FROM ok)
			RETURNING 1),
		j AS (
			INSERT INTO codat_migrate_journal (run, ref, fence, canary, record)
			SELECT $8, $2, $3, $9, $5 WHERE EXISTS (SELECT 1 FROM u))
		SELECT EXISTS (SELECT 1 FROM u), (SELECT t.ref FROM t WHERE t.ref <> $2 LIMIT 1)`,
		s.account, rec.Ref, c.Token, s.holder, b, rec.Tenant, s.lease.Milliseconds(), s.run, rec.Canary).Scan(&written, &holder)
	if err != nil {
		return fmt.Errorf("pgstore: journal a step: %w", scrub(err))
	}
	switch {
	case holder != nil:
		return fmt.Errorf("%w (ref %q)", bulk.ErrTenantTaken, *holder)
	case !written:
		return bulk.ErrFenced
	}
	return nil
}

// Canary implements bulk.Store: the run's journal replayed for its canary
// verdicts and events.
func (s *Store) Canary(ctx context.Context) (bulk.CanaryState, error) {
	ct := bulk.NewCanaryTracker()
	err := s.events(ctx, ct.Add)
	return ct.State(), err
}

// events calls fn, in journal order, with the run's events and its canaries'
// records.
func (s *Store) events(ctx context.Context, fn func(*bulk.Record)) error {
	s.count()
	rows, err := s.pool.Query(ctx, `SELECT record FROM codat_migrate_journal
		WHERE run = $1 AND (event IS NOT NULL OR canary) ORDER BY seq`, s.run)
	if err != nil {
		return fmt.Errorf("pgstore: read events: %w", scrub(err))
	}
	defer rows.Close()
	for rows.Next() {
		var b []byte
		if err := rows.Scan(&b); err != nil {
			return fmt.Errorf("pgstore: read events: %w", scrub(err))
		}
		var r bulk.Record
		if err := json.Unmarshal(b, &r); err != nil {
			return fmt.Errorf("pgstore: an event is corrupt: %w", err)
		}
		fn(&r)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("pgstore: read events: %w", scrub(err))
	}
	return nil
}

// QuotaReset returns when the daily quota resets if a runner of this run
// stopped for it and the reset is still ahead, else the zero time. Every
// runner of the run checks it before it starts a migration, so that one
// runner's spent quota pauses all of them.
func (s *Store) QuotaReset(ctx context.Context) (time.Time, error) {
	s.count()
	var reset *time.Time
	err := s.pool.QueryRow(ctx, `SELECT quota_reset FROM codat_migrate_runs WHERE name = $1 AND quota_reset > now()`, s.run).Scan(&reset)
	if errors.Is(err, pgx.ErrNoRows) || reset == nil {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("pgstore: read quota: %w", scrub(err))
	}
	return *reset, nil
}

// Summary is the run's summary, for `codat-migrate status`: the latest
// record of every ref the run journaled (written by this run, or by a later
// run that took the ref over), its events, and its live runners
// (JournalSummary.Runners). held is the number of those refs a live runner
// holds now.
func (s *Store) Summary(ctx context.Context) (*bulk.JournalSummary, int, error) {
	b := bulk.NewSummaryBuilder(s.name)
	if err := s.events(ctx, func(r *bulk.Record) {
		if r.Event != "" {
			b.Event(r)
		}
	}); err != nil {
		return nil, 0, err
	}
	s.count()
	rows, err := s.pool.Query(ctx, `SELECT record, holder IS NOT NULL AND lease_until > now() FROM codat_migrate_refs
		WHERE account = $1 AND record IS NOT NULL
		AND ref IN (SELECT ref FROM codat_migrate_journal WHERE run = $2 AND ref IS NOT NULL)`, s.account, s.run)
	if err != nil {
		return nil, 0, fmt.Errorf("pgstore: read refs: %w", scrub(err))
	}
	defer rows.Close()
	held := 0
	for rows.Next() {
		var raw []byte
		var live bool
		if err := rows.Scan(&raw, &live); err != nil {
			return nil, 0, fmt.Errorf("pgstore: read refs: %w", scrub(err))
		}
		var r bulk.Record
		if err := json.Unmarshal(raw, &r); err != nil {
			return nil, 0, fmt.Errorf("pgstore: a ref's record is corrupt: %w", err)
		}
		b.Latest(&r)
		if live {
			held++
		}
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("pgstore: read refs: %w", scrub(err))
	}
	// The canaries' verdicts come from the journal, in order.
	sum := b.Summary()
	if sum.Runners, err = s.liveRunners(ctx, "run", s.run); err != nil {
		return nil, 0, err
	}
	cs, err := s.Canary(ctx)
	if err != nil {
		return nil, 0, err
	}
	sum.CanaryPassed, sum.CanaryFailed = cs.Passed, cs.Failed
	return sum, held, nil
}

// Close stops renewing the leases and closes the connections. Claims still
// held lapse when their lease ends.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	if s.stop != nil {
		// Open registered this runner (not a read-only store): it stops
		// renewing, and stops counting at once (one that dies, when its row
		// is a lease old).
		close(s.stop)
		<-s.done
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, _ = s.pool.Exec(ctx, `DELETE FROM codat_migrate_runners WHERE holder = $1`, s.holder)
		cancel()
	}
	s.pool.Close()
	return nil
}

var _ bulk.SharedPace = (*Store)(nil)

// Runners implements bulk.SharedPace: the runners into the store's Codat
// account, of any run, alive within a lease. Codat's per-minute limit is
// per IP address, and the store cannot tell which runners share one, so it
// counts them all: runners on machines with addresses of their own may raise
// their budget (--requests-per-minute) to the sum of their limits.
func (s *Store) Runners(ctx context.Context) (int, error) {
	return s.liveRunners(ctx, "account", s.account)
}

// liveRunners counts the runners alive within a lease whose column (account
// or run, a constant of the caller's) is value.
func (s *Store) liveRunners(ctx context.Context, column, value string) (int, error) {
	s.count()
	var n int
	err := s.pool.QueryRow(ctx, `SELECT count(*) FROM codat_migrate_runners
		WHERE `+column+` = $1 AND seen > now() - $2 * interval '1 millisecond'`, value, s.lease.Milliseconds()).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("pgstore: count the runners: %w", scrub(err))
	}
	return n, nil
}

// scrub keeps a database error's code and message but drops what could
// quote the connection string.
func scrub(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s (SQLSTATE %s)", pe.Message, pe.Code)
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		return errors.New("cannot connect to the database (check the host, port, user and password)")
	}
	return err
}
