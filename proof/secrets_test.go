package proof_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/codat-migrate/codat/codattest"
	"github.com/codat-migrate/codat/integrations"
)

// TestSecretScanDemo runs `codat-migrate demo`, then runs validate, plan,
// migrate (twice) and status with --log-level debug over the demo's own
// export against `codat-migrate fake`, and checks that no API key and no
// credential of the export appears in any output, log, report or journal.
// (TestChaos scans the chaos run's debug log, reports and journal the same
// way.)
func TestSecretScanDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("secret scan: runs the CLI end to end; skipped under -short")
	}
	bin := codatMigrate(t)
	dir := t.TempDir()
	demoDir := filepath.Join(dir, "demo")
	state := t.TempDir() // every run's account lock

	outputs := map[string]string{}
	runCLI := func(name string, env []string, args ...string) int {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.Env = cleanEnv(state, env...)
		cmd.Env = append(cmd.Env, "TMPDIR="+dir)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		outputs[name+" stdout"] = stdout.String()
		outputs[name+" stderr"] = stderr.String()
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode()
		}
		require.NoError(t, err, "%s", name)
		return 0
	}

	code := runCLI("demo", nil, "demo", "--dir", demoDir, "--quiet")
	require.Equal(t, 0, code, "demo: %s\n%s", outputs["demo stdout"], outputs["demo stderr"])
	require.Contains(t, outputs["demo stdout"], "Done in", "the demo ran to the end")

	export := filepath.Join(demoDir, "export.csv")
	secrets := &secretSet{}
	credentials := exportCredentials(t, export)
	require.NotEmpty(t, credentials, "the demo's export holds credentials")
	for i, v := range credentials {
		secrets.add("export credential "+itoa(i), v)
	}
	// The demo's in-process fake accepts the key derived from its seed (7).
	demoSrv := codattest.NewServer(codattest.WithSeed(7))
	secrets.addAPIKey(demoSrv.APIKey())
	demoSrv.Close()

	// The same export through the CLI with debug logging, against a fake
	// that accepts a known key.
	const apiKey = "scan-api-key-5d0c2a8e7f14b963"
	secrets.addAPIKey(apiKey)
	fake := startFakeProc(t, apiKey, "--no-quota", "--sync-fetch-after", "0", "--sync-complete-after", "0")
	work := filepath.Join(dir, "work")
	require.NoError(t, os.MkdirAll(work, 0o700))
	in := filepath.Join(work, "export.csv")
	b, err := os.ReadFile(export)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(in, b, 0o600))
	keyEnv := []string{"CODAT_API_KEY=" + apiKey}
	common := []string{"--input", in, "--log-level", "debug"}

	code = runCLI("validate", nil, append([]string{"validate"}, common...)...)
	require.Contains(t, []int{0, 1}, code, outputs["validate stderr"])
	code = runCLI("plan", keyEnv, append([]string{"plan", "--base-url", fake.URL}, common...)...)
	require.Equal(t, 0, code, outputs["plan stderr"])
	migrate := append([]string{"migrate", "--base-url", fake.URL, "--canary-poll", "10ms", "--requests-per-minute", "-1", "--quiet"}, common...)
	code = runCLI("migrate", keyEnv, migrate...)
	require.Equal(t, 1, code, "the export has invalid rows: exit 1\n%s", outputs["migrate stderr"])
	require.Contains(t, outputs["migrate stderr"], "level=DEBUG", "debug logging was on")
	code = runCLI("migrate again", keyEnv, migrate...)
	require.Equal(t, 1, code, outputs["migrate again stderr"])
	code = runCLI("status", nil, "status", "--journal", in+".journal")
	require.Equal(t, 0, code, outputs["status stderr"])

	outputs["fake output"] = fake.out.String()
	var files []string
	for _, d := range []string{demoDir, work} {
		entries, err := os.ReadDir(d)
		require.NoError(t, err)
		for _, e := range entries {
			p := filepath.Join(d, e.Name())
			if e.IsDir() || p == export || p == in {
				continue // the exports are where the credentials come from
			}
			files = append(files, p)
		}
	}
	require.GreaterOrEqual(t, len(files), 4, "reports and journals to scan: %v", files)
	t.Logf("scanned %d outputs and %d files for %d secrets", len(outputs), len(files), len(secrets.values))
	requireNoSecrets(t, secrets, outputs, files...)
}

// exportCredentials returns every value in the export's credential columns
// (fields some platform marks Secret, by wire name or alias).
func exportCredentials(t *testing.T, path string) []string {
	t.Helper()
	secretCols := map[string]bool{}
	for _, p := range integrations.Default().Platforms() {
		for _, f := range p.Fields {
			if f.Secret {
				secretCols[f.Name] = true
				for _, a := range f.Aliases {
					secretCols[a] = true
				}
			}
		}
	}
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	recs, err := csvRecords(b)
	require.NoError(t, err)
	require.NotEmpty(t, recs)
	var out []string
	for _, rec := range recs[1:] {
		for i, v := range rec {
			if i < len(recs[0]) && secretCols[strings.TrimSpace(recs[0][i])] && len(strings.TrimSpace(v)) >= 8 {
				out = append(out, strings.TrimSpace(v))
			}
		}
	}
	return out
}

// TestSecretSetFindsLeaks shows that the scan used above can fail: a key,
// its Basic-auth form and a token are found, and only by name.
func TestSecretSetFindsLeaks(t *testing.T) {
	s := &secretSet{}
	s.addAPIKey("leak-check-key-0001")
	s.add("token", "tok-leak-check-0002")
	clean := "level=DEBUG msg=\"codat attempt\" method=PUT path=/companies/x status=200 token=[REDACTED]"
	require.Empty(t, s.scan("clean", clean))
	for _, leak := range []string{
		"key leak-check-key-0001 in a message",
		"Authorization: Basic bGVhay1jaGVjay1rZXktMDAwMQ==",
		`{"accessToken":"tok-leak-check-0002"}`,
	} {
		found := s.scan("leak", leak)
		require.Len(t, found, 1, leak)
		require.NotContains(t, found[0], "leak-check", "the finding names the secret, never shows it")
	}
}
