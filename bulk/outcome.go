package bulk

import (
	"context"
	"errors"

	"github.com/codat-migrate/codat"
)

// outcome classifies a migration's result for the report.
func outcome(ctx context.Context, res *codat.MigrationResult, err error) (Status, string, string) {
	if err == nil {
		if res.AlreadyMigrated {
			return StatusAlreadyMigrated, "", ""
		}
		return StatusMigrated, "", ""
	}
	msg := err.Error()
	if _, ok := codat.RateLimitOf(err); ok {
		return StatusPendingQuota, "quota", msg
	}
	if errors.Is(err, codat.ErrTokenRejected) {
		return StatusTokenRejected, "token-rejected", msg
	}
	if errors.Is(err, codat.ErrTokenSendUnsettled) {
		// An earlier token PUT's outcome is still unknown: not a failure, a
		// rerun after the settle window finishes it.
		return StatusIncomplete, "unsettled", msg
	}
	if ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
		return StatusIncomplete, "canceled", msg
	}
	return StatusFailed, errorClass(err), msg
}

// errorClass names the kind of a migration error.
func errorClass(err error) string {
	var ae *codat.APIError
	switch {
	case errors.Is(err, codat.ErrUnauthorized):
		return "unauthorized"
	case errors.Is(err, codat.ErrValidation):
		return "validation"
	case errors.Is(err, codat.ErrNotFound):
		return "not-found"
	case errors.Is(err, codat.ErrConflict):
		return "conflict"
	case errors.Is(err, codat.ErrRateLimited):
		return "rate-limited"
	case errors.As(err, &ae) && ae.StatusCode == 402:
		return "account-limit"
	case errors.As(err, &ae) && ae.StatusCode >= 500:
		return "server"
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case codat.IsAmbiguous(err):
		return "network"
	}
	return "error"
}

// stopError is why a migration's failure stopped the run. Its text is the
// row's scrubbed error, so it holds no token even when Codat echoed one; it
// matches errors.Is for the sentinel is (codat.ErrUnauthorized, say).
type stopError struct {
	msg string
	is  error
}

func (e *stopError) Error() string { return e.msg }

func (e *stopError) Unwrap() error { return e.is }

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
