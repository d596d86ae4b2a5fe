// Package scrub removes secrets from text that came back from elsewhere (an
// error body, a transport error, a message built from input) before it is
// printed, logged, journaled or reported. It is the one scrubbing policy of
// the module: package codat and package bulk both use it.
//
// The policy: a secret shorter than MinLen bytes is not scrubbed (it would
// blank out ordinary words). Of a longer one, every fragment of at least
// MinLen bytes is replaced with Redacted wherever it appears, so that the
// whole value, a prefix (an echo cut short), a suffix or a middle part are
// all removed; a run of base64 characters that decodes (standard or
// URL-safe alphabet, padded or not, at any alignment) to bytes holding such
// a fragment is replaced whole, so that an echo of the secret, or of a body
// holding it, in base64 is removed too. The JSON-escaped and URL-escaped
// forms of each secret are scrubbed like the secret itself.
package scrub

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/url"
	"strings"
)

// MinLen is the shortest secret, and the shortest fragment of one, that is
// scrubbed, in bytes.
const MinLen = 6

// Redacted replaces what is scrubbed. It is the same text as codat.Redacted.
const Redacted = "[REDACTED]"

// Set is a compiled list of secrets. The zero value and nil scrub nothing.
type Set struct {
	grams map[string]struct{} // every MinLen-byte fragment of every form of every secret
}

// New compiles secrets (and their JSON- and URL-escaped forms) into a Set.
// Values shorter than MinLen are left out; surrounding whitespace is
// trimmed as well as kept.
func New(secrets ...string) *Set {
	s := &Set{grams: map[string]struct{}{}}
	for _, v := range secrets {
		s.Add(v)
	}
	return s
}

// Add adds one secret to s.
func (s *Set) Add(v string) {
	forms := []string{v, strings.TrimSpace(v), url.QueryEscape(v), url.PathEscape(v)}
	if q, err := json.Marshal(v); err == nil {
		forms = append(forms, string(q[1:len(q)-1])) // as it appears inside a JSON text
	}
	for _, f := range forms {
		if len(f) < MinLen {
			continue
		}
		for i := 0; i+MinLen <= len(f); i++ {
			s.grams[f[i:i+MinLen]] = struct{}{}
		}
	}
}

// Empty reports whether s scrubs nothing.
func (s *Set) Empty() bool { return s == nil || len(s.grams) == 0 }

// String returns text with every fragment of a secret and every base64 run
// hiding one replaced with Redacted.
func (s *Set) String(text string) string {
	if s.Empty() || len(text) < MinLen {
		return text
	}
	mark := make([]bool, len(text))
	hit := false
	for i := 0; i+MinLen <= len(text); i++ {
		if _, ok := s.grams[text[i:i+MinLen]]; ok {
			for j := i; j < i+MinLen; j++ {
				mark[j] = true
			}
			hit = true
		}
	}
	var raw, buf []byte // text's bytes, and a decoding buffer, made on first use
	for start := 0; start < len(text); {
		if !isB64(text[start]) {
			start++
			continue
		}
		end := start
		for end < len(text) && isB64(text[end]) {
			end++
		}
		if end-start >= minB64Run && raw == nil {
			raw = []byte(text)
		}
		if end-start >= minB64Run && s.hidesSecret(raw[start:end], &buf) {
			for j := start; j < end; j++ {
				mark[j] = true
			}
			hit = true
		}
		start = end
	}
	if !hit {
		return text
	}
	var b strings.Builder
	b.Grow(len(text))
	for i := 0; i < len(text); {
		if !mark[i] {
			b.WriteByte(text[i])
			i++
			continue
		}
		b.WriteString(Redacted)
		for i < len(text) && mark[i] {
			i++
		}
	}
	return b.String()
}

// Text returns text scrubbed of secrets, for a one-off use; build a Set
// with New to scrub many texts against the same secrets.
func Text(text string, secrets ...string) string {
	return New(secrets...).String(text)
}

// isB64 reports whether c belongs to the standard or URL-safe base64
// alphabet, padding included.
func isB64(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
		c == '+' || c == '/' || c == '-' || c == '_' || c == '='
}

// minB64Run is the shortest base64 run that can encode MinLen bytes at any
// alignment.
const minB64Run = (MinLen+2)/3*4 + 3

// alphabets are the base64 encodings hidesSecret tries.
var alphabets = [...]*base64.Encoding{base64.RawStdEncoding, base64.RawURLEncoding}

// hidesSecret reports whether run, decoded from base64 at any of the four
// alignments in either alphabet, holds a fragment of a secret. It decodes
// into *buf, grown as needed, so that scrubbing a long text allocates once.
func (s *Set) hidesSecret(run []byte, buf *[]byte) bool {
	if len(run) < minB64Run {
		return false
	}
	run = bytes.TrimRight(run, "=")
	for off := 0; off < 4 && len(run)-off >= minB64Run-3; off++ {
		part := run[off:]
		if len(part)%4 == 1 {
			part = part[:len(part)-1]
		}
		for _, enc := range alphabets {
			if n := enc.DecodedLen(len(part)); cap(*buf) < n {
				*buf = make([]byte, n)
			}
			n, err := enc.Decode((*buf)[:cap(*buf)], part)
			if err != nil {
				continue
			}
			dec := (*buf)[:n]
			for i := 0; i+MinLen <= len(dec); i++ {
				if _, ok := s.grams[string(dec[i:i+MinLen])]; ok {
					return true
				}
			}
		}
	}
	return false
}
