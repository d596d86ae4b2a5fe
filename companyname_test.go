package codat_test

import (
	"context"
	"fmt"
	"regexp"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/codat-migrate/codat"
)

// contractName is the company name pattern of Codat's contract.
var contractName = regexp.MustCompile(`^[A-Za-z0-9\s\-',&@.,?!]+$`)

func TestCompanyName(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"Acme Ltd", "Acme Ltd"},
		{"Café Müller GmbH", "Cafe Muller GmbH"},
		{"Smith (UK) Ltd", "Smith UK Ltd"},
		{"Ｆｕｌｌ Ｗｉｄｔｈ", "Full Width"},
		{"  Tabs\tand\n\nnew lines  ", "Tabs and new lines"},
		{"Crème brûlée & Co.", "Creme brulee & Co."},
		{"O'Brien-Smith, Inc?!", "O'Brien-Smith, Inc?!"},
		{"AT&T @ 50%", "AT&T @ 50"},
		{"Straße 5", "Strae 5"},
		{"東京 Trading 株式会社", "Trading"},
		{"Ångström [North] {Ltd}", "Angstrom North Ltd"},
		{"a\u00a0b", "a b"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := codat.CompanyName(tc.in)
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
			assert.Regexp(t, contractName, got, "Codat's contract accepts the name as sent")
			again, err := codat.CompanyName(got)
			require.NoError(t, err)
			assert.Equal(t, got, again, "the rule is idempotent: Codat stores what is sent")
		})
	}
}

func TestCompanyNameWithNothingLeft(t *testing.T) {
	for _, in := range []string{"", "   ", "株式会社", "مؤسسة", "()[]{}", "- & -", "ßø"} {
		t.Run(in, func(t *testing.T) {
			got, err := codat.CompanyName(in)
			require.ErrorIs(t, err, codat.ErrCompanyName)
			assert.Empty(t, got)
			if in != "" {
				assert.NotContains(t, err.Error(), in, "the error does not quote the name")
			}
		})
	}
}

func FuzzCompanyName(f *testing.F) {
	for _, s := range []string{"Café Müller GmbH", "Smith (UK) Ltd", "株式会社", "a\u0301\u0301b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got, err := codat.CompanyName(in)
		if err != nil {
			return
		}
		if !contractName.MatchString(got) {
			t.Fatalf("CompanyName returned a name outside Codat's pattern")
		}
		again, err := codat.CompanyName(got)
		if err != nil || again != got {
			t.Fatalf("CompanyName is not idempotent")
		}
	})
}

// TestCompanyNameConcurrent: migrations call CompanyName at the same time.
func TestCompanyNameConcurrent(t *testing.T) {
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 200 {
				name := fmt.Sprintf("Café Müller %d-%d GmbH", i, j)
				got, err := codat.CompanyName(name)
				if err != nil || got != fmt.Sprintf("Cafe Muller %d-%d GmbH", i, j) {
					t.Errorf("CompanyName(%q) = %q, %v", name, got, err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// Migrate sends the name CompanyName computes, so that Codat stores it
// unchanged: accents folded, not stripped.
func TestMigrateSendsTheStoredName(t *testing.T) {
	f := newMigFake(t)
	m := newMigration("crm-name")
	m.Company.Name = "Café Müller (UK) GmbH"
	res, err := f.c.Migrate(context.Background(), m)
	require.NoError(t, err)
	cos := f.srv.CompaniesWithTag(codat.RefTagKey, "crm-name")
	require.Len(t, cos, 1)
	assert.Equal(t, "Cafe Muller UK GmbH", cos[0].Name)
	assert.Equal(t, res.CompanyID, cos[0].ID)
}
