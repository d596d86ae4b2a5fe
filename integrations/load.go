package integrations

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
)

// maxLoadBytes bounds what LoadPostman and LoadSpec read.
const maxLoadBytes = 32 << 20

func readLimited(rd io.Reader, what string) ([]byte, error) {
	if rd == nil {
		return nil, fmt.Errorf("integrations: %s: nil reader", what)
	}
	data, err := io.ReadAll(io.LimitReader(rd, maxLoadBytes+1))
	if err != nil {
		return nil, fmt.Errorf("integrations: %s: read: %w", what, err)
	}
	if len(data) > maxLoadBytes {
		return nil, fmt.Errorf("integrations: %s: input is larger than %d MiB", what, maxLoadBytes>>20)
	}
	return data, nil
}

// loadedField is a field as a loader read it, before it is matched to the
// registry's existing fields.
type loadedField struct {
	name    string
	hint    string // the {{variable}} a Postman body used as the value
	role    Role   // explicit role (LoadSpec)
	req     *bool
	secret  *bool
	tenant  *bool
	format  FieldFormat
	aliases []string
	doc     string
}

// loadedPlatform is a platform as a loader read it.
type loadedPlatform struct {
	key, name, sourceType, source string
	aliases                       []string
	fields                        []loadedField
	where                         string // where in the input, for errors
}

// installLocked turns loaded platforms into registry platforms, matching their
// fields to the existing ones, checks them all, and applies them only when
// every one is valid. r.mu must be held for writing.
func (r *Registry) installLocked(lps []loadedPlatform) (Changes, error) {
	var errs []error
	byKey := make(map[string]int)
	var ps []Platform
	renamed := make(map[string]map[string]string)
	for _, lp := range lps {
		existing, exists := r.platforms[lp.key]
		fields, ren, err := buildFields(existing.Fields, lp.fields)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", lp.where, err))
			continue
		}
		p := Platform{Key: lp.key, Name: lp.name, SourceType: lp.sourceType, Fields: fields,
			Evidence: Loaded, Source: lp.source}
		if exists {
			if p.Name == "" {
				p.Name = existing.Name
			}
			if p.SourceType == "" {
				p.SourceType = existing.SourceType
			}
			p.Aliases = slices.Clone(existing.Aliases)
		}
		if p.Name == "" {
			p.Name = lp.key
		}
		for _, a := range lp.aliases {
			if !slices.Contains(p.Aliases, a) {
				p.Aliases = append(p.Aliases, a)
			}
		}
		if err := validatePlatform(p); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", lp.where, err))
			continue
		}
		if i, dup := byKey[p.Key]; dup {
			if !slices.Equal(wireNames(ps[i].Fields), wireNames(p.Fields)) {
				errs = append(errs, fmt.Errorf("%s: platform %s is defined twice with different fields (%s; and %s)",
					lp.where, p.Key, strings.Join(wireNames(ps[i].Fields), ", "), strings.Join(wireNames(p.Fields), ", ")))
			}
			continue
		}
		byKey[p.Key] = len(ps)
		ps = append(ps, p)
		if len(ren) > 0 {
			renamed[p.Key] = ren
		}
	}
	if len(errs) == 0 {
		if err := r.checkNamesLocked(ps); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return Changes{}, errors.Join(errs...)
	}
	return r.applyLocked(ps, renamed), nil
}

// buildFields matches loaded fields to existing ones — by wire name, role,
// alias or role synonym of the loaded name, then of its {{variable}} — so a
// renamed field keeps its role (and typed builders keep filling it), its
// format and flags; the old wire name becomes an alias. Unmatched fields get
// the defaults of the role their name means, or are plain required fields
// whose secrecy and format are guessed from the name.
func buildFields(existing []Field, loaded []loadedField) ([]Field, map[string]string, error) {
	fields := make([]Field, 0, len(loaded))
	renamed := make(map[string]string)
	matchedBy := make(map[int]string)
	for _, lf := range loaded {
		if strings.TrimSpace(lf.name) == "" {
			return nil, nil, errors.New("a field has an empty name")
		}
		i, ok := -1, false
		if lf.role != "" {
			if !knownRole(lf.role) {
				return nil, nil, fmt.Errorf("field %q: unknown role %q", lf.name, lf.role)
			}
			for j, f := range existing {
				if f.Role == lf.role {
					i, ok = j, true
				}
			}
		} else {
			i, ok = matchField(existing, lf.name)
			if !ok && lf.hint != "" {
				i, ok = matchField(existing, lf.hint)
			}
		}
		var f Field
		switch {
		case ok:
			if prev, dup := matchedBy[i]; dup {
				return nil, nil, fmt.Errorf("fields %q and %q both match the existing field %q", prev, lf.name, existing[i].Name)
			}
			matchedBy[i] = lf.name
			f = existing[i].clone()
			if f.Name != lf.name {
				renamed[f.Name] = lf.name
				f.Aliases = appendAlias(f.Aliases, f.Name)
				f.Name = lf.name
			}
		default:
			role := lf.role
			if role == "" {
				if rr, ok := roleForName(lf.name); ok {
					role = rr
				} else if rr, ok := roleForName(lf.hint); ok && lf.hint != "" {
					role = rr
				}
			}
			f = Field{Name: lf.name, Role: role, Required: true}
			if info, ok := roleTable[role]; ok {
				f.Secret, f.Tenant, f.Format = info.secret, info.tenant, info.format
			} else {
				f.Secret, f.Format = guessField(lf.name)
			}
		}
		if lf.req != nil {
			f.Required = *lf.req
		}
		if lf.secret != nil {
			f.Secret = *lf.secret
		}
		if lf.tenant != nil {
			f.Tenant = *lf.tenant
		}
		if lf.format != "" {
			f.Format = lf.format
		}
		if lf.doc != "" {
			f.Doc = lf.doc
		}
		for _, a := range lf.aliases {
			f.Aliases = appendAlias(f.Aliases, a)
		}
		if lf.hint != "" && normalize(lf.hint) != normalize(f.Name) {
			f.Aliases = appendAlias(f.Aliases, lf.hint)
		}
		fields = append(fields, f)
	}
	return fields, renamed, nil
}

func appendAlias(aliases []string, a string) []string {
	if strings.TrimSpace(a) == "" || slices.Contains(aliases, a) {
		return aliases
	}
	return append(aliases, a)
}

// guessField guesses whether a field nobody has described is a credential,
// and its format, from its name.
func guessField(name string) (secret bool, format FieldFormat) {
	n := normalize(name)
	for _, w := range []string{"password", "passphrase"} {
		if strings.Contains(n, w) {
			return true, FormatText
		}
	}
	for _, w := range []string{"token", "secret", "apikey", "privatekey", "credential"} {
		if strings.Contains(n, w) {
			return true, FormatToken
		}
	}
	if strings.Contains(n, "expir") {
		return false, FormatExpiry
	}
	if strings.HasSuffix(n, "url") {
		return false, FormatURL
	}
	return false, FormatText
}
