package codat

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/codat-migrate/codat/internal/scrub"
)

func TestIsIdentifier(t *testing.T) {
	tests := []struct {
		value string
		want  bool
	}{
		{"9130350000000001", true},
		{" 123145678901234 ", true},
		{"3f2b1c9a-0d4e-4f5a-8b6c-7d8e9f0a1b2c", true},
		{"3F2B1C9A-0D4E-4F5A-8B6C-7D8E9F0A1B2C", true},
		{"2099-01-01T00:00:00Z", true},
		{"2099-01-01T00:00:00+01:00", true},
		{"acme-store.myshopify.com", true},
		{"https://acme.example.com/store", true},
		{"http://acme.example.com", true},
		{"", true},
		// Credentials, or values that cannot be told from one.
		{"eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJjdXN0In0.c2ln", false},
		{"eyjhbgcioijsuzi1nij9.eyjzdwiioijjdxn0in0.c2ln", false}, // lowercase, but its last label has digits
		{"3f2b1c9a0d4e4f5a8b6c7d8e9f0a1b2c", false},              // 32 hex digits: an API token as often as an id
		{"RT1-refresh-7f6e5d4c3b2a1908", false},
		{"shpat_0123456789abcdef0123456789abcdef", false},
		{"https://acme.example.com/cb?token=abc123", false},
		{"https://user:pass@acme.example.com", false},
		{"https://acme.example.com/#frag", false},
		{"ftp://acme.example.com", false},
		{"production", false},
		{"a.b", false}, // a one-letter top-level label
		{"-acme.example.com", false},
		{"acme..example.com", false},
		{strings.Repeat("a", 64) + ".example.com", false},
	}
	for _, tc := range tests {
		assert.Equal(t, tc.want, isIdentifier(tc.value), "%q", tc.value)
	}
}

type echoAuth map[string]string

func (echoAuth) PlatformKey() string                { return "qhyg" }
func (a echoAuth) Body() (map[string]string, error) { return a, nil }

// answerGuardOf keeps the credentials of the body and leaves out the
// identifiers and the values the Migration publishes itself, which it
// lists as public.
func TestAnswerGuardOf(t *testing.T) {
	m := Migration{
		Ref:      "crm-42",
		TenantID: "Contoso/Production-EU",
		Company:  CreateCompanyRequest{Name: "Acme Ltd", Description: "moved from crm", Tags: map[string]string{"region": "uk-south-2"}},
		Auth: echoAuth{
			"accessToken":  "tok-ACCESS-0123456789",
			"refreshToken": "tok-REFRESH-9876543210",
			"realmId":      "9130350000000001",
			"environment":  "production-eu", // in TenantID, whatever the case
			"region":       "uk-south-2",    // a tag value of the Migration
			"expiresAt":    "2099-01-01T00:00:00Z",
		},
	}
	g := answerGuardOf(m)
	assert.ElementsMatch(t, []string{"tok-ACCESS-0123456789", "tok-REFRESH-9876543210"}, g.secrets)
	assert.Subset(t, g.public, []string{"crm-42", "Contoso/Production-EU", "qhyg:Contoso/Production-EU", "Acme Ltd", "moved from crm", "region", "uk-south-2"})

	m.Auth = nil
	assert.Empty(t, answerGuardOf(m).secrets)
}

// holdsCredential sees a secret in a value, a key or a number, behind JSON
// escapes, in part and in base64, once at least 12 bytes of it (all of a
// shorter one) show in one value; a shorter overlap with ordinary text is
// not an echo.
func TestHoldsCredential(t *testing.T) {
	const key = "crash-test-key-93e1c07b5a4f28d6"
	keys := newCredentials(key).compile()
	b64 := base64.StdEncoding.EncodeToString([]byte(key))
	escaped := strings.ReplaceAll(key, "k", `\u006b`)
	// A test token that embeds the ref; what it holds besides is what is secret.
	tokenOfRef := compileCredentials([]string{"tok-customer-account-000123-s3cr3t-9f8e7d6c"})
	ref := scrub.New("customer-account-000123")
	tests := []struct {
		name   string
		creds  []credential
		public *scrub.Set
		body   string
		want   bool
	}{
		{"ordinary", keys, nil, `{"id":"3f2b1c9a-0d4e-4f5a-8b6c-7d8e9f0a1b2c","name":"Acme"}`, false},
		{"a 6-byte overlap: a ref beside a test key", keys, nil, `{"tags":{"migrationRef":"crash-0001"}}`, false},
		{"in a value", keys, nil, `{"id":"` + key + `"}`, true},
		{"12 bytes of it", keys, nil, `{"id":"x` + key[10:22] + `y"}`, true},
		{"11 bytes of it", keys, nil, `{"id":"x` + key[10:21] + `y"}`, false},
		{"escaped in a value", keys, nil, `{"id":"` + escaped + `"}`, true},
		{"escaped in a key", keys, nil, `{"` + escaped + `":1}`, true},
		{"base64", keys, nil, `{"d":"` + b64 + `"}`, true},
		{"the Authorization header", keys, nil, `{"d":"Basic ` + b64 + `"}`, true},
		{"in a value, the body not JSON after it", keys, nil, `{"id":"` + key + `"} trailing`, true},
		{"the body not JSON before it", keys, nil, `<html>` + key, false},
		{"a number", newCredentials("58201937466051").compile(), nil, `{"n":58201937466051}`, true},
		{"a short secret, whole", compileCredentials([]string{"hunter22"}), nil, `{"m":"pw hunter22"}`, true},
		{"a test token's word in an error message", compileCredentials([]string{"rejected-access-token"}),
			nil, `{"dataConnectionErrors":[{"errorMessage":"The platform rejected the supplied credentials"}]}`, false},
		{"no credentials", nil, nil, `{"id":"` + key + `"}`, false},
		{"a token that embeds a long ref, beside the ref", tokenOfRef, ref, `{"tags":{"migrationRef":"customer-account-000123"}}`, false},
		{"the same without the public values", tokenOfRef, nil, `{"tags":{"migrationRef":"customer-account-000123"}}`, true},
		{"the whole token beside the ref", tokenOfRef, ref, `{"linkUrl":"https://l.example/?t=tok-customer-account-000123-s3cr3t-9f8e7d6c"}`, true},
		{"its secret part alone", tokenOfRef, ref, `{"linkUrl":"https://l.example/?t=s3cr3t-9f8e7d6c"}`, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, holdsCredential(tc.creds, tc.public, []byte(tc.body)))
		})
	}
}

// benchPage is a page of n companies as Codat sends them, each with a
// dataConnection.
func benchPage(n int) []byte {
	type conn struct {
		ID, IntegrationID, SourceID, LinkURL, Status, Created string
	}
	type co struct {
		ID, Name, Description, Created string
		Tags                           map[string]string
		DataConnections                []conn
	}
	res := make([]co, n)
	for i := range res {
		id, cn := uuid.NewString(), uuid.NewString()
		res[i] = co{ID: id, Name: fmt.Sprintf("Customer %d Ltd", i), Description: "migrated", Created: "2025-03-04T10:11:12.1234567Z",
			Tags: map[string]string{RefTagKey: fmt.Sprintf("crm-%d", i), CallTagKey: uuid.NewString()},
			DataConnections: []conn{{ID: cn, IntegrationID: uuid.NewString(), SourceID: uuid.NewString(),
				LinkURL: "https://link-api.codat.io/companies/" + id + "/connections/" + cn + "/start", Status: "Linked", Created: "2025-03-04T10:11:13Z"}}}
	}
	data, _ := json.Marshal(map[string]any{"results": res, "pageNumber": 1, "pageSize": n, "totalResults": n})
	return data
}

// randomKey is an API key of Codat's shape: 40 random letters and digits.
func randomKey(t testing.TB) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 40)
	for i := range b {
		n, err := rand.Int(rand.Reader, big.NewInt(int64(len(alphabet))))
		require.NoError(t, err)
		b[i] = alphabet[n.Int64()]
	}
	return string(b)
}

// An ordinary page of 1000 companies is not taken for an echo of a random
// API key: the policy's 6-byte fragments do not turn up by chance in ids,
// names and dates.
func TestHoldsCredentialOrdinaryPage(t *testing.T) {
	page := benchPage(1000)
	for range 20 {
		assert.False(t, holdsCredential(newCredentials(randomKey(t)).compile(), nil, page))
	}
}

// BenchmarkHoldsCredential checks successful answers for the API key: one
// company with a connection (what most calls read), a page of 100 (a
// Migrate look-up) and a page of 5000 (the largest page Codat serves).
func BenchmarkHoldsCredential(b *testing.B) {
	keys := newCredentials(randomKey(b)).compile()
	for _, n := range []int{1, 100, MaxPageSize} {
		page := benchPage(n)
		if n == 1 {
			var p struct{ Results []json.RawMessage }
			require.NoError(b, json.Unmarshal(page, &p))
			page = p.Results[0]
		}
		b.Run(fmt.Sprintf("%d companies, %d bytes", n, len(page)), func(b *testing.B) {
			b.SetBytes(int64(len(page)))
			for b.Loop() {
				if holdsCredential(keys, nil, page) {
					b.Fatal("an ordinary answer holds the key")
				}
			}
		})
	}
}

// FuzzHoldsCredential: a secret of at least 6 bytes that a server puts,
// whole, into any value of a JSON answer, between any text, is always found,
// as the API key and as a token credential.
func FuzzHoldsCredential(f *testing.F) {
	f.Add("hostile-API-KEY-4f3e2d1c0b9a", "https://link.example/?k=", "&x=1")
	f.Add("short1", "", "")
	f.Add("tok-<&>-\u2028-é", `"quoted" `, "\\")
	f.Fuzz(func(t *testing.T, secret, before, after string) {
		// Each part valid UTF-8 on its own: JSON replaces invalid bytes, and
		// an invalid secret's bytes could pair up with its neighbours'.
		if strings.TrimSpace(secret) != secret || len(secret) < 6 ||
			!utf8.ValidString(secret) || !utf8.ValidString(before) || !utf8.ValidString(after) {
			return
		}
		body, err := json.Marshal(map[string]any{"id": "x", "v": []string{before + secret + after}})
		require.NoError(t, err)
		if !holdsCredential(compileCredentials([]string{secret}), nil, body) {
			t.Fatalf("a secret of %d bytes was not found in a %d-byte answer", len(secret), len(body))
		}
		if !holdsCredential(newCredentials(secret).compile(), nil, body) {
			t.Fatalf("an API key of %d bytes was not found in a %d-byte answer", len(secret), len(body))
		}
	})
}

// FuzzHoldsNothing: when holdsNothing says scrubbing the whole answer
// removes nothing, no value of it holds a credential, so the walk value by
// value (the slow path it spares) agrees.
func FuzzHoldsNothing(f *testing.F) {
	f.Add("hostile-API-KEY-4f3e2d1c0b9a", `{"id":"hostile-API-KEY-4f3e2d1c0b9a"}`)
	f.Add("hostile-API-KEY-4f3e2d1c0b9a", `{"id":"aG9zdGlsZS1BUEktS0VZLTRmM2UyZDFjMGI5YQ"}`)
	f.Add("1234567890123", `{"n":-12345678901234,"m":[1e+1234567890123]}`)
	f.Add("secret\"quote", `{"v":"secret\"quote"}`)
	f.Add("tok-é-\u2028-x", "{\"k\":\"tok-\u00e9-\u2028-x\"}")
	f.Add("abcdefgh", "[\"abc\",\"defgh\",\"xabcdef\"]")
	f.Fuzz(func(t *testing.T, secret, body string) {
		creds := compileCredentials([]string{secret})
		if len(creds) == 0 || !holdsNothing(creds, []byte(body)) {
			return
		}
		if walkHoldsCredential(creds, nil, []byte(body)) {
			t.Fatalf("holdsNothing passed a %d-byte answer that holds a credential of %d bytes", len(body), len(secret))
		}
	})
}
