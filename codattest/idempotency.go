package codattest

import (
	"crypto/sha256"
	"strings"
	"sync"
	"time"
)

// DefaultIdempotencyTTL is how long Codat keeps the first response to an
// Idempotency-Key: 90 minutes.
const DefaultIdempotencyTTL = 90 * time.Minute

type idemState int

const (
	idemStarted  idemState = iota // the caller runs the request and must call finish or abandon
	idemReplay                    // entry holds the response to replay
	idemInFlight                  // 409: the first request with this key is still running
	idemMismatch                  // 422: same key, different method, path or body
)

type idemEntry struct {
	fp      [32]byte
	done    bool
	status  int
	body    []byte
	expires time.Time
}

type idemExpiry struct {
	key     string
	expires time.Time
}

// idemCache implements Codat's Idempotency-Key rules: the first response to
// a key is kept for the TTL and replayed (whatever its status, except 429);
// a request arriving while the first is running gets 409; a request with
// the same key but another method, path or body gets 422.
type idemCache struct {
	ttl time.Duration

	mu    sync.Mutex
	m     map[string]*idemEntry
	queue []idemExpiry // finished keys in finishing order, for cheap expiry
	head  int
}

func newIdemCache(ttl time.Duration) *idemCache {
	return &idemCache{ttl: ttl, m: map[string]*idemEntry{}}
}

func idemFingerprint(method, path string, body []byte) [32]byte {
	h := sha256.New()
	h.Write([]byte(method))
	h.Write([]byte{0})
	h.Write([]byte(path))
	h.Write([]byte{0})
	h.Write(body)
	var fp [32]byte
	copy(fp[:], h.Sum(nil))
	return fp
}

// expireLocked drops finished entries whose time is up. Finished entries
// are queued in finishing order, so with a clock that moves forward the
// front of the queue is always the oldest.
func (c *idemCache) expireLocked(now time.Time) {
	for c.head < len(c.queue) {
		e := c.queue[c.head]
		if now.Before(e.expires) {
			break
		}
		if cur, ok := c.m[e.key]; ok && cur.done && !now.Before(cur.expires) {
			delete(c.m, e.key)
		}
		c.queue[c.head] = idemExpiry{}
		c.head++
	}
	if c.head > 1024 && c.head*2 > len(c.queue) {
		c.queue = append(c.queue[:0], c.queue[c.head:]...)
		c.head = 0
	}
}

// begin looks key up. For idemReplay the returned status and body are the
// cached response.
func (c *idemCache) begin(key string, fp [32]byte, now time.Time) (idemState, int, []byte) {
	key = strings.ToLower(key)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.expireLocked(now)
	e, ok := c.m[key]
	if ok && e.done && !now.Before(e.expires) { // expired but not yet swept (clock moved back)
		delete(c.m, key)
		ok = false
	}
	if !ok {
		c.m[key] = &idemEntry{fp: fp}
		return idemStarted, 0, nil
	}
	if e.fp != fp {
		return idemMismatch, 0, nil
	}
	if !e.done {
		return idemInFlight, 0, nil
	}
	return idemReplay, e.status, e.body
}

// finish records the response to a started key. A 429 is not cached: the key
// is released, so a retry after Retry-After is a fresh attempt.
func (c *idemCache) finish(key string, status int, body []byte, now time.Time) {
	key = strings.ToLower(key)
	c.mu.Lock()
	defer c.mu.Unlock()
	if status == 429 {
		delete(c.m, key)
		return
	}
	e, ok := c.m[key]
	if !ok {
		return
	}
	e.done, e.status, e.body, e.expires = true, status, body, now.Add(c.ttl)
	c.queue = append(c.queue, idemExpiry{key: key, expires: e.expires})
}

// abandon releases a started key without caching anything (the request
// never produced a response, for example because the server is closing).
func (c *idemCache) abandon(key string) {
	key = strings.ToLower(key)
	c.mu.Lock()
	if e, ok := c.m[key]; ok && !e.done {
		delete(c.m, key)
	}
	c.mu.Unlock()
}

// len returns the number of keys held (finished or in flight).
func (c *idemCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}
