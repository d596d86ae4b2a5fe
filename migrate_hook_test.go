package codat_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/codat-migrate/codat"
)

// An OnStep that fails stops Migrate before its next request: the requests
// sent are exactly those before the failing call, the error names the hook,
// and a resume from the last recorded result finishes with one of each.
func TestMigrateOnStepErrorStops(t *testing.T) {
	errLease := errors.New("lease lost")
	tests := []struct {
		name   string
		failAt int // the hook call that fails, 1-based
		sent   []string
	}{
		{"after the company", 1, []string{migCreateCompany}},
		{"after the connection", 2, []string{migCreateCompany, migCreateConn}},
		{"before the token PUT (its intent)", 3, []string{migCreateCompany, migCreateConn}},
		{"after the token", 4, []string{migCreateCompany, migCreateConn, migPutAuth}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newMigFake(t)
			m := newMigration("crm-hook")
			calls := 0
			var last *codat.MigrationResult
			m.OnStep = func(_ context.Context, r codat.MigrationResult) error {
				calls++
				if calls >= tt.failAt {
					return errLease
				}
				last = &r
				return nil
			}
			res, err := f.c.Migrate(context.Background(), m)
			require.Error(t, err)
			assert.ErrorIs(t, err, codat.ErrOnStep)
			assert.ErrorIs(t, err, errLease)
			var me *codat.MigrationError
			require.ErrorAs(t, err, &me)
			assert.Equal(t, tt.sent, f.routes(), "nothing is sent after the failing hook")
			assert.Equal(t, len(tt.sent), res.Requests)
			assert.Equal(t, tt.failAt, calls, "the hook is not called again after it failed")

			m.OnStep = nil
			m.Resume = last
			if last == nil {
				m.Resume = &codat.MigrationResult{Ref: m.Ref}
			}
			res, err = f.c.Migrate(context.Background(), m)
			require.NoError(t, err)
			cn := f.assertOneOfEach(t, "crm-hook", res)
			assert.Equal(t, 1, cn.AuthAttempts, "the token is not sent twice")
		})
	}
}

// OnStep receives the context Migrate was called with.
func TestMigrateOnStepContext(t *testing.T) {
	type key struct{}
	f := newMigFake(t)
	m := newMigration("crm-ctx")
	var got []any
	m.OnStep = func(ctx context.Context, _ codat.MigrationResult) error {
		got = append(got, ctx.Value(key{}))
		return nil
	}
	_, err := f.c.Migrate(context.WithValue(context.Background(), key{}, "lease-7"), m)
	require.NoError(t, err)
	require.NotEmpty(t, got)
	for _, v := range got {
		assert.Equal(t, "lease-7", v)
	}
}

func TestTenantTag(t *testing.T) {
	long := strings.Repeat("9", 96)
	tests := []struct {
		name, key, tenant string
		want              string // "" for a hashed value
	}{
		{"realm id", "qhyg", "9130350000000002", "qhyg:9130350000000002"},
		{"uuid", "xero", "0b1a7c2e-4d3f-4e5a-9b6c-7d8e9f0a1b2c", "xero:0b1a7c2e-4d3f-4e5a-9b6c-7d8e9f0a1b2c"},
		{"shop domain", "fztf", "acme.myshopify.com", "fztf:acme.myshopify.com"},
		{"path-like", "trvb", "tenant/production/company_1", "trvb:tenant/production/company_1"},
		{"url", "vrkj", "https://acme.example:443/x@y", "vrkj:https://acme.example:443/x@y"},
		{"exactly 100", "qhyg", long[:95], "qhyg:" + long[:95]},
		{"too long", "qhyg", long, ""},
		{"braces", "qhyg", "{a}", ""},
		{"operators", "qhyg", "a&&b||c", ""},
		{"equals", "qhyg", "a=b", ""},
		{"space", "qhyg", "Acme Ltd", ""},
		{"non-ASCII", "qhyg", "Müller", ""},
		{"hash sign", "qhyg", "a#sha256:b", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := codat.TenantTag(tt.key, tt.tenant)
			if tt.want != "" {
				assert.Equal(t, tt.want, got)
				return
			}
			assert.Regexp(t, `^`+tt.key+`#sha256:[0-9a-f]{64}$`, got)
			assert.Equal(t, got, codat.TenantTag(tt.key, tt.tenant), "deterministic")
			assert.NotEqual(t, got, codat.TenantTag("xero", tt.tenant), "the platform is part of the hash")
		})
	}
	assert.Empty(t, codat.TenantTag("qhyg", ""))
	assert.NotEqual(t, codat.TenantTag("qhyg", "12"), codat.TenantTag("xero", "12"))
}

// Every tenant tag value is found again, exactly, through the tags filter of
// codattest (which parses Codat's tag query language), and a company created
// by Migrate with a TenantID carries it.
func TestTenantTagMatchable(t *testing.T) {
	tenants := []string{"9130350000000002", "acme.myshopify.com", "a && b", "{x}", "k=v", "x || y", "a~b", "Müller & Söhne", strings.Repeat("z", 200)}
	f := newMigFake(t)
	ctx := context.Background()
	for i, tenant := range tenants {
		m := newMigration("crm-tenant-" + string(rune('a'+i)))
		m.TenantID = tenant
		m.Sync = codat.SyncNone
		res, err := f.c.Migrate(ctx, m)
		require.NoError(t, err, tenant)

		tag := codat.TenantTag("qhyg", tenant)
		page, err := f.c.Companies.List(ctx, &codat.ListOptions{Tags: codat.TenantTagKey + "=" + tag})
		require.NoError(t, err, tenant)
		require.Len(t, page.Results, 1, tenant)
		assert.Equal(t, res.CompanyID, page.Results[0].ID)
		assert.Equal(t, tag, page.Results[0].Tags[codat.TenantTagKey])
		assert.Equal(t, m.Ref, page.Results[0].Tags[codat.RefTagKey])
	}
}

func TestMigrateTenantTagReserved(t *testing.T) {
	f := newMigFake(t)
	m := newMigration("crm-reserved")
	m.Company.Tags = map[string]string{codat.TenantTagKey: "qhyg:1"}
	_, err := f.c.Migrate(context.Background(), m)
	require.ErrorIs(t, err, codat.ErrInvalidMigration)
	assert.Empty(t, f.routes(), "nothing was sent")
}
