// Package proof_test holds the project's proof harness: benchmarks against
// Codat's limits (requests per company, day-one quota, the per-minute limit,
// SDK overhead, memory of a large bulk run), the chaos test, the secret scan
// and fuzz targets for the input readers. It has no non-test code.
package proof_test

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/codat-migrate/codat"
	"github.com/codat-migrate/codat/bulk"
	"github.com/codat-migrate/codat/codattest"
	"github.com/codat-migrate/codat/integrations"
	"github.com/codat-migrate/codat/internal/testutil"
)

// binDir holds the codat-migrate binary built for this package's tests; it is
// removed when they end.
var (
	binOnce sync.Once
	binPath string
	binErr  error
	binDir  string
)

func TestMain(m *testing.M) {
	code := testutil.RunWithPrivateState(m)
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// codatMigrate builds cmd/codat-migrate once and returns the executable.
func codatMigrate(tb testing.TB) string {
	tb.Helper()
	binOnce.Do(func() {
		binDir, binErr = os.MkdirTemp("", "codat-migrate-proof-*")
		if binErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "codat-migrate")
		if runtime.GOOS == "windows" {
			binPath += ".exe"
		}
		cmd := exec.Command("go", "build", "-o", binPath, "github.com/codat-migrate/codat/cmd/codat-migrate")
		out, err := cmd.CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build ./cmd/codat-migrate: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		tb.Fatal(binErr)
	}
	return binPath
}

// cleanEnv is the environment without an inherited API key, with state as
// the state directory (where the account lock lives): one of the test's own.
func cleanEnv(state string, extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "CODAT_API_KEY=") || strings.HasPrefix(kv, "XDG_STATE_HOME=") {
			continue
		}
		env = append(env, kv)
	}
	return append(append(env, "XDG_STATE_HOME="+state), extra...)
}

// fakeProc is a `codat-migrate fake` subprocess.
type fakeProc struct {
	URL string
	cmd *exec.Cmd
	out *lockedBuffer
}

// startFakeProc runs `codat-migrate fake` on a free loopback port, accepting
// apiKey, and returns once it listens. It is stopped at cleanup.
func startFakeProc(tb testing.TB, apiKey string, args ...string) *fakeProc {
	tb.Helper()
	bin := codatMigrate(tb)
	cmd := exec.Command(bin, append([]string{"fake", "--addr", "127.0.0.1:0"}, args...)...)
	cmd.Env = cleanEnv(tb.TempDir(), "CODAT_API_KEY="+apiKey)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	f := &fakeProc{cmd: cmd, out: &lockedBuffer{}}
	cmd.Stderr = f.out
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { f.stop() })
	urlRe := regexp.MustCompile(`listening on (http://\S+)`)
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		sent := false
		for sc.Scan() {
			line := sc.Text()
			f.out.Write([]byte(line + "\n"))
			if m := urlRe.FindStringSubmatch(line); m != nil && !sent {
				found <- m[1]
				sent = true
			}
		}
		if !sent {
			close(found)
		}
	}()
	select {
	case u, ok := <-found:
		if !ok {
			tb.Fatalf("codat-migrate fake exited before listening:\n%s", f.out.String())
		}
		f.URL = u
	case <-time.After(30 * time.Second):
		tb.Fatalf("codat-migrate fake did not start:\n%s", f.out.String())
	}
	return f
}

// stop interrupts the fake and waits for it.
func (f *fakeProc) stop() {
	if f.cmd.ProcessState != nil {
		return
	}
	_ = f.cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { _ = f.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = f.cmd.Process.Kill()
		<-done
	}
}

// peakRSS returns the process's peak resident set (VmHWM) in bytes, from
// /proc; 0 where /proc is not available.
func peakRSS(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err == nil {
				return kb << 10
			}
		}
	}
	return 0
}

// lockedBuffer is a bytes.Buffer safe for concurrent writers.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// registry is the builtin integrations registry, shared (it is safe for
// concurrent use).
var registry = integrations.Default()

// exportCSVHeader is the header of the generated QuickBooks Online exports.
const exportCSVHeader = "ref,company_name,platform,realmId,accessToken,refreshToken\n"

// genExport describes a generated QuickBooks Online export. Every token
// starts with TokenSalt, a random value that appears nowhere else, so a scan
// for the salt finds any token that leaked.
type genExport struct {
	Rows      int
	TokenSalt string
}

func newGenExport(rows int) genExport {
	return genExport{Rows: rows, TokenSalt: fmt.Sprintf("tk%x", time.Now().UnixNano())}
}

func (g genExport) ref(i int) string         { return fmt.Sprintf("ref-%06d", i) }
func (g genExport) realm(i int) int          { return 9_130_000_000 + i }
func (g genExport) accessToken(i int) string { return fmt.Sprintf("%s-access-%06d", g.TokenSalt, i) }
func (g genExport) refreshToken(i int) string {
	return fmt.Sprintf("%s-refresh-%06d", g.TokenSalt, i)
}

func (g genExport) line(i int) string {
	return fmt.Sprintf("%s,Company %d Ltd,qhyg,%d,%s,%s\n", g.ref(i), i, g.realm(i), g.accessToken(i), g.refreshToken(i))
}

// fields is row i's authorization, as the registry would read it.
func (g genExport) fields(i int) map[string]string {
	return map[string]string{"realmId": strconv.Itoa(g.realm(i)), "accessToken": g.accessToken(i), "refreshToken": g.refreshToken(i)}
}

// bodyFingerprint is codattest's fingerprint of the body row i must install.
func (g genExport) bodyFingerprint(tb testing.TB, i int) string {
	tb.Helper()
	a, err := registry.FromRecord("qhyg", g.fields(i))
	if err != nil {
		tb.Fatalf("row %d: %v", i, err)
	}
	body, err := a.Body()
	if err != nil {
		tb.Fatalf("row %d: %v", i, err)
	}
	return codattest.Fingerprint(body)
}

// Bytes is the whole export in memory.
func (g genExport) Bytes() []byte {
	var b bytes.Buffer
	b.WriteString(exportCSVHeader)
	for i := 0; i < g.Rows; i++ {
		b.WriteString(g.line(i))
	}
	return b.Bytes()
}

// Input is a bulk.Input that generates the export on the fly each time it
// is opened: nothing is held in memory or written to disk.
func (g genExport) Input() bulk.Input {
	return bulk.Input{Name: fmt.Sprintf("generated-%d.csv", g.Rows), Format: bulk.FormatCSV,
		Open: func() (io.ReadCloser, error) { return io.NopCloser(&genReader{g: g}), nil }}
}

// genReader produces a genExport's CSV line by line.
type genReader struct {
	g      genExport
	i      int
	header bool
	buf    []byte
}

func (r *genReader) Read(p []byte) (int, error) {
	for len(r.buf) == 0 {
		switch {
		case !r.header:
			r.buf, r.header = append(r.buf[:0], exportCSVHeader...), true
		case r.i < r.g.Rows:
			r.buf = append(r.buf[:0], r.g.line(r.i)...)
			r.i++
		default:
			return 0, io.EOF
		}
	}
	n := copy(p, r.buf)
	r.buf = r.buf[n:]
	return n, nil
}

// secretSet is every secret value a run must never write anywhere.
type secretSet struct {
	names  []string // what each is, for failure messages (never the value)
	values []string
}

func (s *secretSet) add(name, value string) {
	if value == "" {
		return
	}
	for _, v := range s.values {
		if v == value {
			return
		}
	}
	s.names = append(s.names, name)
	s.values = append(s.values, value)
}

// addAPIKey adds the key and the Authorization header forms derived from it.
func (s *secretSet) addAPIKey(key string) {
	s.add("API key", key)
	b64 := base64.StdEncoding.EncodeToString([]byte(key))
	s.add("API key, base64", b64)
	s.add("API key, URL-safe base64", base64.URLEncoding.EncodeToString([]byte(key)))
}

// scan returns a description of every secret found in text (which secret,
// never its value), naming where as what.
func (s *secretSet) scan(what, text string) []string {
	var found []string
	for i, v := range s.values {
		if strings.Contains(text, v) {
			found = append(found, fmt.Sprintf("%s holds a secret: %s (#%d)", what, s.names[i], i))
		}
	}
	return found
}

// requireNoSecrets fails the test when any output or file holds a secret.
func requireNoSecrets(tb testing.TB, s *secretSet, outputs map[string]string, files ...string) {
	tb.Helper()
	var found []string
	for what, text := range outputs {
		found = append(found, s.scan(what, text)...)
	}
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			tb.Fatalf("reading %s: %v", p, err)
		}
		found = append(found, s.scan(filepath.Base(p), string(b))...)
	}
	if len(found) > 0 {
		tb.Fatalf("secrets leaked:\n%s", strings.Join(found, "\n"))
	}
}

// newClient is a client of srv with short backoffs, logging to log.
func newClient(tb testing.TB, baseURL, apiKey string, opts ...codat.Option) *codat.Client {
	tb.Helper()
	c, err := codat.NewClient(apiKey, append([]codat.Option{codat.WithBaseURL(baseURL)}, opts...)...)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// fastRetries keeps Codat's retry classes but shortens the backoff, so fault
// tests spend their time on requests rather than sleeping. Retry-After is
// still honoured (up to MaxWait).
func fastRetries() codat.RetryPolicy {
	return codat.RetryPolicy{MaxAttempts: 5, MinBackoff: 5 * time.Millisecond, MaxBackoff: 50 * time.Millisecond, MaxWait: 5 * time.Second}
}

// happyRoutes are the four requests of a migration on the happy path.
var happyRoutes = map[string]bool{
	"POST " + codattest.RouteCompanies:    true,
	"POST " + codattest.RouteConnections:  true,
	"PUT " + codattest.RouteAuthorization: true,
	"POST " + codattest.RouteDataAll:      true,
}

// speedClock is a codattest.Clock that runs speed times faster than real time.
type speedClock struct {
	start, real time.Time
	speed       float64
}

func newSpeedClock(start time.Time, speed float64) speedClock {
	return speedClock{start: start, real: time.Now(), speed: speed}
}

func (c speedClock) Now() time.Time {
	return c.start.Add(time.Duration(float64(time.Since(c.real)) * c.speed))
}

func itoa(n int) string { return strconv.Itoa(n) }

// csvRecords parses a whole CSV document.
func csvRecords(b []byte) ([][]string, error) {
	r := csv.NewReader(bytes.NewReader(b))
	r.FieldsPerRecord = -1
	return r.ReadAll()
}
