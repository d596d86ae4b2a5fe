package codat

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/codat-migrate/codat/internal/scrub"
)

func TestRedactedIsTheScrubbersText(t *testing.T) {
	assert.Equal(t, Redacted, scrub.Redacted)
}
