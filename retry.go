package codat

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// RetryPolicy bounds the retries of one call. Which failures are retried
// depends on the call's retry class (see the method docs):
//
//   - read (GET, DELETE): transport errors, 408, 429, 500, 502, 503, 504.
//   - keyed write (POST create company/connection, refresh; PATCH): every
//     attempt carries the same Idempotency-Key; transport errors, 409 (the
//     same key in flight) and 429 are retried. A 5xx is returned at once:
//     Codat replays a cached 5xx for the same key, so the caller must look the
//     object up before writing again.
//   - authorization (PUT …/authorization): only 429 and failures where the
//     request never left (dial and DNS errors).
//
// A Retry-After on a 429 or 503 is honoured when it is at most MaxWait; a
// longer one ends the call with an *APIError whose RetryAfter says how long
// to stop. Every wait respects the call's context.
type RetryPolicy struct {
	// MaxAttempts is the most HTTP attempts one call makes, the first included (≥ 1).
	MaxAttempts int
	// MinBackoff and MaxBackoff bound the exponential backoff between attempts.
	MinBackoff, MaxBackoff time.Duration
	// MaxWait is the longest Retry-After the client will sleep through.
	MaxWait time.Duration
}

// DefaultRetryPolicy returns 5 attempts, backoff from 500ms to 30s, and
// Retry-After waits of up to one minute.
func DefaultRetryPolicy() RetryPolicy {
	return RetryPolicy{MaxAttempts: 5, MinBackoff: 500 * time.Millisecond, MaxBackoff: 30 * time.Second, MaxWait: time.Minute}
}

// NoRetries returns a policy that makes a single attempt per call.
func NoRetries() RetryPolicy {
	return RetryPolicy{MaxAttempts: 1}
}

func (p RetryPolicy) validate() error {
	switch {
	case p.MaxAttempts < 1:
		return fmt.Errorf("codat: WithRetryPolicy: MaxAttempts must be at least 1, got %d", p.MaxAttempts)
	case p.MinBackoff < 0 || p.MaxBackoff < 0 || p.MaxWait < 0:
		return errors.New("codat: WithRetryPolicy: durations must not be negative")
	case p.MaxBackoff < p.MinBackoff:
		return fmt.Errorf("codat: WithRetryPolicy: MaxBackoff %s is less than MinBackoff %s", p.MaxBackoff, p.MinBackoff)
	}
	return nil
}

// retryClass says which failures of a call may be retried.
type retryClass int

const (
	classRead  retryClass = iota // GET, DELETE
	classKeyed                   // POST/PATCH with Idempotency-Key
	classAuth                    // PUT …/authorization
)

func (r retryClass) String() string {
	switch r {
	case classRead:
		return "read"
	case classKeyed:
		return "keyed-write"
	case classAuth:
		return "authorization"
	}
	return "unknown"
}

// checkRetry is the retryablehttp.CheckRetry of every call: it reads the
// call's class from the context.
//
// An answer that arrived is always used, even when the context ended just
// as it came: a 2xx then counts as the success it is (its body may still
// fail to read, which is reported as ambiguous), and an error answer as that
// answer. Reporting the bare context error instead would hide a write that
// took effect behind an error that says nothing was done. With the context
// over, no retry is sent.
func (c *Client) checkRetry(ctx context.Context, resp *http.Response, err error) (bool, error) {
	if err == nil && resp != nil && ctx.Err() != nil {
		return false, nil
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		return false, ctxErr
	}
	class := classRead
	if st := stateFrom(ctx); st != nil {
		class = st.class
	}
	if err != nil {
		if !retryableTransport(err) {
			return false, nil
		}
		if class == classAuth {
			return neverLeft(err), nil
		}
		return true, nil
	}
	if resp == nil {
		return false, nil
	}
	code := resp.StatusCode
	if code == http.StatusTooManyRequests || code == http.StatusServiceUnavailable {
		if d, ok := parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()); ok && d > c.policy.MaxWait {
			return false, nil // too long to sleep: the caller gets RetryAfter
		}
	}
	switch class {
	case classRead:
		switch code {
		case http.StatusRequestTimeout, http.StatusTooManyRequests, http.StatusInternalServerError,
			http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			return true, nil
		}
	case classKeyed:
		return code == http.StatusConflict || code == http.StatusTooManyRequests, nil
	case classAuth:
		return code == http.StatusTooManyRequests, nil
	}
	return false, nil
}

// backoff is the retryablehttp.Backoff: Retry-After when present on a 429 or
// 503 (already checked against MaxWait), otherwise exponential with jitter.
func (c *Client) backoff(min, max time.Duration, attempt int, resp *http.Response) time.Duration {
	if resp != nil && (resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable) {
		if d, ok := parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
			return d
		}
	}
	return expBackoff(min, max, attempt)
}

// expBackoff returns a wait between half and all of min·2^attempt, capped at max.
func expBackoff(min, max time.Duration, attempt int) time.Duration {
	if max <= 0 || min <= 0 {
		return min
	}
	d := float64(min) * math.Pow(2, float64(attempt))
	if d > float64(max) || math.IsInf(d, 0) {
		d = float64(max)
	}
	half := d / 2
	return time.Duration(half + rand.Float64()*half)
}

// parseRetryAfter reads Retry-After as delay-seconds or an HTTP date; a
// number it cannot hold is ignored. It does not judge the value: the caller
// distrusts one beyond MaxResetWait.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < 0 {
			return 0, false
		}
		if n > int64(math.MaxInt64/int64(time.Second)) {
			n = int64(math.MaxInt64 / int64(time.Second))
		}
		return time.Duration(n) * time.Second, true
	}
	if f, err := strconv.ParseFloat(v, 64); err == nil && f >= 0 && f < 1e9 {
		return time.Duration(f * float64(time.Second)), true
	}
	if t, err := http.ParseTime(v); err == nil {
		d := t.Sub(now)
		if d < 0 {
			d = 0
		}
		return d, true
	}
	return 0, false
}

// neverLeft reports whether a transport error happened before the request
// could have reached the server: a failed dial or name lookup.
func neverLeft(err error) bool {
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return true
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) {
		return opErr.Op == "dial"
	}
	return false
}

// retryableTransport rules out transport errors that no retry can fix: a
// bad certificate, too many redirects, an unsupported scheme. (A cancelled
// call context is handled before this; a per-attempt http.Client timeout is
// retryable.)
func retryableTransport(err error) bool {
	var certErr *x509.UnknownAuthorityError
	if errors.As(err, &certErr) {
		return false
	}
	var hostErr x509.HostnameError
	if errors.As(err, &hostErr) {
		return false
	}
	var invalidErr x509.CertificateInvalidError
	if errors.As(err, &invalidErr) {
		return false
	}
	msg := err.Error()
	if strings.Contains(msg, "stopped after") && strings.Contains(msg, "redirects") {
		return false
	}
	if strings.Contains(msg, "unsupported protocol scheme") {
		return false
	}
	return true
}
