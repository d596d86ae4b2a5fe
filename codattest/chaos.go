package codattest

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// ChaosFaults returns faults on every route such that a request meets one of
// the given kinds (the names FaultKind.String returns, or "before", "after",
// "drop") with probability about rate, the kinds sharing it equally. A
// latency kind adds 2s; a rate-limit kind asks for a 1s wait.
func ChaosFaults(rate float64, kinds ...string) ([]Fault, error) {
	if rate <= 0 || rate > 1 {
		return nil, fmt.Errorf("codattest: chaos rate %v is outside (0, 1]", rate)
	}
	var ks []FaultKind
	for _, k := range kinds {
		if strings.TrimSpace(k) == "" {
			continue
		}
		fk, err := parseFaultKind(k)
		if err != nil {
			return nil, err
		}
		ks = append(ks, fk)
	}
	if len(ks) == 0 {
		return nil, errors.New("codattest: no fault kinds given")
	}
	each := rate / float64(len(ks))
	out := make([]Fault, 0, len(ks))
	for _, k := range ks {
		f := Fault{Kind: k, Rate: each}
		switch k {
		case FaultBeforeCommit:
			f.Status = 503
		case FaultAfterCommit:
			f.Status = 500
		case FaultLatency:
			f.Latency = 2 * time.Second
		case FaultRateLimit:
			f.RetryAfter = time.Second
		}
		out = append(out, f)
	}
	return out, nil
}
