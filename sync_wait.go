package codat

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/codat-migrate/codat/internal/clock"
)

const (
	// DefaultWaitInterval is the first wait between two polls of
	// SyncService.Wait when WaitOptions.Interval is zero, and of a SyncWait
	// migration when Migration.WaitInterval is zero.
	DefaultWaitInterval = 5 * time.Second
	// DefaultWaitMaxInterval is the longest wait between two polls of
	// SyncService.Wait when WaitOptions.MaxInterval is zero.
	DefaultWaitMaxInterval = time.Minute
	// DefaultWaitTimeout bounds SyncService.Wait when WaitOptions.Timeout is
	// zero. With the default intervals it allows about 35 polls.
	DefaultWaitTimeout = 30 * time.Minute
	// waitGrowth is the factor between two consecutive poll intervals.
	waitGrowth = 1.5
)

// ErrSyncTimeout is wrapped by the error SyncService.Wait returns when the
// sync has not finished within WaitOptions.Timeout. The sync may still
// finish: Codat keeps running it. A SyncWait migration reports it as a
// MigrationError at StepWait; resuming polls again.
var ErrSyncTimeout = errors.New("codat: timed out waiting for the sync to finish")

// WaitOptions tune SyncService.Wait. The zero value polls after 5 seconds,
// then at intervals growing by half up to one minute, for at most 30
// minutes, and waits for every data type that has a status.
type WaitOptions struct {
	// Interval is the first wait between two polls (default
	// DefaultWaitInterval, 5s). Each next
	// wait is 1.5 times longer, up to MaxInterval.
	Interval time.Duration
	// MaxInterval caps the wait between two polls (default
	// DefaultWaitMaxInterval; never less than Interval).
	MaxInterval time.Duration
	// Timeout bounds the whole wait (default DefaultWaitTimeout); a negative
	// value means no bound but ctx. The last poll happens at the bound; if
	// the sync is still running then, Wait returns an error wrapping
	// ErrSyncTimeout. Time is counted as the longer of the real time spent
	// and the sum of the waits asked of After, so a fake clock bounds it too.
	Timeout time.Duration
	// DataTypes, if set, limits the wait to these data types; a listed type
	// that has no status yet is waited for. Otherwise every data type that has
	// a status is waited for and the others (never queued) are ignored, but at
	// least one must have a status: a company none of whose data types has
	// started is still waited for.
	DataTypes []string
	// After returns a channel that delivers once d has passed. Nil means real
	// time. Tests substitute a fake clock.
	After func(d time.Duration) <-chan time.Time
}

// IsTerminalSyncStatus reports whether a pull operation (dataset) status is
// final: Complete, NotSupported, Cancelled, PrerequisiteNotMet or any status
// ending in "Error" (FetchError, AuthError, …). Codat does not label final
// statuses; this follows the meanings its documentation gives them.
func IsTerminalSyncStatus(status string) bool {
	switch status {
	case "Complete", "NotSupported", "Cancelled", "PrerequisiteNotMet":
		return true
	}
	return strings.HasSuffix(status, "Error")
}

// Wait polls GET /companies/{companyId}/dataStatus (GET retry class) until
// the latest sync of every data type has a final status (see
// IsTerminalSyncStatus), and returns the last statuses it read.
//
// Right after POST data/all, Codat may not list any data type yet: an empty
// status, or one where no data type has a currentStatus, means the sync has
// not started, and Wait keeps polling. The first poll is immediate; the
// waits between polls grow from WaitOptions.Interval to MaxInterval, and the
// whole wait is bounded by WaitOptions.Timeout (default 30 minutes), after
// which Wait returns an error wrapping ErrSyncTimeout together with the last
// statuses. A data type can stay Queued for long (an on-premise connector
// that is offline, for example).
//
// A data type in AuthError means Codat could not use the connection's token:
// Wait returns at once with an error wrapping ErrTokenRejected. Other error
// statuses end the wait normally; find them in the statuses. Wait also stops
// with ctx.
func (s *SyncService) Wait(ctx context.Context, companyID string, opts *WaitOptions) (DataStatuses, error) {
	var o WaitOptions
	if opts != nil {
		o = *opts
	}
	if o.Interval <= 0 {
		o.Interval = DefaultWaitInterval
	}
	if o.MaxInterval <= 0 {
		o.MaxInterval = DefaultWaitMaxInterval
	}
	o.MaxInterval = max(o.MaxInterval, o.Interval)
	if o.Timeout == 0 {
		o.Timeout = DefaultWaitTimeout
	}
	start := time.Now()
	var waited time.Duration // the sum of the waits asked for
	interval := o.Interval
	for polls := 1; ; polls++ {
		st, err := s.Status(ctx, companyID)
		if err != nil {
			return st, err
		}
		done, pending, err := syncOver(companyID, st, o.DataTypes)
		if err != nil || done {
			return st, err
		}
		d := interval
		if o.Timeout > 0 {
			elapsed := max(waited, time.Since(start))
			left := o.Timeout - elapsed
			if left <= 0 {
				return st, fmt.Errorf("%w: company %s: %s after %d polls over %s",
					ErrSyncTimeout, companyID, pending, polls, elapsed.Round(time.Second))
			}
			d = min(d, left)
		}
		if err := clock.Sleep(ctx, d, o.After); err != nil {
			return st, err
		}
		waited += d
		interval = min(time.Duration(float64(interval)*waitGrowth), o.MaxInterval)
	}
}

// syncOver reports whether every data type waited for is final, or an error
// wrapping ErrTokenRejected when one ended in AuthError. When it is not
// over, pending describes what is still running.
func syncOver(companyID string, st DataStatuses, only []string) (bool, string, error) {
	keys := only
	if len(keys) == 0 {
		keys = make([]string, 0, len(st))
		for k := range st {
			keys = append(keys, k)
		}
		slices.Sort(keys)
	}
	var running []string
	started := false
	for _, k := range keys {
		ds, ok := st[k]
		status := ds.CurrentStatus
		if status == "AuthError" {
			return true, "", fmt.Errorf("codat: sync of %s for company %s ended in AuthError: %w", k, companyID, ErrTokenRejected)
		}
		switch {
		case !ok || status == "":
			if len(only) > 0 {
				running = append(running, k+" (not queued yet)") // asked for explicitly: wait until it is queued and done
			}
		case !IsTerminalSyncStatus(status):
			started = true
			running = append(running, k+" ("+status+")")
		default:
			started = true
		}
	}
	switch {
	case len(running) > 0:
		return false, describePending(running), nil
	case !started:
		return false, "no data type has started syncing", nil
	}
	return true, "", nil
}

// describePending lists up to five data types still running.
func describePending(running []string) string {
	const show = 5
	if len(running) <= show {
		return "still running: " + strings.Join(running, ", ")
	}
	return fmt.Sprintf("still running: %s and %d more", strings.Join(running[:show], ", "), len(running)-show)
}

// failedDataTypes lists, sorted, the data types whose sync ended in an error
// status.
func failedDataTypes(st DataStatuses) []string {
	var out []string
	for k, ds := range st {
		if strings.HasSuffix(ds.CurrentStatus, "Error") {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// syncStarted reports whether any data type of the company has a status:
// a sync was queued at some point.
func syncStarted(st DataStatuses) bool {
	for _, ds := range st {
		if ds.CurrentStatus != "" {
			return true
		}
	}
	return false
}
