package codat

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/hashicorp/go-retryablehttp"
	"golang.org/x/time/rate"

	"github.com/codat-migrate/codat/internal/scrub"
)

// Version is the version of this SDK, sent in the default User-Agent.
const Version = "0.1.0"

// DefaultBaseURL is Codat's production API, the only server Codat publishes.
const DefaultBaseURL = "https://api.codat.io"

// DefaultUserAgent is the User-Agent sent unless WithUserAgent sets another.
const DefaultUserAgent = "codat-migrate-go/" + Version

// maxErrorBody caps how much of an error response body is read.
const maxErrorBody = 64 << 10

// maxResponseBody caps how much of a successful response body is read.
const maxResponseBody = 64 << 20

// Client talks to Codat's Platform API. Create it with NewClient; it is safe
// for concurrent use by many goroutines.
type Client struct {
	// Companies is the /companies API.
	Companies *CompaniesService
	// Connections is the /companies/{companyId}/connections API, including
	// the token-migration PUT …/authorization.
	Connections *ConnectionsService
	// Sync is the refresh and data status API.
	Sync *SyncService
	// PullOperations is the /companies/{companyId}/data/history API: the
	// pull operations Sync queued.
	PullOperations *PullOperationsService
	// Integrations is the /integrations metadata API.
	Integrations *IntegrationsService

	creds     *credentials // behind a pointer: fmt prints nested pointers as addresses
	keyCreds  []credential // the API key's forms, compiled once for checkAnswer
	baseURL   *url.URL
	userAgent string
	policy    RetryPolicy
	logger    *slog.Logger
	limiter   *rate.Limiter
	rc        *retryablehttp.Client
	requests  atomic.Int64
	quota     quotaTracker
	idemNS    uuid.UUID // namespace of Migrate's idempotency keys
	inflight  refSet    // refs with a Migrate call running
}

// refSet is the set of refs with a Migrate call in flight on one Client.
// An entry lives exactly as long as its call.
type refSet struct {
	mu   sync.Mutex
	refs map[string]struct{}
}

// add admits ref and reports whether it was not in the set.
func (s *refSet) add(ref string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, busy := s.refs[ref]; busy {
		return false
	}
	if s.refs == nil {
		s.refs = map[string]struct{}{}
	}
	s.refs[ref] = struct{}{}
	return true
}

func (s *refSet) remove(ref string) {
	s.mu.Lock()
	delete(s.refs, ref)
	s.mu.Unlock()
}

func (s *refSet) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.refs)
}

// credentials holds the Authorization header value and the API key's forms
// that answers are scrubbed of. fmt does not call methods on unexported
// fields, so a Secret held directly in Client would print in clear under
// %+v; behind a pointer it prints as an address.
type credentials struct {
	header Secret
	// forms are the API key as given and base64-encoded (the header's value
	// after "Basic "), and, for a ready-made header, the key it decodes to.
	forms []Secret
}

// newCredentials builds the header for key: "Basic " + base64(key), or key
// itself when it already is such a header.
func newCredentials(key string) *credentials {
	if len(key) > 6 && strings.EqualFold(key[:6], "basic ") {
		enc := strings.TrimSpace(key[6:])
		cr := &credentials{header: Secret("Basic " + enc), forms: []Secret{Secret(enc)}}
		if raw, err := base64.StdEncoding.DecodeString(enc); err == nil {
			cr.forms = append(cr.forms, Secret(raw))
		}
		return cr
	}
	enc := base64.StdEncoding.EncodeToString([]byte(key))
	return &credentials{header: Secret("Basic " + enc), forms: []Secret{Secret(key), Secret(enc)}}
}

// compile compiles the API key's forms for checkAnswer.
func (cr *credentials) compile() []credential {
	forms := make([]string, len(cr.forms))
	for i, f := range cr.forms {
		forms[i] = f.Reveal()
	}
	return compileCredentials(forms)
}

// keySet compiles the API key's forms into a scrubbing set.
func (cr *credentials) keySet() *scrub.Set {
	set := scrub.New()
	for _, f := range cr.forms {
		set.Add(f.Reveal())
	}
	return set
}

// scrubber returns the scrubbing set for one call: the API key in every
// form the client knows, every string value of the request body, and the
// credentials the call's context carries (Migrate's token). st may be nil.
func (c *Client) scrubber(st *callState) *scrub.Set {
	set := c.creds.keySet()
	if st == nil {
		return set
	}
	for _, v := range bodyValues(st.body) {
		set.Add(v)
	}
	if st.guard != nil {
		for _, v := range st.guard.secrets {
			set.Add(v)
		}
	}
	return set
}

// String describes the client without its credentials.
func (c *Client) String() string {
	if c == nil {
		return "codat.Client(nil)"
	}
	return fmt.Sprintf("codat.Client{BaseURL: %s, UserAgent: %q, Credentials: %s}", c.baseURL, c.userAgent, Redacted)
}

// GoString describes the client without its credentials, for %#v.
func (c *Client) GoString() string { return c.String() }

type clientConfig struct {
	baseURL    *url.URL
	httpClient *http.Client
	policy     RetryPolicy
	logger     *slog.Logger
	userAgent  string
	limiter    *rate.Limiter
	idemNS     uuid.UUID
}

// Option configures a Client. Options validate their arguments and make
// NewClient fail with a clear error; they never panic.
type Option func(*clientConfig) error

// WithBaseURL sets the API's base URL (default https://api.codat.io). It must
// be https, except for loopback hosts (127.0.0.0/8, ::1, localhost), which may
// use http for tests. It may carry a path prefix; it may not carry user
// information, a query or a fragment.
func WithBaseURL(u string) Option {
	return func(c *clientConfig) error {
		parsed, err := parseBaseURL(u)
		if err != nil {
			return err
		}
		c.baseURL = parsed
		return nil
	}
}

func parseBaseURL(u string) (*url.URL, error) {
	if strings.TrimSpace(u) == "" {
		return nil, errors.New("codat: WithBaseURL: empty URL")
	}
	p, err := url.Parse(u)
	if err != nil {
		return nil, fmt.Errorf("codat: WithBaseURL: not a valid URL")
	}
	if p.Host == "" || p.Opaque != "" {
		return nil, errors.New("codat: WithBaseURL: URL must be absolute, like https://api.codat.io")
	}
	if p.User != nil {
		return nil, errors.New("codat: WithBaseURL: URL must not contain user information")
	}
	if p.RawQuery != "" || p.ForceQuery || p.Fragment != "" {
		return nil, errors.New("codat: WithBaseURL: URL must not contain a query or a fragment")
	}
	switch strings.ToLower(p.Scheme) {
	case "https":
	case "http":
		if !isLoopback(p.Hostname()) {
			return nil, fmt.Errorf("codat: WithBaseURL: http is allowed only for loopback hosts; use https for %s", p.Hostname())
		}
	default:
		return nil, fmt.Errorf("codat: WithBaseURL: scheme %q is not supported; use https", p.Scheme)
	}
	p.Path = strings.TrimRight(p.Path, "/")
	p.RawPath = strings.TrimRight(p.RawPath, "/")
	return p, nil
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// WithHTTPClient sets the *http.Client that carries requests (its Transport,
// Timeout and so on). The client is copied, not modified. Its CheckRedirect is
// not used: the client never follows a redirect (see NewClient).
func WithHTTPClient(hc *http.Client) Option {
	return func(c *clientConfig) error {
		if hc == nil {
			return errors.New("codat: WithHTTPClient: nil *http.Client")
		}
		c.httpClient = hc
		return nil
	}
}

// WithRetryPolicy sets how many attempts a call makes and how long it waits
// between them. See RetryPolicy.
func WithRetryPolicy(p RetryPolicy) Option {
	return func(c *clientConfig) error {
		if err := p.validate(); err != nil {
			return err
		}
		c.policy = p
		return nil
	}
}

// WithLogger sends the client's logs to l: one debug line per HTTP attempt
// (method, path without query, status, attempt, duration), and warnings for
// failed calls (with Codat's correlation id). Headers, query strings and
// bodies are never logged. The default discards logs.
func WithLogger(l *slog.Logger) Option {
	return func(c *clientConfig) error {
		if l == nil {
			return errors.New("codat: WithLogger: nil *slog.Logger")
		}
		c.logger = l
		return nil
	}
}

// WithUserAgent sets the User-Agent header, e.g. "acme-migrator/1.0".
func WithUserAgent(ua string) Option {
	return func(c *clientConfig) error {
		if strings.TrimSpace(ua) == "" {
			return errors.New("codat: WithUserAgent: empty user agent")
		}
		for _, r := range ua {
			if r < 0x20 || r == 0x7f {
				return errors.New("codat: WithUserAgent: user agent contains control characters")
			}
		}
		c.userAgent = ua
		return nil
	}
}

// WithRequestRate paces the client to at most n HTTP attempts per period,
// spread evenly (for example 1000 per minute, Codat's per-IP limit). Every
// attempt, retries included, waits for its turn; the wait respects the
// call's context.
func WithRequestRate(n int, per time.Duration) Option {
	return func(c *clientConfig) error {
		if n <= 0 {
			return fmt.Errorf("codat: WithRequestRate: n must be positive, got %d", n)
		}
		if per <= 0 {
			return fmt.Errorf("codat: WithRequestRate: period must be positive, got %s", per)
		}
		c.limiter = rate.NewLimiter(rate.Limit(float64(n)/per.Seconds()), 1)
		return nil
	}
}

// DefaultIdempotencyNamespace is the UUID namespace of the Idempotency-Keys
// that Migrate derives for its writes (see Client.Migrate) unless
// WithIdempotencyNamespace sets another.
const DefaultIdempotencyNamespace = "6f0c3b1e-6f3c-5b7a-9d2e-3c1f0a8b7d65"

// WithIdempotencyNamespace sets the namespace of the Idempotency-Keys that
// Migrate derives from (namespace, ref, step, generation): the namespace
// UUID becomes the UUIDv5 of name in DefaultIdempotencyNamespace. Processes
// that migrate the same refs into one Codat account must use the same name
// (or none) for their racing writes to collapse at Codat; give two unrelated
// systems that share an account and could reuse each other's refs two
// different names.
func WithIdempotencyNamespace(name string) Option {
	return func(c *clientConfig) error {
		if strings.TrimSpace(name) == "" {
			return errors.New("codat: WithIdempotencyNamespace: empty name")
		}
		c.idemNS = uuid.NewSHA1(uuid.MustParse(DefaultIdempotencyNamespace), []byte(name))
		return nil
	}
}

// RequestOption changes one call of a service method (see IdempotencyKey).
type RequestOption func(*requestOptions) error

// requestOptions is what RequestOptions set on one call.
type requestOptions struct {
	idemKey string
}

// IdempotencyKey sets the Idempotency-Key header of one POST or PATCH call,
// instead of the fresh random UUID the client sends by default. Every retry
// of the call carries it. Send the same key when you repeat a write you may
// already have sent: Codat replays its first answer to that key for 90
// minutes (409 while the first request is still running; 422 if the body
// differs). The key must be 1–255 printable ASCII characters without
// spaces; Codat documents a GUID.
func IdempotencyKey(key string) RequestOption {
	return func(o *requestOptions) error {
		if key == "" || len(key) > 255 {
			return errors.New("codat: IdempotencyKey: the key must be 1–255 characters")
		}
		for i := 0; i < len(key); i++ {
			if key[i] <= ' ' || key[i] >= 0x7f {
				return errors.New("codat: IdempotencyKey: the key must be printable ASCII without spaces")
			}
		}
		o.idemKey = key
		return nil
	}
}

// applyOptions collects opts for a call named op.
func applyOptions(op string, opts []RequestOption) (requestOptions, error) {
	var o requestOptions
	for i, f := range opts {
		if f == nil {
			return o, fmt.Errorf("codat: %s: request option %d is nil", op, i)
		}
		if err := f(&o); err != nil {
			return o, err
		}
	}
	return o, nil
}

// NewClient returns a client that authenticates with apiKey. The key is sent
// as "Authorization: Basic base64(apiKey)"; a value that already starts with
// "Basic " (the ready-made header from Codat's portal) is sent unchanged.
//
// The client never follows redirects: a request body (a token, say) and the
// API key must reach only the configured base URL. A 3xx answer is returned
// as an *APIError.
func NewClient(apiKey string, opts ...Option) (*Client, error) {
	key := strings.TrimSpace(apiKey)
	if key == "" {
		return nil, errors.New("codat: NewClient: empty API key")
	}
	for _, r := range key {
		if r < 0x20 || r == 0x7f {
			return nil, errors.New("codat: NewClient: API key contains control characters")
		}
	}
	cfg := clientConfig{
		policy:    DefaultRetryPolicy(),
		userAgent: DefaultUserAgent,
	}
	for i, o := range opts {
		if o == nil {
			return nil, fmt.Errorf("codat: NewClient: option %d is nil", i)
		}
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	if cfg.baseURL == nil {
		cfg.baseURL, _ = parseBaseURL(DefaultBaseURL)
	}
	if cfg.logger == nil {
		cfg.logger = slog.New(slog.DiscardHandler)
	}

	if cfg.idemNS == uuid.Nil {
		cfg.idemNS = uuid.MustParse(DefaultIdempotencyNamespace)
	}
	c := &Client{
		baseURL:   cfg.baseURL,
		userAgent: cfg.userAgent,
		policy:    cfg.policy,
		logger:    cfg.logger,
		limiter:   cfg.limiter,
		idemNS:    cfg.idemNS,
	}
	c.creds = newCredentials(key)
	c.keyCreds = c.creds.compile()

	var hc http.Client
	if cfg.httpClient != nil {
		hc = *cfg.httpClient
	} else {
		hc = http.Client{Timeout: 60 * time.Second}
	}
	base := hc.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	hc.Transport = &attemptTransport{client: c, base: base}
	// A followed 307 or 308 would re-send the body, tokens included, to
	// whatever host the Location names.
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

	c.rc = &retryablehttp.Client{
		HTTPClient:   &hc,
		Logger:       nil, // our own logging, in attemptTransport
		RetryWaitMin: c.policy.MinBackoff,
		RetryWaitMax: c.policy.MaxBackoff,
		RetryMax:     c.policy.MaxAttempts - 1,
		CheckRetry:   c.checkRetry,
		Backoff:      c.backoff,
		ErrorHandler: retryablehttp.PassthroughErrorHandler,
	}

	c.Companies = &CompaniesService{client: c}
	c.Connections = &ConnectionsService{client: c}
	c.Sync = &SyncService{client: c}
	c.PullOperations = &PullOperationsService{client: c}
	c.Integrations = &IntegrationsService{client: c}
	return c, nil
}

// BaseURL returns the base URL requests are sent to.
func (c *Client) BaseURL() string { return c.baseURL.String() }

// Requests returns how many HTTP attempts this client has sent so far, every
// retry included.
func (c *Client) Requests() int64 { return c.requests.Load() }

// Quota returns the last rate-limit snapshot seen in any response's
// X-Rate-Limit-Limit, -Remaining and -Reset headers. Its Observed field is
// zero until a response carried them.
func (c *Client) Quota() Quota { return c.quota.get() }

// call describes one logical API call.
type call struct {
	method string
	path   string // escaped, relative to the base URL, e.g. "/companies/abc"
	query  url.Values
	body   any // marshalled once to JSON; nil for no body
	class  retryClass
	opts   requestOptions
}

// callState travels on the request context, shared by every attempt of one call.
type callState struct {
	class     retryClass
	method    string
	path      string
	attempts  atomic.Int32
	sent      atomic.Bool  // some attempt may have reached the server
	ambiguous atomic.Bool  // some attempt may have taken effect without a usable answer
	lost      atomic.Bool  // some attempt may have reached the server and got no answer back
	body      []byte       // the request body, for scrubbing what comes back
	guard     *answerGuard // what the call's context says of its answers; nil: nothing

	credOnce sync.Once
	creds    []credential // the call's credentials besides the API key (see credentials)
	public   *scrub.Set   // the values the caller publishes (see answerGuard)
}

type callStateKey struct{}

func stateFrom(ctx context.Context) *callState {
	s, _ := ctx.Value(callStateKey{}).(*callState)
	return s
}

// escapePath builds an escaped path from literal segments and IDs; every
// argument is one path segment.
func escapePath(segments ...string) string {
	var b strings.Builder
	for _, s := range segments {
		b.WriteByte('/')
		b.WriteString(url.PathEscape(s))
	}
	return b.String()
}

// requireIDs fails when an ID that goes into the path is empty.
func requireIDs(op string, kv ...string) error {
	for i := 0; i+1 < len(kv); i += 2 {
		if strings.TrimSpace(kv[i+1]) == "" {
			return fmt.Errorf("codat: %s: %s is empty", op, kv[i])
		}
	}
	return nil
}

// listQuery encodes ListOptions for an endpoint; tagsAllowed is true only for companies.
func listQuery(op string, opts *ListOptions, tagsAllowed bool) (url.Values, error) {
	if opts == nil {
		return nil, nil
	}
	if opts.Page < 0 || opts.PageSize < 0 {
		return nil, fmt.Errorf("codat: %s: page and pageSize must not be negative", op)
	}
	if opts.PageSize > MaxPageSize {
		return nil, fmt.Errorf("codat: %s: pageSize %d exceeds Codat's maximum of %d", op, opts.PageSize, MaxPageSize)
	}
	if opts.Tags != "" && !tagsAllowed {
		return nil, fmt.Errorf("codat: %s: ListOptions.Tags is supported only when listing companies", op)
	}
	return opts.values(), nil
}

// do runs one call: builds the request, sends it through the retrying client,
// and decodes a 2xx body into out (when out is not nil).
func (c *Client) do(ctx context.Context, cl call, out any) error {
	if ctx == nil {
		return fmt.Errorf("codat: %s %s: nil context", cl.method, cl.path)
	}
	req, st, err := c.newRequest(ctx, cl)
	if err != nil {
		return err
	}
	ctx = req.Context() // carries st to every attempt
	resp, err := c.rc.Do(req)
	if err != nil {
		return c.sendError(ctx, st, resp, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return c.statusError(ctx, st, resp)
	}
	return c.decodeResponse(ctx, st, resp, out)
}

// newRequest builds the call's request: its JSON body, its URL under the base
// URL, its headers (an Idempotency-Key on every POST and PATCH) and the
// callState its attempts share, which the request's context carries.
func (c *Client) newRequest(ctx context.Context, cl call) (*retryablehttp.Request, *callState, error) {
	displayPath := cl.path
	if p, err := url.PathUnescape(cl.path); err == nil {
		displayPath = p
	}
	var body []byte
	if cl.body != nil {
		var err error
		body, err = json.Marshal(cl.body)
		if err != nil {
			return nil, nil, fmt.Errorf("codat: %s %s: encoding request body: %w", cl.method, displayPath, err)
		}
	}
	u := *c.baseURL
	u.RawPath = c.baseURL.EscapedPath() + cl.path
	var err error
	if u.Path, err = url.PathUnescape(u.RawPath); err != nil {
		return nil, nil, fmt.Errorf("codat: %s %s: invalid path", cl.method, displayPath)
	}
	if len(cl.query) > 0 {
		u.RawQuery = cl.query.Encode()
	}

	st := &callState{class: cl.class, method: cl.method, path: displayPath, body: body}
	st.guard = guardFrom(ctx)
	ctx = context.WithValue(ctx, callStateKey{}, st)

	var rawBody any
	if body != nil {
		rawBody = body
	}
	req, err := retryablehttp.NewRequestWithContext(ctx, cl.method, u.String(), rawBody)
	if err != nil {
		return nil, nil, fmt.Errorf("codat: %s %s: building request: %w", cl.method, displayPath, err)
	}
	req.Header.Set("Authorization", c.creds.header.Reveal())
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.userAgent)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if cl.method == http.MethodPost || cl.method == http.MethodPatch {
		key := cl.opts.idemKey
		if key == "" {
			key = uuid.NewString()
		}
		req.Header.Set("Idempotency-Key", key)
	}
	return req, st, nil
}

// sendError turns a call that got no HTTP answer (err from the retrying
// client, after its last attempt) into a TransportError, scrubbed and logged.
func (c *Client) sendError(ctx context.Context, st *callState, resp *http.Response, err error) *TransportError {
	if resp != nil && resp.Body != nil {
		_ = resp.Body.Close()
	}
	terr := &TransportError{
		Method:    st.method,
		Path:      st.path,
		Attempts:  int(st.attempts.Load()),
		Ambiguous: st.ambiguous.Load(),
		Err:       scrubCause(transportCause(err), c.scrubber(st)),
	}
	c.logger.LogAttrs(ctx, slog.LevelWarn, "codat request failed",
		slog.String("method", st.method), slog.String("path", st.path),
		slog.Int("attempts", terr.Attempts), slog.String("error", causeText(terr.Err)))
	return terr
}

// statusError decodes a non-2xx answer into an APIError, scrubbed before
// anything logs or prints it, and logs it.
func (c *Client) statusError(ctx context.Context, st *callState, resp *http.Response) *APIError {
	apiErr := c.decodeError(resp, st.method, st.path)
	apiErr.ambiguous = st.ambiguous.Load()
	apiErr.lost = st.lost.Load()
	apiErr.scrub(c.scrubber(st))
	// A 404 or 422 is often an expected answer (a look-up that finds
	// nothing); throttling, server errors, auth failures and redirects
	// (never followed: a wrong base URL, most likely) are not.
	level := slog.LevelDebug
	switch {
	case resp.StatusCode >= 500, resp.StatusCode < 400, resp.StatusCode == http.StatusTooManyRequests,
		resp.StatusCode == http.StatusUnauthorized, resp.StatusCode == http.StatusForbidden:
		level = slog.LevelWarn
	}
	c.logger.LogAttrs(ctx, level, "codat request failed",
		slog.String("method", st.method), slog.String("path", st.path),
		slog.Int("status", resp.StatusCode), slog.Int("attempts", int(st.attempts.Load())),
		slog.String("service", oneLine(apiErr.Service, 60)),
		slog.String("correlation_id", oneLine(apiErr.CorrelationID, 80)))
	return apiErr
}

// decodeResponse reads a 2xx body into out, or drains it when out is nil.
// A body that cannot be read is a TransportError (ambiguous: the call may
// have taken effect); one that holds a secret the call sent a
// SecretEchoError, and is not decoded; an empty or malformed one a
// DecodeError.
func (c *Client) decodeResponse(ctx context.Context, st *callState, resp *http.Response, out any) error {
	if out == nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody))
		return nil
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBody))
	if err != nil {
		return &TransportError{Method: st.method, Path: st.path, Attempts: int(st.attempts.Load()),
			Ambiguous: true, Err: fmt.Errorf("reading response body: %w", scrubCause(transportCause(err), c.scrubber(st)))}
	}
	if err := c.checkAnswer(ctx, st, resp.StatusCode, data); err != nil {
		return err
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return &DecodeError{Method: st.method, Path: st.path, StatusCode: resp.StatusCode,
			Type: typeName(out), Err: errEmptyBody}
	}
	if err := json.Unmarshal(data, out); err != nil {
		de := &DecodeError{Method: st.method, Path: st.path, StatusCode: resp.StatusCode,
			Type: typeName(out), Err: err}
		de.detail = c.scrubber(st).String(describeJSONError(err)) // a field path may hold the server's keys
		return de
	}
	return nil
}

var errEmptyBody = errors.New("empty response body")

func typeName(out any) string {
	t := reflect.TypeOf(out)
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil {
		return "nil"
	}
	return t.String()
}

// errorBody is Codat's ErrorMessage schema, decoded tolerantly.
type errorBody struct {
	StatusCode        flexInt     `json:"statusCode"`
	Service           flexString  `json:"service"`
	Error             flexString  `json:"error"`
	CorrelationID     flexString  `json:"correlationId"`
	Validation        *Validation `json:"validation"`
	CanBeRetried      flexString  `json:"canBeRetried"`
	DetailedErrorCode flexInt     `json:"detailedErrorCode"`
}

func (c *Client) decodeError(resp *http.Response, method, path string) *APIError {
	now := time.Now()
	e := &APIError{StatusCode: resp.StatusCode, Method: method, Path: path, observed: now}
	data, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	var eb errorBody
	if len(bytes.TrimSpace(data)) > 0 && json.Unmarshal(data, &eb) == nil {
		e.Message = string(eb.Error)
		e.Service = string(eb.Service)
		e.CorrelationID = string(eb.CorrelationID)
		e.CanBeRetried = string(eb.CanBeRetried)
		e.DetailedErrorCode = int(eb.DetailedErrorCode)
		e.codatBody = strings.TrimSpace(e.CorrelationID) != ""
		if eb.Validation != nil && (len(eb.Validation.Errors) > 0 || len(eb.Validation.Warnings) > 0) {
			e.Validation = eb.Validation
		}
	}
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
		if d, ok := parseRetryAfter(resp.Header.Get("Retry-After"), now); ok {
			var distrusted bool
			if e.RetryAfter, distrusted = trustWait(d, now); distrusted {
				e.distrusted = "Retry-After of " + fmtHours(d)
			}
		}
	}
	e.remaining = -1
	if resp.StatusCode == http.StatusTooManyRequests {
		if v, err := strconv.Atoi(strings.TrimSpace(resp.Header.Get("X-Rate-Limit-Remaining"))); err == nil && v >= 0 {
			e.remaining = v
		}
		if q, ok := parseQuota(resp.Header, now); ok && q.Reset.After(now) {
			if q.ResetDistrusted && e.distrusted == "" {
				e.distrusted = "X-Rate-Limit-Reset"
			}
			e.headerReset = q.Reset
			if e.remaining == 0 {
				e.quotaReset = q.Reset
			}
		}
	}
	return e
}

// transportCause strips *url.Error, whose text repeats the full URL with its
// query string, keeping the underlying cause.
func transportCause(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) && ue.Err != nil {
		return ue.Err
	}
	return err
}

func causeText(err error) string {
	if err == nil {
		return "unknown error"
	}
	return transportCause(err).Error()
}

// attemptTransport wraps the underlying transport: it paces attempts,
// counts them, records the quota headers, marks ambiguity and logs.
type attemptTransport struct {
	client *Client
	base   http.RoundTripper
}

func (t *attemptTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	c := t.client
	ctx := req.Context()
	st := stateFrom(ctx)
	if c.limiter != nil {
		if err := c.limiter.Wait(ctx); err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			if _, ok := ctx.Deadline(); ok {
				// The limiter knows the wait would outlast the deadline.
				return nil, fmt.Errorf("waiting for the client-side request rate: %w", context.DeadlineExceeded)
			}
			return nil, fmt.Errorf("waiting for the client-side request rate: %w", err)
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	attempt := 1
	method, path := req.Method, req.URL.Path
	if st != nil {
		attempt = int(st.attempts.Add(1))
		method, path = st.method, st.path
	}
	c.requests.Add(1)
	countAttempt(ctx) // per-call counters (Client.Migrate)

	// net/http may itself replay a request on a fresh connection when a
	// reused one fails after the request was written (GETs, and POSTs that
	// carry an Idempotency-Key). Codat receives such a replay, so count it:
	// every complete write beyond the first is one more attempt.
	var writes atomic.Int32
	req = req.WithContext(httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		WroteRequest: func(info httptrace.WroteRequestInfo) {
			if info.Err == nil {
				writes.Add(1)
			}
		},
	}))
	start := time.Now()
	resp, err := t.base.RoundTrip(req)
	dur := time.Since(start)
	if extra := int(writes.Load()) - 1; extra > 0 {
		c.requests.Add(int64(extra))
		for i := 0; i < extra; i++ {
			countAttempt(ctx)
		}
		if st != nil {
			attempt = int(st.attempts.Add(int32(extra)))
			st.ambiguous.Store(true) // an earlier write got no answer
			st.lost.Store(true)
		}
	}
	if err != nil {
		if st != nil && !neverLeft(err) {
			st.sent.Store(true)
			st.ambiguous.Store(true)
			st.lost.Store(true)
		}
		c.logger.LogAttrs(ctx, slog.LevelDebug, "codat attempt",
			slog.String("method", method), slog.String("path", path),
			slog.Int("attempt", attempt), slog.Duration("duration", dur),
			slog.String("error", c.scrubber(st).String(causeText(err))))
		return resp, err
	}
	if st != nil {
		st.sent.Store(true)
		if resp.StatusCode >= 500 || resp.StatusCode == http.StatusRequestTimeout {
			st.ambiguous.Store(true)
		}
	}
	c.quota.update(resp.Header, time.Now())
	c.logger.LogAttrs(ctx, slog.LevelDebug, "codat attempt",
		slog.String("method", method), slog.String("path", path),
		slog.Int("attempt", attempt), slog.Int("status", resp.StatusCode),
		slog.Duration("duration", dur))
	return resp, nil
}
