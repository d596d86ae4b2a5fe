package codat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode"

	"github.com/codat-migrate/codat/internal/scrub"
)

// Sentinel errors matched by errors.Is against an *APIError.
var (
	// ErrNotFound matches a 404: the company, connection or other object does not exist.
	ErrNotFound = errors.New("codat: not found")
	// ErrUnauthorized matches a 401 (bad API key) or a 403 (outdated key or no access).
	ErrUnauthorized = errors.New("codat: unauthorized")
	// ErrRateLimited matches a 429: the request or daily quota is spent.
	ErrRateLimited = errors.New("codat: rate limited")
	// ErrConflict matches a 409: the resource is not ready, or the same
	// Idempotency-Key is still in flight.
	ErrConflict = errors.New("codat: conflict")
	// ErrValidation matches a 400 or a 422: Codat rejected the request as malformed.
	ErrValidation = errors.New("codat: validation failed")
)

// maxMessageLen bounds how much of Codat's error message goes into Error().
const maxMessageLen = 300

// APIError is a non-2xx response from Codat, decoded from Codat's error body
// ({statusCode, service, error, correlationId, validation, canBeRetried,
// detailedErrorCode}). The HTTP status wins over the body's statusCode.
//
// Match it with errors.As, or its class with errors.Is and the sentinels
// ErrNotFound, ErrUnauthorized, ErrRateLimited, ErrConflict and ErrValidation.
// Its Error() is one line and holds no body, header or query string: only the
// method, the path, the status, Codat's message, service and correlation id.
//
// The texts Codat sent back (Message, Service, CorrelationID, CanBeRetried
// and Validation) are scrubbed of the API key (as given, base64-encoded, and
// so the Authorization header's value) and of every string value of the
// request body (a token body, say), in whole, in part (an echo cut short)
// and base64-encoded, as the one scrubbing policy of this module says:
// values and fragments of at least 6 bytes are replaced with "[REDACTED]".
// An answer that echoes the request cannot leak it.
type APIError struct {
	// StatusCode is the HTTP status of the response.
	StatusCode int
	// Method and Path identify the call; Path is relative to the base URL and
	// has no query string.
	Method, Path string
	// Message is Codat's "error" field (empty when the body was not Codat's error JSON).
	Message string
	// Service is the Codat service that answered, e.g. "PublicApi".
	Service string
	// CorrelationID identifies the request in Codat's logs; quote it to Codat support.
	CorrelationID string
	// CanBeRetried is Codat's hint, a string such as "Unknown".
	CanBeRetried string
	// DetailedErrorCode is Codat's machine-readable error code (often 0).
	DetailedErrorCode int
	// Validation holds Codat's validation errors and warnings, if any.
	Validation *Validation
	// RetryAfter is the wait Codat asked for in Retry-After (429 and 503),
	// zero when absent. A value beyond MaxResetWait is not trusted: it is
	// replaced by the time until the next 00:00 UTC, and Error says so.
	RetryAfter time.Duration

	// observed is when the response arrived; with RetryAfter it gives the reset time.
	observed time.Time
	// quotaReset is X-Rate-Limit-Reset when X-Rate-Limit-Remaining was 0.
	quotaReset time.Time
	// headerReset is X-Rate-Limit-Reset and remaining X-Rate-Limit-Remaining
	// of a 429 (remaining is -1 when absent).
	headerReset time.Time
	remaining   int
	// distrusted names the server's wait when it was beyond MaxResetWait.
	distrusted string
	// ambiguous is set when an earlier attempt of the same call may have taken effect.
	ambiguous bool
	// lost is set when an attempt of the same call may have reached Codat
	// without its answer coming back (a timeout, a dropped connection).
	lost bool
	// codatBody is set when the body was Codat's error JSON with a correlation id.
	codatBody bool
}

// Validation is Codat's description of why a request failed validation.
type Validation struct {
	Errors   []ValidationItem `json:"errors,omitempty"`
	Warnings []ValidationItem `json:"warnings,omitempty"`
}

// ValidationItem is one validation error or warning.
type ValidationItem struct {
	ItemID        string `json:"itemId,omitempty"`
	Message       string `json:"message,omitempty"`
	ValidatorName string `json:"validatorName,omitempty"`
}

// Error returns one readable line, for example
// "codat: POST /companies: 422 Unprocessable Entity: name is required (service PublicApi, correlation id abc)".
func (e *APIError) Error() string {
	var b strings.Builder
	b.WriteString("codat: ")
	b.WriteString(e.Method)
	b.WriteByte(' ')
	b.WriteString(e.Path)
	b.WriteString(": ")
	fmt.Fprintf(&b, "%d", e.StatusCode)
	if t := http.StatusText(e.StatusCode); t != "" {
		b.WriteByte(' ')
		b.WriteString(t)
	}
	if m := oneLine(e.Message, maxMessageLen); m != "" {
		b.WriteString(": ")
		b.WriteString(m)
	}
	if e.Validation != nil {
		var msgs []string
		for _, it := range e.Validation.Errors {
			if m := oneLine(it.Message, 120); m != "" {
				msgs = append(msgs, m)
			}
			if len(msgs) == 3 {
				break
			}
		}
		if len(msgs) > 0 {
			b.WriteString("; validation: ")
			b.WriteString(strings.Join(msgs, "; "))
		}
	}
	var extra []string
	if s := oneLine(e.Service, 60); s != "" {
		extra = append(extra, "service "+s)
	}
	if c := oneLine(e.CorrelationID, 80); c != "" {
		extra = append(extra, "correlation id "+c)
	}
	if e.RetryAfter > 0 {
		extra = append(extra, "retry after "+e.RetryAfter.String())
	}
	if e.distrusted != "" {
		extra = append(extra, e.distrusted+" more than "+fmtHours(MaxResetWait)+
			" ahead not trusted: waiting until the next 00:00 UTC")
	}
	if len(extra) > 0 {
		b.WriteString(" (")
		b.WriteString(strings.Join(extra, ", "))
		b.WriteByte(')')
	}
	return b.String()
}

// Is matches the sentinel errors by HTTP status: 404 ErrNotFound, 401/403
// ErrUnauthorized, 429 ErrRateLimited, 409 ErrConflict, 400/422 ErrValidation.
func (e *APIError) Is(target error) bool {
	switch target {
	case ErrNotFound:
		return e.StatusCode == http.StatusNotFound
	case ErrUnauthorized:
		return e.StatusCode == http.StatusUnauthorized || e.StatusCode == http.StatusForbidden
	case ErrRateLimited:
		return e.StatusCode == http.StatusTooManyRequests
	case ErrConflict:
		return e.StatusCode == http.StatusConflict
	case ErrValidation:
		return e.StatusCode == http.StatusBadRequest || e.StatusCode == http.StatusUnprocessableEntity
	}
	return false
}

// HTTPStatusCode returns the HTTP status of the response.
func (e *APIError) HTTPStatusCode() int { return e.StatusCode }

// Temporary reports whether the same request may succeed later: 408, 409,
// 429 and 5xx.
func (e *APIError) Temporary() bool {
	switch e.StatusCode {
	case http.StatusRequestTimeout, http.StatusConflict, http.StatusTooManyRequests:
		return true
	}
	return e.StatusCode >= 500
}

// TransportError is a call that got no HTTP response it could use: the
// connection failed, the context was cancelled or timed out, or a wait for a
// retry or for the client-side rate limit was interrupted.
//
// Its Error() names the method and the path (no query string) and the cause.
// Unwrap gives the cause, so errors.Is(err, context.Canceled) works.
type TransportError struct {
	// Method and Path identify the call; Path is relative to the base URL.
	Method, Path string
	// Attempts is how many HTTP attempts the call made.
	Attempts int
	// Ambiguous reports whether the call may have taken effect at Codat: an
	// attempt may have left without a usable answer coming back (a broken
	// connection, a timeout, a cancellation in flight), or answered with a
	// 5xx. It is false when no attempt can have taken effect (for example a
	// dial error, a 429, or a cancellation before anything was sent).
	Ambiguous bool
	// Err is the cause.
	Err error
}

// Error returns one line: "codat: GET /companies/x: <cause> (after 3 attempts)".
func (e *TransportError) Error() string {
	s := fmt.Sprintf("codat: %s %s: %s", e.Method, e.Path, oneLine(causeText(e.Err), 300))
	if e.Attempts > 1 {
		s += fmt.Sprintf(" (after %d attempts)", e.Attempts)
	}
	return s
}

// Unwrap returns the cause.
func (e *TransportError) Unwrap() error { return e.Err }

// Timeout reports whether the cause was a timeout or a deadline.
func (e *TransportError) Timeout() bool {
	if errors.Is(e.Err, context.DeadlineExceeded) {
		return true
	}
	var t interface{ Timeout() bool }
	return errors.As(e.Err, &t) && t.Timeout()
}

// DecodeError is a 2xx response whose body could not be decoded into the
// expected model. It never quotes the body.
type DecodeError struct {
	Method, Path string
	StatusCode   int
	// Type names the model, e.g. "codat.Company".
	Type string
	// Err is the decoding error (kept for errors.As; Error() does not print
	// its text, which may quote the body).
	Err error

	detail string // the description of Err, scrubbed; empty: computed from Err
}

// Error returns one line describing the failure without quoting the body.
func (e *DecodeError) Error() string {
	detail := e.detail
	if detail == "" {
		detail = describeJSONError(e.Err)
	}
	return fmt.Sprintf("codat: %s %s: %d %s: cannot decode response as %s: %s",
		e.Method, e.Path, e.StatusCode, http.StatusText(e.StatusCode), e.Type, oneLine(detail, 200))
}

// Unwrap returns the decoding error.
func (e *DecodeError) Unwrap() error { return e.Err }

// IsAmbiguous reports whether err leaves a write in an unknown state: it may
// or may not have taken effect at Codat. That is a transport failure after the
// request may have left (including a timeout or a cancelled context while the
// request was in flight), or a 5xx response, or any error of a call whose
// earlier attempt was one of those, or a write's 2xx answer withheld because
// it held a secret (SecretEchoError). A caller should look the object up
// before sending the write again.
//
// Every error err wraps is considered (errors joined or wrapped with several
// %w included): one ambiguous part makes err ambiguous.
func IsAmbiguous(err error) bool {
	return anyError(err, func(e error) bool {
		switch e := e.(type) {
		case *APIError:
			return e.StatusCode >= 500 || e.ambiguous
		case *TransportError:
			return e.Ambiguous
		case *SecretEchoError:
			return e.ambiguous()
		}
		return false
	})
}

// settled reports whether e is a finished answer from Codat itself, so that
// a look-up made afterwards shows whether the write took effect: a 5xx other
// than 502 and 504 (which gateways send while the request may still be
// running behind them) that carries Codat's error body with a correlation id,
// from a call none of whose attempts lost its answer. Anything else may leave
// the request running at Codat.
func (e *APIError) settled() bool {
	if e == nil || e.StatusCode < 500 || e.StatusCode > 599 {
		return false
	}
	if e.StatusCode == http.StatusBadGateway || e.StatusCode == http.StatusGatewayTimeout {
		return false
	}
	return e.codatBody && !e.lost
}

// IsQuotaExhausted reports whether err is a 429 that the client did not wait
// out and that is not known to be a short limit: its Retry-After exceeded
// RetryPolicy.MaxWait (or retries ran out), or the rate-limit headers said no
// requests remain. reset is when Codat said requests may resume; the caller
// should stop until then. Every error err wraps is considered; the first such
// 429 found gives reset.
//
// A 429 whose X-Rate-Limit-Remaining says requests remain today, with a wait
// that ends before X-Rate-Limit-Reset, is the per-minute or concurrency limit,
// not the quota: IsQuotaExhausted is false for it. RateLimitOf reports every
// 429 with its kind, for a caller that pauses for short limits.
func IsQuotaExhausted(err error) (reset time.Time, ok bool) {
	anyError(err, func(e error) bool {
		ae, isAPI := e.(*APIError)
		if !isAPI || ae == nil || ae.StatusCode != http.StatusTooManyRequests {
			return false
		}
		if ae.RetryAfter <= 0 && ae.quotaReset.IsZero() {
			return false // no time to resume: nothing to stop for
		}
		rl := ae.rateLimit()
		if rl.Kind == RateLimitShort {
			return false
		}
		reset, ok = rl.Until, true
		return true
	})
	return reset, ok
}

// anyError walks err's tree depth first, as errors.As does, and reports
// whether match is true for some error in it.
func anyError(err error, match func(error) bool) bool {
	for err != nil {
		if match(err) {
			return true
		}
		switch u := err.(type) {
		case interface{ Unwrap() error }:
			err = u.Unwrap()
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				if anyError(e, match) {
					return true
				}
			}
			return false
		default:
			return false
		}
	}
	return false
}

// oneLine collapses spaces, line separators and control characters (C0,
// DEL and C1, such as U+0085 NEL) into single spaces and truncates s to max
// runes.
func oneLine(s string, max int) string {
	var b strings.Builder
	space := false
	n := 0
	for _, r := range s {
		if r == ' ' || unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			space = true
			continue
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
			n++
		}
		space = false
		if n >= max {
			b.WriteString("…")
			return b.String()
		}
		b.WriteRune(r)
		n++
	}
	return b.String()
}

// fmtHours formats a whole number of hours, e.g. "25h".
func fmtHours(d time.Duration) string { return fmt.Sprintf("%dh", int(d/time.Hour)) }

func errorf(format string, args ...any) error {
	return fmt.Errorf("codat: "+format, args...)
}

// bodyValues returns the string values of a JSON request body (not its
// keys): what a server echoing the request could send back.
func bodyValues(body []byte) []string {
	var v any
	if len(body) == 0 || json.Unmarshal(body, &v) != nil {
		return nil
	}
	var out []string
	var walk func(any)
	walk = func(v any) {
		switch v := v.(type) {
		case string:
			out = append(out, v)
		case map[string]any:
			for _, x := range v {
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(v)
	return out
}

// scrub removes the call's secrets (see Client.scrubber) from the texts
// Codat sent back (message, service, correlation id, canBeRetried,
// validation items). A server that echoes the request, such as a token body
// or the Authorization header, in its error then cannot leak it through
// Error(), %+v or the logs.
func (e *APIError) scrub(set *scrub.Set) {
	if set.Empty() {
		return
	}
	clean := func(s *string) { *s = set.String(*s) }
	clean(&e.Message)
	clean(&e.Service)
	clean(&e.CorrelationID)
	clean(&e.CanBeRetried)
	if e.Validation != nil {
		for _, items := range [][]ValidationItem{e.Validation.Errors, e.Validation.Warnings} {
			for i := range items {
				clean(&items[i].ItemID)
				clean(&items[i].Message)
				clean(&items[i].ValidatorName)
			}
		}
	}
}

// scrubbedError is a cause whose text had a secret removed. Error gives the
// scrubbed text; Unwrap the original, so that errors.Is and errors.As still
// see it (its own text is not used by this package).
type scrubbedError struct {
	msg string
	err error
}

func (e *scrubbedError) Error() string { return e.msg }
func (e *scrubbedError) Unwrap() error { return e.err }

// scrubCause returns err, or a scrubbedError when its text holds a secret of set.
func scrubCause(err error, set *scrub.Set) error {
	if err == nil || set.Empty() {
		return err
	}
	msg := err.Error()
	if clean := set.String(msg); clean != msg {
		return &scrubbedError{msg: clean, err: err}
	}
	return err
}
