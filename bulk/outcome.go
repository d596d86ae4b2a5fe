package bulk

import (
	"context"
	"errors"
	"fmt"

	"github.com/codat-migrate/codat"
)

// ErrorClass is the class of a row's error in the report
// (ReportRow.ErrorClass): short, stable and machine-readable. The constants
// below are every class a run, Plan or Validate reports.
type ErrorClass string

// The error classes of report rows.
const (
	// ClassInvalid: the row failed the offline checks.
	ClassInvalid ErrorClass = "invalid"
	// ClassDuplicate: another row (or a company in Codat) has the row's ref
	// or tenant.
	ClassDuplicate ErrorClass = "duplicate"
	// ClassTokenRejected: Codat rejected the row's token; re-link.
	ClassTokenRejected ErrorClass = "token-rejected"
	// ClassTokenChanged: the journal holds another token for the ref (see
	// Runner.Relink).
	ClassTokenChanged ErrorClass = "token-changed"
	// ClassCanary: a canary did not pass, or failed in an earlier run.
	ClassCanary ErrorClass = "canary"
	// ClassJournal: the journal (the store) could not be read or written.
	ClassJournal ErrorClass = "journal"
	// ClassClaimed: another runner of a shared store is migrating the ref.
	ClassClaimed ErrorClass = "claimed"
	// ClassQuota: the daily quota (or a long rate limit) stopped the row.
	ClassQuota ErrorClass = "quota"
	// ClassUnsettled: an earlier token PUT's outcome is still unknown; a
	// rerun after the settle window finishes the row.
	ClassUnsettled ErrorClass = "unsettled"
	// ClassCanceled: the migration was cancelled in flight.
	ClassCanceled ErrorClass = "canceled"
	// ClassStopped: the run stopped before the row.
	ClassStopped ErrorClass = "stopped"
	// ClassUnauthorized: Codat refused the API key.
	ClassUnauthorized ErrorClass = "unauthorized"
	// ClassValidation: Codat refused a request as invalid.
	ClassValidation ErrorClass = "validation"
	// ClassNotFound: Codat answered 404.
	ClassNotFound ErrorClass = "not-found"
	// ClassConflict: Codat answered 409.
	ClassConflict ErrorClass = "conflict"
	// ClassRateLimited: an error matching codat.ErrRateLimited that carries
	// no 429 response to read its limit from.
	ClassRateLimited ErrorClass = "rate-limited"
	// ClassAccountLimit: Codat's account limit was reached (402).
	ClassAccountLimit ErrorClass = "account-limit"
	// ClassServer: Codat answered 5xx.
	ClassServer ErrorClass = "server"
	// ClassTimeout: a deadline passed.
	ClassTimeout ErrorClass = "timeout"
	// ClassSecretEcho: Codat's answer held the API key or the row's token,
	// and was withheld (codat.ErrSecretEcho); a write's outcome is unknown,
	// and a rerun looks it up.
	ClassSecretEcho ErrorClass = "secret-echo"
	// ClassNetwork: the request failed in transit, its outcome unknown.
	ClassNetwork ErrorClass = "network"
	// ClassError: any other error.
	ClassError ErrorClass = "error"
)

// outcome classifies a migration's result for the report.
func outcome(ctx context.Context, res *codat.MigrationResult, err error) (Status, ErrorClass, string) {
	if err == nil {
		if res.AlreadyMigrated {
			return StatusAlreadyMigrated, "", ""
		}
		return StatusMigrated, "", ""
	}
	msg := err.Error()
	if _, ok := codat.RateLimitOf(err); ok {
		return StatusPendingQuota, ClassQuota, msg
	}
	if errors.Is(err, codat.ErrTokenRejected) {
		return StatusTokenRejected, ClassTokenRejected, msg
	}
	if errors.Is(err, codat.ErrTokenSendUnsettled) {
		// An earlier token PUT's outcome is still unknown: not a failure, a
		// rerun after the settle window finishes it.
		return StatusIncomplete, ClassUnsettled, msg
	}
	if ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
		return StatusIncomplete, ClassCanceled, msg
	}
	return StatusFailed, errorClass(err), msg
}

// migrationOutcome is how a migration ended, for its report row and its
// journal line.
type migrationOutcome struct {
	err    error // Migrate's
	status Status
	class  ErrorClass
	msg    string // scrubbed
	// canaryFailed: a canary migration succeeded but did not pass.
	canaryFailed bool
}

// newOutcome classifies the job's migration result res and error err.
func newOutcome(ctx context.Context, jb *job, res *codat.MigrationResult, err error) migrationOutcome {
	status, class, msg := outcome(ctx, res, err)
	return migrationOutcome{err: err, status: status, class: class, msg: scrub(msg, jb.row),
		canaryFailed: jb.canary && err == nil && !canaryPassed(res)}
}

// report fills rr with the outcome of res, for which this run sent sent
// requests.
func (o migrationOutcome) report(rr ReportRow, res *codat.MigrationResult, sent int) ReportRow {
	rr.CompanyID, rr.ConnectionID, rr.Requests = res.CompanyID, res.ConnectionID, sent
	rr.Status, rr.ErrorClass, rr.Error = o.status, string(o.class), o.msg
	if o.status == StatusTokenRejected {
		rr.LinkURL = res.LinkURL
		var me *codat.MigrationError
		if errors.As(o.err, &me) && me.LinkURL != "" {
			rr.LinkURL = me.LinkURL
		}
	}
	if o.canaryFailed {
		rr.Status, rr.ErrorClass = StatusFailed, string(ClassCanary)
		rr.Error = fmt.Sprintf("canary ended with connection status %q, first sync waited for: %t, data types in error: %v",
			res.Status, res.HasStep(codat.StepWait), res.SyncErrors)
	}
	return rr
}

// errorClass names the kind of a migration error.
func errorClass(err error) ErrorClass {
	var ae *codat.APIError
	switch {
	case errors.Is(err, codat.ErrUnauthorized):
		return ClassUnauthorized
	case errors.Is(err, codat.ErrValidation):
		return ClassValidation
	case errors.Is(err, codat.ErrNotFound):
		return ClassNotFound
	case errors.Is(err, codat.ErrConflict):
		return ClassConflict
	case errors.Is(err, codat.ErrRateLimited):
		return ClassRateLimited
	case errors.As(err, &ae) && ae.StatusCode == 402:
		return ClassAccountLimit
	case errors.As(err, &ae) && ae.StatusCode >= 500:
		return ClassServer
	case errors.Is(err, context.DeadlineExceeded):
		return ClassTimeout
	case errors.Is(err, context.Canceled):
		return ClassCanceled
	case errors.Is(err, codat.ErrSecretEcho):
		return ClassSecretEcho
	case codat.IsAmbiguous(err):
		return ClassNetwork
	}
	return ClassError
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
