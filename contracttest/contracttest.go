// Package contracttest validates HTTP requests and responses against Codat's
// published Platform OpenAPI contract (codat-platform-oas.json), for tests.
// It is a module of its own, so that the OpenAPI libraries it needs never
// reach a program that imports the SDK.
//
// The contract lives outside the repository, at ../shared/codat-platform-oas.json
// relative to the repository root (or wherever CODAT_OAS points). Tests call
// Load, which skips the test with a clear message when the file is absent.
//
//	v := contracttest.Load(t)
//	srv := httptest.NewServer(v.Middleware(t, "/api/v1", handler))
//
// Middleware validates every request the server receives and every response
// it sends; Transport validates the responses a client receives. Defects of
// the published contract are handled by one policy, in specbugs.go.
package contracttest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/pb33f/libopenapi-validator/config"
	verrors "github.com/pb33f/libopenapi-validator/errors"
)

// EnvSpecPath names an environment variable that overrides where the
// contract file is looked for.
const EnvSpecPath = "CODAT_OAS"

// SpecFileName is the contract's file name beside the repository, in ../shared.
const SpecFileName = "codat-platform-oas.json"

// OffContractHeader, set on a response by a test handler, says the response
// deliberately breaks the contract (a non-JSON 5xx, an empty body, a status
// Codat does not declare) to exercise the client's failure paths. Middleware
// still validates the request, skips the response, and strips the header.
// Its value should say why.
const OffContractHeader = "X-Test-Off-Contract"

// Validator checks requests and responses against the contract. It is safe
// for concurrent use.
type Validator struct {
	v  validator.Validator
	mu sync.Mutex // the underlying validator is not documented as concurrency-safe
}

var (
	loadOnce   sync.Once
	loaded     *Validator
	loadErr    error
	loadedPath string
)

// SpecPath returns where the contract file is expected: $CODAT_OAS if set,
// else ../shared/codat-platform-oas.json beside the repository root (the
// directory holding go.work, found by walking up from the working
// directory; without one, the nearest directory holding go.mod). ok is false
// when no file is there.
func SpecPath() (path string, ok bool) {
	if p := os.Getenv(EnvSpecPath); p != "" {
		_, err := os.Stat(p)
		return p, err == nil
	}
	root, err := RepoRoot()
	if err != nil {
		return "", false
	}
	p := filepath.Join(filepath.Dir(root), "shared", SpecFileName)
	_, err = os.Stat(p)
	return p, err == nil
}

// RepoRoot returns the nearest directory at or above the working directory
// that holds a go.work, or else the nearest that holds a go.mod.
func RepoRoot() (string, error) {
	for _, marker := range []string{"go.work", "go.mod"} {
		if dir, ok := findUp(marker); ok {
			return dir, nil
		}
	}
	return "", errors.New("contracttest: no go.work or go.mod above the working directory")
}

func findUp(name string) (string, bool) {
	dir, err := os.Getwd()
	if err != nil {
		return "", false
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			return dir, true
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", false
		}
		dir = parent
	}
}

// Load returns the contract validator, built once per test binary. It skips
// the test when the contract file is absent, and fails it when the file
// cannot be parsed.
func Load(t testing.TB) *Validator {
	t.Helper()
	path, ok := SpecPath()
	if !ok {
		t.Skipf("contract test skipped: Codat's OpenAPI contract was not found at %s "+
			"(expected ../shared/%s beside the repository root, or set %s)", path, SpecFileName, EnvSpecPath)
	}
	loadOnce.Do(func() {
		loadedPath = path
		loaded, loadErr = New(path)
	})
	if loadErr != nil {
		t.Fatalf("contract: loading %s: %v", loadedPath, loadErr)
	}
	return loaded
}

// New builds a validator from the contract file at path, with the
// contract's known defects corrected (see fixNullable) and string formats
// (uuid, date-time, uri, …) asserted.
func New(path string) (*Validator, error) {
	spec, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	spec, err = fixNullable(spec)
	if err != nil {
		return nil, fmt.Errorf("parsing contract: %w", err)
	}
	doc, err := libopenapi.NewDocument(spec)
	if err != nil {
		return nil, fmt.Errorf("parsing contract: %w", err)
	}
	v, errs := validator.NewValidator(doc, config.WithRegexCache(&sync.Map{}), config.WithFormatAssertions())
	if len(errs) > 0 {
		return nil, fmt.Errorf("building validator: %w", errors.Join(errs...))
	}
	return &Validator{v: v}, nil
}

// ValidateRequest checks one request and its body against the contract:
// the path and method exist, the path, query and header parameters, the
// security header, and the JSON body. The request's URL path must be the
// API path (without any test prefix).
func (v *Validator) ValidateRequest(req *http.Request, body []byte) error {
	if v == nil {
		return nil
	}
	r := cloneWithBody(req, body)
	v.mu.Lock()
	ok, verrs := v.v.ValidateHttpRequestSync(r)
	v.mu.Unlock()
	if ok {
		return nil
	}
	return describe("request", req, verrs)
}

// ValidateResponse checks one response body against what the contract
// declares for the request's operation and the response's status code, under
// the spec-bug policy of specbugs.go (statuses Codat documents but the
// contract omits, answers to requests the contract has no operation for).
func (v *Validator) ValidateResponse(req *http.Request, resp *http.Response, body []byte) error {
	if v == nil {
		return nil
	}
	r := cloneWithBody(req, nil)
	verrs := v.checkResponse(r, resp.StatusCode, resp.Header, body)
	return describe("response", req, v.excuse(r, resp, body, verrs))
}

// checkResponse validates body as the answer with status to r.
func (v *Validator) checkResponse(r *http.Request, status int, header http.Header, body []byte) []*verrors.ValidationError {
	h := header.Clone()
	if h == nil {
		h = http.Header{}
	}
	rs := &http.Response{StatusCode: status, Header: h, Body: io.NopCloser(bytes.NewReader(body)), Request: r}
	v.mu.Lock()
	ok, verrs := v.v.ValidateHttpResponse(r, rs)
	v.mu.Unlock()
	if ok {
		return nil
	}
	return verrs
}

func cloneWithBody(req *http.Request, body []byte) *http.Request {
	r := req.Clone(req.Context())
	if body == nil {
		r.Body = http.NoBody
		r.ContentLength = 0
	} else {
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
	}
	return r
}

func describe(what string, req *http.Request, verrs []*verrors.ValidationError) error {
	if len(verrs) == 0 {
		return nil
	}
	msgs := make([]string, 0, len(verrs))
	for _, e := range verrs {
		m := e.Message
		if e.Reason != "" {
			m += ": " + e.Reason
		}
		for _, s := range e.SchemaValidationErrors {
			loc := s.FieldPath
			if loc == "" {
				loc = s.KeywordLocation
			}
			m += fmt.Sprintf(" [%s: %s]", loc, s.Reason)
		}
		msgs = append(msgs, m)
	}
	return fmt.Errorf("contract: %s %s %s violates Codat's OpenAPI contract: %s",
		req.Method, req.URL.Path, what, strings.Join(msgs, "; "))
}

// Middleware wraps a test handler: every request is validated against the
// contract (after removing prefix from its path), and so is every response
// the handler writes, unless the handler marked it with OffContractHeader.
// Violations fail t with t.Errorf; the request is still served.
func (v *Validator) Middleware(t testing.TB, prefix string, next http.Handler) http.Handler {
	h, _ := v.Counted(t, prefix, next)
	return h
}

// Counted is Middleware that also reports how many requests and responses it
// validated against the contract (both zero when v is nil), so a test can
// show its checks ran.
func (v *Validator) Counted(t testing.TB, prefix string, next http.Handler) (h http.Handler, counts func() (requests, responses int64)) {
	var nReq, nResp atomic.Int64
	counts = func() (int64, int64) { return nReq.Load(), nResp.Load() }
	prefix = strings.TrimRight(prefix, "/")
	h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("contract: reading request body: %v", err)
		}
		_ = r.Body.Close()
		r.Body = io.NopCloser(bytes.NewReader(body))

		vr := r.Clone(r.Context())
		if prefix != "" {
			if !strings.HasPrefix(r.URL.Path, prefix+"/") {
				t.Errorf("contract: %s %s is outside the API prefix %s", r.Method, r.URL.Path, prefix)
				http.NotFound(w, r)
				return
			}
			u := *r.URL
			u.Path = strings.TrimPrefix(u.Path, prefix)
			u.RawPath = strings.TrimPrefix(u.RawPath, prefix)
			vr.URL = &u
		}
		if err := v.ValidateRequest(vr, body); err != nil {
			t.Errorf("%v", err)
		}
		if v != nil {
			nReq.Add(1)
		}

		rec := &recorder{header: http.Header{}}
		next.ServeHTTP(rec, r)
		status := rec.status
		if status == 0 {
			status = http.StatusOK
		}
		off := rec.header.Get(OffContractHeader)
		rec.header.Del(OffContractHeader)
		if off == "" {
			resp := &http.Response{StatusCode: status, Header: rec.header, Request: vr}
			if err := v.ValidateResponse(vr, resp, rec.body.Bytes()); err != nil {
				t.Errorf("%v", err)
			}
			if v != nil {
				nResp.Add(1)
			}
		}
		for k, vs := range rec.header {
			w.Header()[k] = vs
		}
		w.WriteHeader(status)
		_, _ = w.Write(rec.body.Bytes())
	})
	return h, counts
}

// Transport returns a RoundTripper that sends through base (nil:
// http.DefaultTransport) and validates every response it receives against
// the contract, reporting a violation with t.Errorf. Requests are not
// checked, so a test may send malformed ones on purpose and still have the
// answers checked.
func (v *Validator) Transport(t testing.TB, base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return &validatingTransport{t: t, v: v, base: base}
}

type validatingTransport struct {
	t    testing.TB
	v    *Validator
	base http.RoundTripper
}

func (vt *validatingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := vt.base.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	body, rerr := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	if rerr != nil {
		return resp, nil
	}
	if err := vt.v.ValidateResponse(req, resp, body); err != nil {
		vt.t.Errorf("%v (status %d, body %s)", err, resp.StatusCode, truncate(body, 600))
	}
	return resp, nil
}

func truncate(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}

// recorder buffers a handler's response so it can be validated before it is sent.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
}
func (r *recorder) Write(p []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(p)
}
