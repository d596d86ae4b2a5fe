package codat

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"
)

// Fuzz targets for the parts of the client that read what a server sends:
// Codat's error body, the Retry-After header and the X-Rate-Limit-* headers.
// `go test` runs their seed corpora; .ci/fuzz runs each one briefly.

// maxErrorLineRunes bounds APIError.Error(): the method and path, the
// status, the message (300 runes), three validation messages (120 each),
// the service (60), the correlation id (80) and the retry wait.
const maxErrorLineRunes = 1200

func fuzzClient(t testing.TB) *Client {
	c, err := NewClient("fuzz-key-0000")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func errorResponse(status int, body []byte, retryAfter string) *http.Response {
	h := http.Header{}
	if retryAfter != "" {
		h.Set("Retry-After", retryAfter)
	}
	return &http.Response{StatusCode: status, Header: h, Body: io.NopCloser(bytes.NewReader(body))}
}

// fuzzStatus maps any int onto the 4xx/5xx statuses decodeError is called with.
func fuzzStatus(n int) int {
	if n < 0 {
		n = -(n + 1)
	}
	return 400 + n%200
}

// checkErrorLine asserts what every APIError.Error() must be: one line of
// valid UTF-8 without control characters, of bounded length, starting with
// the call it describes.
func checkErrorLine(t *testing.T, e *APIError) string {
	t.Helper()
	msg := e.Error()
	if !utf8.ValidString(msg) {
		t.Fatalf("Error() is not valid UTF-8: %q", msg)
	}
	for _, r := range msg {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			t.Fatalf("Error() holds control character %U: %q", r, msg)
		}
	}
	if n := utf8.RuneCountInString(msg); n > maxErrorLineRunes {
		t.Fatalf("Error() is %d runes long, more than %d", n, maxErrorLineRunes)
	}
	if want := "codat: " + e.Method + " " + e.Path + ": " + strconv.Itoa(e.StatusCode); !strings.HasPrefix(msg, want) {
		t.Fatalf("Error() = %q, want prefix %q", msg, want)
	}
	return msg
}

// checkSentinels asserts that errors.Is matches exactly the sentinel of the
// HTTP status, whatever the body said.
func checkSentinels(t *testing.T, e *APIError) {
	t.Helper()
	s := e.StatusCode
	for _, tc := range []struct {
		target error
		want   bool
	}{
		{ErrNotFound, s == 404},
		{ErrUnauthorized, s == 401 || s == 403},
		{ErrRateLimited, s == 429},
		{ErrConflict, s == 409},
		{ErrValidation, s == 400 || s == 422},
	} {
		if got := errors.Is(e, tc.target); got != tc.want {
			t.Fatalf("status %d: errors.Is(%v) = %v, want %v", s, tc.target, got, tc.want)
		}
	}
	if got, want := IsAmbiguous(e), s >= 500; got != want {
		t.Fatalf("status %d: IsAmbiguous = %v, want %v", s, got, want)
	}
}

// FuzzDecodeError feeds arbitrary bodies and Retry-After values to the
// decoding of Codat's error responses.
func FuzzDecodeError(f *testing.F) {
	f.Add(404, []byte(`{"statusCode":404,"service":"PublicApi","error":"Company not found","correlationId":"abc","canBeRetried":"Unknown","detailedErrorCode":0}`), "")
	f.Add(429, []byte(`{"statusCode":429,"error":"Rate limit exceeded"}`), "30")
	f.Add(429, []byte(`{"statusCode":"429","error":null,"canBeRetried":false,"detailedErrorCode":"12"}`), "Wed, 21 Oct 2015 07:28:00 GMT")
	f.Add(400, []byte(`{"statusCode":400,"error":"Validation failed","validation":{"errors":[{"itemId":"name","message":"Name is required","validatorName":"Required"}],"warnings":null}}`), "")
	f.Add(503, []byte(`{"statusCode":500,"error":"Maintenance"}`), "120")
	f.Add(500, []byte("<html><body>Bad gateway\n</body></html>"), "")
	f.Add(422, []byte(`{"error":"line one\nline two\r\u2028three\u0000","service":"a\tb","correlationId":"`+strings.Repeat("x", 500)+`"}`), "-1")
	f.Add(401, []byte(``), "1.5")
	f.Add(409, []byte(`{"error":"\xff\xfe invalid utf8","validation":{"errors":[{"message":"m1"},{"message":"m2"},{"message":"m3"},{"message":"m4"}]}}`), "99999999999999999999")
	f.Add(502, []byte(`[1,2,3]`), "  7  ")
	f.Add(402, []byte(`{"statusCode":1e400}`), "")
	// C1 controls: U+0085 (NEL) ends a line for Unicode-aware log readers and
	// U+009B (CSI) starts a terminal escape sequence.
	f.Add(500, []byte(`{"error":"first\u0085second","service":"\u009b31m","correlationId":"c\u0087"}`), "")

	c := fuzzClient(f)
	f.Fuzz(func(t *testing.T, status int, body []byte, retryAfter string) {
		status = fuzzStatus(status)
		e := c.decodeError(errorResponse(status, body, retryAfter), http.MethodPost, "/companies")
		if e.StatusCode != status {
			t.Fatalf("StatusCode = %d, want the HTTP status %d (the body's statusCode must not win)", e.StatusCode, status)
		}
		checkErrorLine(t, e)
		checkSentinels(t, e)
		if e.RetryAfter < 0 {
			t.Fatalf("RetryAfter = %s, negative", e.RetryAfter)
		}
		if status != 429 && status != 503 && e.RetryAfter != 0 {
			t.Fatalf("status %d: RetryAfter = %s, want 0 (only 429 and 503 carry it)", status, e.RetryAfter)
		}
		if d, ok := parseRetryAfter(retryAfter, time.Now()); (status == 429 || status == 503) && ok && d >= time.Second && e.RetryAfter == 0 {
			t.Fatalf("status %d with Retry-After %q: RetryAfter not set", status, retryAfter)
		}
		if _, ok := IsQuotaExhausted(e); ok && status != 429 {
			t.Fatalf("status %d: IsQuotaExhausted true", status)
		}
		// Codat's schema with well-typed fields: the message must come through.
		var probe struct {
			Error      *string         `json:"error"`
			Validation json.RawMessage `json:"validation"`
		}
		if json.Unmarshal(body, &probe) == nil && probe.Error != nil && wellTypedValidation(probe.Validation) {
			if e.Message != *probe.Error {
				t.Fatalf("Message = %q, want the body's error %q", e.Message, *probe.Error)
			}
		}
	})
}

// wellTypedValidation reports whether raw is absent, null, or an object
// matching Codat's Validation schema.
func wellTypedValidation(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return true
	}
	var v Validation
	return json.Unmarshal(raw, &v) == nil
}

// FuzzDecodeErrorNoLeak checks that an error response's extra fields, which
// may echo what was sent (a token in a validation failure, say), never reach
// Error(): only the method, path, status, message, validation messages,
// service and correlation id do.
func FuzzDecodeErrorNoLeak(f *testing.F) {
	f.Add(400, "Invalid authorization", "PublicApi", "corr-1", "fake-access-token-0001")
	f.Add(422, "", "", "", "eyJhbGciOiJSUzI1NiJ9.eyJleHAiOjE3MDAwMDAwMDB9.ZmFrZQ")
	f.Add(500, "boom", "svc", "c", "refresh token with spaces 1234")
	f.Add(429, "slow down", "", "", "Basic ZmFrZS1rZXk=")
	f.Add(404, "\u0085", "0", "", "0") // a C1 control (NEL) in the message

	c := fuzzClient(f)
	f.Fuzz(func(t *testing.T, status int, message, service, correlation, secret string) {
		status = fuzzStatus(status)
		body, err := json.Marshal(map[string]any{
			"statusCode":    status,
			"error":         message,
			"service":       service,
			"correlationId": correlation,
			"canBeRetried":  secret,
			"requestBody":   map[string]string{"accessToken": secret},
			"validation": map[string]any{
				"errors":   []map[string]string{{"itemId": secret, "message": "accessToken is invalid", "validatorName": secret}},
				"warnings": []map[string]string{{"itemId": "x", "message": secret}},
			},
		})
		if err != nil {
			t.Skip()
		}
		e := c.decodeError(errorResponse(status, body, ""), http.MethodPut, "/companies/c1/connections/k1/authorization")
		msg := checkErrorLine(t, e)
		s := strings.TrimSpace(secret)
		if utf8.RuneCountInString(s) < 8 || !utf8.ValidString(s) || strings.ContainsFunc(s, unicode.IsControl) {
			return // too short to tell apart from the line's own words, or altered by one-line cleaning
		}
		allowed := "codat: PUT /companies/c1/connections/k1/authorization: " + strconv.Itoa(status) + " " +
			http.StatusText(status) + "\x00" + message + "\x00" + service + "\x00" + correlation +
			"\x00accessToken is invalid\x00service correlation id retry after validation"
		if strings.Contains(allowed, s) {
			return
		}
		if strings.Contains(msg, s) {
			t.Fatalf("Error() quotes a value from outside the displayed fields: %q", msg)
		}
	})
}

// FuzzParseRetryAfter checks the Retry-After parser: never negative, exact
// for delay-seconds and HTTP dates, deterministic.
func FuzzParseRetryAfter(f *testing.F) {
	for _, v := range []string{"", "0", "1", "30", "120", " 7 ", "+5", "-1", "1.5", "0.25", "1e3", "NaN", "Inf",
		"99999999999999999999", "9223372036854775807", "Wed, 21 Oct 2015 07:28:00 GMT", "Sunday, 06-Nov-94 08:49:37 GMT",
		"Sun Nov  6 08:49:37 1994", "tomorrow", "0x10", "\x00", "３０"} {
		f.Add(v, int64(1_700_000_000), uint32(42))
	}
	f.Fuzz(func(t *testing.T, v string, nowUnix int64, secs uint32) {
		now := time.Unix(nowUnix%(1<<40), 0).UTC() // years ±34,000: inside what time.Time and HTTP dates represent
		d, ok := parseRetryAfter(v, now)
		if d2, ok2 := parseRetryAfter(v, now); d2 != d || ok2 != ok {
			t.Fatalf("not deterministic for %q", v)
		}
		if !ok && d != 0 {
			t.Fatalf("%q: not ok but d = %s", v, d)
		}
		if ok && d < 0 {
			t.Fatalf("%q: negative wait %s", v, d)
		}
		if strings.TrimSpace(v) == "" && ok {
			t.Fatalf("blank Retry-After accepted")
		}
		if n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 32); err == nil {
			if !ok || d != time.Duration(n)*time.Second {
				t.Fatalf("%q: got %s, %v; want %ds", v, d, ok, n)
			}
		}
		// Round trips: delay-seconds and an HTTP date secs from now.
		want := time.Duration(secs) * time.Second
		if got, ok := parseRetryAfter(strconv.FormatUint(uint64(secs), 10), now); !ok || got != want {
			t.Fatalf("delay-seconds %d: got %s, %v", secs, got, ok)
		}
		if now.Year() >= 1 && now.Year() <= 9999 && now.Add(want).Year() <= 9999 {
			date := now.Add(want).Format(http.TimeFormat)
			if got, ok := parseRetryAfter(date, now); !ok || got != want {
				t.Fatalf("HTTP date %q (now %s): got %s, %v; want %s", date, now.Format(http.TimeFormat), got, ok, want)
			}
			past := now.Add(-want).Format(http.TimeFormat)
			if got, ok := parseRetryAfter(past, now); !ok || got != 0 {
				t.Fatalf("HTTP date in the past %q: got %s, %v; want 0", past, got, ok)
			}
		}
	})
}

// FuzzParseQuota checks the X-Rate-Limit-* header parser: no panic, a
// reset time in UTC, and "seen" exactly when some header was readable.
func FuzzParseQuota(f *testing.F) {
	f.Add("1000", "998", "2025-03-02T00:00:00Z")
	f.Add("2000", "0", "2025-03-02T00:00:00.0000000")
	f.Add("", "", "Sun, 02 Mar 2025 00:00:00 GMT")
	f.Add("x", "-5", "1740873600")
	f.Add("1e3", " 12 ", "1740873600000")
	f.Add("", "", "3/2/2025 12:00:00 AM")
	f.Add("", "", "-1")
	f.Add("", "", "")
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, limit, remaining, reset string) {
		h := http.Header{}
		h.Set("X-Rate-Limit-Limit", limit)
		h.Set("X-Rate-Limit-Remaining", remaining)
		h.Set("X-Rate-Limit-Reset", reset)
		q, ok := parseQuota(h, now)
		// A negative count is ignored like a missing header.
		l, errL := strconv.Atoi(strings.TrimSpace(limit))
		r, errR := strconv.Atoi(strings.TrimSpace(remaining))
		_, okReset := parseReset(reset, now)
		if want := (errL == nil && l >= 0) || (errR == nil && r >= 0) || okReset; ok != want {
			t.Fatalf("seen = %v, want %v", ok, want)
		}
		if ok && !q.Observed.Equal(now) {
			t.Fatalf("Observed = %s", q.Observed)
		}
		if !q.Reset.IsZero() && q.Reset.Location() != time.UTC {
			t.Fatalf("Reset %s is not in UTC", q.Reset)
		}
		var tr quotaTracker
		tr.update(h, now)
		got := tr.get()
		if ok && got != q {
			t.Fatalf("tracker holds %+v, want %+v", got, q)
		}
		if !ok && got.Known() {
			t.Fatalf("tracker took a snapshot from unreadable headers: %+v", got)
		}
	})
}
