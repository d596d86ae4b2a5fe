// Package testutil holds small helpers shared by this module's tests:
// captured slog output, secret-leak assertions, Codat-shaped JSON fixtures
// that satisfy the published contract, and a TestMain that keeps account
// locks out of the user's state directory.
package testutil

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// LogBuffer captures slog output at every level, safely across goroutines.
type LogBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write implements io.Writer.
func (b *LogBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything logged so far.
func (b *LogBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Lines returns the non-empty log lines so far.
func (b *LogBuffer) Lines() []string {
	var out []string
	for _, l := range strings.Split(b.String(), "\n") {
		if strings.TrimSpace(l) != "" {
			out = append(out, l)
		}
	}
	return out
}

// JSONLogger returns a debug-level JSON logger writing to b.
func (b *LogBuffer) JSONLogger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// TextLogger returns a debug-level text logger writing to b.
func (b *LogBuffer) TextLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// Encodings returns s and the forms in which it could leak by accident:
// standard, URL-safe and unpadded base64, and JSON-escaped.
func Encodings(s string) []string {
	out := []string{s,
		base64.StdEncoding.EncodeToString([]byte(s)),
		base64.URLEncoding.EncodeToString([]byte(s)),
		base64.RawStdEncoding.EncodeToString([]byte(s)),
	}
	if j, err := json.Marshal(s); err == nil {
		out = append(out, strings.Trim(string(j), `"`))
	}
	return out
}

// AssertNoSecrets fails t when text contains any secret in any of its
// Encodings. what names the text in the failure message; the message names
// the secret by position, never by value.
func AssertNoSecrets(t testing.TB, what, text string, secrets ...string) bool {
	t.Helper()
	ok := true
	for i, s := range secrets {
		if s == "" {
			continue
		}
		for _, enc := range Encodings(s) {
			if strings.Contains(text, enc) {
				t.Errorf("%s contains secret #%d (or an encoding of it)", what, i)
				ok = false
				break
			}
		}
	}
	return ok
}

// WriteJSON writes v as a JSON response with the given status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// CodatError writes Codat's error body (schema ErrorMessage).
func CodatError(w http.ResponseWriter, status int, message, correlationID string) {
	WriteJSON(w, status, map[string]any{
		"statusCode":        status,
		"service":           "PublicApi",
		"error":             message,
		"correlationId":     correlationID,
		"canBeRetried":      "Unknown",
		"detailedErrorCode": 0,
	})
}

// Company returns a contract-valid Company body.
func Company(id, name string, tags map[string]string) map[string]any {
	c := map[string]any{
		"id":                id,
		"name":              name,
		"redirect":          "https://link.codat.io/company/" + id,
		"created":           "2022-11-10T10:45:18.1950523Z",
		"lastSync":          nil,
		"createdByUserName": "migrator",
		"products":          []string{},
		"platform":          "", // in Codat's examples, not in its schema: clients must ignore it
	}
	if tags != nil {
		c["tags"] = tags
	}
	return c
}

// Connection returns a contract-valid Connection body.
func Connection(companyID, id, platformKey, status string) map[string]any {
	return map[string]any{
		"id":                   id,
		"integrationId":        "fd321cb6-7963-4506-b873-e99593a45e30",
		"integrationKey":       platformKey,
		"sourceId":             "8b1b6b5d-1c88-4d6b-8f3a-12ad0e7e0e9a",
		"sourceType":           "Accounting",
		"platformName":         "QuickBooks Online",
		"linkUrl":              "https://link-api.codat.io/companies/" + companyID + "/connections/" + id + "/start",
		"status":               status,
		"lastSync":             nil,
		"created":              "2022-10-27T09:53:29Z",
		"dataConnectionErrors": []map[string]any{},
		"connectionInfo":       nil,
	}
}

// PullOperation returns a contract-valid PullOperation body.
func PullOperation(companyID, connectionID, id, dataType, status string, completed bool) map[string]any {
	p := map[string]any{
		"id":           id,
		"companyId":    companyID,
		"connectionId": connectionID,
		"dataType":     dataType,
		"status":       status,
		"requested":    "2022-11-10T10:45:18Z",
		"progress":     0,
		"isCompleted":  completed,
		"isErrored":    false,
	}
	if completed {
		p["progress"] = 100
		p["completed"] = "2022-11-10T10:46:18.1950523+00:00"
	}
	return p
}

// Page wraps results in Codat's paging envelope. next adds a _links.next.
func Page(path string, results any, page, size, total int, next bool) map[string]any {
	links := map[string]any{
		"self":    map[string]any{"href": path},
		"current": map[string]any{"href": path + "?page=" + itoa(page) + "&pageSize=" + itoa(size)},
	}
	if next {
		links["next"] = map[string]any{"href": path + "?page=" + itoa(page+1) + "&pageSize=" + itoa(size)}
	}
	if page > 1 {
		links["previous"] = map[string]any{"href": path + "?page=" + itoa(page-1) + "&pageSize=" + itoa(size)}
	}
	return map[string]any{
		"results":      results,
		"pageNumber":   page,
		"pageSize":     size,
		"totalResults": total,
		"_links":       links,
	}
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// Integration is a contract-valid Integration for platformKey.
func Integration(platformKey, name string) map[string]any {
	return map[string]any{
		"key": platformKey, "logoUrl": "https://static.codat.io/public/officialLogos/Full/" + platformKey + ".png", "name": name,
		"enabled": true, "sourceId": "8b1b6b5d-1c88-4d6b-8f3a-12ad0e7e0e9a", "sourceType": "Accounting",
		"integrationId": "fd321cb6-7963-4506-b873-e99593a45e30", "isOfflineConnector": false, "isBeta": false,
		"dataProvidedBy": "Codat",
		"datatypeFeatures": []any{map[string]any{
			"datatype":          "invoices",
			"supportedFeatures": []any{map[string]any{"featureType": "Get", "featureState": "Release"}},
		}},
	}
}
