package integrations

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/codat-migrate/codat"
)

// assertNoSecret fails when s contains any fake credential.
func assertNoSecret(t *testing.T, what, s string) {
	t.Helper()
	for _, v := range fakeSecrets {
		if strings.Contains(s, v) {
			t.Errorf("%s leaks a credential: %s", what, strings.ReplaceAll(s, v, "<LEAKED>"))
		}
	}
}

// renderings prints a in every way a log line, error or report might.
func renderings(t *testing.T, a any) map[string]string {
	t.Helper()
	out := make(map[string]string)
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%10.3v"} {
		out["fmt "+verb] = fmt.Sprintf(verb, a)
	}
	out["fmt pointer %+v"] = fmt.Sprintf("%+v", &a)
	out["fmt slice %v"] = fmt.Sprintf("%v", []any{a})
	out["fmt nested %+v"] = fmt.Sprintf("%+v", struct{ Auth any }{a})
	out["Sprint"] = fmt.Sprint(a)
	out["Sprintln"] = fmt.Sprintln(a)
	out["error %w"] = fmt.Errorf("migrating: %v", a).Error()

	js, err := json.Marshal(a)
	require.NoError(t, err)
	out["json"] = string(js)
	js, err = json.Marshal(struct{ Auth any }{a})
	require.NoError(t, err)
	out["json nested"] = string(js)

	var buf bytes.Buffer
	jl := slog.New(slog.NewJSONHandler(&buf, nil))
	jl.Info("migrate", "auth", a)
	jl.Info("migrate", slog.Any("auth", a))
	jl.Info("migrate", slog.Any("row", struct{ Auth any }{a}))
	jl.Info("migrate", slog.Group("g", "auth", a))
	out["slog json"] = buf.String()
	buf.Reset()
	tl := slog.New(slog.NewTextHandler(&buf, nil))
	tl.Info("migrate", "auth", a)
	tl.Info("migrate", slog.Any("row", struct{ Auth any }{a}))
	out["slog text"] = buf.String()
	return out
}

func TestRedactionOfEveryBuilder(t *testing.T) {
	r := testRegistry()
	var subjects []codat.Authorization
	for _, b := range samples() {
		subjects = append(subjects, b)
		subjects = append(subjects, r.Bind(b))
		// A pointer to the builder.
		p := reflect.New(reflect.TypeOf(b))
		p.Elem().Set(reflect.ValueOf(b))
		subjects = append(subjects, p.Interface().(codat.Authorization))
	}
	g := Generic{Key: "qhyg", Fields: map[string]codat.Secret{"realmId": "1", "accessToken": fakeAccess, "refreshToken": fakeRefresh}}
	rec, err := r.FromRecord("woocommerce", map[string]string{"storeUrl": "https://x.example.com", "consumer_key": fakeKey.Reveal(), "consumer_secret": fakeSecret.Reveal()})
	require.NoError(t, err)
	subjects = append(subjects, g, &g, rec, r.Bind(rec))

	for _, a := range subjects {
		t.Run(fmt.Sprintf("%s/%T", a.PlatformKey(), a), func(t *testing.T) {
			for what, s := range renderings(t, a) {
				assertNoSecret(t, what, s)
			}
			// The wire body does carry the credentials: redaction is not emptiness.
			body, err := a.Body()
			require.NoError(t, err)
			if a.PlatformKey() == "olpr" {
				return // Sage Bank Feeds carries no credential
			}
			var revealed bool
			for _, v := range body {
				for _, s := range fakeSecrets {
					revealed = revealed || v == s
				}
			}
			assert.True(t, revealed, "Body must carry the real credentials")
		})
	}
}

// Every builder with every credential made invalid: the errors name fields,
// never values.
func TestRedactionOfErrors(t *testing.T) {
	r := testRegistry()
	for _, b := range samples() {
		t.Run(b.PlatformKey(), func(t *testing.T) {
			for _, bad := range []string{"\x01", "\n", "\t", "\xff"} {
				v := reflect.New(reflect.TypeOf(b)).Elem()
				v.Set(reflect.ValueOf(b))
				n := 0
				for i := 0; i < v.NumField(); i++ {
					if f := v.Field(i); f.Type() == reflect.TypeOf(codat.Secret("")) {
						f.SetString(f.String() + bad)
						n++
					}
				}
				if n == 0 {
					return // Sage Bank Feeds carries no credential
				}
				a := v.Interface().(codat.Authorization)
				_, err := r.Body(a)
				require.Error(t, err)
				var verr *ValidationError
				require.True(t, errors.As(err, &verr))
				assert.Len(t, verr.Problems, n, "one problem per credential")
				assertNoSecret(t, "Body error", err.Error())
				assertNoSecret(t, "Body error %+v", fmt.Sprintf("%+v %#v", err, err))
				for what, s := range renderings(t, err) {
					assertNoSecret(t, what, s)
				}
			}
		})
	}

	// Bearer prefixes and expired JWTs too.
	_, err := r.Body(Plaid{ItemID: "i", AccessToken: "Bearer " + fakeAccess})
	require.Error(t, err)
	assertNoSecret(t, "bearer error", err.Error())

	// FromRecord with credentials in the wrong columns and formats.
	_, err = r.FromRecord("qhyg", map[string]string{"realmId": fakeAccess.Reveal(), "accesToken": fakeAccess.Reveal(), "refreshToken": fakeRefresh.Reveal() + " x"})
	require.Error(t, err)
	assertNoSecret(t, "FromRecord error", err.Error())
	_, err = StringValues(map[string]any{"x": 1.5, "accessToken": fakeAccess.Reveal()})
	require.Error(t, err)
	assertNoSecret(t, "StringValues error", err.Error())
}
