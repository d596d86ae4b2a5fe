package bulk

import (
	"context"
	"log/slog"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// pacedStore is a SharedPace with n live runners.
type pacedStore struct {
	Store
	mu sync.Mutex
	n  int
}

func (p *pacedStore) Runners(context.Context) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.n, nil
}

func (p *pacedStore) set(n int) {
	p.mu.Lock()
	p.n = n
	p.mu.Unlock()
}

// A run on a SharedPace store paces its starts to its share of the budget,
// and follows the number of runners as it changes.
func TestSharePace(t *testing.T) {
	st := &pacedStore{n: 3}
	x := &run{st: st, per: 4, rpm: 1000, limiter: startLimiter(1000, 4), s: settings{log: slog.New(slog.DiscardHandler)}}
	stop := x.sharePace(context.Background(), 5*time.Millisecond)
	defer stop()
	full := float64(startLimiter(1000, 4).Limit())
	assert.InDelta(t, full/3, float64(x.limiter.Limit()), 1e-9, "a third while three run")
	st.set(1)
	assert.Eventually(t, func() bool { return math.Abs(float64(x.limiter.Limit())-full) < 1e-9 }, 5*time.Second, 5*time.Millisecond,
		"the whole budget once the others end")
	st.set(0)
	time.Sleep(20 * time.Millisecond)
	assert.InDelta(t, full, float64(x.limiter.Limit()), 1e-9, "never more than the budget")
}
