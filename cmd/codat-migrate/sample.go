package main

import (
	"bytes"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/codat-migrate/codat/integrations"
)

// sampleOptions shape a generated export.
type sampleOptions struct {
	// Customers is the number of rows (at least 20, for the special rows).
	Customers int
	// Format is "csv" or "jsonl".
	Format string
	// Seed makes the export repeatable.
	Seed uint64
	// Now dates the optional access-token expiries (a few hours later).
	Now time.Time
	// RejectedToken is the access token of the one row the platform rejects.
	RejectedToken string
	// Clean leaves out the rows that are wrong on purpose.
	Clean bool
}

// sampleRow is one generated customer.
type sampleRow struct {
	Ref, Name, Description, Platform, Segment string
	Fields                                    map[string]string
}

// sampleExport describes a generated export, for the demo's narration.
type sampleExport struct {
	Path      string
	Rows      int
	Platforms map[string]int // platform name → rows
	// Special lists the rows made wrong on purpose: line → what is wrong.
	Special map[int]string
	// Tokens are every credential value written, so tests can check that
	// none leaks.
	Tokens []string
}

// samplePlatforms is the mix of the sample export: key → weight.
var samplePlatforms = []struct {
	key    string
	weight int
}{{"qhyg", 35}, {"gbol", 25}, {"fbrh", 15}, {"fztf", 15}, {"pbtz", 10}}

var (
	nameFirst = []string{"Acme", "Northwind", "Bluebell", "Harbour", "Copper", "Maple", "Summit", "Riverside",
		"Oak & Ivy", "Lighthouse", "Granite", "Meadow", "Foxglove", "Kestrel", "Juniper", "Saffron", "Cobalt",
		"Willow", "Tidewater", "Ember", "Orchard", "Pioneer", "Sparrow", "Thistle"}
	nameTrade = []string{"Bakery", "Plumbing", "Design", "Coffee", "Joinery", "Dental", "Logistics", "Florists",
		"Brewing", "Consulting", "Cycles", "Print", "Architects", "Catering", "Books", "Outdoor", "Electrical", "Pet Care"}
	nameSuffix = []string{"Ltd", "LLC", "Inc", "& Co", "Group", "Partners", "Studio", ""}
)

// generateSample writes an export of o.Customers customers across several
// platforms to path (mode 0600): mostly valid rows, plus five invalid ones,
// one duplicate tenant and one token the platform rejects. Field names come
// from reg, so the export matches the registry in use.
func generateSample(path string, reg *integrations.Registry, o sampleOptions) (*sampleExport, error) {
	if o.Customers < 1 || !o.Clean && o.Customers < 20 {
		return nil, fmt.Errorf("the sample needs at least 20 customers (1 without the wrong rows), not %d", o.Customers)
	}
	if o.Customers > maxSampleCustomers {
		return nil, fmt.Errorf("the sample holds at most %d customers, not %d", maxSampleCustomers, o.Customers)
	}
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	rng := rand.New(rand.NewPCG(o.Seed, 0x64656d6f))
	pick, err := newPlatformPicker(reg, rng)
	if err != nil {
		return nil, err
	}
	ex := &sampleExport{Path: path, Rows: o.Customers, Platforms: map[string]int{}, Special: map[int]string{}}
	rows := sampleRows(rng, pick, o, ex)
	if !o.Clean {
		spoilSample(rows, reg, rng, o, ex)
	}
	return ex, writeSampleFile(path, rows, o.Format, reg, ex)
}

// newPlatformPicker returns a function that picks the platform of row i:
// the most common platform for the first row (the canary), then platforms
// drawn by samplePlatforms' weights among those reg knows.
func newPlatformPicker(reg *integrations.Registry, rng *rand.Rand) (func(i int) integrations.Platform, error) {
	type plat struct {
		integrations.Platform
		weight int
	}
	var plats []plat
	total := 0
	for _, sp := range samplePlatforms {
		p, ok := reg.Lookup(sp.key)
		if !ok {
			continue
		}
		plats = append(plats, plat{p, sp.weight})
		total += sp.weight
	}
	if len(plats) == 0 {
		return nil, fmt.Errorf("the registry knows none of the sample's platforms")
	}
	return func(i int) integrations.Platform {
		if i == 0 {
			return plats[0].Platform // the canary: the most common platform
		}
		n := rng.IntN(total)
		for _, p := range plats {
			if n < p.weight {
				return p.Platform
			}
			n -= p.weight
		}
		return plats[0].Platform
	}, nil
}

// sampleRows makes o.Customers valid rows with distinct company names (until
// the name lists run out) and distinct provider tenants, and counts them per
// platform in ex.Platforms.
func sampleRows(rng *rand.Rand, pick func(int) integrations.Platform, o sampleOptions, ex *sampleExport) []sampleRow {
	rows := make([]sampleRow, 0, o.Customers)
	usedNames := map[string]bool{}
	for i := 0; i < o.Customers; i++ {
		p := pick(i)
		name := ""
		for tries := 0; tries < 20; tries++ {
			name = strings.TrimSpace(fmt.Sprintf("%s %s %s", nameFirst[rng.IntN(len(nameFirst))],
				nameTrade[rng.IntN(len(nameTrade))], nameSuffix[rng.IntN(len(nameSuffix))]))
			if !usedNames[name] {
				break
			}
		}
		usedNames[name] = true
		r := sampleRow{Ref: fmt.Sprintf("cust-%04d", i+1), Name: name, Platform: p.Name, Fields: map[string]string{}}
		if rng.IntN(3) == 0 {
			r.Description = "Migrated from the in-house " + strings.ToLower(p.SourceType) + " integration"
		}
		r.Segment = []string{"smb", "smb", "mid-market"}[rng.IntN(3)]
		for _, f := range p.Fields {
			if !f.Required && (f.Format != integrations.FormatExpiry || rng.IntN(2) == 0) {
				continue
			}
			// A tenant's random value is drawn like any other, so making
			// it unique changes no other value of the export.
			v := sampleValue(rng, f, name, o.Now)
			if f.Tenant {
				v = uniqueTenant(f, v, i)
			}
			r.Fields[f.Name] = v
		}
		rows = append(rows, r)
		ex.Platforms[p.Name]++
	}
	return rows
}

// sampleSpoiler makes rows of a sample wrong on purpose and records each in
// ex.Special by its line (which counts the CSV header, when there is one).
type sampleSpoiler struct {
	rows   []sampleRow
	reg    *integrations.Registry
	rng    *rand.Rand
	ex     *sampleExport
	header int
}

// spoilSample makes seven rows wrong on purpose, spread through the file in
// eight slices and never the first (the canary): five invalid, a duplicate
// tenant and, with o.RejectedToken, a token the platform rejects.
func spoilSample(rows []sampleRow, reg *integrations.Registry, rng *rand.Rand, o sampleOptions, ex *sampleExport) {
	s := &sampleSpoiler{rows: rows, reg: reg, rng: rng, ex: ex}
	if o.Format != "jsonl" {
		s.header = 1
	}
	at := func(k int) int { return (k + 1) * o.Customers / 8 } // rows 1..7 × n/8
	s.missingCredential(at(0))
	s.unknownPlatform(at(1))
	s.badTenant(at(2))
	s.expiredToken(at(3), at(4), o.Now)
	s.noName(at(4))
	s.duplicateTenant(at(5))
	if o.RejectedToken != "" {
		s.rejectedToken(at(6), o.RejectedToken)
	}
}

func (s *sampleSpoiler) special(i int, what string) { s.ex.Special[i+1+s.header] = what }

// platform is the registry's entry for row i's platform.
func (s *sampleSpoiler) platform(i int) integrations.Platform {
	p, _ := s.reg.Lookup(keyOf(s.reg, s.rows[i].Platform))
	return p
}

// missingCredential drops row i's first required credential.
func (s *sampleSpoiler) missingCredential(i int) {
	for _, f := range s.platform(i).Fields {
		if f.Required && f.Secret {
			delete(s.rows[i].Fields, f.Name)
			s.special(i, "invalid: "+f.Name+" is missing")
			return
		}
	}
}

// unknownPlatform gives row i a platform this tool does not know.
func (s *sampleSpoiler) unknownPlatform(i int) {
	s.rows[i].Platform = "Ledgerly Classic"
	s.special(i, "invalid: unknown platform")
}

// badTenant gives row i a tenant id in the wrong format or, when its
// platform's tenant id has no checked format, no company name.
func (s *sampleSpoiler) badTenant(i int) {
	for _, f := range s.platform(i).Fields {
		if f.Tenant && f.Required && (f.Format == integrations.FormatNumeric || f.Format == integrations.FormatUUID) {
			s.rows[i].Fields[f.Name] = "TENANT-" + strings.ToUpper(hex.EncodeToString(randBytes(s.rng, 3)))
			s.special(i, "invalid: "+f.Name+" has the wrong format")
			return
		}
	}
	s.rows[i].Name = ""
	s.special(i, "invalid: no company name")
}

// expiredToken gives a row in [i, end) an access token that expired
// yesterday, with no refresh token to renew it (with one, Codat refreshes
// the access token: that row would be valid). A row whose platform needs no
// refresh token is preferred; without one, row i is used.
func (s *sampleSpoiler) expiredToken(i, end int, now time.Time) {
	for j := i; j < end; j++ {
		if p, ok := s.reg.Lookup(keyOf(s.reg, s.rows[j].Platform)); ok && !needsRefresh(p) && hasExpiry(p) {
			i = j
			break
		}
	}
	p := s.platform(i)
	for _, f := range p.Fields {
		if f.Role == integrations.RoleRefreshToken {
			delete(s.rows[i].Fields, f.Name)
		}
	}
	for _, f := range p.Fields {
		if f.Format == integrations.FormatExpiry {
			s.rows[i].Fields[f.Name] = now.Add(-26 * time.Hour).UTC().Format(time.RFC3339)
			s.special(i, "invalid: "+f.Name+" is in the past, and no refresh token renews it")
			return
		}
	}
}

// noName empties row i's company name.
func (s *sampleSpoiler) noName(i int) {
	s.rows[i].Name = ""
	s.special(i, "invalid: no company name")
}

// duplicateTenant gives row i the provider tenant of an earlier row of the
// same platform, under its own ref; neither is migrated.
func (s *sampleSpoiler) duplicateTenant(i int) {
	src := -1
	for j := 1; j < i; j++ {
		if s.rows[j].Platform == s.rows[i].Platform && s.ex.Special[j+1+s.header] == "" && hasTenant(s.reg, s.rows[j]) {
			src = j
			break
		}
	}
	if src < 0 {
		return
	}
	for _, f := range s.platform(i).Fields {
		if f.Tenant {
			if v, ok := s.rows[src].Fields[f.Name]; ok {
				s.rows[i].Fields[f.Name] = v
			}
		}
	}
	s.special(i, fmt.Sprintf("duplicate: same %s tenant as %s (line %d); neither is migrated", s.rows[i].Platform, s.rows[src].Ref, src+1+s.header))
	s.special(src, fmt.Sprintf("duplicate: same %s tenant as %s (line %d)", s.rows[i].Platform, s.rows[i].Ref, i+1+s.header))
}

// rejectedToken gives row i a token the platform rejects: Codat answers,
// the connection is not linked, and the customer has to re-link.
func (s *sampleSpoiler) rejectedToken(i int, token string) {
	for _, f := range s.platform(i).Fields {
		if f.Secret && f.Required {
			s.rows[i].Fields[f.Name] = token
			s.special(i, "token-rejected: the platform no longer accepts its "+f.Name)
			return
		}
	}
}

// writeSampleFile writes rows to path (mode 0600) and records their
// credentials in ex.Tokens.
func writeSampleFile(path string, rows []sampleRow, format string, reg *integrations.Registry, ex *sampleExport) error {
	for _, r := range rows {
		p, ok := reg.Lookup(r.Platform)
		if !ok {
			continue
		}
		for name, v := range r.Fields {
			if f, ok := p.Field(name); ok && f.Secret {
				ex.Tokens = append(ex.Tokens, v)
			}
		}
	}
	var buf bytes.Buffer
	var err error
	if format == "jsonl" {
		err = writeSampleJSONL(&buf, rows)
	} else {
		err = writeSampleCSV(&buf, rows)
	}
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		return err
	}
	return os.Chmod(path, 0o600)
}

// keyOf returns the platform key of a name or key, or the input when unknown.
func keyOf(reg *integrations.Registry, nameOrKey string) string {
	if p, ok := reg.Lookup(nameOrKey); ok {
		return p.Key
	}
	return nameOrKey
}

func hasTenant(reg *integrations.Registry, r sampleRow) bool {
	p, ok := reg.Lookup(r.Platform)
	if !ok {
		return false
	}
	for _, f := range p.Fields {
		if f.Tenant && r.Fields[f.Name] != "" {
			return true
		}
	}
	return false
}

// needsRefresh reports whether p requires a refresh token.
func needsRefresh(p integrations.Platform) bool {
	for _, f := range p.Fields {
		if f.Role == integrations.RoleRefreshToken && f.Required {
			return true
		}
	}
	return false
}

// hasExpiry reports whether p has an expiry field.
func hasExpiry(p integrations.Platform) bool {
	for _, f := range p.Fields {
		if f.Format == integrations.FormatExpiry {
			return true
		}
	}
	return false
}

// sampleValue makes a plausible value for a field.
func sampleValue(rng *rand.Rand, f integrations.Field, company string, now time.Time) string {
	slug := strings.ToLower(strings.Join(strings.FieldsFunc(company, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
	}), "-"))
	switch f.Format {
	case integrations.FormatNumeric:
		return fmt.Sprintf("9130%012d", rng.Int64N(1e12))
	case integrations.FormatUUID:
		b := randBytes(rng, 16)
		b[6] = b[6]&0x0f | 0x40
		b[8] = b[8]&0x3f | 0x80
		h := hex.EncodeToString(b)
		return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
	case integrations.FormatShopDomain:
		return fmt.Sprintf("%s-%d.myshopify.com", slug, rng.IntN(1000))
	case integrations.FormatURL:
		return fmt.Sprintf("https://%s.example.com", slug)
	case integrations.FormatExpiry:
		return now.Add(6 * time.Hour).UTC().Truncate(time.Second).Format(time.RFC3339)
	case integrations.FormatToken:
		prefix := "tok"
		switch {
		case strings.Contains(strings.ToLower(f.Name), "refresh"):
			prefix = "rt"
		case strings.Contains(strings.ToLower(f.Name), "access"):
			prefix = "at"
		}
		return "demo_" + prefix + "_" + hex.EncodeToString(randBytes(rng, 20))
	case integrations.FormatID:
		return "biz_" + hex.EncodeToString(randBytes(rng, 8))
	}
	if f.Secret {
		return "demo_secret_" + hex.EncodeToString(randBytes(rng, 12))
	}
	return "demo_" + hex.EncodeToString(randBytes(rng, 6))
}

// maxSampleCustomers is the most rows a sample holds: every row's serial
// (see tenantSerial) fits in tenantSerialDigits decimal digits.
const maxSampleCustomers = 100_000_000

// tenantSerialDigits is the width of the decimal serial in a numeric tenant
// id, a shop domain or a URL.
const tenantSerialDigits = 8

// tenantSerial is row i's serial, a number below 10^tenantSerialDigits that
// no other row of the export has: multiplying by a number prime to 10 is a
// bijection modulo a power of ten, so neighbouring rows get serials that do
// not look like a count.
func tenantSerial(i int) uint64 {
	const mod = 100_000_000 // 10^tenantSerialDigits
	return uint64(i) % mod * 48_271 % mod
}

// uniqueTenant makes v, the random value sampleValue gave tenant field f of
// row i, unique to the row by construction: row i's serial replaces part of
// it, in a place and width fixed for the field's format, so two rows' values
// differ where their serials do. Only the duplicate made on purpose shares a
// tenant; random values alone collide (a shop domain is its company's name
// with a number below 1,000, and names repeat in large exports).
func uniqueTenant(f integrations.Field, v string, i int) string {
	serial := tenantSerial(i)
	dec := fmt.Sprintf("%0*d", tenantSerialDigits, serial)
	hex32 := fmt.Sprintf("%08x", uint32(serial))
	switch f.Format {
	case integrations.FormatNumeric:
		// 9130 and twelve digits: the last eight become the serial.
		return v[:len(v)-tenantSerialDigits] + dec
	case integrations.FormatUUID, integrations.FormatID:
		// The last eight hex digits: of the UUID's node, or of the ID's
		// sixteen.
		return v[:len(v)-8] + hex32
	case integrations.FormatShopDomain:
		name, _, _ := strings.Cut(v, ".")
		name = name[:strings.LastIndexByte(name, '-')]
		return name + "-" + dec + ".myshopify.com"
	case integrations.FormatURL:
		host := strings.TrimSuffix(strings.TrimPrefix(v, "https://"), ".example.com")
		return "https://" + host + "-" + dec + ".example.com"
	}
	return v + "_" + hex32
}

func randBytes(rng *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.UintN(256))
	}
	return b
}

func writeSampleCSV(buf *bytes.Buffer, rows []sampleRow) error {
	fieldSet := map[string]bool{}
	var fields []string
	for _, r := range rows {
		for name := range r.Fields {
			if !fieldSet[name] {
				fieldSet[name] = true
				fields = append(fields, name)
			}
		}
	}
	sort.Slice(fields, func(i, j int) bool {
		return fieldRank(fields[i]) < fieldRank(fields[j]) || fieldRank(fields[i]) == fieldRank(fields[j]) && fields[i] < fields[j]
	})
	w := csv.NewWriter(buf)
	header := append([]string{"ref", "company_name", "platform", "description", "tag:segment"}, fields...)
	if err := w.Write(header); err != nil {
		return err
	}
	for _, r := range rows {
		rec := []string{r.Ref, r.Name, r.Platform, r.Description, r.Segment}
		for _, f := range fields {
			rec = append(rec, r.Fields[f])
		}
		if err := w.Write(rec); err != nil {
			return err
		}
	}
	w.Flush()
	return w.Error()
}

// fieldRank orders CSV columns: identifiers, then tokens, then expiries.
func fieldRank(name string) int {
	n := strings.ToLower(name)
	switch {
	case strings.Contains(n, "access"):
		return 1
	case strings.Contains(n, "refresh"):
		return 2
	case strings.Contains(n, "expir"):
		return 3
	}
	return 0
}

func writeSampleJSONL(buf *bytes.Buffer, rows []sampleRow) error {
	enc := json.NewEncoder(buf)
	for _, r := range rows {
		company := map[string]any{"name": r.Name}
		if r.Description != "" {
			company["description"] = r.Description
		}
		company["tags"] = map[string]string{"segment": r.Segment}
		if err := enc.Encode(map[string]any{
			"ref": r.Ref, "company": company, "platform": r.Platform, "authorization": r.Fields,
		}); err != nil {
			return err
		}
	}
	return nil
}
