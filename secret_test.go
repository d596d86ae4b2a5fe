package codat_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/codat-migrate/codat"
	"github.com/codat-migrate/codat/internal/testutil"
)

const sdkSecretValue = "s3cr3t-VALUE-0a1b2c3d"

func TestSecretFormatting(t *testing.T) {
	s := codat.Secret(sdkSecretValue)
	type holder struct {
		Token codat.Secret
		Ptr   *codat.Secret
		List  []codat.Secret
		Map   map[string]codat.Secret
	}
	h := holder{Token: s, Ptr: &s, List: []codat.Secret{s}, Map: map[string]codat.Secret{"k": s}}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%10s", "%-10v", "%T"} {
		for name, v := range map[string]any{"value": s, "pointer": &s, "struct": h, "struct pointer": &h} {
			out := fmt.Sprintf(verb, v)
			assert.NotContains(t, out, sdkSecretValue, "%s of %s", verb, name)
		}
	}
	assert.Equal(t, codat.Redacted, fmt.Sprint(s))
	assert.Equal(t, codat.Redacted, s.String())
	assert.Equal(t, codat.Redacted, s.GoString())
	assert.Equal(t, sdkSecretValue, s.Reveal())
	assert.Contains(t, fmt.Sprintf("%+v", h), codat.Redacted)
}

func TestSecretSlog(t *testing.T) {
	var buf bytes.Buffer
	s := codat.Secret(sdkSecretValue)
	for _, l := range []*slog.Logger{
		slog.New(slog.NewTextHandler(&buf, nil)),
		slog.New(slog.NewJSONHandler(&buf, nil)),
	} {
		l.Info("token", "value", s, "ptr", &s, slog.Any("any", s), slog.Group("g", "nested", s))
	}
	// The text handler formats collections with fmt, which redacts.
	slog.New(slog.NewTextHandler(&buf, nil)).Info("collections",
		"list", []codat.Secret{s}, "map", map[string]codat.Secret{"k": s})
	out := buf.String()
	assert.NotContains(t, out, sdkSecretValue)
	assert.Contains(t, out, codat.Redacted)
}

// slog's JSON handler encodes a struct, slice or map holding a Secret with
// encoding/json: the Secret is redacted there too, however deeply nested.
func TestSecretSlogJSONNested(t *testing.T) {
	s := codat.Secret(sdkSecretValue)
	type inner struct {
		Tokens map[string]codat.Secret
	}
	type outer struct {
		Name  string
		Token codat.Secret
		Ptr   *codat.Secret
		List  []codat.Secret
		Inner inner
		Any   any
	}
	v := outer{Name: "acme", Token: s, Ptr: &s, List: []codat.Secret{s, s},
		Inner: inner{Tokens: map[string]codat.Secret{"accessToken": s}}, Any: []any{s}}
	var buf bytes.Buffer
	l := slog.New(slog.NewJSONHandler(&buf, nil))
	l.Info("nested", slog.Any("value", v), slog.Any("pointer", &v), slog.Any("list", []outer{v}),
		slog.Any("map", map[string]any{"k": v}), slog.Any("auth", sdkSecretAuth{AccessToken: s, RefreshToken: s}))
	out := buf.String()
	testutil.AssertNoSecrets(t, "slog JSON output", out, sdkSecretValue)
	assert.Contains(t, out, `"Name":"acme"`, "the rest of the value is logged")
	assert.Equal(t, 4*6+2, strings.Count(out, codat.Redacted), "every Secret is there, redacted: %s", out)
}

func TestSecretJSON(t *testing.T) {
	body := map[string]codat.Secret{"accessToken": sdkSecretValue}
	b, err := json.Marshal(body)
	require.NoError(t, err)
	assert.JSONEq(t, `{"accessToken":"[REDACTED]"}`, string(b), "marshalling never reveals")

	// The wire carries the real value, through Reveal only.
	h := newSDKHarness(t)
	h.handle("PUT /companies/{companyId}/connections/{connectionId}/authorization", func(w http.ResponseWriter, r *http.Request) {
		testutil.WriteJSON(w, 200, testutil.Connection(sdkCompanyID, sdkConnectionID, "qhyg", "Linked"))
	})
	_, err = h.client.Connections.UpdateAuthorization(context.Background(), sdkCompanyID, sdkConnectionID,
		sdkSecretAuth{RealmID: "123", AccessToken: sdkSecretValue, RefreshToken: "refresh-" + sdkSecretValue})
	require.NoError(t, err)
	require.Len(t, h.requests(), 1)
	assert.JSONEq(t, `{"realmId":"123","accessToken":"`+sdkSecretValue+`","refreshToken":"refresh-`+sdkSecretValue+`"}`,
		string(h.requests()[0].Body), "the wire carries the real values")

	var back struct{ Token codat.Secret }
	require.NoError(t, json.Unmarshal([]byte(`{"Token":"abc"}`), &back))
	assert.Equal(t, "abc", back.Token.Reveal())

	text, err := codat.Secret(sdkSecretValue).MarshalText()
	require.NoError(t, err)
	assert.Equal(t, codat.Redacted, string(text))
}

func TestSecretFingerprintAndZero(t *testing.T) {
	a := codat.Secret("token-a")
	assert.Len(t, a.Fingerprint(), 12)
	assert.Equal(t, a.Fingerprint(), codat.Secret("token-a").Fingerprint(), "stable")
	assert.NotEqual(t, a.Fingerprint(), codat.Secret("token-b").Fingerprint())
	assert.NotContains(t, a.Fingerprint(), "token")
	assert.Equal(t, "", codat.Secret("").Fingerprint())
	assert.True(t, codat.Secret("").IsZero())
	assert.False(t, a.IsZero())
}

// sdkSecretAuth carries its tokens as Secrets, as the integration builders do.
type sdkSecretAuth struct {
	RealmID      string
	AccessToken  codat.Secret
	RefreshToken codat.Secret
}

func (a sdkSecretAuth) PlatformKey() string { return "qhyg" }
func (a sdkSecretAuth) Body() (map[string]string, error) {
	return map[string]string{"realmId": a.RealmID, "accessToken": a.AccessToken.Reveal(), "refreshToken": a.RefreshToken.Reveal()}, nil
}

// TestNoSecretLeaks runs a session with failures and retries and checks
// that the API key and the tokens reach the wire and nowhere else: not in
// any error string, not in the fmt output of any exported value, not in the
// debug logs.
func TestNoSecretLeaks(t *testing.T) {
	const (
		apiKey  = "leak-test-API-KEY-5e4d3c2b1a"
		access  = "leak-test-ACCESS-9a8b7c6d"
		refresh = "leak-test-REFRESH-1f2e3d4c"
	)
	secrets := []string{apiKey, access, refresh}
	logs := &testutil.LogBuffer{}
	textLogs := &testutil.LogBuffer{}
	h := newSDKHarness(t)
	c, err := codat.NewClient(apiKey,
		codat.WithBaseURL(h.srv.URL+sdkPrefix),
		codat.WithRetryPolicy(sdkFastPolicy()),
		codat.WithLogger(slog.New(sdkTeeHandler{logs.JSONLogger().Handler(), textLogs.TextLogger().Handler()})),
		codat.WithUserAgent("leak-test/1.0"))
	require.NoError(t, err)

	var n atomic.Int32
	var sawTokens atomic.Bool
	h.handleAll(func(w http.ResponseWriter, r *http.Request) {
		i := n.Add(1)
		if strings.HasSuffix(r.URL.Path, "/authorization") {
			var body map[string]string
			sdkDecodeJSON(t, r, &body)
			if body["accessToken"] == access && body["refreshToken"] == refresh {
				sawTokens.Store(true)
			}
			// Echo-happy failures: the error message repeats what it got.
			if i%2 == 1 {
				w.Header().Set("Retry-After", "0")
				testutil.CodatError(w, 429, "rate limited for "+r.Header.Get("Idempotency-Key"), "corr-429")
				return
			}
			testutil.CodatError(w, 500, "internal error", "corr-500")
			return
		}
		switch i % 3 {
		case 0:
			testutil.CodatError(w, 503, "maintenance", "corr-503")
		case 1:
			w.WriteHeader(502)
		default:
			testutil.CodatError(w, 401, "Unauthorized", "corr-401")
		}
	})

	auth := sdkSecretAuth{RealmID: "123", AccessToken: access, RefreshToken: refresh}
	ctx := context.Background()
	var errs []error
	_, err = c.Connections.UpdateAuthorization(ctx, sdkCompanyID, sdkConnectionID, auth)
	errs = append(errs, err)
	_, err = c.Companies.Get(ctx, sdkCompanyID)
	errs = append(errs, err)
	_, err = c.Companies.Create(ctx, codat.CreateCompanyRequest{Name: "Acme"})
	errs = append(errs, err)
	errs = append(errs, c.Sync.RefreshAll(ctx, sdkCompanyID))
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	_, err = c.Connections.UpdateAuthorization(cancelled, sdkCompanyID, sdkConnectionID, auth)
	errs = append(errs, err)

	require.True(t, sawTokens.Load(), "the tokens reached the wire")
	require.GreaterOrEqual(t, int(n.Load()), 6, "the session had retries")
	require.NotEmpty(t, logs.Lines(), "the session was logged")

	for i, e := range errs {
		require.Error(t, e, "call %d fails", i)
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q"} {
			testutil.AssertNoSecrets(t, fmt.Sprintf("error %d under %s", i, verb), fmt.Sprintf(verb, e), secrets...)
		}
	}
	exported := map[string]any{
		"client": c, "client value fields": c.Companies, "auth": auth, "quota": c.Quota(),
		"policy": codat.DefaultRetryPolicy(), "company": codat.Company{}, "connection": codat.Connection{},
		"api error": &codat.APIError{}, "transport error": &codat.TransportError{}, "decode error": &codat.DecodeError{},
		"secret": codat.Secret(apiKey),
	}
	for name, v := range exported {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
			testutil.AssertNoSecrets(t, name+" under "+verb, fmt.Sprintf(verb, v), secrets...)
		}
	}
	testutil.AssertNoSecrets(t, "JSON debug logs", logs.String(), secrets...)
	testutil.AssertNoSecrets(t, "text debug logs", textLogs.String(), secrets...)
	for _, l := range logs.Lines() {
		assert.NotContains(t, l, "?", "no query string is logged")
		assert.NotContains(t, l, "leak-test/1.0", "no header is logged")
		assert.NotContains(t, l, "Basic ", "no header is logged")
	}
}

// sdkTeeHandler sends records to two handlers.
type sdkTeeHandler struct{ a, b slog.Handler }

func (t sdkTeeHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return t.a.Enabled(ctx, l) || t.b.Enabled(ctx, l)
}
func (t sdkTeeHandler) Handle(ctx context.Context, r slog.Record) error {
	_ = t.a.Handle(ctx, r.Clone())
	return t.b.Handle(ctx, r.Clone())
}
func (t sdkTeeHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return sdkTeeHandler{t.a.WithAttrs(as), t.b.WithAttrs(as)}
}
func (t sdkTeeHandler) WithGroup(g string) slog.Handler {
	return sdkTeeHandler{t.a.WithGroup(g), t.b.WithGroup(g)}
}

// A server that echoes the request's headers and body in its error, whole,
// cut short or base64-encoded, cannot leak the API key or a token through
// the error, its fields or the logs.
func TestEchoedCredentialsAreScrubbed(t *testing.T) {
	const (
		apiKey = "echo-test-API-KEY-77f1e2d3c4b5a6"
		token  = "eyJhbGciOiJIUzI1NiJ9.echo-test-ACCESS-TOKEN-0a9b8c7d6e5f"
	)
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	echoes := map[string]func(r *http.Request, body string) string{
		"Authorization header": func(r *http.Request, _ string) string {
			return "unauthorized: Authorization: " + r.Header.Get("Authorization")
		},
		"all headers as JSON": func(r *http.Request, _ string) string {
			h, _ := json.Marshal(r.Header)
			return "headers " + string(h)
		},
		"Authorization header, base64": func(r *http.Request, _ string) string {
			return "trace " + b64("Authorization: "+r.Header.Get("Authorization"))
		},
		"body cut at 30 bytes": func(_ *http.Request, body string) string { return "bad body " + body[:30] },
		"body, base64":         func(_ *http.Request, body string) string { return "bad body " + b64(body) },
		"body, base64 at an offset": func(_ *http.Request, body string) string {
			return "bad body " + base64.RawURLEncoding.EncodeToString([]byte("xy"+body))
		},
		"token suffix":           func(_ *http.Request, _ string) string { return "token …" + token[len(token)-20:] },
		"key cut at 10 bytes":    func(_ *http.Request, _ string) string { return "key " + apiKey[:10] + "…" },
		"header cut at 16 bytes": func(r *http.Request, _ string) string { return "auth " + r.Header.Get("Authorization")[:16] },
	}
	for _, keyForm := range []string{apiKey, "Basic " + b64(apiKey)} {
		for name, echo := range echoes {
			t.Run(name+"/"+map[bool]string{true: "raw key", false: "ready-made header"}[keyForm == apiKey], func(t *testing.T) {
				h := newSDKHarness(t)
				logs := &testutil.LogBuffer{}
				c, err := codat.NewClient(keyForm, codat.WithBaseURL(h.srv.URL+sdkPrefix),
					codat.WithRetryPolicy(codat.NoRetries()), codat.WithLogger(logs.JSONLogger()))
				require.NoError(t, err)
				h.handleAll(func(w http.ResponseWriter, r *http.Request) {
					body, _ := io.ReadAll(r.Body)
					msg := "nothing to echo"
					if len(body) > 0 || !strings.HasPrefix(name, "body") && !strings.HasPrefix(name, "token") {
						msg = echo(r, string(body))
					}
					testutil.WriteJSON(w, 400, map[string]any{"statusCode": 400, "error": msg,
						"correlationId": "corr " + msg, "service": msg,
						"validation": map[string]any{"errors": []map[string]string{{"itemId": msg, "message": msg}}}})
				})
				var calls []error
				_, err = c.Connections.UpdateAuthorization(context.Background(), sdkCompanyID, sdkConnectionID,
					sdkSecretAuth{RealmID: "123", AccessToken: token, RefreshToken: "refresh-" + token})
				calls = append(calls, err)
				_, err = c.Companies.Get(context.Background(), sdkCompanyID)
				calls = append(calls, err)
				for i, err := range calls {
					if i == 1 && (strings.HasPrefix(name, "body") || strings.HasPrefix(name, "token")) {
						continue // the GET carried no token to echo
					}
					var ae *codat.APIError
					require.ErrorAs(t, err, &ae)
					texts := map[string]string{"Error()": err.Error(), "%+v": fmt.Sprintf("%+v", err), "%#v": fmt.Sprintf("%#v", ae),
						"fields": ae.Message + " " + ae.Service + " " + ae.CorrelationID, "validation": ae.Validation.Errors[0].Message + ae.Validation.Errors[0].ItemID}
					for what, text := range texts {
						assertNoFragment(t, fmt.Sprintf("call %d %s", i, what), text, apiKey, b64(apiKey), token)
					}
					assert.Contains(t, err.Error(), codat.Redacted)
				}
				assertNoFragment(t, "logs", logs.String(), apiKey, b64(apiKey), token)
			})
		}
	}
}

// assertNoFragment fails when text holds any secret in any of
// testutil.Encodings, or any 12-byte fragment of one.
func assertNoFragment(t *testing.T, what, text string, secrets ...string) {
	t.Helper()
	testutil.AssertNoSecrets(t, what, text, secrets...)
	for n, s := range secrets {
		for i := 0; i+12 <= len(s); i++ {
			if strings.Contains(text, s[i:i+12]) {
				t.Errorf("%s holds a fragment of secret #%d at %d", what, n, i)
				break
			}
		}
	}
}
