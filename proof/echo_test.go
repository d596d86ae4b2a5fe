package proof_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/codat-migrate/codat/codattest"
)

// TestSecretScanHostileEchoes runs `codat-migrate migrate` with debug logging
// against a server that echoes what it was sent in its errors: the
// Authorization header (as sent and base64-encoded), the token body cut at
// 30 bytes, the body base64-encoded at two alignments, and a token's tail.
// No output, report or journal may hold the API key or a token, whole, as
// a fragment of 12 bytes, or in any base64 form.
func TestSecretScanHostileEchoes(t *testing.T) {
	if testing.Short() {
		t.Skip("secret scan: runs the CLI end to end; skipped under -short")
	}
	bin := codatMigrate(t)
	const apiKey = "echo-scan-api-key-3c9e1b7a5d2f"
	fake := codattest.NewServer(codattest.WithAPIKey(apiKey), codattest.WithoutQuota(), codattest.WithSyncTiming(0, 0))
	t.Cleanup(fake.Close)
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		auth := r.Header.Get("Authorization")
		switch {
		case r.Method == http.MethodPut && strings.HasSuffix(r.URL.Path, "/authorization"):
			var fields map[string]string
			_ = json.Unmarshal(body, &fields)
			tail := fields["accessToken"]
			tail = tail[max(0, len(tail)-14):]
			msg := fmt.Sprintf("rejected %s; auth %s; body %s; b64 %s; shifted %s; tail …%s",
				auth, b64(auth), body[:min(30, len(body))], b64(string(body)),
				base64.RawURLEncoding.EncodeToString(append([]byte("x"), body...)), tail)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			_ = json.NewEncoder(w).Encode(map[string]any{"statusCode": 400, "error": msg, "correlationId": "corr " + auth,
				"validation": map[string]any{"errors": []map[string]string{{"itemId": string(body), "message": msg}}}})
		default:
			fake.Handler().ServeHTTP(w, r)
		}
	}))
	t.Cleanup(echo.Close)

	gen := newGenExport(3)
	secrets := &secretSet{}
	secrets.addAPIKey(apiKey)
	for i := 0; i < gen.Rows; i++ {
		secrets.add("access token "+itoa(i), gen.accessToken(i))
		secrets.add("refresh token "+itoa(i), gen.refreshToken(i))
	}
	dir := t.TempDir()
	in := filepath.Join(dir, "export.csv")
	require.NoError(t, os.WriteFile(in, gen.Bytes(), 0o600))

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "migrate", "--input", in, "--base-url", echo.URL, "--canary", "0",
		"--requests-per-minute", "-1", "--log-level", "debug", "--quiet")
	cmd.Env = append(cleanEnv(t.TempDir(), "CODAT_API_KEY="+apiKey), "TMPDIR="+dir)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	// No output is quoted in a failure message: it may hold a secret.
	require.ErrorAs(t, err, &ee, "the rows fail")
	require.True(t, strings.Contains(stderr.String(), "level=DEBUG"), "debug logging was on")

	outputs := map[string]string{"stdout": stdout.String(), "stderr": stderr.String()}
	report, err := os.ReadFile(in + ".report.csv")
	require.NoError(t, err)
	require.True(t, strings.Contains(string(report), "[REDACTED]"), "the echoed errors reached the report, scrubbed")
	journal, err := os.ReadFile(in + ".journal")
	require.NoError(t, err)
	outputs["report"], outputs["journal"] = string(report), string(journal)
	requireNoSecrets(t, secrets, outputs)
	for what, text := range outputs {
		for i, v := range secrets.values {
			for j := 0; j+12 <= len(v); j++ {
				if strings.Contains(text, v[j:j+12]) {
					t.Errorf("%s holds a 12-byte fragment of %s (#%d)", what, secrets.names[i], i)
					break
				}
			}
		}
	}
}
