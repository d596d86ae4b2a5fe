package bulk

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/codat-migrate/codat"
)

func TestOutcomeClasses(t *testing.T) {
	live := context.Background()
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name   string
		ctx    context.Context
		res    *codat.MigrationResult
		err    error
		status Status
		class  ErrorClass
	}{
		{"migrated", live, &codat.MigrationResult{}, nil, StatusMigrated, ""},
		{"already migrated", live, &codat.MigrationResult{AlreadyMigrated: true}, nil, StatusAlreadyMigrated, ""},
		{"token rejected", live, nil, fmt.Errorf("put: %w", codat.ErrTokenRejected), StatusTokenRejected, ClassTokenRejected},
		{"unsettled", live, nil, codat.ErrTokenSendUnsettled, StatusIncomplete, ClassUnsettled},
		{"cancelled in flight", cancelled, nil, context.Canceled, StatusIncomplete, ClassCanceled},
		{"unauthorized", live, nil, &codat.APIError{StatusCode: 401}, StatusFailed, ClassUnauthorized},
		{"validation", live, nil, &codat.APIError{StatusCode: 400}, StatusFailed, ClassValidation},
		{"not found", live, nil, &codat.APIError{StatusCode: 404}, StatusFailed, ClassNotFound},
		{"conflict", live, nil, &codat.APIError{StatusCode: 409}, StatusFailed, ClassConflict},
		{"a 429", live, nil, &codat.APIError{StatusCode: 429}, StatusPendingQuota, ClassQuota},
		{"rate limited, no 429 to read", live, nil, fmt.Errorf("start: %w", codat.ErrRateLimited), StatusFailed, ClassRateLimited},
		{"account limit", live, nil, &codat.APIError{StatusCode: 402}, StatusFailed, ClassAccountLimit},
		{"server", live, nil, &codat.APIError{StatusCode: 503}, StatusFailed, ClassServer},
		{"timeout", live, nil, context.DeadlineExceeded, StatusFailed, ClassTimeout},
		{"canceled, run not cancelled", live, nil, context.Canceled, StatusFailed, ClassCanceled},
		{"network", live, nil, &codat.TransportError{Ambiguous: true}, StatusFailed, ClassNetwork},
		{"secret echo", live, nil, &codat.SecretEchoError{Method: "POST", Path: "/companies", StatusCode: 200, Secret: "the API key"}, StatusFailed, ClassSecretEcho},
		{"other", live, nil, errors.New("boom"), StatusFailed, ClassError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, class, _ := outcome(tt.ctx, tt.res, tt.err)
			assert.Equal(t, tt.status, status)
			assert.Equal(t, tt.class, class)
		})
	}
}
