package integrations

import (
	"fmt"
	"sort"
	"strings"

	"github.com/codat-migrate/codat"
)

// FromRecord turns one input row — a CSV record or a JSONL object, as column
// name → value — into an authorization for platform, given by key or name
// (case-insensitive, e.g. "qhyg" or "QuickBooks Online").
//
// Columns are matched to the platform's fields by wire name, role, alias or a
// common synonym, ignoring case and punctuation: realm_id, RealmID and realmId
// all fill realmId; refresh_token fills refreshToken. Values are trimmed of
// surrounding whitespace and become codat.Secret at once. A blank value counts
// as absent, so a wide CSV with columns for several platforms works.
//
// The row must fit: a *ValidationError (errors.Is ErrInvalid) lists every
// required field that is missing, every non-blank column that is not a field
// of the platform (a typo'd column would otherwise drop a field silently),
// every value with a bad format or an expired JWT, and the expected fields.
// An expired access token (JWT exp or expiresAt in the past) is accepted when
// the row also has a refresh token, which Codat refreshes it with.
// It names columns and fields, never values. An unknown platform is an error
// wrapping ErrUnknownPlatform.
//
// The result is a Generic resolved through r, so its Body and TenantID use r.
func (r *Registry) FromRecord(platform string, fields map[string]string) (codat.Authorization, error) {
	secrets := make(map[string]codat.Secret, len(fields))
	for k, v := range fields {
		secrets[k] = codat.Secret(v)
	}
	return r.FromSecrets(platform, secrets)
}

// FromSecrets is FromRecord for a row whose values are already secrets (as a
// bulk reader holds them), so no value passes through a plain string map.
func (r *Registry) FromSecrets(platform string, fields map[string]codat.Secret) (codat.Authorization, error) {
	r.mu.RLock()
	p, ok := r.lookupLocked(platform)
	if ok {
		p = p.clone()
	}
	r.mu.RUnlock()
	if !ok {
		return nil, unknownPlatform(platform)
	}
	now := r.now()

	cols := make([]string, 0, len(fields))
	for c := range fields {
		cols = append(cols, c)
	}
	sort.Strings(cols)

	values := make(map[int]string)  // field index → value
	fromCol := make(map[int]string) // field index → column it came from
	var unknown []string
	var probs []Problem
	for _, c := range cols {
		v := strings.TrimSpace(fields[c].Reveal())
		i, ok := matchField(p.Fields, c)
		if !ok {
			if v != "" {
				unknown = append(unknown, c)
			}
			continue
		}
		if v == "" {
			continue
		}
		if prev, dup := fromCol[i]; dup {
			probs = append(probs, Problem{c, fmt.Sprintf("and column %q both give %s", prev, p.Fields[i].Name)})
			continue
		}
		fromCol[i] = c
		values[i] = v
	}

	misfit := len(unknown) > 0
	var list problemList
	for _, pr := range probs {
		list.add(pr)
	}
	refresh := false
	for i, f := range p.Fields {
		v, set := values[i]
		if !set {
			if f.Required {
				list.add(Problem{f.Name, "is required"})
				misfit = true
			}
			continue
		}
		ok := list.check(f.Name, f.Role, f.format(), v, now)
		refresh = refresh || ok && f.Role == RoleRefreshToken
	}
	for _, c := range unknown {
		list.add(Problem{c, "is not a field of this platform"})
	}
	if probs := list.result(refresh); len(probs) > 0 {
		e := &ValidationError{Platform: p.Key, Name: p.Name, Problems: probs}
		if misfit {
			e.Expected = p.Expected()
		}
		return nil, e
	}

	out := make(map[string]codat.Secret, len(values))
	for i, v := range values {
		out[p.Fields[i].Name] = codat.Secret(v)
	}
	return Generic{Key: p.Key, Fields: out, reg: r}, nil
}

// FromRecord is Default().FromRecord.
func FromRecord(platform string, fields map[string]string) (codat.Authorization, error) {
	return Default().FromRecord(platform, fields)
}

// FromSecrets is Default().FromSecrets.
func FromSecrets(platform string, fields map[string]codat.Secret) (codat.Authorization, error) {
	return Default().FromSecrets(platform, fields)
}

// StringValues converts a decoded JSON object (a JSONL row's fields) to the
// map FromRecord takes. Authorization bodies are strings only, and a JSON
// number can lose digits (a 16-digit realmId read as a float64 does), so any
// value other than a string or null is an error naming the field, never the
// value. null counts as absent.
func StringValues(m map[string]any) (map[string]string, error) {
	out := make(map[string]string, len(m))
	var bad []string
	for k, v := range m {
		switch s := v.(type) {
		case string:
			out[k] = s
		case nil:
			out[k] = ""
		default:
			bad = append(bad, k)
		}
	}
	if len(bad) > 0 {
		sort.Strings(bad)
		return nil, fmt.Errorf("%w: fields must be JSON strings (write numbers in quotes): %q", ErrInvalid, bad)
	}
	return out, nil
}

// Lookup is Default().Lookup.
func Lookup(keyOrName string) (Platform, bool) { return Default().Lookup(keyOrName) }

// Platforms is Default().Platforms.
func Platforms() []Platform { return Default().Platforms() }
