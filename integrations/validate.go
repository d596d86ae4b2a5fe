package integrations

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// ErrInvalid is matched (errors.Is) by every *ValidationError.
var ErrInvalid = errors.New("integrations: invalid authorization")

// Problem is one thing wrong with one field. Reason never contains the
// field's value.
type Problem struct {
	// Field is the wire name, or for FromRecord the column, at fault.
	Field string
	// Reason says what is wrong, e.g. "is required", "expired at 2024-05-01T10:00:00Z".
	Reason string
}

// ValidationError is what Body and FromRecord return when a body or a record
// is not valid. It names the platform and each bad field, never a value.
type ValidationError struct {
	// Platform is the platform key, Name its name when the registry knows it.
	Platform, Name string
	// Problems lists every problem found, in field order.
	Problems []Problem
	// Expected describes the platform's fields (Platform.Expected) when the
	// record did not fit them (a missing required field or an unknown column).
	Expected string
}

// Error returns one line: the platform, then each problem, then the expected
// fields when the input did not fit them.
func (e *ValidationError) Error() string {
	var b strings.Builder
	b.WriteString("integrations: ")
	if e.Name != "" {
		fmt.Fprintf(&b, "%s (%s)", e.Name, e.Platform)
	} else {
		fmt.Fprintf(&b, "platform %q", e.Platform)
	}
	b.WriteString(": ")
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "%q %s", p.Field, p.Reason)
	}
	if e.Expected != "" {
		b.WriteString(" (expected fields, ")
		b.WriteString(e.Expected)
		b.WriteString(")")
	}
	return b.String()
}

// Is makes errors.Is(err, ErrInvalid) true.
func (e *ValidationError) Is(target error) bool { return target == ErrInvalid }

// Fields returns the names of the fields with problems, in order.
func (e *ValidationError) Fields() []string {
	out := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		out[i] = p.Field
	}
	return out
}

var (
	uuidPattern  = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	shopPattern  = regexp.MustCompile(`^[a-z0-9][a-z0-9\-]*\.myshopify\.com$`)
	digitPattern = regexp.MustCompile(`^[0-9]{1,32}$`)
	epochPattern = regexp.MustCompile(`^[0-9]{1,16}$`)
)

const maxIDLen = 256

// checkValue checks v against format and returns why it is invalid, or "" when
// it is valid. The reason never contains v.
func checkValue(format FieldFormat, v string, now time.Time) string {
	reason, _ := checkValueExpiry(format, v, now)
	return reason
}

// checkValueExpiry is checkValue that also reports whether the value's only
// fault is that it has expired: a JWT past its exp claim, or an expiry time
// that is not in the future.
func checkValueExpiry(format FieldFormat, v string, now time.Time) (reason string, expired bool) {
	reason = checkFormat(format, v, now)
	return reason, reason == reasonPast || strings.HasPrefix(reason, reasonJWTExpired)
}

// The reasons an expired value is given.
const (
	reasonPast       = "is in the past"
	reasonJWTExpired = "is a JWT that expired at "
)

// expiryTolerated reports whether an expired value of a field with this role
// is acceptable when the body also carries a refresh token: the access token
// and its expiry time. Codat refreshes an expired access token with the
// refresh token, as the old system would have.
func expiryTolerated(role Role) bool {
	return role == RoleAccessToken || role == RoleExpiresAt
}

// problemList collects a body's problems in field order, marking those an
// expired access token causes, which a refresh token in the same body
// excuses (see expiryTolerated).
type problemList struct {
	probs     []Problem
	tolerable []bool
}

// check validates one value of a field with role and records its problem,
// if any. It reports whether the value is valid.
func (l *problemList) check(field string, role Role, format FieldFormat, v string, now time.Time) bool {
	reason, expired := checkValueExpiry(format, v, now)
	if reason == "" {
		return true
	}
	l.probs = append(l.probs, Problem{field, reason})
	l.tolerable = append(l.tolerable, expired && expiryTolerated(role))
	return false
}

// add records a problem that nothing excuses.
func (l *problemList) add(p Problem) {
	l.probs = append(l.probs, p)
	l.tolerable = append(l.tolerable, false)
}

// result returns the problems that count: without the expiry problems of the
// access token and its expiry time when refresh is true (the body has a
// valid, non-blank refresh token). Those values are still sent.
func (l *problemList) result(refresh bool) []Problem {
	var probs []Problem
	for i, p := range l.probs {
		if !(refresh && l.tolerable[i]) {
			probs = append(probs, p)
		}
	}
	return probs
}

// checkFormat is checkValue's body.
func checkFormat(format FieldFormat, v string, now time.Time) string {
	if strings.TrimSpace(v) == "" {
		return "is blank"
	}
	if !utf8.ValidString(v) {
		return "is not valid UTF-8 text"
	}
	if strings.ContainsFunc(v, unicode.IsControl) {
		return "contains control characters (a tab or a line break?)"
	}
	hasSpace := strings.ContainsFunc(v, unicode.IsSpace)
	switch format {
	case FormatToken:
		if len(v) > 7 && strings.EqualFold(v[:7], "bearer ") {
			return `must not include the "Bearer " prefix`
		}
		if hasSpace {
			return "contains whitespace"
		}
		return checkJWT(v, now)
	case FormatID:
		if hasSpace {
			return "contains whitespace"
		}
		if len(v) > maxIDLen {
			return fmt.Sprintf("is longer than %d bytes", maxIDLen)
		}
	case FormatNumeric:
		if !digitPattern.MatchString(v) {
			return "must be digits only"
		}
	case FormatUUID:
		if !uuidPattern.MatchString(v) {
			return "must be a UUID (8-4-4-4-12 hex digits)"
		}
	case FormatShopDomain:
		lv := strings.ToLower(v)
		if strings.Contains(lv, "://") || strings.Contains(lv, "/") {
			return "must be the shop's myshopify.com domain without a scheme or a path"
		}
		if !shopPattern.MatchString(lv) {
			return "must be a shop domain ending in .myshopify.com"
		}
	case FormatURL:
		if hasSpace {
			return "contains whitespace"
		}
		u, err := url.Parse(v)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return "must be an absolute http or https URL"
		}
		if u.User != nil {
			return "must not carry a user name or password"
		}
	case FormatExpiry:
		t, ok := parseExpiry(v)
		if !ok {
			return "must be an RFC 3339 time or a Unix epoch in seconds or milliseconds"
		}
		if !t.After(now) {
			return reasonPast
		}
	default: // FormatText and unknown-but-validated formats
		return checkJWT(v, now)
	}
	return ""
}

// parseExpiry reads an RFC 3339 time or a Unix epoch in seconds (or, when it
// has 13 or more digits, milliseconds).
func parseExpiry(v string) (time.Time, bool) {
	if epochPattern.MatchString(v) {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return time.Time{}, false
		}
		if len(v) >= 13 {
			return time.UnixMilli(n).UTC(), true
		}
		return time.Unix(n, 0).UTC(), true
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, false
	}
	return t, true
}

// checkJWT reads the exp claim of v when v is a JWT (three base64url parts
// whose first is a JSON header naming an "alg") and reports an expired token.
// The signature is not checked: the provider does that. Anything that is not
// a JWT is accepted as an opaque token.
func checkJWT(v string, now time.Time) string {
	exp, isJWT, reason := jwtExpiry(v)
	if !isJWT {
		return ""
	}
	if reason != "" {
		return reason
	}
	if !exp.IsZero() && !exp.After(now) {
		return reasonJWTExpired + exp.UTC().Format(time.RFC3339)
	}
	return ""
}

// jwtExpiry returns the exp claim of a JWT (zero when absent), whether v is a
// JWT at all, and why its claims cannot be read.
func jwtExpiry(v string) (exp time.Time, isJWT bool, reason string) {
	parts := strings.Split(v, ".")
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" {
		return time.Time{}, false, ""
	}
	header, err := decodeSegment(parts[0])
	if err != nil {
		return time.Time{}, false, ""
	}
	var h struct {
		Alg *string `json:"alg"`
	}
	if json.Unmarshal(header, &h) != nil || h.Alg == nil {
		return time.Time{}, false, ""
	}
	payload, err := decodeSegment(parts[1])
	if err != nil {
		return time.Time{}, true, "is a JWT whose claims cannot be decoded"
	}
	var claims map[string]json.RawMessage
	if json.Unmarshal(payload, &claims) != nil {
		return time.Time{}, true, "is a JWT whose claims are not a JSON object"
	}
	raw, ok := claims["exp"]
	if !ok || bytes.Equal(raw, []byte("null")) {
		return time.Time{}, true, ""
	}
	var n json.Number
	if json.Unmarshal(raw, &n) != nil {
		return time.Time{}, true, "is a JWT whose exp claim is not a number"
	}
	f, err := n.Float64()
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 || f > 1e13 {
		return time.Time{}, true, "is a JWT whose exp claim is out of range"
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC(), true, ""
}

func decodeSegment(s string) ([]byte, error) {
	return base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
}
