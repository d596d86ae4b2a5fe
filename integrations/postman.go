package integrations

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/codat-migrate/codat"
)

// migrationFolder is the folder of Codat's Postman collection that holds one
// authorization request per integration.
const migrationFolder = "OAuth Token Migrations"

type pmCollection struct {
	Info *struct {
		Name   string `json:"name"`
		Schema string `json:"schema"`
	} `json:"info"`
	Item []pmItem `json:"item"`
}

type pmItem struct {
	Name    string          `json:"name"`
	Item    []pmItem        `json:"item"`
	Request json.RawMessage `json:"request"`
}

type pmRequest struct {
	Method string          `json:"method"`
	URL    json.RawMessage `json:"url"`
	Body   *pmBody         `json:"body"`
}

type pmBody struct {
	Mode       string `json:"mode"`
	Raw        string `json:"raw"`
	URLEncoded []pmKV `json:"urlencoded"`
}

type pmURL struct {
	Raw      string            `json:"raw"`
	Path     []json.RawMessage `json:"path"`
	Query    []pmKV            `json:"query"`
	Variable []pmKV            `json:"variable"`
}

type pmKV struct {
	Key      string          `json:"key"`
	Value    json.RawMessage `json:"value"`
	Disabled bool            `json:"disabled"`
}

func (kv pmKV) str() string {
	var s string
	if json.Unmarshal(kv.Value, &s) != nil {
		return ""
	}
	return s
}

// pmFound is one authorization request found under the migration folder.
type pmFound struct {
	path     []string // folder names from the migration folder down, then the request name
	folders  []string // folder names below the migration folder, outermost first
	name     string   // the request's name
	keys     []string // platform keys given by the request's URL variables or query
	siblings []string // platform keys in the bodies of sibling requests
	fields   []loadedField
	parseErr error
}

func (f pmFound) where() string {
	return fmt.Sprintf("request %q", strings.Join(f.path, " / "))
}

// LoadPostman corrects the registry from an exported Postman collection
// (format v2.1, or v2.0): Codat's own collection, whose "OAuth Token
// Migrations" folder has one request per integration.
//
// Every request under a folder named "OAuth Token Migrations" (at any depth,
// its requests at any depth below it) whose URL ends in /authorization
// registers its integration's fields: the keys of its body (mode raw, a flat
// JSON object whose values may be {{variables}}, quoted or not; or mode
// urlencoded), in order. The platform is found, in this order, from a
// platformKey URL variable or query parameter, or a "platformKey" in the body
// of a sibling request (the create-connection request beside it); from a
// four-letter key in brackets, e.g. "Kashflow (wvzu)", or a known key, in the
// request's name and then its folders' names, innermost first; from a known
// platform name in those names. A key in brackets that the registry does not
// know adds a platform, named after the folder or request it came from.
//
// Each loaded body key is matched to the platform's existing fields by name,
// alias or role synonym (refresh_token matches refreshToken), then by its
// {{variable}} name; a matched field keeps its role, so typed builders fill it
// under its new wire name, and its old name stays an alias for FromRecord. An
// unmatched key becomes a required field that only Generic or FromRecord can
// fill. Fields missing from the body are dropped. The platform's evidence
// becomes Loaded.
//
// Input that cannot be read — not JSON, not a v2 collection, no migration
// folder, no /authorization request, a body that is not a flat JSON object, a
// request whose platform cannot be told, one platform with two different
// bodies — is an error and leaves the registry unchanged. Values in the
// collection are never copied into errors or Changes.
func (r *Registry) LoadPostman(rd io.Reader) (Changes, error) {
	const what = "LoadPostman"
	if err := r.checkWritable(what); err != nil {
		return Changes{}, err
	}
	data, err := readLimited(rd, what)
	if err != nil {
		return Changes{}, err
	}
	var c pmCollection
	if err := json.Unmarshal(data, &c); err != nil {
		return Changes{}, fmt.Errorf("integrations: %s: not a Postman collection: %w", what, err)
	}
	if c.Info == nil || !strings.Contains(c.Info.Schema, "schema.getpostman.com/json/collection/v2.") {
		schema := ""
		if c.Info != nil {
			schema = c.Info.Schema
		}
		return Changes{}, fmt.Errorf("integrations: %s: not a Postman collection v2.1 export (info.schema is %q)", what, schema)
	}
	var folders []pmItem
	findFolders(c.Item, &folders)
	if len(folders) == 0 {
		return Changes{}, fmt.Errorf("integrations: %s: collection %q has no %q folder", what, c.Info.Name, migrationFolder)
	}
	var found []pmFound
	for _, f := range folders {
		walkRequests(f.Item, []string{f.Name}, nil, &found)
	}
	if len(found) == 0 {
		return Changes{}, fmt.Errorf("integrations: %s: the %q folder has no request whose URL ends in /authorization", what, migrationFolder)
	}
	var errs []error
	for _, f := range found {
		if f.parseErr != nil {
			errs = append(errs, fmt.Errorf("%s: %w", f.where(), f.parseErr))
		}
	}
	if len(errs) > 0 {
		return Changes{}, fmt.Errorf("integrations: %s: %w", what, errors.Join(errs...))
	}

	r.mu.Lock()
	defer r.mu.Unlock()
	lps := make([]loadedPlatform, 0, len(found))
	for _, f := range found {
		key, name, err := r.identifyLocked(f)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", f.where(), err))
			continue
		}
		lps = append(lps, loadedPlatform{
			key: key, name: name, fields: f.fields, where: f.where(),
			source: fmt.Sprintf("loaded from Postman collection %q, %s", c.Info.Name, f.where()),
		})
	}
	if len(errs) > 0 {
		return Changes{}, fmt.Errorf("integrations: %s: %w", what, errors.Join(errs...))
	}
	ch, err := r.installLocked(lps)
	if err != nil {
		return Changes{}, fmt.Errorf("integrations: %s: %w", what, err)
	}
	return ch, nil
}

// LoadPostman returns a new registry: the built-in platforms corrected by the
// Postman collection read from rd (see Registry.LoadPostman). Default is not
// changed.
func LoadPostman(rd io.Reader) (*Registry, Changes, error) {
	r, err := NewRegistry()
	if err != nil {
		return nil, Changes{}, err
	}
	ch, err := r.LoadPostman(rd)
	if err != nil {
		return nil, Changes{}, err
	}
	return r, ch, nil
}

func isFolder(it pmItem) bool { return it.Item != nil && len(it.Request) == 0 }

func findFolders(items []pmItem, out *[]pmItem) {
	for _, it := range items {
		if !isFolder(it) {
			continue
		}
		if normalize(it.Name) == normalize(migrationFolder) {
			*out = append(*out, it)
			continue
		}
		findFolders(it.Item, out)
	}
}

// walkRequests collects the /authorization requests among items, whose
// enclosing folders (below the migration folder) are folders.
func walkRequests(items []pmItem, path, folders []string, out *[]pmFound) {
	var siblingKeys []string
	for _, it := range items {
		if isFolder(it) || len(it.Request) == 0 {
			continue
		}
		req, ok := decodeRequest(it.Request)
		if !ok || req.Body == nil || req.Body.Mode != "raw" {
			continue
		}
		var m map[string]json.RawMessage
		if json.Unmarshal([]byte(quoteTemplateVars(req.Body.Raw)), &m) != nil {
			continue
		}
		var k string
		if json.Unmarshal(m["platformKey"], &k) == nil && codat.IsPlatformKey(k) {
			siblingKeys = append(siblingKeys, k)
		}
	}
	for _, it := range items {
		if isFolder(it) {
			walkRequests(it.Item, append(path[:len(path):len(path)], it.Name),
				append(folders[:len(folders):len(folders)], it.Name), out)
			continue
		}
		if len(it.Request) == 0 {
			continue
		}
		req, ok := decodeRequest(it.Request)
		if !ok {
			continue
		}
		u := parseURL(req.URL)
		if !isAuthorizationURL(u) {
			continue
		}
		f := pmFound{
			path:    append(path[:len(path):len(path)], it.Name),
			folders: folders,
			name:    it.Name,
		}
		for _, kv := range append(u.Variable, u.Query...) {
			if normalize(kv.Key) == "platformkey" && codat.IsPlatformKey(kv.str()) {
				f.keys = append(f.keys, kv.str())
			}
		}
		f.siblings = siblingKeys
		f.fields, f.parseErr = bodyFields(req.Body)
		*out = append(*out, f)
	}
}

// decodeRequest reads a Postman request, which is an object or just a URL string.
func decodeRequest(raw json.RawMessage) (pmRequest, bool) {
	var req pmRequest
	if json.Unmarshal(raw, &req) == nil {
		return req, true
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		u, _ := json.Marshal(s)
		return pmRequest{URL: u}, true
	}
	return pmRequest{}, false
}

func parseURL(raw json.RawMessage) pmURL {
	var u pmURL
	var s string
	if json.Unmarshal(raw, &s) == nil {
		u.Raw = s
		return u
	}
	_ = json.Unmarshal(raw, &u)
	if u.Raw == "" {
		var parts []string
		for _, p := range u.Path {
			var ps string
			if json.Unmarshal(p, &ps) == nil {
				parts = append(parts, ps)
			}
		}
		u.Raw = "/" + strings.Join(parts, "/")
	}
	return u
}

func isAuthorizationURL(u pmURL) bool {
	p := u.Raw
	if i := strings.IndexAny(p, "?#"); i >= 0 {
		p = p[:i]
	}
	p = strings.TrimRight(strings.TrimSpace(p), "/")
	return strings.HasSuffix(strings.ToLower(p), "/authorization")
}

var templateVar = regexp.MustCompile(`^\{\{\s*([^{}]+?)\s*\}\}$`)

// bodyFields reads the body's keys, in order, and the {{variable}} each value is.
func bodyFields(b *pmBody) ([]loadedField, error) {
	if b == nil {
		return nil, errors.New("has no body")
	}
	switch b.Mode {
	case "raw":
		return rawBodyFields(b.Raw)
	case "urlencoded":
		var out []loadedField
		seen := make(map[string]bool)
		for _, kv := range b.URLEncoded {
			if kv.Disabled {
				continue
			}
			if seen[kv.Key] {
				return nil, fmt.Errorf("body key %q appears twice", kv.Key)
			}
			seen[kv.Key] = true
			out = append(out, loadedField{name: kv.Key, hint: varName(kv.str())})
		}
		if len(out) == 0 {
			return nil, errors.New("body has no fields")
		}
		return out, nil
	default:
		return nil, fmt.Errorf("body mode %q is not supported (want raw JSON)", b.Mode)
	}
}

func varName(v string) string {
	if m := templateVar.FindStringSubmatch(v); m != nil {
		return m[1]
	}
	return ""
}

func rawBodyFields(raw string) ([]loadedField, error) {
	dec := json.NewDecoder(strings.NewReader(quoteTemplateVars(raw)))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("body is not JSON: %w", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, errors.New("body is not a JSON object")
	}
	var out []loadedField
	seen := make(map[string]bool)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("body is not JSON: %w", err)
		}
		key, _ := tok.(string)
		var val json.RawMessage
		if err := dec.Decode(&val); err != nil {
			return nil, fmt.Errorf("body is not JSON: %w", err)
		}
		if len(val) > 0 && (val[0] == '{' || val[0] == '[') {
			return nil, fmt.Errorf("body key %q is an object or an array; the body must be flat", key)
		}
		if seen[key] {
			return nil, fmt.Errorf("body key %q appears twice", key)
		}
		seen[key] = true
		var s string
		_ = json.Unmarshal(val, &s)
		out = append(out, loadedField{name: key, hint: varName(s)})
	}
	if _, err := dec.Token(); err != nil {
		return nil, fmt.Errorf("body is not JSON: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("body has data after its JSON object")
	}
	if len(out) == 0 {
		return nil, errors.New("body has no fields")
	}
	return out, nil
}

// quoteTemplateVars quotes the {{variables}} that Postman allows unquoted in
// raw JSON bodies ("expiresIn": {{expires}}), so the body parses as JSON.
func quoteTemplateVars(s string) string {
	if !strings.Contains(s, "{{") {
		return s
	}
	var b strings.Builder
	inStr, esc := false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if inStr {
			b.WriteByte(c)
			switch {
			case esc:
				esc = false
			case c == '\\':
				esc = true
			case c == '"':
				inStr = false
			}
			continue
		}
		if c == '"' {
			inStr = true
			b.WriteByte(c)
			continue
		}
		if c == '{' && i+1 < len(s) && s[i+1] == '{' {
			if j := strings.Index(s[i+2:], "}}"); j >= 0 {
				name := s[i+2 : i+2+j]
				if !strings.ContainsAny(name, "\"{}\n") {
					b.WriteString(strconv.Quote("{{" + name + "}}"))
					i += 2 + j + 1
					continue
				}
			}
		}
		b.WriteByte(c)
	}
	return b.String()
}

var (
	bracketKey = regexp.MustCompile(`[(\[]\s*([a-z]{4})\s*[)\]]`)
	wordKey    = regexp.MustCompile(`\b[a-z]{4}\b`)
)

// identifyLocked finds the platform of an authorization request (see
// LoadPostman for the order) and, for a platform the registry does not have,
// a name for it.
func (r *Registry) identifyLocked(f pmFound) (key, name string, err error) {
	keys := uniq(f.keys)
	if len(keys) == 0 {
		if sib := uniq(f.siblings); len(sib) == 1 {
			keys = sib // a lone create-connection request beside it
		}
	}
	if len(keys) == 1 {
		key = keys[0]
		if _, known := r.platforms[key]; known {
			return key, "", nil
		}
		name = f.name
		if len(f.folders) > 0 {
			name = f.folders[len(f.folders)-1]
		}
		return key, cleanName(name, key), nil
	} else if len(keys) > 1 {
		return "", "", fmt.Errorf("its platform is ambiguous: platformKey is given as %s", strings.Join(keys, " and "))
	}

	sources := []string{f.name}
	for i := len(f.folders) - 1; i >= 0; i-- {
		sources = append(sources, f.folders[i])
	}
	for _, s := range sources {
		var cands []string
		for _, m := range bracketKey.FindAllStringSubmatch(s, -1) {
			cands = append(cands, m[1])
		}
		for _, w := range wordKey.FindAllString(s, -1) {
			if _, known := r.platforms[w]; known {
				cands = append(cands, w)
			}
		}
		switch cands = uniq(cands); len(cands) {
		case 0:
		case 1:
			key = cands[0]
			if _, known := r.platforms[key]; known {
				return key, "", nil
			}
			return key, cleanName(s, key), nil
		default:
			return "", "", fmt.Errorf("its platform is ambiguous: %q names %s", s, strings.Join(cands, " and "))
		}
		if k, ok := r.platformInNameLocked(s); ok {
			return k, "", nil
		} else if k != "" {
			return "", "", fmt.Errorf("its platform is ambiguous: %q names %s", s, k)
		}
	}
	return "", "", errors.New(`its platform cannot be told: give the request or its folder the platform key in brackets, e.g. "Xero (gbol)", or a platformKey URL variable`)
}

// platformInNameLocked finds a known platform name in s: the whole of s, or
// else the platform names s contains, where a name inside a longer one found
// too ("Square" in "Square Sandbox") does not count. When two names remain,
// it returns them joined with " and " and false.
func (r *Registry) platformInNameLocked(s string) (string, bool) {
	n := normalize(s)
	if n == "" {
		return "", false
	}
	if k, ok := r.names[n]; ok {
		return k, true
	}
	found := make(map[string]string) // key → normalized name
	for k, p := range r.platforms {
		if pn := normalize(p.Name); pn != "" && strings.Contains(n, pn) {
			found[k] = pn
		}
	}
	var keys []string
	for k, pn := range found {
		inner := false
		for k2, pn2 := range found {
			if k2 != k && len(pn2) > len(pn) && strings.Contains(pn2, pn) {
				inner = true
			}
		}
		if !inner {
			keys = append(keys, k)
		}
	}
	switch len(keys) {
	case 0:
		return "", false
	case 1:
		return keys[0], true
	default:
		sort.Strings(keys)
		return strings.Join(keys, " and "), false
	}
}

// cleanName makes a platform name from a folder or request name: without the
// bracketed key and surrounding separators.
func cleanName(s, key string) string {
	s = regexp.MustCompile(`[(\[]\s*`+regexp.QuoteMeta(key)+`\s*[)\]]`).ReplaceAllString(s, "")
	s = strings.Trim(s, " \t-–—:|/")
	if s == "" {
		return key
	}
	return s
}

func uniq(ss []string) []string {
	var out []string
	seen := make(map[string]bool)
	for _, s := range ss {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}
