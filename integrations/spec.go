package integrations

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/codat-migrate/codat"
)

type specFile struct {
	Version   int            `json:"version"`
	Platforms []specPlatform `json:"platforms"`
}

type specPlatform struct {
	Key        string      `json:"key"`
	Name       string      `json:"name"`
	SourceType string      `json:"sourceType"`
	Aliases    []string    `json:"aliases"`
	Source     string      `json:"source"`
	Fields     []specField `json:"fields"`
}

type specField struct {
	Name     string   `json:"name"`
	Role     string   `json:"role"`
	Required *bool    `json:"required"`
	Secret   *bool    `json:"secret"`
	Tenant   *bool    `json:"tenant"`
	Format   string   `json:"format"`
	Aliases  []string `json:"aliases"`
	Doc      string   `json:"doc"`
}

// LoadSpec corrects the registry from a JSON file in this package's own format
// (see the package documentation), for users who know a platform's fields but
// have no Postman collection. Each platform listed replaces the registry's
// definition of that key, or adds one; fields are matched to the existing ones
// as LoadPostman does, and every attribute not given is kept from the matched
// field (or taken from the role, or guessed from the name; required defaults
// to true). The platforms' evidence becomes Loaded.
//
// Unknown JSON keys, an unknown format or role, a bad key, duplicate fields or
// platforms, or a name that already names another platform are errors, and
// then nothing changes.
func (r *Registry) LoadSpec(rd io.Reader) (Changes, error) {
	const what = "LoadSpec"
	if err := r.checkWritable(what); err != nil {
		return Changes{}, err
	}
	data, err := readLimited(rd, what)
	if err != nil {
		return Changes{}, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var spec specFile
	if err := dec.Decode(&spec); err != nil {
		return Changes{}, fmt.Errorf("integrations: %s: not a platform spec: %w", what, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return Changes{}, fmt.Errorf("integrations: %s: data after the spec's JSON object", what)
	}
	if spec.Version != 0 && spec.Version != 1 {
		return Changes{}, fmt.Errorf("integrations: %s: version %d is not supported (want 1)", what, spec.Version)
	}
	if len(spec.Platforms) == 0 {
		return Changes{}, fmt.Errorf("integrations: %s: the spec lists no platforms", what)
	}
	var errs []error
	seen := make(map[string]bool)
	lps := make([]loadedPlatform, 0, len(spec.Platforms))
	for i, sp := range spec.Platforms {
		where := fmt.Sprintf("platforms[%d]", i)
		if sp.Key != "" {
			where += " (" + sp.Key + ")"
		}
		if !codat.IsPlatformKey(sp.Key) {
			errs = append(errs, fmt.Errorf("%s: key %q must be four lowercase letters", where, sp.Key))
			continue
		}
		if seen[sp.Key] {
			errs = append(errs, fmt.Errorf("%s: platform %s is listed twice", where, sp.Key))
			continue
		}
		seen[sp.Key] = true
		if len(sp.Fields) == 0 {
			errs = append(errs, fmt.Errorf("%s: no fields", where))
			continue
		}
		lp := loadedPlatform{key: sp.Key, name: strings.TrimSpace(sp.Name), sourceType: sp.SourceType,
			aliases: sp.Aliases, where: where, source: "loaded from a platform spec"}
		if sp.Source != "" {
			lp.source = "loaded from a platform spec: " + sp.Source
		}
		for j, sf := range sp.Fields {
			format := FieldFormat(sf.Format)
			if format != "" && !slices.Contains(knownFormats, format) {
				errs = append(errs, fmt.Errorf("%s: fields[%d] (%s): unknown format %q", where, j, sf.Name, sf.Format))
				continue
			}
			lp.fields = append(lp.fields, loadedField{name: sf.Name, role: Role(sf.Role), req: sf.Required,
				secret: sf.Secret, tenant: sf.Tenant, format: format, aliases: sf.Aliases, doc: sf.Doc})
		}
		lps = append(lps, lp)
	}
	if len(errs) > 0 {
		return Changes{}, fmt.Errorf("integrations: %s: %w", what, errors.Join(errs...))
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	ch, err := r.installLocked(lps)
	if err != nil {
		return Changes{}, fmt.Errorf("integrations: %s: %w", what, err)
	}
	return ch, nil
}

// LoadSpec returns a new registry: the built-in platforms corrected by the
// spec file read from rd (see Registry.LoadSpec). Default is not changed.
func LoadSpec(rd io.Reader) (*Registry, Changes, error) {
	r, err := NewRegistry()
	if err != nil {
		return nil, Changes{}, err
	}
	ch, err := r.LoadSpec(rd)
	if err != nil {
		return nil, Changes{}, err
	}
	return r, ch, nil
}
