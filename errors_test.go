package codat_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/codat-migrate/codat"
	"github.com/codat-migrate/codat/internal/testutil"
)

func TestAPIErrorString(t *testing.T) {
	tests := []struct {
		name string
		err  *codat.APIError
		want string
	}{
		{"full", &codat.APIError{StatusCode: 422, Method: "POST", Path: "/companies", Message: "Idempotency key reused", Service: "PublicApi", CorrelationID: "abc"},
			"codat: POST /companies: 422 Unprocessable Entity: Idempotency key reused (service PublicApi, correlation id abc)"},
		{"status only", &codat.APIError{StatusCode: 502, Method: "GET", Path: "/companies/x"},
			"codat: GET /companies/x: 502 Bad Gateway"},
		{"retry after", &codat.APIError{StatusCode: 429, Method: "GET", Path: "/companies", Message: "slow down", RetryAfter: 90 * time.Minute},
			"codat: GET /companies: 429 Too Many Requests: slow down (retry after 1h30m0s)"},
		{"multi-line message is one line", &codat.APIError{StatusCode: 400, Method: "POST", Path: "/companies", Message: "bad\nrequest\r\n\tname"},
			"codat: POST /companies: 400 Bad Request: bad request name"},
		{"validation", &codat.APIError{StatusCode: 400, Method: "POST", Path: "/companies", Message: "invalid",
			Validation: &codat.Validation{Errors: []codat.ValidationItem{{Message: "name is required"}, {Message: "tags: too many"}}}},
			"codat: POST /companies: 400 Bad Request: invalid; validation: name is required; tags: too many"},
		{"unknown status", &codat.APIError{StatusCode: 599, Method: "GET", Path: "/x"}, "codat: GET /x: 599"},
		{"C1 control characters are spaces", &codat.APIError{StatusCode: 400, Method: "POST", Path: "/companies", Message: "first\u0085second\u009b31m",
			Service: "a\u0087b"},
			"codat: POST /companies: 400 Bad Request: first second 31m (service a b)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, tc.err.Error())
		})
	}
}

func TestAPIErrorMessageIsBounded(t *testing.T) {
	e := &codat.APIError{StatusCode: 400, Method: "POST", Path: "/companies", Message: strings.Repeat("x", 10000)}
	s := e.Error()
	assert.Less(t, len(s), 500)
	assert.NotContains(t, s, "\n")
}

func TestSentinels(t *testing.T) {
	sentinels := []error{codat.ErrNotFound, codat.ErrUnauthorized, codat.ErrRateLimited, codat.ErrConflict, codat.ErrValidation}
	tests := []struct {
		status int
		want   error // nil: matches none
	}{
		{400, codat.ErrValidation}, {401, codat.ErrUnauthorized}, {402, nil}, {403, codat.ErrUnauthorized},
		{404, codat.ErrNotFound}, {409, codat.ErrConflict}, {422, codat.ErrValidation}, {429, codat.ErrRateLimited},
		{500, nil}, {503, nil},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprint(tc.status), func(t *testing.T) {
			err := fmt.Errorf("wrapped: %w", &codat.APIError{StatusCode: tc.status})
			for _, s := range sentinels {
				assert.Equal(t, s == tc.want, errors.Is(err, s), "%d vs %v", tc.status, s)
			}
		})
	}
}

func TestAPIErrorBehaviour(t *testing.T) {
	e := &codat.APIError{StatusCode: 503}
	assert.Equal(t, 503, e.HTTPStatusCode())
	assert.True(t, e.Temporary())
	assert.False(t, (&codat.APIError{StatusCode: 404}).Temporary())
	assert.True(t, (&codat.APIError{StatusCode: 429}).Temporary())
}

func TestIsAmbiguous(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"plain", errors.New("x"), false},
		{"404", &codat.APIError{StatusCode: 404}, false},
		{"429", &codat.APIError{StatusCode: 429}, false},
		{"500", &codat.APIError{StatusCode: 500}, true},
		{"wrapped 502", fmt.Errorf("step: %w", &codat.APIError{StatusCode: 502}), true},
		{"transport, maybe sent", &codat.TransportError{Ambiguous: true, Err: io.ErrUnexpectedEOF}, true},
		{"transport, never sent", &codat.TransportError{Err: errors.New("dial tcp: connection refused")}, false},
		{"bare context error", context.Canceled, false},
	}
	for _, tc := range tests {
		assert.Equal(t, tc.want, codat.IsAmbiguous(tc.err), tc.name)
	}
}

func TestIsQuotaExhausted(t *testing.T) {
	_, ok := codat.IsQuotaExhausted(nil)
	assert.False(t, ok)
	_, ok = codat.IsQuotaExhausted(&codat.APIError{StatusCode: 429})
	assert.False(t, ok, "a 429 without a wait or reset says nothing about when to resume")
	_, ok = codat.IsQuotaExhausted(&codat.APIError{StatusCode: 503, RetryAfter: time.Hour})
	assert.False(t, ok)
	reset, ok := codat.IsQuotaExhausted(fmt.Errorf("w: %w", &codat.APIError{StatusCode: 429, RetryAfter: time.Hour}))
	require.True(t, ok)
	assert.WithinDuration(t, time.Now().Add(time.Hour), reset, time.Minute)
}

func TestTransportErrorString(t *testing.T) {
	e := &codat.TransportError{Method: "PUT", Path: "/companies/a/connections/b/authorization", Attempts: 2, Err: context.DeadlineExceeded}
	assert.Equal(t, "codat: PUT /companies/a/connections/b/authorization: context deadline exceeded (after 2 attempts)", e.Error())
	assert.True(t, e.Timeout())
	assert.ErrorIs(t, e, context.DeadlineExceeded)
}

func TestErrorBodyDecoding(t *testing.T) {
	tests := []struct {
		name  string
		body  string
		check func(t *testing.T, e *codat.APIError)
	}{
		{"Codat body", `{"statusCode":400,"service":"ClientsApi","error":"Bad","correlationId":"c1","canBeRetried":"Unknown","detailedErrorCode":7,
			"validation":{"errors":[{"itemId":"name","message":"required","validatorName":"Name"}],"warnings":null}}`,
			func(t *testing.T, e *codat.APIError) {
				assert.Equal(t, "Bad", e.Message)
				assert.Equal(t, "ClientsApi", e.Service)
				assert.Equal(t, 7, e.DetailedErrorCode)
				require.NotNil(t, e.Validation)
				assert.Equal(t, "required", e.Validation.Errors[0].Message)
			}},
		{"body status disagrees with HTTP", `{"statusCode":429,"error":"limit"}`,
			func(t *testing.T, e *codat.APIError) { assert.Equal(t, 400, e.StatusCode, "the HTTP status wins") }},
		{"canBeRetried as a bool", `{"error":"x","canBeRetried":true,"detailedErrorCode":"12"}`,
			func(t *testing.T, e *codat.APIError) {
				assert.Equal(t, "true", e.CanBeRetried)
				assert.Equal(t, 12, e.DetailedErrorCode)
			}},
		{"empty validation is dropped", `{"error":"x","validation":{"errors":null,"warnings":null}}`,
			func(t *testing.T, e *codat.APIError) { assert.Nil(t, e.Validation) }},
		{"not JSON", `<html>oops</html>`, func(t *testing.T, e *codat.APIError) { assert.Empty(t, e.Message) }},
		{"JSON of another shape", `["a","b"]`, func(t *testing.T, e *codat.APIError) { assert.Empty(t, e.Message) }},
		{"oversized body", `{"error":"` + strings.Repeat("y", 100<<10) + `"}`,
			func(t *testing.T, e *codat.APIError) {
				assert.Empty(t, e.Message, "a body past the 64 KiB cap is not decoded")
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newSDKHarness(t, codat.WithRetryPolicy(codat.NoRetries()))
			h.handleAll(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(400)
				_, _ = io.WriteString(w, tc.body)
			})
			_, err := h.client.Companies.Get(context.Background(), sdkCompanyID)
			var ae *codat.APIError
			require.ErrorAs(t, err, &ae)
			assert.Equal(t, 400, ae.StatusCode)
			tc.check(t, ae)
		})
	}
}

func TestErrorsLogCorrelationID(t *testing.T) {
	h := newSDKHarness(t)
	h.handleAll(func(w http.ResponseWriter, r *http.Request) {
		testutil.CodatError(w, 404, "gone", "corr-logged")
	})
	_, err := h.client.Companies.Get(context.Background(), sdkCompanyID)
	require.Error(t, err)
	logs := h.logs.String()
	assert.Contains(t, logs, `"correlation_id":"corr-logged"`)
	assert.Contains(t, logs, `"status":404`)
	assert.NotContains(t, logs, "gone", "Codat's message is not logged: it may echo input")
}

// A server that echoes the request body in its error answer cannot leak a
// token through the *APIError: every body value of 4 bytes or more is
// replaced with [REDACTED] in Codat's texts, before anything logs them.
func TestAPIErrorScrubsEchoedBody(t *testing.T) {
	const token = "tok-ECHOED-<&>-5e4d3c2b1a"
	escaped := `tok-ECHOED-\u003c\u0026\u003e-5e4d3c2b1a` // as it appears inside a JSON text
	h := newSDKHarness(t, codat.WithRetryPolicy(codat.NoRetries()))
	h.handleAll(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		testutil.WriteJSON(w, 400, map[string]any{
			"statusCode":    400,
			"service":       "PublicApi " + token,
			"error":         "Invalid token " + token + " in body " + string(body) + "; realmId 123 is unknown",
			"correlationId": "corr-" + token,
			"canBeRetried":  token,
			"validation": map[string]any{
				"errors": []map[string]string{
					{"itemId": token, "message": "accessToken " + token + " is malformed", "validatorName": token},
					{"itemId": "x", "message": "refresh " + strings.TrimSpace(token) + " expired"},
				},
				"warnings": []map[string]string{{"itemId": "w", "message": "echo " + escaped}},
			},
		})
	})
	_, err := h.client.Connections.UpdateAuthorization(context.Background(), sdkCompanyID, sdkConnectionID,
		sdkAuth{key: "qhyg", body: map[string]string{"accessToken": token, "realmId": "123"}})
	var ae *codat.APIError
	require.ErrorAs(t, err, &ae)
	wrapped := fmt.Errorf("step: %w", err)
	texts := map[string]string{
		"Error()": err.Error(), "%+v": fmt.Sprintf("%+v", err), "%#v": fmt.Sprintf("%#v", ae),
		"%+v wrapped": fmt.Sprintf("%+v", wrapped), "logs": h.logs.String(),
		"fields": strings.Join([]string{ae.Message, ae.Service, ae.CorrelationID, ae.CanBeRetried}, " "),
	}
	require.NotNil(t, ae.Validation)
	for _, items := range [][]codat.ValidationItem{ae.Validation.Errors, ae.Validation.Warnings} {
		for _, it := range items {
			texts["validation"] += it.ItemID + " " + it.Message + " " + it.ValidatorName + " "
		}
	}
	for what, text := range texts {
		testutil.AssertNoSecrets(t, what, text, token)
		assert.NotContains(t, text, escaped, what)
	}
	assert.Contains(t, err.Error(), "Invalid token [REDACTED]")
	assert.Contains(t, err.Error(), "accessToken [REDACTED] is malformed")
	assert.Contains(t, err.Error(), "realmId 123 is unknown", "a value shorter than 4 bytes is left alone")
	assert.Contains(t, ae.Validation.Warnings[0].Message, "echo [REDACTED]")
	assert.Contains(t, h.logs.String(), "corr-[REDACTED]", "the logged correlation id is scrubbed too")

	// A call without a body is not scrubbed.
	h2 := newSDKHarness(t, codat.WithRetryPolicy(codat.NoRetries()))
	h2.handleAll(func(w http.ResponseWriter, r *http.Request) {
		testutil.CodatError(w, 404, "No company was found with ID "+sdkCompanyID, "corr-1")
	})
	_, err = h2.client.Companies.Get(context.Background(), sdkCompanyID)
	assert.Contains(t, err.Error(), "No company was found with ID "+sdkCompanyID)
}

// IsAmbiguous and IsQuotaExhausted look at every error err wraps, not only
// the first *APIError errors.As would find.
func TestErrorPredicatesSeeWholeTree(t *testing.T) {
	quota := &codat.APIError{StatusCode: 429, RetryAfter: time.Hour}
	server := &codat.APIError{StatusCode: 500}
	lost := &codat.TransportError{Ambiguous: true, Err: io.ErrUnexpectedEOF}
	tests := []struct {
		name             string
		err              error
		ambiguous, quota bool
	}{
		{"5xx then 429", fmt.Errorf("%w; read back: %w", server, quota), true, true},
		{"429 then 5xx", fmt.Errorf("%w (after: %w)", quota, server), true, true},
		{"joined", errors.Join(&codat.APIError{StatusCode: 404}, lost), true, false},
		{"404 wrapping nothing else", fmt.Errorf("x: %w", &codat.APIError{StatusCode: 404}), false, false},
		{"429 without reset", fmt.Errorf("%w; %w", &codat.APIError{StatusCode: 429}, errors.New("y")), false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.ambiguous, codat.IsAmbiguous(tc.err))
			reset, ok := codat.IsQuotaExhausted(tc.err)
			assert.Equal(t, tc.quota, ok)
			if ok {
				assert.WithinDuration(t, time.Now().Add(time.Hour), reset, time.Minute)
			}
		})
	}
}
