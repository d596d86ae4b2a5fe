// Command gen writes the typed builders of package integrations, their doc
// comments and the built-in registry from one table, platforms.json, so that
// a builder, its documented wire fields and the registry cannot drift apart.
//
// Run it with go generate in the integrations directory:
//
//	go generate ./integrations
//
// It reads platforms.json and the Role constants of roles.go, and writes
// builders_gen.go. CI regenerates and fails when the file changes.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"go/ast"
	"go/format"
	"go/parser"
	"go/token"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// table is platforms.json.
type table struct {
	Platforms []platform `json:"platforms"`
}

type platform struct {
	Type       string   `json:"type"`
	Key        string   `json:"key"`
	Name       string   `json:"name"`
	SourceType string   `json:"sourceType"`
	Aliases    []string `json:"aliases"`
	Evidence   string   `json:"evidence"`
	Source     string   `json:"source"`
	// Intro replaces the first sentence of the type's doc comment, after the
	// type name ("is the token-migration body for …" by default).
	Intro string `json:"intro"`
	// Doc is a paragraph added to the type's doc comment.
	Doc string `json:"doc"`
	// Like names an earlier platform's Type whose evidence, source and fields
	// this one shares (a sandbox or a regional twin); it then lists none.
	Like   string  `json:"like"`
	Fields []field `json:"fields"`
}

type field struct {
	Name     string   `json:"name"`
	Go       string   `json:"go"`
	Role     string   `json:"role"`
	Required bool     `json:"required"`
	Secret   bool     `json:"secret"`
	Tenant   bool     `json:"tenant"`
	Format   string   `json:"format"`
	Aliases  []string `json:"aliases"`
	Doc      string   `json:"doc"`
}

var (
	keyPattern    = regexp.MustCompile(`^[a-z]{4}$`)
	identPattern  = regexp.MustCompile(`^[A-Z][A-Za-z0-9]*$`)
	evidenceLevel = []string{"documented", "inferred", "doubtful"}
	formats       = map[string]string{
		"text": "FormatText", "token": "FormatToken", "id": "FormatID", "numeric": "FormatNumeric",
		"uuid": "FormatUUID", "shop-domain": "FormatShopDomain", "url": "FormatURL", "expiry": "FormatExpiry",
	}
	evidenceConst = map[string]string{"documented": "Documented", "inferred": "Inferred", "doubtful": "Doubtful"}
)

func main() {
	in := flag.String("table", "platforms.json", "the table")
	roles := flag.String("roles", "roles.go", "the file declaring the Role constants")
	out := flag.String("out", "builders_gen.go", "the file to write")
	flag.Parse()
	if err := run(*in, *roles, *out); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func run(in, rolesFile, out string) error {
	data, err := os.ReadFile(in)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var t table
	if err := dec.Decode(&t); err != nil {
		return fmt.Errorf("%s: %w", in, err)
	}
	roles, err := roleConstants(rolesFile)
	if err != nil {
		return err
	}
	if err := resolveLike(&t); err != nil {
		return fmt.Errorf("%s: %w", in, err)
	}
	if err := check(t, roles); err != nil {
		return fmt.Errorf("%s: %w", in, err)
	}
	src, err := format.Source(generate(t, roles))
	if err != nil {
		return fmt.Errorf("formatting the output: %w", err)
	}
	return os.WriteFile(out, src, 0o644)
}

// roleConstants maps each Role's string to its constant's name, read from
// the const declarations of file.
func roleConstants(file string) (map[string]string, error) {
	f, err := parser.ParseFile(token.NewFileSet(), file, nil, 0)
	if err != nil {
		return nil, err
	}
	m := map[string]string{}
	for _, d := range f.Decls {
		gd, ok := d.(*ast.GenDecl)
		if !ok || gd.Tok != token.CONST {
			continue
		}
		for _, s := range gd.Specs {
			vs := s.(*ast.ValueSpec)
			if id, ok := vs.Type.(*ast.Ident); !ok || id.Name != "Role" || len(vs.Values) != 1 {
				continue
			}
			lit, ok := vs.Values[0].(*ast.BasicLit)
			if !ok {
				continue
			}
			v, err := strconv.Unquote(lit.Value)
			if err != nil {
				return nil, err
			}
			m[v] = vs.Names[0].Name
		}
	}
	if len(m) == 0 {
		return nil, fmt.Errorf("%s: no Role constants", file)
	}
	return m, nil
}

// resolveLike gives each platform with Like the evidence, source and fields
// of the earlier platform it names.
func resolveLike(t *table) error {
	byType := map[string]platform{}
	for i, p := range t.Platforms {
		if p.Like != "" {
			base, ok := byType[p.Like]
			switch {
			case !ok:
				return fmt.Errorf("platform %s: like %q: no earlier platform of that type", p.Key, p.Like)
			case len(p.Fields) > 0 || p.Evidence != "" || p.Source != "":
				return fmt.Errorf("platform %s: like %q: lists its own evidence, source or fields", p.Key, p.Like)
			}
			p.Evidence, p.Source, p.Fields = base.Evidence, base.Source, base.Fields
			t.Platforms[i] = p
		}
		byType[p.Type] = p
	}
	return nil
}

// check rejects a table the registry would refuse, before any code is written.
func check(t table, roles map[string]string) error {
	var errs []error
	types, keys := map[string]bool{}, map[string]bool{}
	for _, p := range t.Platforms {
		where := fmt.Sprintf("platform %s (%s)", p.Key, p.Type)
		switch {
		case !keyPattern.MatchString(p.Key):
			errs = append(errs, fmt.Errorf("%s: key must be four lowercase letters", where))
		case keys[p.Key]:
			errs = append(errs, fmt.Errorf("%s: key listed twice", where))
		}
		keys[p.Key] = true
		if !identPattern.MatchString(p.Type) || types[p.Type] {
			errs = append(errs, fmt.Errorf("%s: type must be an exported Go name, used once", where))
		}
		types[p.Type] = true
		if p.Name == "" || p.SourceType == "" || p.Source == "" {
			errs = append(errs, fmt.Errorf("%s: name, sourceType and source are required", where))
		}
		if !slices.Contains(evidenceLevel, p.Evidence) {
			errs = append(errs, fmt.Errorf("%s: evidence %q: must be one of %v", where, p.Evidence, evidenceLevel))
		}
		if len(p.Fields) == 0 {
			errs = append(errs, fmt.Errorf("%s: no fields", where))
		}
		gos, names := map[string]bool{}, map[string]bool{}
		for _, f := range p.Fields {
			fw := fmt.Sprintf("%s: field %s", where, f.Name)
			if _, ok := roles[f.Role]; !ok {
				errs = append(errs, fmt.Errorf("%s: role %q is not a Role constant of roles.go", fw, f.Role))
			}
			if _, ok := formats[f.Format]; !ok {
				errs = append(errs, fmt.Errorf("%s: unknown format %q", fw, f.Format))
			}
			if !identPattern.MatchString(f.Go) || gos[f.Go] || names[f.Name] {
				errs = append(errs, fmt.Errorf("%s: names must be unique, the Go one exported", fw))
			}
			if f.Format == "expiry" && f.Secret {
				errs = append(errs, fmt.Errorf("%s: an expiry is not a secret", fw))
			}
			if f.Doc == "" {
				errs = append(errs, fmt.Errorf("%s: doc is required", fw))
			}
			gos[f.Go], names[f.Name] = true, true
		}
	}
	return errors.Join(errs...)
}

// goType is the builder field's Go type: credentials are codat.Secret, an
// expiry is a time.Time, everything else a string.
func goType(f field) string {
	switch {
	case f.Secret:
		return "codat.Secret"
	case f.Format == "expiry":
		return "time.Time"
	}
	return "string"
}

// value is the builder field as the codat.Secret its roleValue carries.
func value(f field) string {
	switch goType(f) {
	case "codat.Secret":
		return "b." + f.Go
	case "time.Time":
		return "expiry(b." + f.Go + ")"
	}
	return "codat.Secret(b." + f.Go + ")"
}

var formatWords = map[string]string{
	"text": "text", "token": "token", "id": "identifier", "numeric": "digits only", "uuid": "UUID",
	"shop-domain": "name.myshopify.com", "url": "http(s) URL", "expiry": "time",
}

func generate(t table, roles map[string]string) []byte {
	var b bytes.Buffer
	b.WriteString("// Code generated by integrations/internal/gen from platforms.json; DO NOT EDIT.\n\n")
	b.WriteString("package integrations\n\n")
	b.WriteString("import (\n\t\"log/slog\"\n\t\"time\"\n\n\t\"github.com/codat-migrate/codat\"\n)\n\n")
	writeRegistry(&b, t, roles)
	for _, pl := range t.Platforms {
		writeBuilder(&b, pl, roles)
	}
	if !strings.Contains(b.String(), "time.Time") {
		return bytes.Replace(b.Bytes(), []byte("\t\"time\"\n"), nil, 1)
	}
	return b.Bytes()
}

// writeRegistry writes builtinPlatforms, the registry's starting content.
func writeRegistry(b *bytes.Buffer, t table, roles map[string]string) {
	p := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	p("// builtinPlatforms returns the platforms every new registry starts with,\n")
	p("// in the order of platforms.json.\n")
	p("func builtinPlatforms() []Platform {\n\treturn []Platform{\n")
	for _, pl := range t.Platforms {
		p("\t\t{Key: %q, Name: %q, SourceType: %q,\n", pl.Key, pl.Name, pl.SourceType)
		if len(pl.Aliases) > 0 {
			p("\t\t\tAliases: %s,\n", strs(pl.Aliases))
		}
		p("\t\t\tEvidence: %s,\n\t\t\tSource: %q,\n\t\t\tFields: []Field{\n", evidenceConst[pl.Evidence], pl.Source)
		for _, f := range pl.Fields {
			p("\t\t\t\t{Name: %q, Role: %s, Required: %t, Secret: %t, Tenant: %t, Format: %s,", f.Name, roles[f.Role],
				f.Required, f.Secret, f.Tenant, formats[f.Format])
			if len(f.Aliases) > 0 {
				p(" Aliases: %s,", strs(f.Aliases))
			}
			p(" Doc: %q},\n", f.Doc)
		}
		p("\t\t\t}},\n")
	}
	p("\t}\n}\n")
}

// writeBuilder writes one typed builder: its doc comment with the wire-field
// table, the struct, and its methods.
func writeBuilder(b *bytes.Buffer, pl platform, roles map[string]string) {
	p := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	writeBuilderDoc(b, pl)
	p("type %s struct {\n", pl.Type)
	for _, f := range pl.Fields {
		doc := f.Doc
		if !f.Required {
			doc = "optional: " + doc
		}
		if goType(f) == "time.Time" {
			doc += "; sent as RFC 3339 in UTC"
		}
		p("\t%s %s // %s\n", f.Go, goType(f), doc)
	}
	p("}\n\n")
	p("// PlatformKey returns %q.\n", pl.Key)
	p("func (%s) PlatformKey() string { return %q }\n\n", pl.Type, pl.Key)
	p("// Body returns the validated body for PUT …/connections/{connectionId}/authorization.\n")
	p("func (b %s) Body() (map[string]string, error) { return Default().Body(b) }\n\n", pl.Type)
	p("// LogValue logs the non-secret fields; credentials are redacted.\n")
	p("func (b %s) LogValue() slog.Value { return logValue(b) }\n\n", pl.Type)
	p("// MarshalJSON writes the redacted view that LogValue logs; use Body for the wire.\n")
	p("func (b %s) MarshalJSON() ([]byte, error) { return marshalRedacted(b) }\n\n", pl.Type)
	p("func (b %s) roleValues() []roleValue {\n\treturn []roleValue{\n", pl.Type)
	for _, f := range pl.Fields {
		p("\t\t{%s, %s, %t},\n", roles[f.Role], value(f), f.Tenant)
	}
	p("\t}\n}\n")
}

// writeBuilderDoc writes a builder's doc comment: what it is, its wire
// fields as the registry holds them, their source, and any note.
func writeBuilderDoc(b *bytes.Buffer, pl platform) {
	p := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	intro := pl.Intro
	if intro == "" {
		intro = fmt.Sprintf("is the token-migration body for %s, platform key %q.", pl.Name, pl.Key)
	}
	p("\n")
	comment(b, pl.Type+" "+intro)
	p("//\n// Wire fields (evidence: %s):\n//\n", pl.Evidence)
	width := 0
	for _, f := range pl.Fields {
		width = max(width, len(f.Name))
	}
	for _, f := range pl.Fields {
		req := "optional"
		if f.Required {
			req = "required"
		}
		notes := []string{formatWords[f.Format]}
		if f.Secret {
			notes = append(notes, "secret")
		}
		if f.Tenant {
			notes = append(notes, "the tenant identity")
		}
		p("//\t%-*s  %s  %s: %s\n", width, f.Name, req, strings.Join(notes, ", "), f.Doc)
	}
	p("//\n")
	comment(b, "Source: "+pl.Source+".")
	if pl.Doc != "" {
		p("//\n")
		comment(b, pl.Doc)
	}
	p("//\n")
	comment(b, "Body resolves the wire names through Default, the built-in registry; to send "+
		"the names of a registry you loaded (LoadPostman, LoadSpec), use that registry's Bind.")
}

func strs(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = strconv.Quote(s)
	}
	return "[]string{" + strings.Join(q, ", ") + "}"
}

// comment writes text as // lines of at most 80 columns.
func comment(b *bytes.Buffer, text string) {
	line := "//"
	for _, w := range strings.Fields(text) {
		if len(line)+1+len(w) > 80 && line != "//" {
			b.WriteString(line + "\n")
			line = "//"
		}
		line += " " + w
	}
	b.WriteString(line + "\n")
}
