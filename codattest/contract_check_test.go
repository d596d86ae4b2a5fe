package codattest

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	vconfig "github.com/pb33f/libopenapi-validator/config"
	verrors "github.com/pb33f/libopenapi-validator/errors"
)

// The contract is Codat's Platform OpenAPI document, kept beside the module
// at ../shared/codat-platform-oas.json (relative to the module root).
const contractRel = "../shared/codat-platform-oas.json"

var contract struct {
	once sync.Once
	mu   sync.Mutex // the validator is not documented as safe for concurrent use
	v    validator.Validator
	path string
	err  error
}

// moduleRoot finds the directory holding go.mod, from the test's directory up.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above the test directory")
		}
		dir = parent
	}
}

// contractValidator returns the validator, or nil and the reason it is not
// available (the contract file is absent or cannot be loaded).
func contractValidator() (validator.Validator, string) {
	contract.once.Do(func() {
		root, err := moduleRoot()
		if err != nil {
			contract.err = err
			return
		}
		contract.path = filepath.Join(root, filepath.FromSlash(contractRel))
		spec, err := os.ReadFile(contract.path)
		if err != nil {
			contract.err = err
			return
		}
		doc, err := libopenapi.NewDocument(spec)
		if err != nil {
			contract.err = err
			return
		}
		// Spec bug: the document declares openapi 3.1.0 but uses the 3.0
		// keyword `nullable`, which the validator's OpenAPI vocabulary
		// refuses to compile for 3.1. Without that vocabulary `nullable` is
		// an unknown keyword and ignored, so nullable fields are checked as
		// non-null: stricter, and the fake never sends nulls.
		v, errs := validator.NewValidator(doc, vconfig.WithFormatAssertions(), vconfig.WithoutOpenAPIMode())
		if len(errs) > 0 {
			contract.err = fmt.Errorf("building the validator: %v", errs)
			return
		}
		contract.v = v
	})
	if contract.v == nil {
		return nil, fmt.Sprintf("contract %s not available: %v", contract.path, contract.err)
	}
	return contract.v, ""
}

// requireContract skips the test when the contract cannot be loaded.
func requireContract(t *testing.T) validator.Validator {
	t.Helper()
	v, why := contractValidator()
	if v == nil {
		t.Skipf("skipping contract validation: %s (the OpenAPI file is expected at %s relative to the module root)", why, contractRel)
	}
	return v
}

// undeclaredButDocumented lists statuses the fake sends on operations whose
// OpenAPI entry does not declare them, each backed by Codat's documentation:
// 409 and 422 are the Idempotency-Key answers (docs: write-data/idempotency);
// 400 is the rejection of an invalid body or Idempotency-Key on operations
// whose entry lists no 400 (docs: using-the-api/errors; the contract's
// update-authorization lists no 400 although a body can be malformed).
// Their bodies are still checked, as the operation's declared error body.
var undeclaredButDocumented = map[int]bool{400: true, 409: true, 422: true}

// validateExchange checks one response against the contract. It returns
// the problems found; an empty slice means it conforms.
func validateExchange(v validator.Validator, req *http.Request, status int, header http.Header, body []byte) []string {
	mk := func(code int, r *http.Request) *http.Response {
		return &http.Response{StatusCode: code, Header: header.Clone(), Body: io.NopCloser(bytes.NewReader(body)), Request: r}
	}
	contract.mu.Lock()
	defer contract.mu.Unlock()
	ok, errs := v.ValidateHttpResponse(req, mk(status, req))
	if ok {
		return nil
	}
	var problems []string
	for _, e := range errs {
		switch {
		case e.ValidationType == "path" && (e.ValidationSubType == "missing" || e.ValidationSubType == "missingOperation") && status >= 400:
			// A path or method the contract does not have (the fake's
			// 404/405 for unknown routes, or a 401/429 refusing such a
			// request before routing): check the body as Codat's error
			// body, using an operation that declares it for 500.
			probe, _ := http.NewRequest(http.MethodGet, "http://fake/companies", nil)
			if ok2, errs2 := v.ValidateHttpResponse(probe, mk(500, probe)); !ok2 {
				problems = append(problems, describe(errs2)...)
			}
		case isUndeclaredCode(e) && undeclaredButDocumented[status]:
			if ok2, errs2 := v.ValidateHttpResponse(req, mk(500, req)); !ok2 {
				problems = append(problems, describe(errs2)...)
			}
		case isPageSizeMaximum(e, req):
			// Spec bug: the pageSize query parameter allows up to 5000, but
			// PagingInfo.pageSize has maximum 2000, so an honest echo of a
			// larger requested size cannot validate.
		default:
			problems = append(problems, describe([]*verrors.ValidationError{e})...)
		}
	}
	return problems
}

func isUndeclaredCode(e *verrors.ValidationError) bool {
	return e.ValidationSubType == "code" || strings.Contains(e.Message, "response code") && strings.Contains(e.Message, "does not exist")
}

func isPageSizeMaximum(e *verrors.ValidationError, req *http.Request) bool {
	n, err := strconv.Atoi(req.URL.Query().Get("pageSize"))
	if err != nil || n <= 2000 || len(e.SchemaValidationErrors) == 0 {
		return false
	}
	for _, f := range e.SchemaValidationErrors {
		if !(strings.HasSuffix(f.KeywordLocation, "/pageSize/maximum") || strings.Contains(f.KeywordLocation, "pageSize/maximum")) {
			return false
		}
	}
	return true
}

func describe(errs []*verrors.ValidationError) []string {
	var out []string
	for _, e := range errs {
		s := e.Message
		if e.Reason != "" {
			s += ": " + e.Reason
		}
		for _, f := range e.SchemaValidationErrors {
			s += fmt.Sprintf(" [%s at %s (%s)]", f.Reason, f.FieldPath, f.KeywordLocation)
		}
		out = append(out, s)
	}
	return out
}

// validatingTransport checks every response that passes through it against
// the contract and reports problems on t.
type validatingTransport struct {
	t    testing.TB
	base http.RoundTripper
}

func (vt *validatingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := vt.base.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	v, _ := contractValidator()
	if v == nil {
		return resp, nil
	}
	body, rerr := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	if rerr != nil {
		return resp, nil
	}
	if problems := validateExchange(v, req, resp.StatusCode, resp.Header, body); len(problems) > 0 {
		vt.t.Errorf("contract violation: %s %s → %d:\n  %s\n  body: %s", req.Method, req.URL.Path, resp.StatusCode,
			strings.Join(problems, "\n  "), truncate(body, 600))
	}
	return resp, nil
}

func truncate(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}

// ---- a small test client ----------------------------------------------

// tclient sends requests to a fake and validates every response.
type tclient struct {
	t    testing.TB
	s    *Server
	hc   *http.Client
	auth string
}

func newClient(t testing.TB, s *Server) *tclient {
	t.Helper()
	base := s.Client().Transport
	return &tclient{t: t, s: s, hc: &http.Client{Transport: &validatingTransport{t: t, base: base}}, auth: s.AuthorizationHeader()}
}

// rawClient is a tclient without contract validation (for load tests).
func rawClient(t testing.TB, s *Server) *tclient {
	return &tclient{t: t, s: s, hc: s.Client(), auth: s.AuthorizationHeader()}
}

type tresp struct {
	status int
	header http.Header
	body   []byte
}

func (r *tresp) String() string { return fmt.Sprintf("%d %s", r.status, truncate(r.body, 300)) }

// do sends method path with body (nil, a string sent as is, or a value sent
// as JSON) and headers given as name, value pairs.
func (c *tclient) do(method, path string, body any, headers ...string) *tresp {
	c.t.Helper()
	r, err := c.try(method, path, body, headers...)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	return r
}

func (c *tclient) try(method, path string, body any, headers ...string) (*tresp, error) {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		rd = bytes.NewReader(mustJSON(b))
	}
	req, err := http.NewRequest(method, c.s.URL()+path, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", c.auth)
	req.Header.Set("Accept", "application/json")
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i+1] == "" {
			req.Header.Del(headers[i])
		} else {
			req.Header.Set(headers[i], headers[i+1])
		}
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	return &tresp{status: resp.StatusCode, header: resp.Header, body: b}, nil
}

func q(path string, kv ...string) string {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return path + "?" + v.Encode()
}
