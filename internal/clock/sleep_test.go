package clock

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestSleep(t *testing.T) {
	done, cancel := context.WithCancel(context.Background())
	cancel()
	never := func(time.Duration) <-chan time.Time { return nil }
	now := func(time.Duration) <-chan time.Time {
		ch := make(chan time.Time, 1)
		ch <- time.Time{}
		return ch
	}
	for _, tc := range []struct {
		name  string
		ctx   context.Context
		d     time.Duration
		after func(time.Duration) <-chan time.Time
		want  error
	}{
		{"real time passes", context.Background(), time.Millisecond, nil, nil},
		{"real time, cancelled", done, time.Hour, nil, context.Canceled},
		{"fake time passes", context.Background(), time.Hour, now, nil},
		{"fake time, cancelled", done, time.Hour, never, context.Canceled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.ErrorIs(t, Sleep(tc.ctx, tc.d, tc.after), tc.want)
		})
	}
}
