package codat

import (
	"errors"
	"strings"
	"unicode"
)

//go:generate go run -C internal/foldgen . -out ../../companyname_fold_gen.go

// ErrCompanyName is returned by CompanyName for a name with no letter or
// digit Codat accepts: Codat would answer POST /companies with a 400.
var ErrCompanyName = errors.New("codat: company name has no letter or digit Codat accepts")

// foldAccents folds every character to what its compatibility decomposition
// keeps once combining marks are removed, so full-width and other
// compatibility forms become their plain letters: "é" becomes "e", "Ｆ"
// becomes "F". The folds come from foldTable, computed from Unicode's
// decompositions by internal/foldgen, so no normalization package is needed
// at run time; the folds keep only what CompanyName allows. A character
// without an entry is left as it is.
func foldAccents(name string) string {
	var b strings.Builder
	b.Grow(len(name))
	for _, r := range name {
		if f, ok := foldTable[r]; ok {
			b.WriteString(f)
		} else {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// companyNameAllowed reports whether Codat keeps r in a company name: the
// contract's pattern is ^[A-Za-z0-9\s\-',&@.,?!]+$ and Codat removes
// every other character.
func companyNameAllowed(r rune) bool {
	switch {
	case 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z', '0' <= r && r <= '9':
		return true
	}
	return strings.ContainsRune(`-',&@.?!`, r)
}

// CompanyName returns the name Codat stores for a company named name, so that
// a caller can send it, show it and compare it before any request is made.
//
// Codat's contract allows company names matching ^[A-Za-z0-9\s\-',&@.,?!]+$
// and removes every other character ("Café Müller" would become
// "Caf Mller"). CompanyName instead folds accented and compatibility
// characters to their ASCII letter by Unicode decomposition ("Café Müller"
// becomes "Cafe Muller", "Ｆｏｏ" becomes "Foo"), then drops what is still
// not allowed (brackets, symbols, letters with no ASCII decomposition such
// as "ß", "ø" or Chinese), turns every run of whitespace into one space and
// trims spaces at both ends ("Smith (UK) Ltd" becomes "Smith UK Ltd").
//
// A name left without any letter or digit is an error wrapping
// ErrCompanyName: Codat would refuse it. The error does not quote the name.
// Client.Migrate sends the name CompanyName returns.
func CompanyName(name string) (string, error) {
	folded := foldAccents(name)
	var b strings.Builder
	b.Grow(len(folded))
	space, alnum := false, false
	for _, r := range folded {
		switch {
		case unicode.IsSpace(r):
			space = true
			continue
		case !companyNameAllowed(r):
			continue
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		b.WriteRune(r)
		alnum = alnum || r < 0x80 && (unicode.IsLetter(r) || unicode.IsDigit(r))
	}
	if !alnum {
		return "", ErrCompanyName
	}
	return b.String(), nil
}
