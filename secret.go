package codat

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
)

// Redacted is what a Secret prints as, wherever it is formatted or logged.
const Redacted = "[REDACTED]"

// Secret is a credential: an API key, an access token or a refresh token.
//
// It prints as [REDACTED] under every fmt verb and in slog output, so it cannot
// reach a log line, an error string or a panic by accident. It marshals its real
// value to JSON, because request bodies must carry it; call Reveal to read it
// explicitly. The zero value is an empty secret.
type Secret string

// Reveal returns the secret's real value. Call it only where the value must go on
// the wire.
func (s Secret) Reveal() string { return string(s) }

// IsZero reports whether the secret is empty.
func (s Secret) IsZero() bool { return s == "" }

// String returns [REDACTED].
func (s Secret) String() string { return Redacted }

// GoString returns [REDACTED], so %#v does not print the value.
func (s Secret) GoString() string { return Redacted }

// Format prints [REDACTED] for every verb, including %x and %q.
func (s Secret) Format(f fmt.State, verb rune) { _, _ = f.Write([]byte(Redacted)) }

// LogValue makes slog print [REDACTED].
func (s Secret) LogValue() slog.Value { return slog.StringValue(Redacted) }

// MarshalJSON writes the real value: secrets go on the wire inside JSON bodies.
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(string(s)) }

// MarshalText returns [REDACTED], so encoders that use encoding.TextMarshaler
// (map keys, CSV writers built on it, slog's text handler) never see the value.
func (s Secret) MarshalText() ([]byte, error) { return []byte(Redacted), nil }

// Fingerprint returns a short, stable, one-way identifier of the value (the
// first 12 hex digits of its SHA-256), for journals and reports that must tell
// two tokens apart without holding either. The empty secret has fingerprint "".
func (s Secret) Fingerprint() string {
	if s == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:6])
}
