package codattest

import (
	"sync"
	"time"
)

// DefaultRequestLogSize is how many requests the log keeps unless
// WithRequestLog says otherwise.
const DefaultRequestLogSize = 100_000

// Request is one entry of the fake's request log. It never holds a request
// body, a query string or a header value other than the Idempotency-Key.
type Request struct {
	// Method is the HTTP method.
	Method string
	// Path is the URL path, without the query string.
	Path string
	// Route is the matched route as "METHOD /pattern", for example
	// "PUT /companies/{companyId}/connections/{connectionId}/authorization";
	// empty when no route matched (404/405) or the request was refused first.
	Route string
	// Status is the status sent; 0 when the connection was dropped.
	Status int
	// IdempotencyKey is the Idempotency-Key header as sent, if any.
	IdempotencyKey string
	// At is the fake clock's time when the request arrived.
	At time.Time
	// Replayed is true when the response was replayed from the
	// idempotency cache.
	Replayed bool
	// Fault is the injected fault that shaped the response, if any
	// (latency faults are not recorded here).
	Fault FaultKind
	// Client is the client's address (host part of RemoteAddr).
	Client string
}

// requestLog is a ring buffer of the most recent requests plus an
// all-time counter.
type requestLog struct {
	mu    sync.Mutex
	cap   int // 0 = disabled, <0 = unbounded
	buf   []Request
	next  int
	full  bool
	total int64
}

func newRequestLog(capacity int) *requestLog {
	return &requestLog{cap: capacity}
}

func (l *requestLog) add(r Request) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.total++
	switch {
	case l.cap == 0:
	case l.cap < 0:
		l.buf = append(l.buf, r)
	default:
		if len(l.buf) < l.cap {
			l.buf = append(l.buf, r)
			return
		}
		l.buf[l.next] = r
		l.next = (l.next + 1) % l.cap
		l.full = true
	}
}

func (l *requestLog) snapshot() []Request {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]Request, 0, len(l.buf))
	if l.full {
		out = append(out, l.buf[l.next:]...)
		out = append(out, l.buf[:l.next]...)
		return out
	}
	return append(out, l.buf...)
}

func (l *requestLog) count() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.total
}

func (l *requestLog) reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf, l.next, l.full, l.total = nil, 0, false, 0
}
