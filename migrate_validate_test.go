package codat_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/codat-migrate/codat"
	"github.com/codat-migrate/codat/codattest"
)

// migAuth is an Authorization whose body carries one secret token.
type migAuth struct {
	key   string
	token codat.Secret
	err   error
}

func (a migAuth) PlatformKey() string { return a.key }

func (a migAuth) Body() (map[string]string, error) {
	if a.err != nil {
		return nil, a.err
	}
	return map[string]string{"accessToken": a.token.Reveal(), "businessId": "biz-1"}, nil
}

const migToken = codat.Secret("tok-SECRET-9f8e7d6c5b4a")

func newMigration(ref string) codat.Migration {
	return codat.Migration{
		Ref:     ref,
		Company: codat.CreateCompanyRequest{Name: "Acme Ltd", Tags: map[string]string{"region": "uk"}},
		Auth:    migAuth{key: "qhyg", token: migToken},
	}
}

func TestValidateRef(t *testing.T) {
	good := []string{"crm-42", "A", strings.Repeat("x", 100), "acct_7:eu/1", "ü-ß-42", "x.y@z#1+2"}
	for _, ref := range good {
		assert.NoError(t, codat.ValidateRef(ref), ref)
	}
	bad := map[string]string{
		"empty":        "",
		"too long":     strings.Repeat("x", 101),
		"space":        "crm 42",
		"tab":          "crm\t42",
		"newline":      "crm-42\n",
		"nbsp":         "crm\u00a042",
		"ampersand":    "a&b",
		"equals":       "a=b",
		"bang":         "!a",
		"tilde":        "a~b",
		"pipe":         "a|b",
		"paren":        "a(b)",
		"quote":        `a"b`,
		"apostrophe":   "a'b",
		"comma":        "a,b",
		"control":      "a\x01b",
		"invalid utf8": "a\xffb",
		"brace open":   "a{b",
		"brace close":  "a}b",
		"braces":       "{a}",
		"less":         "a<b",
		"greater":      "a>b",
		"backslash":    `a\b`,
		"zero width":   "a\u200bb",
	}
	for name, ref := range bad {
		err := codat.ValidateRef(ref)
		assert.ErrorIs(t, err, codat.ErrInvalidMigration, name)
	}
}

// Every printable ASCII character ValidateRef lets through is matched
// exactly by codattest's tag query parser (Codat's query language), alone,
// doubled and at either end of a ref; every one it refuses would break a
// look-up or is refused for safety.
func TestValidateRefAlphabet(t *testing.T) {
	srv := codattest.NewServer(codattest.WithoutQuota())
	t.Cleanup(srv.Close)
	c, err := codat.NewClient(srv.APIKey(), codat.WithBaseURL(srv.URL()))
	require.NoError(t, err)
	ctx := context.Background()
	var allowed []string
	seen := map[string]bool{}
	for ch := byte(0x21); ch < 0x7f; ch++ {
		for _, ref := range []string{"a" + string(ch) + "b", string(ch) + "x", "x" + string(ch), "a" + string(ch) + string(ch) + "b"} {
			if seen[ref] || codat.ValidateRef(ref) != nil {
				continue
			}
			seen[ref] = true
			allowed = append(allowed, ref)
			co, err := c.Companies.Create(ctx, codat.CreateCompanyRequest{Name: "Acme", Tags: map[string]string{codat.RefTagKey: ref}})
			require.NoError(t, err)
			page, err := c.Companies.List(ctx, &codat.ListOptions{Tags: codat.RefTagKey + "=" + ref})
			require.NoError(t, err, "ref %q", ref)
			require.Len(t, page.Results, 1, "ref %q is found by its tag, and only it", ref)
			assert.Equal(t, co.ID, page.Results[0].ID, "ref %q", ref)
		}
	}
	assert.Greater(t, len(allowed), 100, "ordinary characters stay allowed")
	for _, ch := range "&|=!~<>(){}\"',\\" {
		assert.Error(t, codat.ValidateRef("a"+string(ch)+"b"), "%q", ch)
	}
}

// migCountingServer answers 500 to everything and counts what reached it.
func migCountingServer(t *testing.T) (*codat.Client, *atomic.Int64) {
	t.Helper()
	var hits atomic.Int64
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.WriteHeader(http.StatusInternalServerError)
	}))
	t.Cleanup(ts.Close)
	c, err := codat.NewClient("key", codat.WithBaseURL(ts.URL), codat.WithRetryPolicy(migRetries()))
	require.NoError(t, err)
	return c, &hits
}

func TestMigrateInvalidCostsNoRequest(t *testing.T) {
	badBody := errors.New(`integrations: field "refreshToken" is required`)
	tooMany := map[string]string{}
	for i := range 10 {
		tooMany[fmt.Sprintf("k%d", i)] = "v"
	}
	tests := []struct {
		name     string
		mutate   func(*codat.Migration)
		wantStep codat.Step
		wantErr  error // besides ErrInvalidMigration
		contains string
	}{
		{"empty ref", func(m *codat.Migration) { m.Ref = "" }, codat.StepCompany, nil, "ref is empty"},
		{"ref with query syntax", func(m *codat.Migration) { m.Ref = "a=b&&c" }, codat.StepCompany, nil, "tag query"},
		{"ref with space", func(m *codat.Migration) { m.Ref = "crm 42" }, codat.StepCompany, nil, "tag query"},
		{"ref too long", func(m *codat.Migration) { m.Ref = strings.Repeat("r", 101) }, codat.StepCompany, nil, "at most 100"},
		{"nil auth", func(m *codat.Migration) { m.Auth = nil }, codat.StepCompany, nil, "Auth is nil"},
		{"body error", func(m *codat.Migration) { m.Auth = migAuth{key: "qhyg", err: badBody} }, codat.StepCompany, badBody, "refreshToken"},
		{"bad platform key", func(m *codat.Migration) { m.Auth = migAuth{key: "QBO", token: migToken} }, codat.StepCompany, nil, "platform key"},
		{"empty company name", func(m *codat.Migration) { m.Company.Name = " " }, codat.StepCompany, nil, "company name"},
		{"company name Codat would strip to nothing", func(m *codat.Migration) { m.Company.Name = "株式会社 (東京)" }, codat.StepCompany,
			codat.ErrCompanyName, "company name has no letter or digit"},
		{"too many tags", func(m *codat.Migration) { m.Company.Tags = tooMany }, codat.StepCompany, nil, "11 company tags"},
		{"long tag key", func(m *codat.Migration) { m.Company.Tags = map[string]string{strings.Repeat("k", 28): "v"} }, codat.StepCompany, nil, "tag key"},
		{"long tag value", func(m *codat.Migration) { m.Company.Tags = map[string]string{"k": strings.Repeat("v", 101)} }, codat.StepCompany, nil, "longer than 100"},
		{"ref tag overridden", func(m *codat.Migration) { m.Company.Tags = map[string]string{codat.RefTagKey: "other"} }, codat.StepCompany, nil, "reserved"},
		{"unknown sync mode", func(m *codat.Migration) { m.Sync = codat.SyncMode(9) }, codat.StepCompany, nil, "sync mode"},
		{"resume for another ref", func(m *codat.Migration) {
			m.Resume = &codat.MigrationResult{Ref: "other", CompanyID: "c", Steps: []codat.Step{codat.StepCompany}}
		}, codat.StepConnection, nil, `ref "other"`},
		{"resume without company id", func(m *codat.Migration) {
			m.Resume = &codat.MigrationResult{Ref: m.Ref, Steps: []codat.Step{codat.StepCompany}}
		}, codat.StepConnection, nil, "no company id"},
		{"resume without connection id", func(m *codat.Migration) {
			m.Resume = &codat.MigrationResult{Ref: m.Ref, CompanyID: "c", Steps: []codat.Step{codat.StepCompany, codat.StepConnection}}
		}, codat.StepAuthorize, nil, "no connection id"},
		{"body error on resume at authorize", func(m *codat.Migration) {
			m.Auth = migAuth{key: "qhyg", err: badBody}
			m.Resume = &codat.MigrationResult{Ref: m.Ref, CompanyID: "c", ConnectionID: "n", Steps: []codat.Step{codat.StepCompany, codat.StepConnection}}
		}, codat.StepAuthorize, badBody, "refreshToken"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, hits := migCountingServer(t)
			m := newMigration("crm-1")
			tt.mutate(&m)

			res, err := c.Migrate(context.Background(), m)

			require.NotNil(t, res, "the result is never nil")
			require.Error(t, err)
			assert.ErrorIs(t, err, codat.ErrInvalidMigration)
			if tt.wantErr != nil {
				assert.ErrorIs(t, err, tt.wantErr)
			}
			var me *codat.MigrationError
			require.ErrorAs(t, err, &me)
			assert.Equal(t, tt.wantStep, me.Step)
			assert.Contains(t, err.Error(), tt.contains)
			assert.NotContains(t, err.Error(), migToken.Reveal())
			assert.Zero(t, hits.Load(), "an invalid migration sends nothing")
			assert.Zero(t, res.Requests)
			assert.Zero(t, c.Requests())
		})
	}
}

// A finished migration resumed again sends nothing and needs no Auth.
func TestMigrateResumeDoneSendsNothing(t *testing.T) {
	c, hits := migCountingServer(t)
	prev := &codat.MigrationResult{Ref: "crm-1", CompanyID: "c", ConnectionID: "n", Status: codat.StatusLinked,
		Steps: []codat.Step{codat.StepCompany, codat.StepConnection, codat.StepAuthorize, codat.StepVerify, codat.StepSync, codat.StepDone}, Requests: 4}
	m := newMigration("crm-1")
	m.Auth = nil
	m.Resume = prev

	res, err := c.Migrate(context.Background(), m)
	require.NoError(t, err)
	assert.Zero(t, hits.Load())
	assert.Zero(t, res.Requests)
	assert.Equal(t, prev.Steps, res.Steps)
	assert.Equal(t, 4, prev.Requests, "the Resume passed in is not modified")
	res.Steps[0] = "changed"
	assert.Equal(t, codat.StepCompany, prev.Steps[0], "the result does not share Resume's slice")
}

func TestMigrationResultDone(t *testing.T) {
	var nilRes *codat.MigrationResult
	assert.False(t, nilRes.HasStep(codat.StepCompany))
	r := &codat.MigrationResult{Steps: []codat.Step{codat.StepCompany, codat.StepConnection}}
	assert.True(t, r.HasStep(codat.StepCompany))
	assert.True(t, r.HasStep(codat.StepConnection))
	assert.False(t, r.HasStep(codat.StepAuthorize))
}

func TestMigrationErrorText(t *testing.T) {
	cause := errors.New("boom")
	e := &codat.MigrationError{Ref: "crm-1", Step: codat.StepAuthorize, CompanyID: "co", ConnectionID: "cn",
		LinkURL: "https://link-api.codat.io/x?otp=123", Err: cause}
	assert.Equal(t, `codat: migration "crm-1" failed at step authorize (company co, connection cn): boom`, e.Error())
	assert.ErrorIs(t, e, cause)
	assert.NotContains(t, e.Error(), "otp", "the link URL is not printed")
	e2 := &codat.MigrationError{Ref: "r", Step: codat.StepCompany, Err: cause}
	assert.Equal(t, `codat: migration "r" failed at step company: boom`, e2.Error())
}

func TestSyncModeString(t *testing.T) {
	assert.Equal(t, "queue", codat.SyncQueue.String())
	assert.Equal(t, "none", codat.SyncNone.String())
	assert.Equal(t, "wait", codat.SyncWait.String())
	assert.Equal(t, "SyncMode(7)", codat.SyncMode(7).String())
}
