// Package clock holds the one sleep that gives way to a context, shared by
// the client's sync polling and the bulk runner's pauses.
package clock

import (
	"context"
	"time"
)

// Sleep waits d, or until ctx is done and then returns ctx.Err(). A non-nil
// after replaces real time (it returns a channel that delivers once d has
// passed), so tests can drive the wait with a fake clock.
func Sleep(ctx context.Context, d time.Duration, after func(time.Duration) <-chan time.Time) error {
	if after != nil {
		select {
		case <-after(d):
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
