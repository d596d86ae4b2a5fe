package codattest

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"
)

// FaultKind says what an injected Fault does.
type FaultKind int

const (
	// FaultBeforeCommit answers with Fault.Status (default 500, must be ≥ 400) before the
	// handler runs: nothing is written. For a keyed POST/PATCH the response
	// is cached against the key, as Codat caches every non-429 response.
	FaultBeforeCommit FaultKind = iota + 1
	// FaultAfterCommit runs the handler (the write commits), then answers
	// with Fault.Status (default 500, must be ≥ 400) instead of the real
	// response. For a keyed POST/PATCH the error is what the key replays.
	// It fires only when the real response was a success (2xx).
	FaultAfterCommit
	// FaultDropAfterCommit runs the handler, caches the real response
	// against the Idempotency-Key if there is one, and then closes the
	// connection without answering. It fires only on a 2xx.
	FaultDropAfterCommit
	// FaultLatency delays the request by Fault.Latency of real time before
	// it is handled (while it holds a concurrency slot and its key is in
	// flight).
	FaultLatency
	// FaultRateLimit answers 429 with Retry-After: Fault.RetryAfter (default
	// 1s) before the handler runs. The key, if any, is released.
	FaultRateLimit
)

// String returns the kind's name.
func (k FaultKind) String() string {
	switch k {
	case FaultBeforeCommit:
		return "before-commit"
	case FaultAfterCommit:
		return "after-commit"
	case FaultDropAfterCommit:
		return "drop-after-commit"
	case FaultLatency:
		return "latency"
	case FaultRateLimit:
		return "rate-limit"
	case 0:
		return ""
	}
	return fmt.Sprintf("FaultKind(%d)", int(k))
}

// parseFaultKind parses the names String returns ("before-commit",
// "after-commit", "drop-after-commit", "latency", "rate-limit"), and the short
// forms "before", "after", "drop".
func parseFaultKind(s string) (FaultKind, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "before-commit", "before":
		return FaultBeforeCommit, nil
	case "after-commit", "after":
		return FaultAfterCommit, nil
	case "drop-after-commit", "drop":
		return FaultDropAfterCommit, nil
	case "latency":
		return FaultLatency, nil
	case "rate-limit", "ratelimit", "429":
		return FaultRateLimit, nil
	}
	return 0, fmt.Errorf("codattest: unknown fault kind %q", s)
}

// Fault is an injected failure. Faults apply only to authenticated requests
// that were admitted by the quota and matched a route; an idempotent replay
// is served from the cache and never faulted.
type Fault struct {
	// Route selects the requests: "POST /companies" (method and pattern, as
	// in Request.Route), "/companies/{companyId}" (any method), or "" / "*"
	// (every route).
	Route string
	// Kind says what happens.
	Kind FaultKind
	// Status is the status of FaultBeforeCommit and FaultAfterCommit: 4xx
	// or 5xx, default 500. The body is Codat's error body.
	Status int
	// Times is how often the fault fires before it removes itself; 0 means
	// until cleared.
	Times int
	// Rate is the probability, in (0, 1], that a matching request fires the
	// fault, drawn from the server's seeded generator; 0 means always.
	Rate float64
	// Latency is the delay of FaultLatency.
	Latency time.Duration
	// RetryAfter is the Retry-After of FaultRateLimit (default 1s, rounded up
	// to whole seconds on the wire).
	RetryAfter time.Duration
}

type activeFault struct {
	f       Fault
	method  string // "" = any
	pattern string // "" = any
	left    int    // remaining firings; -1 = unlimited
}

type faultSet struct {
	mu     sync.Mutex
	rng    *rand.Rand
	faults []*activeFault
	fired  int
}

func newFaultSet(seed int64) *faultSet {
	return &faultSet{rng: rand.New(rand.NewPCG(uint64(seed), 0x6661756c74))}
}

// normalizeFault checks f against the known routes and fills defaults.
func normalizeFault(f Fault, routes []*route) (*activeFault, error) {
	a := &activeFault{left: -1}
	switch f.Kind {
	case FaultBeforeCommit:
		if f.Status == 0 {
			f.Status = 500
		}
		if f.Status < 400 || f.Status > 599 {
			return nil, fmt.Errorf("codattest: before-commit fault status %d must be 4xx or 5xx", f.Status)
		}
	case FaultAfterCommit:
		if f.Status == 0 {
			f.Status = 500
		}
		if f.Status < 400 || f.Status > 599 {
			return nil, fmt.Errorf("codattest: after-commit fault status %d must be 4xx or 5xx", f.Status)
		}
	case FaultDropAfterCommit:
	case FaultLatency:
		if f.Latency <= 0 {
			return nil, errors.New("codattest: latency fault needs a positive Latency")
		}
	case FaultRateLimit:
		if f.RetryAfter == 0 {
			f.RetryAfter = time.Second
		}
		if f.RetryAfter < 0 {
			return nil, errors.New("codattest: negative RetryAfter")
		}
	default:
		return nil, fmt.Errorf("codattest: unknown fault kind %d", int(f.Kind))
	}
	if f.Times < 0 {
		return nil, errors.New("codattest: negative fault Times")
	}
	if f.Rate < 0 || f.Rate > 1 {
		return nil, fmt.Errorf("codattest: fault Rate %v is outside [0, 1]", f.Rate)
	}
	if f.Times > 0 {
		a.left = f.Times
	}
	r := strings.TrimSpace(f.Route)
	if r != "" && r != "*" {
		if m, p, ok := strings.Cut(r, " "); ok {
			a.method, a.pattern = m, strings.TrimSpace(p)
		} else {
			a.pattern = r
		}
		found := false
		for _, rt := range routes {
			if rt.pattern == a.pattern && (a.method == "" || a.method == rt.method) {
				found = true
				break
			}
		}
		if !found {
			return nil, fmt.Errorf("codattest: fault route %q matches no route of the fake", f.Route)
		}
	}
	a.f = f
	return a, nil
}

func (a *activeFault) matches(rt *route) bool {
	return (a.pattern == "" || a.pattern == rt.pattern) && (a.method == "" || a.method == rt.method)
}

// fireLocked decides whether a fires now and consumes one firing if so.
func (s *faultSet) fireLocked(a *activeFault) bool {
	if a.left == 0 {
		return false
	}
	if a.f.Rate > 0 && a.f.Rate < 1 && s.rng.Float64() >= a.f.Rate {
		return false
	}
	if a.left > 0 {
		a.left--
	}
	s.fired++
	return true
}

func (s *faultSet) pruneLocked() {
	out := s.faults[:0]
	for _, a := range s.faults {
		if a.left != 0 {
			out = append(out, a)
		}
	}
	for i := len(out); i < len(s.faults); i++ {
		s.faults[i] = nil
	}
	s.faults = out
}

// before returns the latency to add and at most one fault (rate limit or
// before-commit) to answer with before the handler runs.
func (s *faultSet) before(rt *route) (latency time.Duration, hit *Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.faults) == 0 {
		return 0, nil
	}
	for _, a := range s.faults {
		if !a.matches(rt) {
			continue
		}
		switch a.f.Kind {
		case FaultLatency:
			if s.fireLocked(a) {
				latency += a.f.Latency
			}
		case FaultRateLimit, FaultBeforeCommit:
			if hit == nil && s.fireLocked(a) {
				f := a.f
				hit = &f
			}
		}
	}
	s.pruneLocked()
	return latency, hit
}

// after returns at most one after-commit or drop fault for a 2xx response.
func (s *faultSet) after(rt *route) *Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.faults) == 0 {
		return nil
	}
	var hit *Fault
	for _, a := range s.faults {
		if a.matches(rt) && (a.f.Kind == FaultAfterCommit || a.f.Kind == FaultDropAfterCommit) && s.fireLocked(a) {
			f := a.f
			hit = &f
			break
		}
	}
	s.pruneLocked()
	return hit
}
