package bulk

import (
	"encoding/json"
	"maps"

	"github.com/codat-migrate/codat"
)

// stateChanged reports whether r differs from the journaled e in what a
// resume depends on, other than its steps.
func stateChanged(e *Record, r *codat.MigrationResult) bool {
	return e.CompanyID != r.CompanyID || e.ConnectionID != r.ConnectionID || e.Status != string(r.Status) ||
		e.LinkURL != r.LinkURL || e.TokenSent != r.TokenSent || e.PlatformKey != r.PlatformKey ||
		!sameTokenSend(e.TokenSend, r.TokenSend) || !maps.Equal(e.KeyGen, r.KeyGen)
}

func sameTokenSend(a, b *codat.TokenSend) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.At.Equal(b.At) && a.Fingerprint == b.Fingerprint
}

// sameRecord reports whether a and b record the same state (nil for none).
func sameRecord(a, b *Record) bool {
	if a == nil || b == nil {
		return a == b
	}
	ja, erra := json.Marshal(a)
	jb, errb := json.Marshal(b)
	return erra == nil && errb == nil && string(ja) == string(jb)
}

func isPrefix(prefix, steps []codat.Step) bool {
	if len(prefix) > len(steps) {
		return false
	}
	for i := range prefix {
		if prefix[i] != steps[i] {
			return false
		}
	}
	return true
}
