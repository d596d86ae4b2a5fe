package codat

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/codat-migrate/codat/internal/scrub"
)

// ErrSecretEcho matches a *SecretEchoError with errors.Is.
var ErrSecretEcho = errors.New("codat: the answer holds a secret")

// SecretEchoError is a successful (2xx) answer that was withheld from the
// caller because its body holds a secret the client sent: the API key, or a
// credential of the token PUT's body. A broken or hostile server, or a proxy
// in between, could otherwise hand the secret to the caller inside a company
// id, a link URL or any other field, and from there into journals and
// reports.
//
// The secrets are found by the one scrubbing policy of this module (the
// rule APIError's texts are scrubbed by) in every string, number and object
// key of the body, after JSON unescaping: the API key as given,
// base64-encoded (so the Authorization header's value) and, for a ready-made
// "Basic …" key, the key it decodes to; in whole, in part and
// base64-encoded. An answer is refused when one of those values has at
// least 12 bytes of a secret scrubbed from it (all of a shorter secret): the
// size of fragment this module's end-to-end leak scan looks for. A shorter
// overlap is what a secret shares with ordinary text by chance ("crash-" of
// a test key in a ref "crash-0001", "rejected" of a test token in an error
// message), not an echo; scrubbing, where nothing is refused, still removes
// fragments from 6 bytes.
//
// The credentials of the token PUT (ConnectionsService.UpdateAuthorization)
// are the values of its body, except those that have the form of an
// identifier, which Codat may keep and show: digits only (a realm id), a
// UUID (a tenant id), an RFC 3339 time (an expiry), a lowercase host name
// (a shop domain) or an http(s) URL without user information, query or
// fragment. Client.Migrate checks every answer it reads against those
// credentials too, except values the Migration itself publishes (its Ref,
// TenantID, company name, description and tags); and what a credential
// shares with those values (a test token that embeds the ref) does not
// count towards the 12 bytes.
//
// Nothing of the body is kept: the model the call returns is empty, and
// Error() is one line that names the call and the kind of secret, never the
// secret. The call is not retried. A write (any method but GET) answered
// this way most likely took effect at Codat, but what it did is unknown:
// IsAmbiguous reports true for it, and the object should be looked up before
// the write is sent again. Client.Migrate does exactly that, and never
// creates a second company or connection for it. The client also logs a
// warning (method, path, status) when it withholds an answer.
type SecretEchoError struct {
	// Method and Path identify the call; Path is relative to the base URL and
	// has no query string.
	Method, Path string
	// StatusCode is the HTTP status of the answer.
	StatusCode int
	// Secret names what the answer held: "the API key" or "a credential of
	// the authorization body".
	Secret string
}

// Secret kinds of a SecretEchoError.
const (
	echoAPIKey     = "the API key"
	echoCredential = "a credential of the authorization body"
)

// Error returns one line, for example "codat: GET /companies/x: 200 OK: the
// answer holds the API key, so it was withheld".
func (e *SecretEchoError) Error() string {
	return fmt.Sprintf("codat: %s %s: %d %s: the answer holds %s, so it was withheld",
		e.Method, e.Path, e.StatusCode, http.StatusText(e.StatusCode), e.Secret)
}

// Is matches ErrSecretEcho.
func (e *SecretEchoError) Is(target error) bool { return target == ErrSecretEcho }

// ambiguous reports whether the call was a write, which may have taken effect.
func (e *SecretEchoError) ambiguous() bool {
	return e.Method != http.MethodGet && e.Method != http.MethodHead
}

// answerGuard is what a caller that knows more than the client (Migrate)
// says, on a call's context, about the call's answers.
type answerGuard struct {
	// secrets are the credentials the answers are checked against besides
	// the API key (the error texts are scrubbed of them too). They replace
	// those the client would take from a token PUT's body.
	secrets []string
	// public are values the caller publishes itself (a ref, a company
	// name): what a credential shares with them is no echo, so it is taken
	// out of an answer's values before they are checked.
	public []string
}

type answerGuardKey struct{}

// withAnswerGuard returns ctx carrying g for every call made with it.
func withAnswerGuard(ctx context.Context, g *answerGuard) context.Context {
	return context.WithValue(ctx, answerGuardKey{}, g)
}

// guardFrom returns the answerGuard ctx carries, or nil.
func guardFrom(ctx context.Context) *answerGuard {
	g, _ := ctx.Value(answerGuardKey{}).(*answerGuard)
	return g
}

// checkAnswer returns a SecretEchoError when the 2xx body data holds the API
// key or a credential of the call (see SecretEchoError), and logs it.
func (c *Client) checkAnswer(ctx context.Context, st *callState, status int, data []byte) error {
	what := ""
	switch {
	case holdsCredential(c.keyCreds, nil, data):
		what = echoAPIKey
	case holdsCredential(st.credentials(), st.public, data):
		what = echoCredential
	default:
		return nil
	}
	c.logger.LogAttrs(ctx, slog.LevelWarn, "codat answer withheld: it holds a secret",
		slog.String("method", st.method), slog.String("path", st.path),
		slog.Int("status", status), slog.String("secret", what))
	return &SecretEchoError{Method: st.method, Path: st.path, StatusCode: status, Secret: what}
}

// minEcho is how many bytes of a secret (at most all of it) one value of an
// answer must have scrubbed from it for the answer to be refused (see
// SecretEchoError).
const minEcho = 12

// credential is one secret form of a call, compiled for checkAnswer.
type credential struct {
	set *scrub.Set
	min int // bytes of it that make an echo: min(len, minEcho)
}

// compileCredentials compiles secrets for checkAnswer, one set each (the
// threshold is per secret); those too short to scrub are left out.
func compileCredentials(secrets []string) []credential {
	var out []credential
	for _, v := range secrets {
		n := len(strings.TrimSpace(v))
		if n == 0 {
			// Blank: no byte of it would be an echo (its escaped forms
			// could still be scrubbed, but a threshold of 0 refuses all).
			continue
		}
		if set := scrub.New(v); !set.Empty() {
			out = append(out, credential{set: set, min: min(n, minEcho)})
		}
	}
	return out
}

// credentials returns the call's credentials besides the API key: those its
// context's answerGuard holds or, without one, for the token PUT the
// credentials of its body (see credentialValues). They are compiled once
// per call, with the guard's public values (s.public).
func (s *callState) credentials() []credential {
	if s == nil {
		return nil
	}
	s.credOnce.Do(func() {
		var vals []string
		switch {
		case s.guard != nil:
			vals = s.guard.secrets
			if set := scrub.New(s.guard.public...); !set.Empty() {
				s.public = set
			}
		case s.class == classAuth:
			vals = credentialValues(bodyValues(s.body))
		}
		s.creds = compileCredentials(vals)
	})
	return s.creds
}

// holdsCredential reports whether a string, number or key of the JSON body
// data, unescaped, has at least min bytes of a credential of creds scrubbed
// from it (in whole, in fragments of 6 bytes or more, escaped or
// base64-encoded), once what it shares with the public values (nil: none)
// is taken out. Only what decodes as JSON is looked at: a body that does
// not decode is not returned to the caller.
func holdsCredential(creds []credential, public *scrub.Set, data []byte) bool {
	if len(creds) == 0 || (public.Empty() && holdsNothing(creds, data)) {
		return false
	}
	return walkHoldsCredential(creds, public, data)
}

// holdsNothing reports whether the scrubbing sets of creds remove nothing
// from data as a whole, when data has no JSON escape and is valid UTF-8.
// Then no value of it holds any credential either, and walkHoldsCredential
// would find none: without escapes, and with nothing invalid for decoding
// to replace, every string, number and key decodes to its own bytes in
// data; and the policy is local (a 6-byte fragment of a value is one of
// data; a base64 run of a value is bounded by quotes, or by the
// punctuation around a number, none of them in the base64 alphabet, so it
// is a run of data too). It costs one scrubbing pass over data, without
// the decoding.
func holdsNothing(creds []credential, data []byte) bool {
	if bytes.IndexByte(data, '\\') >= 0 || !utf8.Valid(data) {
		return false
	}
	text := string(data)
	for _, c := range creds {
		if c.set.String(text) != text {
			return false
		}
	}
	return true
}

// walkHoldsCredential is holdsCredential, value by value.
func walkHoldsCredential(creds []credential, public *scrub.Set, data []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	for {
		tok, err := dec.Token()
		if err != nil {
			return false // io.EOF, or the end of what is JSON
		}
		var s string
		switch v := tok.(type) {
		case string:
			s = v
		case json.Number:
			s = string(v)
		default:
			continue
		}
		if !public.Empty() {
			s = public.String(s)
		}
		for _, c := range creds {
			if len(s) >= c.min && redactedBytes(c.set, s) >= c.min {
				return true
			}
		}
	}
}

// redactedBytes returns how many bytes of s the scrubbing set removes.
func redactedBytes(set *scrub.Set, s string) int {
	clean := set.String(s)
	if clean == s {
		return 0
	}
	marks := strings.Count(clean, scrub.Redacted) - strings.Count(s, scrub.Redacted)
	return len(s) - (len(clean) - marks*len(scrub.Redacted))
}

// credentialValues returns the values that are not identifiers by their
// form (see isIdentifier): what a token body holds that must not come back.
func credentialValues(vals []string) []string {
	var out []string
	for _, v := range vals {
		if !isIdentifier(v) {
			out = append(out, v)
		}
	}
	return out
}

// isIdentifier reports whether v has the form of an identifier that Codat
// may keep and show for a connection, rather than of a credential: digits
// only, a UUID in its 36-character form, an RFC 3339 time, a lowercase host
// name, or an http(s) URL without user information, query or fragment.
func isIdentifier(v string) bool {
	v = strings.TrimSpace(v)
	if v == "" {
		return true
	}
	if strings.Trim(v, "0123456789") == "" {
		return true
	}
	if len(v) == 36 {
		if _, err := uuid.Parse(v); err == nil {
			return true
		}
	}
	if _, err := time.Parse(time.RFC3339, v); err == nil {
		return true
	}
	if isHostName(v) {
		return true
	}
	if u, err := url.Parse(v); err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.User == nil &&
		u.RawQuery == "" && !u.ForceQuery && u.Fragment == "" && isHostName(strings.ToLower(u.Hostname())) {
		return true
	}
	return false
}

// isHostName reports whether v is a lowercase DNS name of at least two
// labels whose last is 2–24 letters, like "acme.myshopify.com". A token
// with dots (a JWT) has upper-case letters or '_' and is not one.
func isHostName(v string) bool {
	if len(v) > 253 {
		return false
	}
	labels := strings.Split(v, ".")
	if len(labels) < 2 {
		return false
	}
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for i := 0; i < len(l); i++ {
			ch := l[i]
			if !('a' <= ch && ch <= 'z' || '0' <= ch && ch <= '9' || ch == '-') {
				return false
			}
		}
	}
	tld := labels[len(labels)-1]
	if len(tld) < 2 || len(tld) > 24 {
		return false
	}
	return strings.Trim(tld, "abcdefghijklmnopqrstuvwxyz") == ""
}
