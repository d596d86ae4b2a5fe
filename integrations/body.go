package integrations

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"time"

	"github.com/codat-migrate/codat"
)

// roleValue is one semantic value of a typed builder.
type roleValue struct {
	role   Role
	value  codat.Secret
	tenant bool // part of the tenant identity (TenantID)
}

// typed is implemented by every typed builder: it lists its values by role and
// leaves the wire names to the registry.
type typed interface {
	codat.Authorization
	roleValues() []roleValue
}

// expiry renders a typed builder's expiry: RFC 3339 in UTC, empty when zero.
func expiry(t time.Time) codat.Secret {
	if t.IsZero() {
		return ""
	}
	return codat.Secret(t.UTC().Format(time.RFC3339))
}

// Body returns the validated wire body of a, resolving typed builders' wire
// names through r (a value from Bind keeps the registry it was bound to). A
// typed builder's value whose role no field of the platform has any more (a
// loaded spec dropped it) is not sent. For a Generic it checks the values the
// platform's fields define (see Generic); any other Authorization is asked
// for its own Body.
func (r *Registry) Body(a codat.Authorization) (map[string]string, error) {
	switch v := a.(type) {
	case nil:
		return nil, fmt.Errorf("%w: nil authorization", ErrInvalid)
	case bound:
		return v.reg.Body(v.auth)
	case Generic:
		return r.genericBody(v)
	case *Generic:
		if v == nil {
			return nil, fmt.Errorf("%w: nil authorization", ErrInvalid)
		}
		return r.genericBody(*v)
	case typed:
		return r.typedBody(v)
	default:
		return a.Body()
	}
}

func (r *Registry) platform(key string) (Platform, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	p, ok := r.platforms[key]
	if !ok {
		return Platform{}, false
	}
	return p.clone(), true
}

// typedBody maps a typed builder's values to the platform's fields by role.
func (r *Registry) typedBody(b typed) (map[string]string, error) {
	key := b.PlatformKey()
	p, ok := r.platform(key)
	if !ok {
		return nil, unknownPlatform(key)
	}
	now := r.now()
	vals := make(map[Role]codat.Secret)
	has := make(map[Role]bool)
	for _, rv := range b.roleValues() {
		has[rv.role] = true
		if !rv.value.IsZero() {
			vals[rv.role] = rv.value
		}
	}
	body := make(map[string]string, len(p.Fields))
	var list problemList
	refresh := false
	for _, f := range p.Fields {
		v, set := vals[f.Role]
		if f.Role == "" || !set {
			if !f.Required {
				continue
			}
			reason := "is required"
			if f.Role == "" || !has[f.Role] {
				reason = fmt.Sprintf("is required, but %T has no field for it: use Generic or FromRecord", b)
			}
			list.add(Problem{f.Name, reason})
			continue
		}
		ok := list.check(f.Name, f.Role, f.format(), v.Reveal(), now)
		refresh = refresh || ok && f.Role == RoleRefreshToken
		body[f.Name] = v.Reveal()
	}
	if probs := list.result(refresh); len(probs) > 0 {
		return nil, &ValidationError{Platform: p.Key, Name: p.Name, Problems: probs}
	}
	return body, nil
}

// Generic is an authorization body for any platform, given by wire name.
//
// It sends exactly the fields it holds: it does not require the registry's
// required fields nor reject names the registry does not list, so it works
// when the registry's field names are wrong or the platform is not in it. It
// does check every value: non-blank, valid text, no control characters, an
// unexpired JWT (an expired access token passes when the body also has a
// refresh token), and the format the registry gives a field of that exact
// wire name. FromRecord returns a Generic after checking the record against
// the registry in full.
//
// Every value is a codat.Secret, so a Generic prints, logs and marshals with
// its values redacted.
type Generic struct {
	// Key is the platform key, e.g. "qhyg".
	Key string
	// Fields maps wire names to values.
	Fields map[string]codat.Secret

	reg *Registry // the registry FromRecord used; nil means Default
}

// PlatformKey returns g.Key.
func (g Generic) PlatformKey() string { return g.Key }

// Body returns the validated wire body (see Generic).
func (g Generic) Body() (map[string]string, error) { return g.registry().genericBody(g) }

func (g Generic) registry() *Registry {
	if g.reg != nil {
		return g.reg
	}
	return Default()
}

func (r *Registry) genericBody(g Generic) (map[string]string, error) {
	p, known := r.platform(g.Key)
	verr := &ValidationError{Platform: g.Key}
	if known {
		verr.Name = p.Name
	}
	if !codat.IsPlatformKey(g.Key) {
		verr.Problems = append(verr.Problems, Problem{"platformKey", "must be four lowercase letters"})
		return nil, verr
	}
	if len(g.Fields) == 0 {
		verr.Problems = append(verr.Problems, Problem{"(body)", "has no fields"})
		return nil, verr
	}
	now := r.now()
	names := make([]string, 0, len(g.Fields))
	for n := range g.Fields {
		names = append(names, n)
	}
	sort.Strings(names)
	body := make(map[string]string, len(names))
	var list problemList
	refresh := false
	for _, n := range names {
		if strings.TrimSpace(n) == "" {
			list.add(Problem{n, "is not a valid field name"})
			continue
		}
		format := FormatText
		role, _ := roleForName(n)
		if known {
			if i, ok := fieldByWire(p.Fields, n); ok {
				format, role = p.Fields[i].format(), p.Fields[i].Role
			}
		}
		v := g.Fields[n].Reveal()
		ok := list.check(n, role, format, v, now)
		refresh = refresh || ok && role == RoleRefreshToken
		body[n] = v
	}
	if verr.Problems = list.result(refresh); len(verr.Problems) > 0 {
		return nil, verr
	}
	return body, nil
}

// LogValue logs the platform key and the field names, every value redacted.
func (g Generic) LogValue() slog.Value {
	attrs := []slog.Attr{slog.String("platform", g.Key)}
	names := make([]string, 0, len(g.Fields))
	for n := range g.Fields {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		attrs = append(attrs, slog.String(n, codat.Redacted))
	}
	return slog.GroupValue(attrs...)
}

// MarshalJSON writes the platform key and the field names with every value
// redacted, so a Generic inside a logged or journaled struct leaks nothing.
// Use Body for the wire.
func (g Generic) MarshalJSON() ([]byte, error) {
	m := map[string]string{"platform": g.Key}
	for n := range g.Fields {
		if n != "platform" {
			m[n] = codat.Redacted
		}
	}
	return json.Marshal(m)
}

// logValue is the LogValue of every typed builder: the platform key, then each
// set value by role, credentials redacted.
func logValue(b typed) slog.Value {
	attrs := []slog.Attr{slog.String("platform", b.PlatformKey())}
	for _, rv := range b.roleValues() {
		if rv.value.IsZero() {
			continue
		}
		if roleTable[rv.role].secret {
			attrs = append(attrs, slog.String(string(rv.role), codat.Redacted))
		} else {
			attrs = append(attrs, slog.String(string(rv.role), rv.value.Reveal()))
		}
	}
	return slog.GroupValue(attrs...)
}

// marshalRedacted is the MarshalJSON of every typed builder: the same view as
// logValue. Use Body for the wire.
func marshalRedacted(b typed) ([]byte, error) {
	m := map[string]string{"platform": b.PlatformKey()}
	for _, rv := range b.roleValues() {
		if rv.value.IsZero() {
			continue
		}
		if roleTable[rv.role].secret {
			m[string(rv.role)] = codat.Redacted
		} else {
			m[string(rv.role)] = rv.value.Reveal()
		}
	}
	return json.Marshal(m)
}

// Bind returns a resolving a's wire names and formats through r instead of
// Default: use it to send a typed builder or a Generic under a registry that a
// spec corrected. The result prints and logs like a.
func (r *Registry) Bind(a codat.Authorization) codat.Authorization {
	if b, ok := a.(bound); ok {
		a = b.auth
	}
	return bound{reg: r, auth: a}
}

// bound is an Authorization resolved through a given registry.
type bound struct {
	reg  *Registry
	auth codat.Authorization
}

func (b bound) PlatformKey() string {
	if b.auth == nil {
		return ""
	}
	return b.auth.PlatformKey()
}

func (b bound) Body() (map[string]string, error) { return b.reg.Body(b.auth) }

// Format prints the wrapped authorization, which redacts its own secrets; the
// unexported fields are never printed raw.
func (b bound) Format(f fmt.State, verb rune) {
	fmt.Fprintf(f, fmt.FormatString(f, verb), b.auth)
}

func (b bound) LogValue() slog.Value {
	if lv, ok := b.auth.(slog.LogValuer); ok {
		return lv.LogValue()
	}
	return slog.StringValue(codat.Redacted)
}

func (b bound) MarshalJSON() ([]byte, error) {
	if m, ok := b.auth.(json.Marshaler); ok {
		return m.MarshalJSON()
	}
	return json.Marshal(codat.Redacted)
}

// TenantID returns the identity of the provider tenant that a grants access
// to — QuickBooks realmId, Xero tenantId, Shopify shop domain, Zoho
// organization_id, … — so a bulk run can find one tenant under two references.
// When a platform's identity has several parts (Business Central: tenant,
// environment, company) they are joined with "/". UUIDs, shop domains and URLs
// are lower-cased; other IDs are case-sensitive and kept as given.
//
// The identity is only unique within a platform: compare (PlatformKey(),
// TenantID) pairs. ok is false when the platform has no tenant field or none
// is set.
func (r *Registry) TenantID(a codat.Authorization) (string, bool) {
	switch v := a.(type) {
	case nil:
		return "", false
	case bound:
		return v.reg.TenantID(v.auth)
	case Generic:
		return r.genericTenant(v)
	case *Generic:
		if v == nil {
			return "", false
		}
		return r.genericTenant(*v)
	case typed:
		p, _ := r.platform(v.PlatformKey())
		var parts []string
		for _, rv := range v.roleValues() {
			if !rv.tenant || rv.value.IsZero() {
				continue
			}
			format := roleTable[rv.role].format
			for _, f := range p.Fields {
				if f.Role == rv.role {
					format = f.format()
				}
			}
			parts = append(parts, normalizeTenant(format, rv.value.Reveal()))
		}
		return joinTenant(parts)
	default:
		return "", false
	}
}

func (r *Registry) genericTenant(g Generic) (string, bool) {
	p, ok := r.platform(g.Key)
	if !ok {
		return "", false
	}
	var parts []string
	for _, f := range p.Fields {
		if !f.Tenant || f.Secret {
			continue
		}
		if v := g.Fields[f.Name]; !v.IsZero() {
			parts = append(parts, normalizeTenant(f.format(), v.Reveal()))
		}
	}
	return joinTenant(parts)
}

func joinTenant(parts []string) (string, bool) {
	if len(parts) == 0 {
		return "", false
	}
	return strings.Join(parts, "/"), true
}

func normalizeTenant(format FieldFormat, v string) string {
	v = strings.TrimSpace(v)
	switch format {
	case FormatUUID, FormatShopDomain:
		return strings.ToLower(v)
	case FormatURL:
		return strings.TrimRight(strings.ToLower(v), "/")
	}
	return v
}

// TenantID returns the tenant identity of a (see Registry.TenantID), using the
// registry a Generic came from (FromRecord) and Default otherwise.
func TenantID(a codat.Authorization) (string, bool) {
	switch g := a.(type) {
	case Generic:
		return g.registry().TenantID(g)
	case *Generic:
		if g != nil {
			return g.registry().TenantID(*g)
		}
	}
	return Default().TenantID(a)
}
