package codattest

import (
	"errors"
	"fmt"
	"net"
	"time"
)

// Option configures a Server. Options check their arguments and report
// problems as errors: Start returns them, NewServer panics with them.
type Option func(*config) error

type config struct {
	apiKey        string
	clock         Clock
	quota         Quota
	seed          int64
	seedSet       bool
	listener      net.Listener
	addr          string
	fetchAfter    time.Duration
	completeAfter time.Duration
	latency       time.Duration
	logSize       int
	idemTTL       time.Duration
	faults        []Fault

	integrations   map[string]*integration
	sorted         []*integration
	added          []Integration
	requiredFields map[string][]string
	dataTypes      map[string][]string
	rejectPlatform map[string]bool
	rejectedTokens map[string]bool
	rejecters      []func(platformKey string, body map[string]string) bool
}

func defaultConfig() *config {
	return &config{
		clock:          realClock{},
		quota:          DefaultQuota(),
		fetchAfter:     time.Second,
		completeAfter:  5 * time.Second,
		logSize:        DefaultRequestLogSize,
		idemTTL:        DefaultIdempotencyTTL,
		requiredFields: map[string][]string{},
		dataTypes:      map[string][]string{},
		rejectPlatform: map[string]bool{},
		rejectedTokens: map[string]bool{},
	}
}

// finish resolves the options that refer to integrations, once all options
// (including WithIntegration) have been applied.
func (c *config) finish() error {
	c.integrations = builtinRegistry()
	for _, in := range c.added {
		w := completeIntegration(in)
		prev := c.integrations[w.Key]
		e := &integration{wire: w, dataTypes: defaultDataTypes[w.SourceType]}
		if prev != nil && prev.wire.SourceType == w.SourceType {
			e.dataTypes = prev.dataTypes
		}
		c.integrations[w.Key] = e
	}
	for k, f := range c.requiredFields {
		in, ok := c.integrations[k]
		if !ok {
			return fmt.Errorf("codattest: WithRequiredFields: unknown platform key %q", k)
		}
		in.required = f
	}
	for k, t := range c.dataTypes {
		in, ok := c.integrations[k]
		if !ok {
			return fmt.Errorf("codattest: WithDataTypes: unknown platform key %q", k)
		}
		in.dataTypes = t
	}
	for k := range c.rejectPlatform {
		in, ok := c.integrations[k]
		if !ok {
			return fmt.Errorf("codattest: WithRejectedPlatform: unknown platform key %q", k)
		}
		in.reject = true
	}
	if c.apiKey == "" {
		c.apiKey = generatedAPIKey(c.seed)
	}
	c.sorted = sortedIntegrations(c.integrations)
	return nil
}

// WithAPIKey sets the API key clients must send, as "Authorization: Basic " +
// base64(key). By default a 40-character key is derived from the seed.
func WithAPIKey(key string) Option {
	return func(c *config) error {
		if key == "" {
			return errors.New("codattest: WithAPIKey: empty key")
		}
		c.apiKey = key
		return nil
	}
}

// WithClock sets the clock that drives pull-operation progress, quota resets,
// idempotency expiry and returned dates. The default is the wall clock.
func WithClock(clk Clock) Option {
	return func(c *config) error {
		if clk == nil {
			return errors.New("codattest: WithClock: nil clock")
		}
		c.clock = clk
		return nil
	}
}

// WithQuota sets the rate limits (see Quota for defaults and counting).
func WithQuota(q Quota) Option {
	return func(c *config) error {
		n, err := q.normalized()
		if err != nil {
			return err
		}
		c.quota = n
		return nil
	}
}

// WithoutQuota turns every rate limit off; no X-Rate-Limit-* headers are sent.
func WithoutQuota() Option {
	return func(c *config) error {
		c.quota.Disabled = true
		return nil
	}
}

// WithSeed seeds the generators behind ids, the default API key and
// probabilistic faults, so a run can be repeated. The default seed is 1.
func WithSeed(seed int64) Option {
	return func(c *config) error {
		c.seed, c.seedSet = seed, true
		return nil
	}
}

// WithRequiredFields makes PUT …/authorization for platformKey answer 400
// unless the body has every named field with a non-empty value.
func WithRequiredFields(platformKey string, fields ...string) Option {
	return func(c *config) error {
		if !isPlatformKey(platformKey) {
			return fmt.Errorf("codattest: WithRequiredFields: %q is not a platform key", platformKey)
		}
		c.requiredFields[platformKey] = append([]string(nil), fields...)
		return nil
	}
}

// WithRejectedToken makes the platform reject any authorization body in which
// some field has exactly this value: the connection becomes Deauthorized.
func WithRejectedToken(value string) Option {
	return func(c *config) error {
		if value == "" {
			return errors.New("codattest: WithRejectedToken: empty value")
		}
		c.rejectedTokens[value] = true
		return nil
	}
}

// WithTokenRejecter adds a function deciding whether a platform rejects an
// authorization body; it returns true to reject. It is called with the fake's
// lock released, possibly from many goroutines, and must not keep body.
func WithTokenRejecter(reject func(platformKey string, body map[string]string) bool) Option {
	return func(c *config) error {
		if reject == nil {
			return errors.New("codattest: WithTokenRejecter: nil function")
		}
		c.rejecters = append(c.rejecters, reject)
		return nil
	}
}

// WithRejectedPlatform makes every authorization body for platformKey be
// rejected.
func WithRejectedPlatform(platformKey string) Option {
	return func(c *config) error {
		c.rejectPlatform[platformKey] = true
		return nil
	}
}

// WithDataTypes sets the data types that POST data/all queues for
// connections to platformKey (and that data/queue accepts for them). Every
// type must be one of the contract's data type keys. No types means the
// platform pulls nothing.
func WithDataTypes(platformKey string, types ...string) Option {
	return func(c *config) error {
		for _, t := range types {
			if !isDataType(t) {
				return fmt.Errorf("codattest: WithDataTypes: %q is not a data type of the contract", t)
			}
		}
		c.dataTypes[platformKey] = append([]string{}, types...)
		return nil
	}
}

// WithIntegration adds an integration to the registry or replaces the one
// with the same key (for example to set Enabled false). Empty ids, logo and
// source type are filled in. Options that name the key may come before or
// after it.
func WithIntegration(in Integration) Option {
	return func(c *config) error {
		if !isPlatformKey(in.Key) {
			return fmt.Errorf("codattest: WithIntegration: %q is not a platform key", in.Key)
		}
		if in.Name == "" {
			return errors.New("codattest: WithIntegration: empty name")
		}
		if in.SourceType != "" && !sourceTypes[in.SourceType] {
			return fmt.Errorf("codattest: WithIntegration: unknown source type %q", in.SourceType)
		}
		c.added = append(c.added, in)
		return nil
	}
}

// WithSyncTiming sets how pull operations progress on the server's clock:
// Queued until fetchAfter after they were requested, then Fetching, then
// finished (Complete, or AuthError for a connection whose token was
// rejected) at completeAfter. Defaults: 1s and 5s.
func WithSyncTiming(fetchAfter, completeAfter time.Duration) Option {
	return func(c *config) error {
		if fetchAfter < 0 || completeAfter < fetchAfter {
			return errors.New("codattest: WithSyncTiming: need 0 ≤ fetchAfter ≤ completeAfter")
		}
		c.fetchAfter, c.completeAfter = fetchAfter, completeAfter
		return nil
	}
}

// WithLatency adds d of real time to every authenticated, admitted request.
func WithLatency(d time.Duration) Option {
	return func(c *config) error {
		if d < 0 {
			return errors.New("codattest: WithLatency: negative latency")
		}
		c.latency = d
		return nil
	}
}

// WithRequestLog sets how many recent requests Requests returns: 0 keeps
// none (RequestCount still counts), a negative size keeps all. The default
// is DefaultRequestLogSize.
func WithRequestLog(size int) Option {
	return func(c *config) error {
		c.logSize = size
		return nil
	}
}

// WithIdempotencyTTL changes how long an Idempotency-Key's first response is
// replayed (default 90 minutes of the server's clock).
func WithIdempotencyTTL(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return errors.New("codattest: WithIdempotencyTTL: need a positive duration")
		}
		c.idemTTL = d
		return nil
	}
}

// WithFaults injects faults from the start (see Server.InjectFault).
func WithFaults(faults ...Fault) Option {
	return func(c *config) error {
		c.faults = append(c.faults, faults...)
		return nil
	}
}

// WithListener serves on l instead of a new 127.0.0.1 listener. The address
// must be a loopback one; the server closes l when it is closed.
func WithListener(l net.Listener) Option {
	return func(c *config) error {
		if l == nil {
			return errors.New("codattest: WithListener: nil listener")
		}
		if err := checkLoopback(l.Addr().String()); err != nil {
			return err
		}
		c.listener = l
		return nil
	}
}

// WithAddr serves on addr ("127.0.0.1:8080", "localhost:0", "[::1]:9000").
// Any address that is not loopback is refused: the fake has no security and
// must never be reachable from another machine.
func WithAddr(addr string) Option {
	return func(c *config) error {
		if err := checkLoopback(addr); err != nil {
			return err
		}
		c.addr = addr
		return nil
	}
}

// checkLoopback accepts "localhost" and loopback IP literals only.
func checkLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("codattest: address %q: %v", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("codattest: refusing to serve on %q: only loopback addresses (127.0.0.0/8, ::1, localhost) are allowed", addr)
	}
	return nil
}
