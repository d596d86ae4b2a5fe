package bulk

import (
	"fmt"
	"math"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/codat-migrate/codat/integrations"
)

// What counts as a credential outside the authorization fields. An input
// whose columns are shifted or swapped puts a token in the ref, company name
// or platform column; such a value must not be echoed in a message, become a
// company's name or tag, or reach the report and the journal.

// maxEchoLen is the longest input value a message quotes.
const maxEchoLen = 64

// minTokenLen is the shortest value a token field may hold: what is shorter
// (or holds a space) is the mark of shifted columns, not a token.
const minTokenLen = 8

// tokenPrefixes are prefixes of well-known credentials (Shopify, Stripe,
// Slack, GitHub, Google, AWS) and of authorization header values.
var tokenPrefixes = []string{
	"shpat_", "shpca_", "shppa_", "shpss_", "sk_live_", "sk_test_", "rk_live_", "rk_test_",
	"xoxb-", "xoxp-", "xoxa-", "ghp_", "gho_", "ghu_", "ghs_", "github_pat_", "ya29.", "AKIA",
	"Bearer ", "bearer ", "Basic ", "basic ",
}

// credentialShaped reports whether s looks like a credential: a JWT, a
// well-known token prefix, or a long unbroken high-entropy string. Ordinary
// identifiers are not: UUIDs, CRM ids (short, or digits), e-mail-like keys,
// hyphenated words, hexadecimal ids shorter than 64 digits.
func credentialShaped(s string) bool {
	s = strings.TrimSpace(s)
	if len(s) < minTokenLen {
		return false
	}
	for _, p := range tokenPrefixes {
		if strings.HasPrefix(s, p) && len(s) >= len(p)+minTokenLen {
			return true
		}
	}
	if isJWT(s) {
		return true
	}
	if strings.ContainsFunc(s, unicode.IsSpace) || strings.Contains(s, "@") || isUUID(s) {
		return false
	}
	// The longest run of letters and digits: a random token is one long
	// run mixing upper case, lower case and digits.
	longest, run := "", 0
	start := 0
	for i, r := range s + "." {
		if r < utf8.RuneSelf && (unicode.IsLetter(r) || unicode.IsDigit(r)) {
			if run == 0 {
				start = i
			}
			run++
			continue
		}
		if run > len(longest) {
			longest = s[start:i]
		}
		run = 0
	}
	switch {
	case len(longest) >= 24 && mixedClasses(longest):
		return true
	case len(longest) >= 64 && isHex(longest):
		return true
	case len(s) >= 40 && entropy(s) >= 4.5:
		return true
	}
	return false
}

func isJWT(s string) bool {
	parts := strings.Split(s, ".")
	if len(parts) != 3 || !strings.HasPrefix(parts[0], "eyJ") || len(parts[1]) < 4 {
		return false
	}
	for _, p := range parts {
		for _, r := range p {
			if !(r == '-' || r == '_' || r == '=' || r < utf8.RuneSelf && (unicode.IsLetter(r) || unicode.IsDigit(r))) {
				return false
			}
		}
	}
	return true
}

func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, r := range s {
		switch i {
		case 8, 13, 18, 23:
			if r != '-' {
				return false
			}
		default:
			if !strings.ContainsRune("0123456789abcdefABCDEF", r) {
				return false
			}
		}
	}
	return true
}

func isHex(s string) bool {
	for _, r := range s {
		if !strings.ContainsRune("0123456789abcdefABCDEF", r) {
			return false
		}
	}
	return true
}

// mixedClasses: upper case, lower case and digits, all three.
func mixedClasses(s string) bool {
	var up, low, dig bool
	for _, r := range s {
		switch {
		case unicode.IsUpper(r):
			up = true
		case unicode.IsLower(r):
			low = true
		case unicode.IsDigit(r):
			dig = true
		}
	}
	return up && low && dig
}

// entropy is the Shannon entropy of s's characters, in bits per character.
func entropy(s string) float64 {
	counts := map[rune]int{}
	n := 0
	for _, r := range s {
		counts[r]++
		n++
	}
	h := 0.0
	for _, c := range counts {
		p := float64(c) / float64(n)
		h -= p * math.Log2(p)
	}
	return h
}

// secretFields returns the row's authorization fields that hold credentials:
// those the platform marks secret, or, when the platform is unknown, those
// whose name says token, secret, password or key.
func secretFields(reg *integrations.Registry, row Row) []string {
	p, known := reg.Lookup(row.Platform)
	var out []string
	for _, k := range sortedKeys(row.Fields) {
		if known {
			if f, ok := p.Field(k); ok {
				if f.Secret {
					out = append(out, k)
				}
				continue
			}
		}
		if nameSaysSecret(k) {
			out = append(out, k)
		}
	}
	return out
}

func nameSaysSecret(name string) bool {
	n := normColumn(name)
	for _, w := range []string{"token", "secret", "password"} {
		if strings.Contains(n, w) {
			return true
		}
	}
	return strings.HasSuffix(n, "key") // apiKey, consumerKey, privateKey
}

// tokenField reports whether a field holds a token (its name says so): what
// cannot be a token there is the mark of shifted columns.
func tokenField(name string) bool { return strings.Contains(normColumn(name), "token") }

// matchesSecret reports whether v is, or holds, one of the row's secret
// values: the values of the fields whose name says they hold a credential
// (token, secret, password, …key), as the registry's secret fields do.
// Metadata such as a realmId is not one: a ref may equal it.
func matchesSecret(v string, row Row) bool {
	if v == "" {
		return false
	}
	for k, s := range row.Fields {
		if !nameSaysSecret(k) {
			continue
		}
		s := s.Reveal()
		if s == "" {
			continue
		}
		if v == s || len(s) >= minScrubLen && strings.Contains(v, s) {
			return true
		}
	}
	return false
}

// echoable reports whether a value of row may be quoted in a message: short,
// not one of the row's authorization values, and not shaped like a
// credential.
func echoable(v string, row Row) bool {
	return len(v) <= maxEchoLen && !matchesSecret(v, row) && !credentialShaped(v)
}

// quoteValue is v quoted for a message about column, or a note that it was
// withheld.
func quoteValue(column, v string, row Row) string {
	if echoable(v, row) {
		return fmt.Sprintf("%q", v)
	}
	return fmt.Sprintf("(the %s value is withheld: it may be a credential)", column)
}

// credentialProblems checks the cells outside the authorization fields for
// credentials, and the token fields for what cannot be a token: both are
// the marks of shifted or swapped columns. Its reasons name columns, never
// values.
func credentialProblems(reg *integrations.Registry, row Row) []string {
	var problems []string
	for _, c := range []struct{ name, v string }{{"ref", row.Ref}, {"company name", row.CompanyName}, {"platform", row.Platform}} {
		switch {
		case c.v == "":
		case matchesSecret(c.v, row):
			problems = append(problems, fmt.Sprintf("the %s holds one of the row's authorization values (withheld): are the columns shifted?", c.name))
		case credentialShaped(c.v):
			problems = append(problems, fmt.Sprintf("the %s looks like a credential (withheld): are the columns shifted?", c.name))
		}
	}
	for _, k := range secretFields(reg, row) {
		if !tokenField(k) {
			continue
		}
		v := row.Fields[k].Reveal()
		switch {
		case strings.ContainsFunc(v, unicode.IsSpace):
			problems = append(problems, fmt.Sprintf("%s holds spaces, which no token has: are the columns shifted?", safeName(k)))
		case len(v) < minTokenLen:
			problems = append(problems, fmt.Sprintf("%s holds %d characters, too few for a token: are the columns shifted?", safeName(k), utf8.RuneCountInString(v)))
		}
	}
	return problems
}

// shownRow is row with the cells a report may show: a ref, company name or
// platform that may be a credential is withheld.
func shownRow(row Row) Row {
	out := row
	for _, p := range []*string{&out.Ref, &out.CompanyName, &out.Platform} {
		if *p != "" && (matchesSecret(*p, row) || credentialShaped(*p)) {
			*p = withheld
		}
	}
	return out
}

// withheld stands in a report for an input value that may be a credential.
const withheld = "(withheld)"
