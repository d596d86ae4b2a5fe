package codattest

import (
	"sync"
	"time"
)

// Clock tells the fake what time it is. Pull-operation progress, quota
// resets (00:00 UTC), idempotency-key expiry and every date the fake returns
// follow it. Added latency (WithLatency, FaultLatency) is always real time.
type Clock interface {
	Now() time.Time
}

// realClock is the wall clock; it is the default.
type realClock struct{}

// Now returns time.Now().
func (realClock) Now() time.Time { return time.Now() }

// FakeClock is a Clock that moves only when told to, so a test can run a
// whole day of quota, or a sync's progress, in microseconds. It is safe for
// concurrent use.
type FakeClock struct {
	mu  sync.Mutex
	now time.Time
}

// NewFakeClock returns a FakeClock showing t.
func NewFakeClock(t time.Time) *FakeClock { return &FakeClock{now: t} }

// Now returns the clock's current time.
func (c *FakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d (backward if d is negative).
func (c *FakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// Set moves the clock to t.
func (c *FakeClock) Set(t time.Time) {
	c.mu.Lock()
	c.now = t
	c.mu.Unlock()
}

// nextMidnightUTC returns the first 00:00 UTC strictly after t. It is the
// fake's own, not codat.NextQuotaReset: the fake imports nothing of the
// client it tests.
func nextMidnightUTC(t time.Time) time.Time {
	u := t.UTC()
	return time.Date(u.Year(), u.Month(), u.Day(), 0, 0, 0, 0, time.UTC).AddDate(0, 0, 1)
}

// wireTime formats t the way Codat's examples do: UTC with milliseconds.
func wireTime(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}
