package main

import (
	"errors"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/codat-migrate/codat/codattest"
)

// fakeFlagOptions registers the fake's command-line flags on fs and returns a
// function that, after fs.Parse, turns them into codattest Options. It registers:
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
// The listen address is not among them: the fake command registers --addr
// and listens itself, on loopback only.
func fakeFlagOptions(fs *flag.FlagSet) func() ([]codattest.Option, error) {
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
	logSize := fs.Int("request-log", codattest.DefaultRequestLogSize, "requests kept for inspection (0 none, -1 all)")
	return func() ([]codattest.Option, error) {
		if *daily == 0 || *perMin == 0 || *conc == 0 {
			return nil, errors.New("quota flags must be positive or -1 (use -no-quota to disable)")
		}
		opts := []codattest.Option{
			codattest.WithSeed(*seed),
			codattest.WithQuota(codattest.Quota{Daily: *daily, PerMinute: *perMin, ConcurrentPerACC: *conc, InitialACC: *acc, Disabled: *noQuota}),
			codattest.WithLatency(*latency),
			codattest.WithSyncTiming(*fetchAfter, *completeAfter),
			codattest.WithRequestLog(*logSize),
		}
		if *apiKey != "" {
			opts = append(opts, codattest.WithAPIKey(*apiKey))
		}
		if *faultRate < 0 || *faultRate > 1 {
			return nil, fmt.Errorf("-fault-rate %v is outside [0, 1]", *faultRate)
		}
		if *faultRate > 0 {
			faults, err := codattest.ChaosFaults(*faultRate, strings.Split(*faultKinds, ",")...)
			if err != nil {
				return nil, err
			}
			opts = append(opts, codattest.WithFaults(faults...))
		}
		return opts, nil
	}
}
