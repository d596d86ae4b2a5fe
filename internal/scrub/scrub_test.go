package scrub

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

const token = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJjdXN0LTQyIn0.s3cr3t-s1gnature/with+chars"

func TestString(t *testing.T) {
	body := `{"accessToken":"` + token + `","realmId":"123"}`
	tests := []struct {
		name, text string
	}{
		{"whole", "token " + token + " rejected"},
		{"prefix, an echo cut at 30 bytes", "echo: " + body[:30]},
		{"suffix", "…" + token[len(token)-12:] + " end"},
		{"middle", "part " + token[20:40] + " part"},
		{"JSON-escaped", `{"error":"` + strings.ReplaceAll(token, "/", `\/`) + `"}`},
		{"URL-escaped", "url ?t=" + "s3cr3t-s1gnature%2Fwith%2Bchars"},
		{"base64", "b64 " + base64.StdEncoding.EncodeToString([]byte(token))},
		{"base64 URL-safe, unpadded", "b64 " + base64.RawURLEncoding.EncodeToString([]byte(token))},
		{"base64 of the body", "echo " + base64.StdEncoding.EncodeToString([]byte(body))},
		{"base64 of the body, shifted by one", "echo " + base64.StdEncoding.EncodeToString([]byte("x"+body))},
		{"base64 of the body, shifted by two", "echo " + base64.StdEncoding.EncodeToString([]byte("xy"+body))},
		{"base64 of the body cut at 30 bytes", "echo " + base64.StdEncoding.EncodeToString([]byte(body[:30]))},
	}
	set := New(token, "123")
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := set.String(tc.text)
			assert.Contains(t, got, Redacted)
			assert.NotContains(t, got, token[:MinLen])
			for i := 0; i+MinLen <= len(token); i++ {
				if strings.Contains(got, token[i:i+MinLen]) {
					t.Fatalf("a %d-byte fragment of the secret at %d is left", MinLen, i)
				}
			}
			for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawURLEncoding} {
				assert.NotContains(t, got, enc.EncodeToString([]byte(token))[4:16])
			}
		})
	}
}

func TestStringLeavesOrdinaryText(t *testing.T) {
	set := New(token, "abc", "12345")
	for _, text := range []string{
		"",
		"company not found",
		"Basic authentication failed for id 12345", // shorter than MinLen: not scrubbed
		"correlation id 0f8fad5b-d9cb-469f-a165-70867728950e",
		"b64 " + base64.StdEncoding.EncodeToString([]byte("an ordinary message of some length")),
	} {
		assert.Equal(t, text, set.String(text))
	}
}

func TestStringJoinsAdjacentMatches(t *testing.T) {
	assert.Equal(t, "a [REDACTED] b", Text("a "+token+" b", token))
	assert.Equal(t, "[REDACTED]", Text(token+token, token))
	assert.Equal(t, "x [REDACTED] y [REDACTED] z", Text("x secret-one y secret-two z", "secret-one", "secret-two"))
}

func TestEmpty(t *testing.T) {
	var s *Set
	assert.True(t, s.Empty())
	assert.Equal(t, "abcdefgh", s.String("abcdefgh"))
	assert.True(t, New("short").Empty(), "a secret shorter than MinLen is not scrubbed")
}

func FuzzString(f *testing.F) {
	f.Add(token, "echo "+token[:30])
	f.Add("secret-value", base64.StdEncoding.EncodeToString([]byte("xsecret-value")))
	f.Fuzz(func(t *testing.T, secret, text string) {
		got := Text(text+secret+text, secret)
		if len(secret) >= MinLen && strings.Contains(got, secret) {
			t.Fatalf("the secret is left in the text")
		}
	})
}

// BenchmarkString scrubs a 64 KiB error body (the most the client reads of
// one) that echoes a 2 KiB token three times, plainly and in base64.
func BenchmarkString(b *testing.B) {
	tok := strings.Repeat("tok-0123456789abcdef", 100)
	filler := strings.Repeat("ordinary words of an error message, ", 1700)
	text := filler[:20000] + tok + filler[:20000] + base64.StdEncoding.EncodeToString([]byte(tok)) + filler[:16000] + tok
	set := New(tok, "1234567890", "Acme Trading Ltd")
	b.SetBytes(int64(len(text)))
	b.ResetTimer()
	for b.Loop() {
		_ = set.String(text)
	}
}

// BenchmarkNew compiles the secrets of one token body.
func BenchmarkNew(b *testing.B) {
	tok := strings.Repeat("tok-0123456789abcdef", 100)
	for b.Loop() {
		_ = New(tok, "refresh-"+tok, "1234567890")
	}
}
