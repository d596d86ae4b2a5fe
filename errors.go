package codat

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
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
	// RetryAfter is the wait Codat asked for in Retry-After (429 and 503), zero when absent.
	RetryAfter time.Duration

	// observed is when the response arrived; with RetryAfter it gives the reset time.
	observed time.Time
	// quotaReset is X-Rate-Limit-Reset when X-Rate-Limit-Remaining was 0.
	quotaReset time.Time
	// ambiguous is set when an earlier attempt of the same call may have taken effect.
	ambiguous bool
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
}

// Error returns one line describing the failure without quoting the body.
func (e *DecodeError) Error() string {
	return fmt.Sprintf("codat: %s %s: %d %s: cannot decode response as %s: %s",
		e.Method, e.Path, e.StatusCode, http.StatusText(e.StatusCode), e.Type, describeJSONError(e.Err))
}

// Unwrap returns the decoding error.
func (e *DecodeError) Unwrap() error { return e.Err }

// IsAmbiguous reports whether err leaves a write in an unknown state: it may
// or may not have taken effect at Codat. That is a transport failure after the
// request may have left (including a timeout or a cancelled context while the
// request was in flight), or a 5xx response, or any error of a call whose
// earlier attempt was one of those. A caller should look the object up
// before sending the write again.
func IsAmbiguous(err error) bool {
	if err == nil {
		return false
	}
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.StatusCode >= 500 || ae.ambiguous
	}
	var te *TransportError
	if errors.As(err, &te) {
		return te.Ambiguous
	}
	return false
}

// IsQuotaExhausted reports whether err is a 429 that the client did not wait
// out: its Retry-After exceeded RetryPolicy.MaxWait (or retries ran out), or
// the rate-limit headers said no requests remain. reset is when Codat said
// requests may resume; the caller should stop until then.
func IsQuotaExhausted(err error) (reset time.Time, ok bool) {
	var ae *APIError
	if !errors.As(err, &ae) || ae.StatusCode != http.StatusTooManyRequests {
		return time.Time{}, false
	}
	if ae.RetryAfter > 0 {
		base := ae.observed
		if base.IsZero() {
			base = time.Now()
		}
		return base.Add(ae.RetryAfter), true
	}
	if !ae.quotaReset.IsZero() {
		return ae.quotaReset, true
	}
	return time.Time{}, false
}

// oneLine collapses whitespace and control characters into single spaces and
// truncates s to max runes.
func oneLine(s string, max int) string {
	var b strings.Builder
	space := false
	n := 0
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r == ' ' || r == '\u2028' || r == '\u2029' {
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

func errorf(format string, args ...any) error {
	return fmt.Errorf("codat: "+format, args...)
}
