package bulk

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/codat-migrate/codat"
	"github.com/codat-migrate/codat/internal/clock"
)

// QuotaError is returned by Run when Codat's daily request quota is spent
// and the Runner is not to wait: the run stopped cleanly, every unfinished
// row is reported pending-quota, and a rerun with the same journal after
// Reset resumes them.
type QuotaError struct {
	// Reset is when the quota resets (00:00 UTC by Codat's rules).
	Reset time.Time
	// Pending is the number of rows left for a rerun.
	Pending int
	// NotDaily is set when the stop was for a rate limit that is not known
	// to be the daily quota: a 429 asking for a wait longer than
	// MaxRateLimitPause, or repeated 429s without the rate-limit headers
	// that tell a short limit. Reset is then when that 429 said to retry.
	NotDaily bool
}

// Error says when the quota resets (or the rate limit ends) and how many
// rows are pending.
func (e *QuotaError) Error() string {
	if e.NotDaily {
		return fmt.Sprintf("bulk: Codat refused requests with a rate limit not known to be the daily quota, until %s; %d row(s) pending: rerun with the same journal then",
			e.Reset.UTC().Format(time.RFC3339), e.Pending)
	}
	return fmt.Sprintf("bulk: Codat's daily request quota is spent; it resets at %s; %d row(s) pending: rerun with the same journal then",
		e.Reset.UTC().Format(time.RFC3339), e.Pending)
}

// Is makes errors.Is(err, codat.ErrRateLimited) true for a QuotaError.
func (e *QuotaError) Is(target error) bool { return target == codat.ErrRateLimited }

// ErrCanaryFailed is wrapped by Run's error when a canary migration did not
// end Linked with its first sync complete; the rest of the input was not
// started.
var ErrCanaryFailed = errors.New("bulk: canary migration failed")

// ErrTooManyFailures is wrapped by Run's error when Runner.MaxConsecutiveFailures
// migrations in a row failed: something systematic is wrong (a wrong field
// name, an outage), and going on would spend the quota for nothing.
var ErrTooManyFailures = errors.New("bulk: too many consecutive failures")

// quotaMargin is waited past a quota reset, for clock skew.
const quotaMargin = 5 * time.Second

// quotaGate is closed until a reset time once the quota is found spent;
// waiting on it sleeps once for all waiters.
type quotaGate struct {
	mu      sync.Mutex
	until   time.Time
	waiting chan struct{}
}

func (g *quotaGate) close(reset time.Time) {
	g.mu.Lock()
	if reset.After(g.until) {
		g.until = reset
	}
	g.mu.Unlock()
}

func (g *quotaGate) closedUntil() time.Time {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.until
}

// wait returns once now() is past the gate's time, sleeping with sleep. One
// caller sleeps; the others wait for it.
func (g *quotaGate) wait(ctx context.Context, now func() time.Time, sleep func(context.Context, time.Duration) error) error {
	for {
		g.mu.Lock()
		d := g.until.Sub(now())
		if d <= 0 {
			g.mu.Unlock()
			return nil
		}
		if ch := g.waiting; ch != nil {
			g.mu.Unlock()
			select {
			case <-ch:
				continue
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		ch := make(chan struct{})
		g.waiting = ch
		g.mu.Unlock()
		err := sleep(ctx, d+quotaMargin)
		g.mu.Lock()
		g.waiting = nil
		close(ch)
		g.mu.Unlock()
		if err != nil {
			return err
		}
	}
}

// sleepCtx sleeps for d in real time or until ctx is done (Runner.sleep's
// default).
func sleepCtx(ctx context.Context, d time.Duration) error { return clock.Sleep(ctx, d, nil) }
