package codattest

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"time"
)

// maxBody is the largest request body the fake reads.
const maxBody = 1 << 20

// Server is an in-memory fake of Codat's Platform API served over HTTP on a
// loopback address. All its methods are safe for concurrent use.
type Server struct {
	cfg    *config
	clock  Clock
	ids    *idSource
	timing timing
	routes []*route

	st     *store
	quota  *quotaState
	idem   *idemCache
	faults *faultSet
	log    *requestLog

	authHeader string // "Basic " + base64(key)

	ts        *httptest.Server
	closing   chan struct{}
	closeOnce sync.Once
}

// NewServer starts a fake on a new 127.0.0.1 listener (or the one given by
// WithListener / WithAddr). It panics if an option is invalid or the address
// cannot be listened on, like httptest.NewServer; use Start to get an error
// instead. Close it when done.
func NewServer(opts ...Option) *Server {
	s, err := Start(opts...)
	if err != nil {
		panic(err)
	}
	return s
}

// Start is NewServer returning an error instead of panicking: an invalid
// option, a non-loopback address, or a failure to listen.
func Start(opts ...Option) (*Server, error) {
	s, err := newServer(opts...)
	if err != nil {
		return nil, err
	}
	l := s.cfg.listener
	if l == nil {
		addr := s.cfg.addr
		if addr == "" {
			addr = "127.0.0.1:0"
		}
		if l, err = net.Listen("tcp", addr); err != nil {
			return nil, fmt.Errorf("codattest: listen on %s: %w", addr, err)
		}
		if err := checkLoopback(l.Addr().String()); err != nil { // "localhost" resolved elsewhere
			l.Close()
			return nil, err
		}
	}
	s.ts = httptest.NewUnstartedServer(s)
	s.ts.Listener.Close()
	s.ts.Listener = l
	s.ts.Start()
	return s, nil
}

func newServer(opts ...Option) (*Server, error) {
	cfg := defaultConfig()
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o(cfg); err != nil {
			return nil, err
		}
	}
	if !cfg.seedSet {
		cfg.seed = 1
	}
	if err := cfg.finish(); err != nil {
		return nil, err
	}
	s := &Server{
		cfg:        cfg,
		clock:      cfg.clock,
		ids:        newIDSource(cfg.seed),
		timing:     timing{fetchAfter: cfg.fetchAfter, completeAfter: cfg.completeAfter},
		routes:     buildRoutes(),
		st:         newStore(),
		idem:       newIdemCache(cfg.idemTTL),
		faults:     newFaultSet(cfg.seed),
		log:        newRequestLog(cfg.logSize),
		authHeader: "Basic " + base64.StdEncoding.EncodeToString([]byte(cfg.apiKey)),
		closing:    make(chan struct{}),
	}
	s.quota = newQuotaState(cfg.quota, s.clock.Now(), &s.st.linked)
	for _, f := range cfg.faults {
		if err := s.AddFault(f); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// generatedAPIKey derives a 40-character alphanumeric key from the seed.
func generatedAPIKey(seed int64) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	r := rand.New(rand.NewPCG(uint64(seed), 0x6b6579))
	b := make([]byte, 40)
	for i := range b {
		b[i] = alphabet[r.IntN(len(alphabet))]
	}
	return string(b)
}

// URL returns the base URL, for example "http://127.0.0.1:41234"; clients
// use it in place of https://api.codat.io.
func (s *Server) URL() string { return s.ts.URL }

// APIKey returns the API key clients must send.
func (s *Server) APIKey() string { return s.cfg.apiKey }

// AuthorizationHeader returns the Authorization header value the fake
// accepts: "Basic " + base64(APIKey()).
func (s *Server) AuthorizationHeader() string { return s.authHeader }

// Client returns an *http.Client for the server (see httptest.Server.Client).
func (s *Server) Client() *http.Client { return s.ts.Client() }

// Clock returns the server's clock.
func (s *Server) Clock() Clock { return s.clock }

// Handler returns the fake as an http.Handler, for use without the network
// (for example under httptest.NewRecorder). Dropped-connection faults need a
// connection to drop; without one they abort the handler with
// http.ErrAbortHandler.
func (s *Server) Handler() http.Handler { return s }

// Close shuts the server down, interrupting requests that are waiting on
// injected latency, and waits for the rest to finish.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		close(s.closing)
		if s.ts != nil {
			s.ts.Close()
		}
	})
}

// reply is a response that has not been written yet.
type reply struct {
	status     int
	body       []byte
	retryAfter time.Duration
}

// call is one request being handled.
type call struct {
	r      *http.Request
	rt     *route
	now    time.Time
	params [2]string
	body   []byte
}

// errorReply builds Codat's error body for status.
func (s *Server) errorReply(status int, msg string, v *errorValidation) reply {
	b, _ := json.Marshal(errorMessage{
		StatusCode: status, Service: "PublicApi", Error: msg,
		CorrelationID: s.ids.correlationID(), Validation: v, CanBeRetried: "Unknown",
	})
	return reply{status: status, body: b}
}

func jsonReply(status int, v any) reply {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // the fake's own types always marshal
	}
	return reply{status: status, body: b}
}

func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// ServeHTTP serves one request: per-address flood limit, authentication,
// daily quota and concurrency, routing, the body, the Idempotency-Key,
// injected latency and faults, and the handler (serveStages, in that
// order); then it logs the request and writes the reply, or drops the
// connection.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	now := s.clock.Now()
	rec := Request{Method: r.Method, Path: r.URL.Path, At: now, Client: clientAddr(r),
		IdempotencyKey: r.Header.Get("Idempotency-Key")}
	rep, dropped := s.serve(r, now, &rec)
	if dropped {
		rec.Status = 0
		s.log.add(rec)
		s.drop(w)
		return
	}
	rec.Status = rep.status
	s.log.add(rec)
	s.write(w, rep)
}

// exchange is a request going through serveStages.
type exchange struct {
	r   *http.Request
	now time.Time
	rec *Request
	c   *call // from the route stage on
	// key is the Idempotency-Key honoured for this request, "" for none;
	// finished reports whether its outcome is recorded.
	key      string
	finished bool
	pre      *Fault // the fault injected before the handler, if any
	dropped  bool   // answer by dropping the connection
	cleanups []func()
}

// serveStages are the steps of serving a request, in order. Each either
// answers the request (its second result is true) or lets it go on to the
// next; the last always answers.
var serveStages = []func(*Server, *exchange) (reply, bool){
	(*Server).limitAddress,  // per-address flood limit
	(*Server).authenticate,  // the API key
	(*Server).admitQuota,    // daily quota and concurrency
	(*Server).findRoute,     // 404, 405
	(*Server).readBody,      // at most maxBody
	(*Server).idempotency,   // replay, in flight, mismatch
	(*Server).delay,         // latency, configured and injected
	(*Server).faultBefore,   // injected failure before commit
	(*Server).handleRequest, // the handler, and injected failure after commit
}

// serve runs r through serveStages; it reports true when the connection
// must be dropped instead of answered.
func (s *Server) serve(r *http.Request, now time.Time, rec *Request) (reply, bool) {
	x := &exchange{r: r, now: now, rec: rec}
	defer func() {
		for i := len(x.cleanups) - 1; i >= 0; i-- {
			x.cleanups[i]()
		}
	}()
	for _, stage := range serveStages {
		if rep, answered := stage(s, x); answered {
			return rep, x.dropped
		}
	}
	panic("codattest: no stage answered the request")
}

// finish records rep as the outcome of the request's Idempotency-Key.
func (s *Server) finish(x *exchange, rep reply) {
	if x.key != "" && !x.finished {
		x.finished = true
		s.idem.finish(x.key, rep.status, rep.body, s.clock.Now())
	}
}

func (s *Server) limitAddress(x *exchange) (reply, bool) {
	if ok, wait := s.quota.admitMinute(x.rec.Client, x.now); !ok {
		rep := s.errorReply(http.StatusTooManyRequests, "Too many requests from this address; the per-minute limit is exceeded", nil)
		rep.retryAfter = wait
		return rep, true
	}
	return reply{}, false
}

func (s *Server) authenticate(x *exchange) (reply, bool) {
	if h := x.r.Header.Get("Authorization"); h != s.authHeader && !s.altAuth(h) {
		return s.errorReply(http.StatusUnauthorized, "Unauthorized: the API key is missing or not valid", nil), true
	}
	return reply{}, false
}

func (s *Server) admitQuota(x *exchange) (reply, bool) {
	if ok, wait, msg := s.quota.admit(x.now); !ok {
		rep := s.errorReply(http.StatusTooManyRequests, msg, nil)
		rep.retryAfter = wait
		return rep, true
	}
	x.cleanups = append(x.cleanups, s.quota.done)
	return reply{}, false
}

func (s *Server) findRoute(x *exchange) (reply, bool) {
	r := x.r
	rt, params, methodOK := s.match(r.Method, r.URL.Path)
	if rt == nil {
		if methodOK {
			return s.errorReply(http.StatusMethodNotAllowed, "Method "+r.Method+" is not allowed on "+r.URL.Path, nil), true
		}
		return s.errorReply(http.StatusNotFound, "No resource was found at "+r.URL.Path, nil), true
	}
	x.rec.Route = rt.name
	x.c = &call{r: r, rt: rt, now: x.now, params: params}
	return reply{}, false
}

func (s *Server) readBody(x *exchange) (reply, bool) {
	if x.r.Body == nil {
		return reply{}, false
	}
	b, err := io.ReadAll(io.LimitReader(x.r.Body, maxBody+1))
	if err != nil {
		return s.errorReply(http.StatusBadRequest, "The request body could not be read", nil), true
	}
	if len(b) > maxBody {
		return s.errorReply(http.StatusBadRequest, "The request body is too large", nil), true
	}
	x.c.body = b
	return reply{}, false
}

// idempotency honours the Idempotency-Key on POST and PATCH only, and
// ignores it elsewhere. A request that goes on owns the key until the
// request ends: its reply is recorded (finish) or the key is released.
func (s *Server) idempotency(x *exchange) (reply, bool) {
	r := x.r
	if x.rec.IdempotencyKey == "" || r.Method != http.MethodPost && r.Method != http.MethodPatch {
		return reply{}, false
	}
	x.key = x.rec.IdempotencyKey
	if !isGUID(x.key) {
		return s.errorReply(http.StatusBadRequest, "The Idempotency-Key header must be a GUID", nil), true
	}
	state, st, body := s.idem.begin(x.key, idemFingerprint(r.Method, r.URL.Path, x.c.body), x.now)
	switch state {
	case idemReplay:
		x.rec.Replayed = true
		return reply{status: st, body: body}, true
	case idemInFlight:
		return s.errorReply(http.StatusConflict, "A request with this Idempotency-Key is still being processed", nil), true
	case idemMismatch:
		return s.errorReply(http.StatusUnprocessableEntity, "This Idempotency-Key was used with a different request", nil), true
	}
	x.cleanups = append(x.cleanups, func() {
		if !x.finished {
			s.idem.abandon(x.key)
		}
	})
	return reply{}, false
}

// delay waits for the configured and injected latency, and takes the fault
// to inject before the handler, if any.
func (s *Server) delay(x *exchange) (reply, bool) {
	latency, pre := s.faults.before(x.c.rt)
	x.pre = pre
	latency += s.cfg.latency
	if latency <= 0 {
		return reply{}, false
	}
	t := time.NewTimer(latency)
	select {
	case <-t.C:
	case <-x.r.Context().Done():
		t.Stop()
		return s.errorReply(http.StatusServiceUnavailable, "The request was cancelled", nil), true
	case <-s.closing:
		t.Stop()
		return s.errorReply(http.StatusServiceUnavailable, "The server is shutting down", nil), true
	}
	x.c.now = s.clock.Now()
	return reply{}, false
}

func (s *Server) faultBefore(x *exchange) (reply, bool) {
	pre := x.pre
	if pre == nil {
		return reply{}, false
	}
	x.rec.Fault = pre.Kind
	var rep reply
	if pre.Kind == FaultRateLimit {
		rep = s.errorReply(http.StatusTooManyRequests, "Rate limit exceeded (injected)", nil)
		rep.retryAfter = pre.RetryAfter
	} else {
		rep = s.errorReply(pre.Status, "Injected failure before commit: "+http.StatusText(pre.Status), nil)
	}
	s.finish(x, rep)
	return rep, true
}

// handleRequest runs the route's handler, then the fault to inject after
// a success, if any.
func (s *Server) handleRequest(x *exchange) (reply, bool) {
	rep := x.c.rt.handle(s, x.c)
	if rep.status >= 200 && rep.status < 300 {
		if post := s.faults.after(x.c.rt); post != nil {
			x.rec.Fault = post.Kind
			if post.Kind == FaultDropAfterCommit {
				s.finish(x, rep)
				x.dropped = true
				return rep, true
			}
			rep = s.errorReply(post.Status, "Injected failure after commit: "+http.StatusText(post.Status), nil)
		}
	}
	s.finish(x, rep)
	return rep, true
}

// altAuth accepts the header scheme in any case ("basic ").
func (s *Server) altAuth(h string) bool {
	return len(h) > 6 && strings.EqualFold(h[:6], "basic ") && h[6:] == s.authHeader[6:]
}

// write sends rep with the quota headers.
func (s *Server) write(w http.ResponseWriter, rep reply) {
	h := w.Header()
	if l, rem, reset, ok := s.quota.headers(s.clock.Now()); ok {
		h.Set("X-Rate-Limit-Limit", l)
		h.Set("X-Rate-Limit-Remaining", rem)
		h.Set("X-Rate-Limit-Reset", reset)
	}
	if rep.retryAfter > 0 {
		secs := int64((rep.retryAfter + time.Second - 1) / time.Second)
		h.Set("Retry-After", strconv.FormatInt(secs, 10))
	}
	if len(rep.body) > 0 {
		h.Set("Content-Type", "application/json; charset=utf-8")
		h.Set("Content-Length", strconv.Itoa(len(rep.body)))
	}
	w.WriteHeader(rep.status)
	if len(rep.body) > 0 {
		_, _ = w.Write(rep.body)
	}
}

// drop closes the client's connection without a response.
func (s *Server) drop(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			if tc, ok := conn.(*net.TCPConn); ok {
				_ = tc.SetLinger(0)
			}
			_ = conn.Close()
			return
		}
	}
	panic(http.ErrAbortHandler)
}

// ---- inspection -------------------------------------------------------

// RequestLog returns the request log, oldest first (at most the size set by
// WithRequestLog).
func (s *Server) RequestLog() []Request { return s.log.snapshot() }

// RequestCount returns how many requests the server has received since it
// started or since ResetRequestLog, whatever the log size.
func (s *Server) RequestCount() int { return int(s.log.count()) }

// ResetRequestLog empties the request log and zeroes RequestCount.
func (s *Server) ResetRequestLog() { s.log.reset() }

// QuotaStatus returns the quota accounting as of the server's clock.
func (s *Server) QuotaStatus() QuotaStatus { return s.quota.status(s.clock.Now()) }

// ACC returns the number of companies with a Linked connection now (the
// value the next 00:00 UTC reset will use).
func (s *Server) ACC() int { return int(s.st.linked.Load()) }

// IdempotencyKeys returns how many Idempotency-Keys the server holds.
func (s *Server) IdempotencyKeys() int { return s.idem.len() }

// AddFault injects a fault, or reports why it is invalid (unknown route or
// kind, bad status or rate).
func (s *Server) AddFault(f Fault) error {
	a, err := normalizeFault(f, s.routes)
	if err != nil {
		return err
	}
	s.faults.mu.Lock()
	s.faults.faults = append(s.faults.faults, a)
	s.faults.mu.Unlock()
	return nil
}

// InjectFault injects a fault; it panics if the fault is invalid (see
// AddFault), which is a mistake in the test that calls it.
func (s *Server) InjectFault(f Fault) {
	if err := s.AddFault(f); err != nil {
		panic(err)
	}
}

// ClearFaults removes every injected fault.
func (s *Server) ClearFaults() {
	s.faults.mu.Lock()
	s.faults.faults = nil
	s.faults.mu.Unlock()
}

// FaultsFired returns how many times injected faults have fired.
func (s *Server) FaultsFired() int {
	s.faults.mu.Lock()
	defer s.faults.mu.Unlock()
	return s.faults.fired
}
