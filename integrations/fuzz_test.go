package integrations

import (
	"regexp"
	"strings"
	"testing"
)

// fuzzVocabulary is every text an error message may legitimately contain
// besides the caller's platform and column names.
func fuzzVocabulary(r *Registry) string {
	var b strings.Builder
	for _, p := range r.Platforms() {
		b.WriteString(p.Key + "\x00" + p.Name + "\x00" + p.Expected() + "\x00")
		for _, f := range p.Fields {
			b.WriteString(f.Name + "\x00" + strings.Join(f.Aliases, "\x00") + "\x00")
		}
	}
	b.WriteString(`integrations: invalid authorization unknown platform give its four-letter Codat key or its name (Registry.Platforms lists them) ` +
		`is required is not a field of this platform and column both give is blank is not valid UTF-8 text contains control characters (a tab or a line break?) ` +
		`contains whitespace must not include the "Bearer " prefix is longer than 256 bytes must be digits only must be a UUID (8-4-4-4-12 hex digits) ` +
		`must be the shop's myshopify.com domain without a scheme or a path must be a shop domain ending in .myshopify.com ` +
		`must be an absolute http or https URL must not carry a user name or password ` +
		`must be an RFC 3339 time or a Unix epoch in seconds or milliseconds is in the past ` +
		`is a JWT whose claims cannot be decoded is a JWT whose claims are not a JSON object is a JWT whose exp claim is not a number ` +
		`is a JWT whose exp claim is out of range (expected fields, required: ; optional: `)
	return b.String()
}

var expiredAt = regexp.MustCompile(`expired at \S+`)

func FuzzFromRecord(f *testing.F) {
	f.Add("qhyg", "realmId", "9130350000000001", "access_token", "fake-access-token-0001", "refreshToken", "fake-refresh-token-0002")
	f.Add("QuickBooks Online", "realm_id", "12ab", "accessToken", "Bearer fake-access-token-0001", "note", "fake-refresh-token-0002")
	f.Add("gbol", "tenantId", "00000000-0000-4000-8000-000000000001", "accessToken",
		"eyJhbGciOiJSUzI1NiJ9.eyJleHAiOjE3MDAwMDAwMDB9.ZmFrZQ", "refreshToken", "fake-refresh-token-0002")
	f.Add("shopify", "shop", "https://fake-shop.myshopify.com/admin", "accessToken", "fake-access-token-0001", "expiresAt", "1700000000")
	f.Add("ltpp", "store_url", "fake-store.example.com", "consumer_key", "fake consumer key", "consumer_secret", "fake\x00secret")
	f.Add("knfz", "companyId", "fake-company", "userId", "fake-user", "password", "fake password 0005\n")
	f.Add("nope", "", "", "accessToken", "fake-access-token-0001", "accessToken", "fake-access-token-0001")
	f.Add("fbrh", "accessToken", "fake-access-token-0001", "refreshToken", "\xff\xfe", "expiresAt", "99999999999999999999")

	r := testRegistry()
	vocab := fuzzVocabulary(r)
	f.Fuzz(func(t *testing.T, platform, k1, v1, k2, v2, k3, v3 string) {
		row := map[string]string{k1: v1, k2: v2, k3: v3}
		a, err := r.FromRecord(platform, row)
		if err == nil {
			// What FromRecord accepts, Body accepts, with every required field.
			body, berr := a.Body()
			if berr != nil {
				t.Fatalf("FromRecord accepted a row that Body rejects: %v", berr)
			}
			p, _ := r.Lookup(platform)
			for _, req := range p.RequiredFields() {
				if _, ok := body[req]; !ok {
					t.Fatalf("body lacks required field %q", req)
				}
			}
			for k := range body {
				if _, ok := p.Field(k); !ok {
					t.Fatalf("body has field %q the platform does not list", k)
				}
			}
			TenantID(a) // must not panic
			return
		}
		msg := expiredAt.ReplaceAllString(err.Error(), "")
		allowed := platform + "\x00" + k1 + "\x00" + k2 + "\x00" + k3 + "\x00" + vocab
		for _, v := range []string{v1, v2, v3} {
			v = strings.TrimSpace(v)
			if len(v) < 8 || strings.Contains(allowed, v) {
				continue
			}
			if strings.Contains(msg, v) {
				t.Fatalf("error leaks a value: %q", err.Error())
			}
		}
	})
}
