package integrations

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/codat-migrate/codat"
)

// Evidence says how sure the registry is of a platform's wire field names.
type Evidence string

const (
	// Documented: a public Codat source shows this body.
	Documented Evidence = "documented"
	// Inferred: the names follow the provider's own OAuth field names, written
	// in the camelCase of Codat's one public example; Codat has not confirmed them.
	Inferred Evidence = "inferred"
	// Doubtful: the names follow the provider's OAuth 2.0 field names, but
	// Codat's documentation points to another credential for this platform;
	// load the real body (LoadPostman, LoadSpec) before migrating.
	Doubtful Evidence = "doubtful"
	// Loaded: the names came from a file the user loaded (LoadPostman, LoadSpec)
	// or from Register.
	Loaded Evidence = "loaded"
)

// FieldFormat is the shape a field's value must have. Body and FromRecord check it
// offline, before anything is sent.
type FieldFormat string

const (
	// FormatText is any non-blank text without control characters.
	FormatText FieldFormat = "text"
	// FormatToken is an opaque credential: no whitespace, no "Bearer " prefix;
	// when it is a JWT, its exp claim is read (no signature check) and an
	// expired token is an error.
	FormatToken FieldFormat = "token"
	// FormatID is an identifier: printable, no whitespace, at most 256 bytes.
	FormatID FieldFormat = "id"
	// FormatNumeric is an identifier made of digits only (QuickBooks realmId,
	// Zoho organization_id, Exact division).
	FormatNumeric FieldFormat = "numeric"
	// FormatUUID is a UUID in its 8-4-4-4-12 hex form, any case.
	FormatUUID FieldFormat = "uuid"
	// FormatShopDomain is a Shopify shop's permanent domain,
	// "name.myshopify.com", without a scheme or a path.
	FormatShopDomain FieldFormat = "shop-domain"
	// FormatURL is an absolute http or https URL with a host.
	FormatURL FieldFormat = "url"
	// FormatExpiry is a time that must be in the future: RFC 3339, or a Unix
	// epoch in seconds or milliseconds.
	FormatExpiry FieldFormat = "expiry"
)

var knownFormats = []FieldFormat{FormatText, FormatToken, FormatID, FormatNumeric, FormatUUID, FormatShopDomain, FormatURL, FormatExpiry}

// Field is one key of an authorization body.
type Field struct {
	// Name is the wire name: the JSON key sent to Codat.
	Name string
	// Role is the field's stable meaning, which typed builders fill. Empty
	// when the field is known only by name (see Role).
	Role Role
	// Required fields must be present and non-blank.
	Required bool
	// Secret fields hold credentials. Every value is carried as a codat.Secret;
	// this flag says which are credentials, for listings and TenantID.
	Secret bool
	// Tenant fields together identify the provider's tenant (realm,
	// organisation, shop, business…); see TenantID.
	Tenant bool
	// Format is checked by Body and FromRecord; empty means FormatText.
	Format FieldFormat
	// Aliases are other names FromRecord accepts as a column for this field,
	// besides the wire name and the role's synonyms (e.g. "realm_id").
	Aliases []string
	// Doc is a short description.
	Doc string
}

// Platform is one Codat integration and the body its token migration takes.
type Platform struct {
	// Key is Codat's four-letter platform key, e.g. "qhyg".
	Key string
	// Name is the integration's name in Codat, e.g. "QuickBooks Online".
	Name string
	// SourceType is Codat's source type: Accounting, Commerce, Banking, BankFeed.
	SourceType string
	// Aliases are other names Lookup and FromRecord accept for the platform.
	Aliases []string
	// Fields are the body's fields, in a stable order.
	Fields []Field
	// Evidence says how sure the field names are.
	Evidence Evidence
	// Source says where the field names come from.
	Source string
}

// Field returns the platform's field with the given wire name, role, alias or
// role synonym, matched case- and punctuation-insensitively.
func (p Platform) Field(name string) (Field, bool) {
	if i, ok := matchField(p.Fields, name); ok {
		return p.Fields[i].clone(), true
	}
	return Field{}, false
}

// RequiredFields returns the wire names of the required fields, in order.
func (p Platform) RequiredFields() []string {
	var out []string
	for _, f := range p.Fields {
		if f.Required {
			out = append(out, f.Name)
		}
	}
	return out
}

// OptionalFields returns the wire names of the optional fields, in order.
func (p Platform) OptionalFields() []string {
	var out []string
	for _, f := range p.Fields {
		if !f.Required {
			out = append(out, f.Name)
		}
	}
	return out
}

// Expected describes the fields a body or a record needs, for listings and
// error messages: "required: realmId, accessToken, refreshToken; optional: expiresAt".
func (p Platform) Expected() string {
	s := "required: " + orNone(p.RequiredFields())
	if opt := p.OptionalFields(); len(opt) > 0 {
		s += "; optional: " + strings.Join(opt, ", ")
	}
	return s
}

func orNone(names []string) string {
	if len(names) == 0 {
		return "(none)"
	}
	return strings.Join(names, ", ")
}

func (f Field) clone() Field {
	f.Aliases = slices.Clone(f.Aliases)
	return f
}

func (f Field) format() FieldFormat {
	if f.Format == "" {
		return FormatText
	}
	return f.Format
}

func (p Platform) clone() Platform {
	p.Aliases = slices.Clone(p.Aliases)
	fields := make([]Field, len(p.Fields))
	for i, f := range p.Fields {
		fields[i] = f.clone()
	}
	p.Fields = fields
	return p
}

// wireNames returns the wire names of fields, in order.
func wireNames(fields []Field) []string {
	out := make([]string, len(fields))
	for i, f := range fields {
		out[i] = f.Name
	}
	return out
}

// fieldByWire returns the index of the field whose wire name is exactly name.
func fieldByWire(fields []Field, name string) (int, bool) {
	for i, f := range fields {
		if f.Name == name {
			return i, true
		}
	}
	return -1, false
}

// matchField finds the field a name refers to, in order of precedence: wire
// name, role, alias, then the role's global synonyms. All comparisons are on
// normalized names.
func matchField(fields []Field, name string) (int, bool) {
	n := normalize(name)
	if n == "" {
		return -1, false
	}
	for i, f := range fields {
		if normalize(f.Name) == n {
			return i, true
		}
	}
	for i, f := range fields {
		if f.Role != "" && normalize(string(f.Role)) == n {
			return i, true
		}
	}
	for i, f := range fields {
		for _, a := range f.Aliases {
			if normalize(a) == n {
				return i, true
			}
		}
	}
	if role, ok := roleForName(name); ok {
		for i, f := range fields {
			if f.Role == role {
				return i, true
			}
		}
	}
	return -1, false
}

// Registry maps platform keys and names to their authorization fields. It is
// safe for concurrent use: bulk runs read it from many goroutines while a
// loader may correct it. Default is read-only; NewRegistry returns one the
// caller owns and may correct.
type Registry struct {
	mu        sync.RWMutex
	platforms map[string]Platform // by key
	names     map[string]string   // normalized name or alias → key
	now       func() time.Time
	readOnly  bool // Default: Register, LoadPostman and LoadSpec refuse to change it
}

// Option configures a Registry.
type Option func(*Registry) error

// WithClock sets the clock that expiry checks use (default time.Now). Tests
// use it to pin "now".
func WithClock(now func() time.Time) Option {
	return func(r *Registry) error {
		if now == nil {
			return errors.New("integrations: WithClock: nil clock")
		}
		r.now = now
		return nil
	}
}

// NewRegistry returns a registry holding its own copy of the built-in
// platforms. Changes to it (LoadPostman, LoadSpec, Register) do not affect
// Default or any other registry.
func NewRegistry(opts ...Option) (*Registry, error) {
	r := &Registry{platforms: make(map[string]Platform), now: time.Now}
	for _, p := range builtinPlatforms() {
		r.platforms[p.Key] = p.clone()
	}
	r.reindex()
	for _, o := range opts {
		if err := o(r); err != nil {
			return nil, err
		}
	}
	return r, nil
}

var defaultRegistry = sync.OnceValue(func() *Registry {
	r, err := NewRegistry()
	if err != nil { // not expected: no options
		panic(err)
	}
	r.readOnly = true
	return r
})

// Default returns the read-only registry of the built-in platforms, which
// typed builders' Body methods and the package-level functions use. Nothing
// can change it, so one library in a process cannot change another's wire
// bodies. To correct the built-in fields, load into a registry of your own
// (NewRegistry, or the package-level LoadPostman and LoadSpec, which return
// one) and send builders through it with Registry.Bind.
func Default() *Registry { return defaultRegistry() }

// ErrReadOnly is wrapped by the error of Register, LoadPostman and LoadSpec
// called on Default.
var ErrReadOnly = errors.New("integrations: registry is read-only")

// checkWritable returns an error wrapping ErrReadOnly when r is Default.
func (r *Registry) checkWritable(what string) error {
	if r.readOnly {
		return fmt.Errorf("%w: %s on Default; use NewRegistry for a registry you can change", ErrReadOnly, what)
	}
	return nil
}

// ErrUnknownPlatform is wrapped by errors about a platform key or name the
// registry does not hold.
var ErrUnknownPlatform = errors.New("integrations: unknown platform")

func unknownPlatform(platform string) error {
	return fmt.Errorf("%w %q: give its four-letter Codat key or its name (Registry.Platforms lists them)", ErrUnknownPlatform, platform)
}

// Lookup returns the platform with the given key or name (or alias), matched
// case-insensitively and ignoring punctuation: "qhyg", "QuickBooks Online",
// "quickbooks-online" and "QBO" all find QuickBooks Online.
func (r *Registry) Lookup(keyOrName string) (Platform, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	p, ok := r.lookupLocked(keyOrName)
	if !ok {
		return Platform{}, false
	}
	return p.clone(), true
}

func (r *Registry) lookupLocked(keyOrName string) (Platform, bool) {
	s := strings.TrimSpace(keyOrName)
	if p, ok := r.platforms[strings.ToLower(s)]; ok {
		return p, true
	}
	if key, ok := r.names[normalize(s)]; ok {
		return r.platforms[key], true
	}
	return Platform{}, false
}

// Platforms returns every platform, sorted by key. The values are copies.
func (r *Registry) Platforms() []Platform {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]Platform, 0, len(r.platforms))
	for _, p := range r.platforms {
		out = append(out, p.clone())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

// Register adds a platform or replaces one with the same key, after checking
// the definition (key of four lowercase letters, a name, unique field names
// and roles, known formats and roles). An empty Evidence is recorded as Loaded.
func (r *Registry) Register(p Platform) (Changes, error) {
	if err := r.checkWritable("Register"); err != nil {
		return Changes{}, err
	}
	p = p.clone()
	if p.Evidence == "" {
		p.Evidence = Loaded
	}
	for i := range p.Fields {
		if p.Fields[i].Format == "" {
			p.Fields[i].Format = FormatText
		}
	}
	if err := validatePlatform(p); err != nil {
		return Changes{}, fmt.Errorf("integrations: Register: %w", err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.checkNamesLocked([]Platform{p}); err != nil {
		return Changes{}, fmt.Errorf("integrations: Register: %w", err)
	}
	return r.applyLocked([]Platform{p}, nil), nil
}

func (r *Registry) reindex() {
	names := make(map[string]string)
	keys := make([]string, 0, len(r.platforms))
	for k := range r.platforms {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		p := r.platforms[k]
		for _, n := range append([]string{p.Name}, p.Aliases...) {
			if nn := normalize(n); nn != "" {
				if _, taken := names[nn]; !taken {
					names[nn] = k
				}
			}
		}
	}
	r.names = names
}

// checkNamesLocked rejects new or renamed platforms whose name or alias already
// names another platform, so Lookup stays unambiguous.
func (r *Registry) checkNamesLocked(ps []Platform) error {
	replacing := make(map[string]bool, len(ps))
	for _, p := range ps {
		replacing[p.Key] = true
	}
	owner := make(map[string]string)
	for k, p := range r.platforms {
		if replacing[k] {
			continue
		}
		for _, n := range append([]string{p.Name}, p.Aliases...) {
			owner[normalize(n)] = k
		}
	}
	for _, p := range ps {
		for _, n := range append([]string{p.Name}, p.Aliases...) {
			nn := normalize(n)
			if nn == "" {
				continue
			}
			if k, ok := owner[nn]; ok && k != p.Key {
				return fmt.Errorf("platform %s: name %q already names platform %s", p.Key, n, k)
			}
			owner[nn] = p.Key
		}
	}
	return nil
}

// applyLocked installs ps (all already validated) and reports the changes.
// renamed maps key → old wire name → new wire name, for fields a loader
// matched to an existing field under another name.
func (r *Registry) applyLocked(ps []Platform, renamed map[string]map[string]string) Changes {
	var ch Changes
	for _, p := range ps {
		pc := PlatformChange{Key: p.Key, Name: p.Name, Fields: wireNames(p.Fields), Source: p.Source}
		if old, ok := r.platforms[p.Key]; ok {
			pc.Previous = wireNames(old.Fields)
			if m := renamed[p.Key]; len(m) > 0 {
				pc.Renamed = m
			}
			ch.Overridden = append(ch.Overridden, pc)
		} else {
			ch.Added = append(ch.Added, pc)
		}
		r.platforms[p.Key] = p.clone()
	}
	r.reindex()
	sort.Slice(ch.Added, func(i, j int) bool { return ch.Added[i].Key < ch.Added[j].Key })
	sort.Slice(ch.Overridden, func(i, j int) bool { return ch.Overridden[i].Key < ch.Overridden[j].Key })
	return ch
}

var (
	fieldNamePattern = regexp.MustCompile(`^[A-Za-z0-9_.\-]{1,128}$`)
)

// validatePlatform checks a definition before it enters a registry.
func validatePlatform(p Platform) error {
	if !codat.IsPlatformKey(p.Key) {
		return fmt.Errorf("platform key %q: must be four lowercase letters", p.Key)
	}
	if strings.TrimSpace(p.Name) == "" {
		return fmt.Errorf("platform %s: name is empty", p.Key)
	}
	switch p.Evidence {
	case Documented, Inferred, Doubtful, Loaded:
	default:
		return fmt.Errorf("platform %s: evidence %q: must be documented, inferred, doubtful or loaded", p.Key, p.Evidence)
	}
	if len(p.Fields) == 0 {
		return fmt.Errorf("platform %s: no fields", p.Key)
	}
	names := make(map[string]string)
	roles := make(map[Role]string)
	for _, f := range p.Fields {
		if !fieldNamePattern.MatchString(f.Name) {
			return fmt.Errorf("platform %s: field name %q: must be 1-128 letters, digits, '_', '-' or '.'", p.Key, f.Name)
		}
		n := normalize(f.Name)
		if prev, dup := names[n]; dup {
			return fmt.Errorf("platform %s: fields %q and %q have the same name", p.Key, prev, f.Name)
		}
		names[n] = f.Name
		if !slices.Contains(knownFormats, f.format()) {
			return fmt.Errorf("platform %s: field %q: unknown format %q", p.Key, f.Name, f.Format)
		}
		if f.Role != "" {
			if !knownRole(f.Role) {
				return fmt.Errorf("platform %s: field %q: unknown role %q", p.Key, f.Name, f.Role)
			}
			if prev, dup := roles[f.Role]; dup {
				return fmt.Errorf("platform %s: fields %q and %q have the same role %q", p.Key, prev, f.Name, f.Role)
			}
			roles[f.Role] = f.Name
		}
	}
	return nil
}
