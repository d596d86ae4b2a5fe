package codattest

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"
)

// FlagOptions registers the fake's command-line flags on fs and returns a
// function that, after fs.Parse, turns them into Options. It registers:
//
//	-api-key string          API key to accept (default: derived from -seed)
//	-seed int                seed for ids, the default key and faults (default 1)
//	-quota-daily int         daily requests per (1 + ACC) (default 1000; -1 unlimited)
//	-quota-per-minute int    requests per minute per client address (default 1000; -1 unlimited)
//	-quota-concurrent int    concurrent requests per ACC (default 10; -1 unlimited)
//	-quota-acc int           ACC for the first day (default 0)
//	-no-quota                turn every rate limit off
//	-latency duration        added to every request (default 0)
//	-fault-rate float        probability that a request meets an injected fault (default 0)
//	-fault-kinds string      kinds drawn at -fault-rate (default "before,after,drop,rate-limit")
//	-sync-fetch-after duration, -sync-complete-after duration   pull operation timing (1s, 5s)
//	-request-log int         requests kept for inspection (default 100000)
//
// The listen address is not among them: the caller registers its own flag
// (for example --addr) and passes WithAddr; the address must be loopback.
func FlagOptions(fs *flag.FlagSet) func() ([]Option, error) {
	apiKey := fs.String("api-key", "", "API key the fake accepts (default: derived from -seed)")
	seed := fs.Int64("seed", 1, "seed for generated ids, the default API key and probabilistic faults")
	daily := fs.Int("quota-daily", 1000, "daily request quota per (1 + ACC); -1 for unlimited")
	perMin := fs.Int("quota-per-minute", 1000, "requests per minute per client address; -1 for unlimited")
	conc := fs.Int("quota-concurrent", 10, "concurrent requests per ACC (at least this many); -1 for unlimited")
	acc := fs.Int("quota-acc", 0, "active connected companies counted for the first day")
	noQuota := fs.Bool("no-quota", false, "disable every rate limit (no X-Rate-Limit headers)")
	latency := fs.Duration("latency", 0, "latency added to every request")
	faultRate := fs.Float64("fault-rate", 0, "probability in [0,1] that a request meets an injected fault")
	faultKinds := fs.String("fault-kinds", "before,after,drop,rate-limit", "comma-separated fault kinds drawn at -fault-rate")
	fetchAfter := fs.Duration("sync-fetch-after", time.Second, "time a pull operation stays Queued")
	completeAfter := fs.Duration("sync-complete-after", 5*time.Second, "time until a pull operation finishes")
	logSize := fs.Int("request-log", DefaultRequestLogSize, "requests kept for inspection (0 none, -1 all)")
	return func() ([]Option, error) {
		if *daily == 0 || *perMin == 0 || *conc == 0 {
			return nil, errors.New("codattest: quota flags must be positive or -1 (use -no-quota to disable)")
		}
		opts := []Option{
			WithSeed(*seed),
			WithQuota(Quota{Daily: *daily, PerMinute: *perMin, ConcurrentPerACC: *conc, InitialACC: *acc, Disabled: *noQuota}),
			WithLatency(*latency),
			WithSyncTiming(*fetchAfter, *completeAfter),
			WithRequestLog(*logSize),
		}
		if *apiKey != "" {
			opts = append(opts, WithAPIKey(*apiKey))
		}
		if *faultRate < 0 || *faultRate > 1 {
			return nil, fmt.Errorf("codattest: -fault-rate %v is outside [0, 1]", *faultRate)
		}
		if *faultRate > 0 {
			faults, err := ChaosFaults(*faultRate, strings.Split(*faultKinds, ",")...)
			if err != nil {
				return nil, err
			}
			opts = append(opts, WithFaults(faults...))
		}
		return opts, nil
	}
}

// ChaosFaults returns faults on every route such that a request meets one of
// the given kinds (names as ParseFaultKind reads them) with probability about
// rate, the kinds sharing it equally. A latency kind adds 2s; a rate-limit
// kind asks for a 1s wait.
func ChaosFaults(rate float64, kinds ...string) ([]Fault, error) {
	if rate <= 0 || rate > 1 {
		return nil, fmt.Errorf("codattest: chaos rate %v is outside (0, 1]", rate)
	}
	var ks []FaultKind
	for _, k := range kinds {
		if strings.TrimSpace(k) == "" {
			continue
		}
		fk, err := ParseFaultKind(k)
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

// Serve runs a fake until ctx is done: it starts it (loopback addresses only,
// see WithAddr), writes its URL and API key to w, and closes it when ctx
// ends. It is what `codat-migrate fake` runs.
func Serve(ctx context.Context, w io.Writer, opts ...Option) error {
	s, err := Start(opts...)
	if err != nil {
		return err
	}
	defer s.Close()
	if _, err := fmt.Fprintf(w, "Fake Codat API listening on %s\nAPI key: %s\n", s.URL(), s.APIKey()); err != nil {
		return err
	}
	<-ctx.Done()
	return nil
}
