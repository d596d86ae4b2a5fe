package codattest

import (
	"crypto/sha256"
	"encoding/hex"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
)

// uid is a UUID held as 16 bytes: cheap map keys, compact records.
type uid [16]byte

const hexdigits = "0123456789abcdef"

// String formats u as 8-4-4-4-12 lowercase hex.
func (u uid) String() string {
	var b [36]byte
	j := 0
	for i, c := range u {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			b[j] = '-'
			j++
		}
		b[j] = hexdigits[c>>4]
		b[j+1] = hexdigits[c&0xf]
		j += 2
	}
	return string(b[:])
}

// parseUID parses the canonical 8-4-4-4-12 hex form (either case).
func parseUID(s string) (uid, bool) {
	var u uid
	if len(s) != 36 {
		return u, false
	}
	j := 0
	for i := 0; i < 36; {
		if i == 8 || i == 13 || i == 18 || i == 23 {
			if s[i] != '-' {
				return u, false
			}
			i++
			continue
		}
		hi, ok1 := unhex(s[i])
		lo, ok2 := unhex(s[i+1])
		if !ok1 || !ok2 {
			return u, false
		}
		u[j] = hi<<4 | lo
		j++
		i += 2
	}
	return u, true
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// isGUID reports whether s is a GUID in the canonical 36-character form.
func isGUID(s string) bool {
	_, ok := parseUID(s)
	return ok
}

// idSource makes version-4 UUIDs from a seeded generator, so a
// single-threaded test sees the same ids on every run.
type idSource struct {
	mu  sync.Mutex
	rng *rand.ChaCha8
	ctr atomic.Uint64
	tag uint64
}

func newIDSource(seed int64) *idSource {
	var s [32]byte
	for i := 0; i < 8; i++ {
		s[i] = byte(uint64(seed) >> (8 * i))
	}
	copy(s[8:], "codattest-id-source-seed")
	return &idSource{rng: rand.NewChaCha8(s), tag: uint64(seed)*0x9e3779b97f4a7c15 + 1}
}

func (g *idSource) next() uid {
	var u uid
	g.mu.Lock()
	_, _ = g.rng.Read(u[:])
	g.mu.Unlock()
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return u
}

// correlationID returns 32 hex digits, unique per call, without locking.
func (g *idSource) correlationID() string {
	n := g.ctr.Add(1)
	var b [16]byte
	x := g.tag
	for i := 0; i < 8; i++ {
		b[i] = byte(x >> (8 * i))
		b[8+i] = byte(n >> (8 * (7 - i)))
	}
	return hex.EncodeToString(b[:])
}

// nameUID derives a stable name-based UUID (version 5 layout over SHA-256)
// from parts; used for integration and source ids.
func nameUID(parts ...string) uid {
	h := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	var u uid
	copy(u[:], h[:16])
	u[6] = u[6]&0x0f | 0x50
	u[8] = u[8]&0x3f | 0x80
	return u
}

// Fingerprint returns 12 hex digits of SHA-256 over an authorization body
// (keys sorted, each key and value length-prefixed). The fake keeps only this
// fingerprint of a body (Connection.AuthFingerprint), never its values; a test
// compares it with Fingerprint of the body it expected to be sent.
func Fingerprint(body map[string]string) string {
	keys := make([]string, 0, len(body))
	for k := range body {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	h := sha256.New()
	var lb [8]byte
	put := func(s string) {
		n := uint64(len(s))
		for i := 0; i < 8; i++ {
			lb[i] = byte(n >> (8 * i))
		}
		h.Write(lb[:])
		h.Write([]byte(s))
	}
	for _, k := range keys {
		put(k)
		put(body[k])
	}
	return hex.EncodeToString(h.Sum(nil))[:12]
}
