package codat

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

const defaultWaitInterval = 5 * time.Second

// WaitOptions tune SyncService.Wait. The zero value polls every 5 seconds and
// waits for every data type that has a status.
type WaitOptions struct {
	// Interval between two polls (default 5s).
	Interval time.Duration
	// DataTypes, if set, limits the wait to these data types; a listed type
	// that has no status yet is waited for. Otherwise every data type that has
	// a status is waited for and the others (never queued) are ignored.
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
// A data type in AuthError means Codat could not use the connection's token:
// Wait returns at once with an error wrapping ErrTokenRejected. Other error
// statuses end the wait normally; find them in the statuses. Wait stops with
// ctx: give it a deadline, since a data type can stay Queued indefinitely (an
// on-premise connector that is offline, for example).
func (s *SyncService) Wait(ctx context.Context, companyID string, opts *WaitOptions) (DataStatuses, error) {
	var o WaitOptions
	if opts != nil {
		o = *opts
	}
	if o.Interval <= 0 {
		o.Interval = defaultWaitInterval
	}
	for {
		st, err := s.Status(ctx, companyID)
		if err != nil {
			return st, err
		}
		done, err := syncOver(companyID, st, o.DataTypes)
		if err != nil || done {
			return st, err
		}
		if err := sleepCtx(ctx, o.Interval, o.After); err != nil {
			return st, err
		}
	}
}

// syncOver reports whether every data type waited for is final, or an error
// wrapping ErrTokenRejected when one ended in AuthError.
func syncOver(companyID string, st DataStatuses, only []string) (bool, error) {
	keys := only
	if len(keys) == 0 {
		keys = make([]string, 0, len(st))
		for k := range st {
			keys = append(keys, k)
		}
		slices.Sort(keys)
	}
	done := true
	for _, k := range keys {
		ds, ok := st[k]
		status := ds.CurrentStatus
		if status == "AuthError" {
			return true, fmt.Errorf("codat: sync of %s for company %s ended in AuthError: %w", k, companyID, ErrTokenRejected)
		}
		switch {
		case !ok || status == "":
			if len(only) > 0 {
				done = false // asked for explicitly: wait until it is queued and done
			}
		case !IsTerminalSyncStatus(status):
			done = false
		}
	}
	return done, nil
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

// sleepCtx waits d (on after, or real time when nil) or until ctx is done.
func sleepCtx(ctx context.Context, d time.Duration, after func(time.Duration) <-chan time.Time) error {
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
