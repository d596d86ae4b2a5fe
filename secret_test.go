package codat_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
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
	// Not covered, by design of Secret: slog's JSON handler encodes a slice,
	// map or struct holding a Secret with encoding/json, and MarshalJSON
	// writes the real value (request bodies need it). Log such values only
	// through a type that implements slog.LogValuer.
}

func TestSecretJSON(t *testing.T) {
	body := map[string]codat.Secret{"accessToken": sdkSecretValue}
	b, err := json.Marshal(body)
	require.NoError(t, err)
	assert.JSONEq(t, `{"accessToken":"`+sdkSecretValue+`"}`, string(b), "the wire carries the real value")

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
