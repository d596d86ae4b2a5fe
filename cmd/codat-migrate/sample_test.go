package main

import (
	"context"
	"encoding/csv"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/codat-migrate/codat/bulk"
	"github.com/codat-migrate/codat/integrations"
)

// TestSampleTenantsUnique generates an export of 100,000 rows and checks
// that no two rows share a provider tenant except the pair duplicated on
// purpose, reading each row's tenant through the registry as validation
// does. The rows are made before seven are spoiled, so with writeExport's
// seed every other row is the memory figures' clean export's.
func TestSampleTenantsUnique(t *testing.T) {
	reg := integrations.Default()
	ex := writeExport(t, t.TempDir(), sampleOptions{Customers: 100_000, RejectedToken: demoRejectedToken})

	// The lines duplicated on purpose, and the rows made invalid.
	var wantDup []int
	invalid := map[int]bool{}
	for line, what := range ex.Special {
		switch {
		case strings.HasPrefix(what, "duplicate:"):
			wantDup = append(wantDup, line)
		case strings.HasPrefix(what, "invalid:"):
			invalid[line] = true
		}
	}
	slices.Sort(wantDup)
	require.Len(t, wantDup, 2, "the export has one duplicate pair")
	require.Len(t, invalid, 5, "the export has five invalid rows")

	assert.Equal(t, wantDup, sharedTenantLines(t, reg, ex.Path, invalid), "lines whose tenant another line has")
}

// TestUniqueTenant gives every row of a large export the same random value
// for a tenant field of each format: uniqueTenant alone keeps them apart.
func TestUniqueTenant(t *testing.T) {
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	tests := []struct {
		format integrations.FieldFormat
		check  func(string) bool
	}{
		{integrations.FormatNumeric, func(v string) bool {
			return len(v) == 16 && strings.Trim(v, "0123456789") == ""
		}},
		{integrations.FormatUUID, func(v string) bool { return len(v) == 36 && strings.Count(v, "-") == 4 }},
		{integrations.FormatID, func(v string) bool { return strings.HasPrefix(v, "biz_") && len(v) == 20 }},
		{integrations.FormatShopDomain, func(v string) bool {
			return strings.HasPrefix(v, "oak-ivy-bakery-") && strings.HasSuffix(v, ".myshopify.com")
		}},
		{integrations.FormatURL, func(v string) bool {
			return strings.HasPrefix(v, "https://oak-ivy-bakery-") && strings.HasSuffix(v, ".example.com")
		}},
		{integrations.FormatToken, func(v string) bool { return strings.HasPrefix(v, "demo_tok_") }},
		{"", func(v string) bool { return strings.HasPrefix(v, "demo_") }},
	}
	const rows = 100_000
	for _, tt := range tests {
		name := string(tt.format)
		if name == "" {
			name = "no format"
		}
		t.Run(name, func(t *testing.T) {
			f := integrations.Field{Name: "tenant", Tenant: true, Required: true, Format: tt.format}
			v := sampleValue(rand.New(rand.NewPCG(1, 2)), f, "Oak & Ivy Bakery", now)
			seen := make(map[string]int, rows)
			for i := range rows {
				u := uniqueTenant(f, v, i)
				require.True(t, tt.check(u), "row %d: %q is not a %q value", i, u, tt.format)
				if j, ok := seen[u]; ok {
					require.Failf(t, "two rows share a tenant", "rows %d and %d: %q", j, i, u)
				}
				seen[u] = i
			}
			assert.Len(t, seen, rows)
		})
	}
}

// TestSampleValidatesWithoutDuplicates validates the memory figures' export
// of 10,000 rows as `validate` does: every row is valid, none duplicate.
func TestSampleValidatesWithoutDuplicates(t *testing.T) {
	ex := writeExport(t, t.TempDir(), sampleOptions{Customers: 10_000, Clean: true})
	rep := &statusCounter{counts: map[bulk.Status]int{}}
	r := &bulk.Runner{Registry: integrations.Default()}
	sum, err := r.Validate(context.Background(), bulk.FileInput(ex.Path, bulk.FormatCSV), rep)
	require.NoError(t, err)
	assert.Equal(t, 10_000, sum.Rows)
	assert.Equal(t, map[bulk.Status]int{bulk.StatusValid: 10_000}, rep.counts, "every row reported valid")
	assert.Equal(t, 10_000, sum.Count(bulk.StatusValid))
	assert.Zero(t, sum.Count(bulk.StatusDuplicate))
}

// sharedTenantLines reads a generated CSV export and returns, in order, the
// lines whose (platform, tenant) another line has. A row the registry cannot
// read must be one of invalid.
func sharedTenantLines(t *testing.T, reg *integrations.Registry, path string, invalid map[int]bool) []int {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	require.NoError(t, err)
	require.NotEmpty(t, recs)
	header := recs[0]
	first := slices.Index(header, "tag:segment") + 1
	require.Positive(t, first, "the credential columns follow tag:segment")

	lines := map[string][]int{} // platform key + tenant → lines
	withTenant := 0
	for n, rec := range recs[1:] {
		line := n + 2
		fields := map[string]string{}
		for j := first; j < len(header); j++ {
			if rec[j] != "" {
				fields[header[j]] = rec[j]
			}
		}
		a, err := reg.FromRecord(rec[2], fields)
		if err != nil {
			require.True(t, invalid[line], "line %d cannot be read but is not one of the invalid rows: %v", line, err)
			continue
		}
		tenant, ok := reg.TenantID(a)
		if !ok {
			continue
		}
		withTenant++
		k := a.PlatformKey() + "\x00" + tenant
		lines[k] = append(lines[k], line)
	}
	require.Greater(t, withTenant, len(recs)/2, "most rows have a tenant (FreeAgent's have none)")
	var shared []int
	for _, ls := range lines {
		if len(ls) > 1 {
			shared = append(shared, ls...)
		}
	}
	slices.Sort(shared)
	return shared
}

// statusCounter is a bulk.ReportWriter that counts the rows by status.
type statusCounter struct {
	mu     sync.Mutex
	counts map[bulk.Status]int
}

func (c *statusCounter) Write(r bulk.ReportRow) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.counts[r.Status]++
	return nil
}

func (c *statusCounter) Close() error { return nil }
