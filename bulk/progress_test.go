package bulk

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestProgressPhases: a run reports its phases as they begin, the canary's
// wait for its first sync among them, each with the time it began.
func TestProgressPhases(t *testing.T) {
	clk := newFakeClock(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	f := newFakeCodat(clk)
	var b strings.Builder
	b.WriteString(csvHeader)
	for i := range 5 {
		b.WriteString(csvRow(fmt.Sprintf("r%d", i), 100+i))
	}
	r := testRunner(t, f, clk)
	var mu sync.Mutex
	var phases []Phase
	since := map[Phase]time.Time{}
	var last Progress
	r.OnProgress = func(p Progress) {
		mu.Lock()
		defer mu.Unlock()
		if len(phases) == 0 || phases[len(phases)-1] != p.Phase {
			phases = append(phases, p.Phase)
			since[p.Phase] = p.PhaseSince
		}
		last = p
	}
	_, err := r.Run(context.Background(), BytesInput("in.csv", FormatCSV, []byte(b.String())), &memReport{})
	require.NoError(t, err)
	assert.Equal(t, []Phase{PhaseScan, PhaseCanary, PhaseCanarySync, PhaseMigrate, PhaseDone}, phases)
	for p, t0 := range since {
		assert.False(t, t0.IsZero(), "phase %s has its start", p)
	}
	assert.Equal(t, 5, last.Done)
	assert.Equal(t, 5, last.Total)
}
