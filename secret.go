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
// It prints as [REDACTED] under every fmt verb, in slog output (text and JSON
// handlers, also nested in a struct, slice or map logged with slog.Any) and
// when marshalled to JSON or text, so it cannot reach a log line, an error
// string, a JSON document or a panic by accident. Reveal is the one way to
// read the real value: request bodies are built from Authorization.Body, a
// map of revealed strings, never by marshalling a Secret. Unmarshalling reads
// the real value, so a Secret can be loaded from a JSON file. The zero value
// is an empty secret.
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

// MarshalJSON writes "[REDACTED]", so that a Secret inside any value encoded
// with encoding/json (slog's JSON handler, a report, a dump) stays hidden.
// The wire value is Reveal's.
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(Redacted) }

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
