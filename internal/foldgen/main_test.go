package main

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/codat-migrate/codat"
)

// reference is CompanyName as it was with Unicode normalization at run time:
// the whole name folded by x/text, then CompanyName's filtering (which leaves
// an already folded name's allowed characters as they are).
func reference(s string) (string, error) { return codat.CompanyName(Fold(s)) }

func same(t *testing.T, in string) bool {
	t.Helper()
	want, wantErr := reference(in)
	got, gotErr := codat.CompanyName(in)
	return assert.Equal(t, want, got, "%+q", in) && assert.Equal(t, wantErr, gotErr, "%+q", in)
}

// Every assigned character (private use left out), alone and between
// letters, folds as x/text folds it.
func TestEveryCharacterFoldsAsXText(t *testing.T) {
	assigned := []*unicode.RangeTable{unicode.L, unicode.M, unicode.N, unicode.P, unicode.S, unicode.Z, unicode.Cc, unicode.Cf}
	for r := rune(0); r <= unicode.MaxRune; r++ {
		if !utf8.ValidRune(r) || !unicode.In(r, assigned...) {
			continue
		}
		s := string(r)
		if !same(t, s) || !same(t, "a"+s+"b") || !same(t, "E"+s+"\u0301 x") {
			return
		}
	}
}

// Names mixing letters, accents, combining marks, compatibility forms and
// scripts without an ASCII fold fold as x/text folds them.
func TestMixedNamesFoldAsXText(t *testing.T) {
	pool := []rune("aZ9 -',&@.?!()éÜñçÅøßĳǅﬁ№™ªº¹½ＦＷ０　\u00a0\u2028\t\n\u0301\u0308\u0327\u20dd\u0903\u093f東京한국어مؤسسةΩΣ")
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		rs := make([]rune, 1+rng.IntN(12))
		for i := range rs {
			rs[i] = pool[rng.IntN(len(pool))]
		}
		if !same(t, string(rs)) {
			return
		}
	}
	for _, s := range []string{"Café Müller GmbH", "Ｆｕｌｌ Ｗｉｄｔｈ", "Crème brûlée & Co.", "Ångström [North] {Ltd}", "Straße 5", "a\u0301\u0301b", "\xff\xfeAcme"} {
		same(t, s)
	}
}

// The committed table is what this generator writes.
func TestTableIsCurrent(t *testing.T) {
	committed, err := os.ReadFile(filepath.Join("..", "..", "companyname_fold_gen.go"))
	require.NoError(t, err)
	assert.True(t, bytes.Equal(committed, generate()), "companyname_fold_gen.go is stale: run go generate in the repository root")
}
