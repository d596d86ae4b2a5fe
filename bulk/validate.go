package bulk

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/codat-migrate/codat"
	"github.com/codat-migrate/codat/integrations"
	secretscrub "github.com/codat-migrate/codat/internal/scrub"
)

// Codat's limits on company tags: at most 10 per company, of which
// codat.MaxUserTags are the row's own (Migrate adds the ref, its
// idempotency marker and the tenant), keys up to 27 characters, values up
// to 100.
const (
	maxUserTags    = codat.MaxUserTags
	maxTagKeyLen   = 27
	maxTagValueLen = 100
)

// checked is a row that passed every offline check.
type checked struct {
	auth         codat.Authorization
	platformKey  string
	platformName string // "Xero", for messages
	fingerprint  string // of the platform key and every field, never a value
	tenant       string // platform key + tenant identity, "" when unknown
	tenantID     string // the tenant identity alone (codat.Migration.TenantID)
}

// checkRow validates a row offline: the fields Codat needs, the tag limits,
// and the authorization body through the registry. Its error is a reason
// that names fields, never their values.
func checkRow(reg *integrations.Registry, row Row) (checked, error) {
	problems := credentialProblems(reg, row)
	if matchesSecret(row.Ref, row) || credentialShaped(row.Ref) {
		// Said above; ValidateRef's reason could quote a character of it.
	} else if err := codat.ValidateRef(row.Ref); err != nil {
		problems = append(problems, strings.TrimPrefix(err.Error(), codat.ErrInvalidMigration.Error()+": "))
	}
	if row.CompanyName == "" {
		problems = append(problems, "company name is empty")
	} else if _, err := codat.CompanyName(row.CompanyName); err != nil && !matchesSecret(row.CompanyName, row) && !credentialShaped(row.CompanyName) {
		problems = append(problems, "company name has no letter or digit Codat keeps (it keeps A-Z, a-z, 0-9, spaces and - ' , & @ . ? ! "+
			"and folds accents): Codat would refuse it; give a name in Latin letters")
	}
	if len(row.Tags) > maxUserTags {
		problems = append(problems, fmt.Sprintf("%d tags: Codat allows %d besides the tags the migration adds", len(row.Tags), maxUserTags))
	}
	for _, k := range sortedKeys(row.Tags) {
		switch {
		case k == codat.RefTagKey:
			problems = append(problems, fmt.Sprintf("tag %s is reserved for the ref", codat.RefTagKey))
		case k == codat.TenantTagKey || k == codat.CallTagKey:
			problems = append(problems, fmt.Sprintf("tag %s is reserved for the migration", k))
		case utf8.RuneCountInString(k) > maxTagKeyLen:
			problems = append(problems, fmt.Sprintf("tag key %s is longer than %d characters", safeName(k), maxTagKeyLen))
		case utf8.RuneCountInString(row.Tags[k]) > maxTagValueLen:
			problems = append(problems, fmt.Sprintf("tag %s value is longer than %d characters", safeName(k), maxTagValueLen))
		}
	}
	if row.Platform == "" {
		problems = append(problems, "platform is empty")
	}
	if len(row.Fields) == 0 {
		problems = append(problems, "no authorization fields")
	}
	if len(problems) > 0 {
		return checked{}, reasonError(scrub(strings.Join(problems, "; "), row))
	}
	auth, err := reg.FromSecrets(row.Platform, row.Fields)
	if err != nil {
		return checked{}, reasonError(registryReason(err, row))
	}
	body, err := auth.Body()
	if err != nil {
		return checked{}, reasonError(registryReason(err, row))
	}
	c := checked{auth: auth, platformKey: auth.PlatformKey(), fingerprint: fingerprint(auth.PlatformKey(), body)}
	if p, ok := reg.Lookup(c.platformKey); ok {
		c.platformName = p.Name
	}
	if t, ok := integrations.TenantID(auth); ok && t != "" {
		c.tenant, c.tenantID = c.platformKey+"\x00"+t, t
	}
	return c, nil
}

// registryReason is the registry's error about row as a reason for an
// operator: without the package prefix, with the platform quoted only when
// it cannot be a credential, column names only when they look like names,
// a hint for columns that are not for Codat, and no field value.
func registryReason(err error, row Row) string {
	if errors.Is(err, integrations.ErrUnknownPlatform) {
		return fmt.Sprintf("unknown platform %s: give its four-letter Codat key or its name (codat-migrate integrations lists them)",
			quoteValue("platform", row.Platform, row))
	}
	msg := strings.TrimPrefix(err.Error(), "integrations: ")
	for k := range row.Fields {
		if safeName(k) == nameWithheld {
			msg = strings.ReplaceAll(msg, fmt.Sprintf("%q", k), "(a column name, withheld)")
		}
	}
	if strings.Contains(msg, "is not a field of this platform") {
		msg += "; to leave out a column that is not for Codat, pass --ignore-columns NAME"
	}
	return scrub(msg, row)
}

// platformLabel names the row's platform for a message: "Xero (gbol)".
func (c checked) platformLabel() string {
	if c.platformName == "" || c.platformName == c.platformKey {
		return c.platformKey
	}
	return c.platformName + " (" + c.platformKey + ")"
}

// storedName is the name Codat stores for name (codat.CompanyName), and
// whether it differs; a name Codat would refuse is returned as it is.
func storedName(name string) (string, bool) {
	stored, err := codat.CompanyName(name)
	if err != nil || stored == name {
		return name, false
	}
	return stored, true
}

type reasonError string

func (e reasonError) Error() string { return string(e) }

// fingerprint identifies a row's authorization without holding it: the
// codat.Secret fingerprint of the platform key and every field of the wire
// body (so the same token under an alias column has the same fingerprint).
func fingerprint(platformKey string, body map[string]string) string {
	var b strings.Builder
	b.WriteString(platformKey)
	for _, k := range sortedKeys(body) {
		b.WriteByte(0)
		b.WriteString(k)
		b.WriteByte(0)
		b.WriteString(body[k])
	}
	return codat.Secret(b.String()).Fingerprint()
}

// key is a compact identity of a ref or a tenant: what the pre-pass and the
// journal index hold in memory instead of the strings.
type key [16]byte

func keyOf(kind byte, s string) key {
	h := sha256.New()
	h.Write([]byte{kind})
	h.Write([]byte(s))
	var k key
	copy(k[:], h.Sum(nil))
	return k
}

func refKey(ref string) key       { return keyOf('r', ref) }
func tenantKey(tenant string) key { return keyOf('t', tenant) }

// tenantHash is the form of a tenant identity written to the journal.
func tenantHash(tenant string) string {
	if tenant == "" {
		return ""
	}
	return codat.Secret("tenant\x00" + tenant).Fingerprint()
}

// minScrubLen is the module's one scrubbing threshold: shorter values (a
// "1", a "US") would blank out ordinary words.
const minScrubLen = secretscrub.MinLen

// scrub removes every authorization field value of the row from msg. The
// values of the fields that hold credentials (token, secret, password,
// …key) are removed as the module's one scrubbing policy does
// (internal/scrub): in whole, in part (a fragment of at least minScrubLen
// bytes) and base64-encoded. The other fields' values (a shop domain, a
// realm id) are removed in whole only: their fragments are ordinary words
// ("shopify" of acme.myshopify.com would blank out the platform's name).
// Error messages from the registry, Codat or the network should never hold
// one; this is the last line of defence before a message reaches a report
// or the journal.
func scrub(msg string, row Row) string {
	if msg == "" {
		return msg
	}
	set := secretscrub.New()
	var whole []string
	for k, v := range row.Fields {
		if nameSaysSecret(k) {
			set.Add(v.Reveal())
		} else if len(strings.TrimSpace(v.Reveal())) >= minScrubLen {
			whole = append(whole, strings.TrimSpace(v.Reveal()))
		}
	}
	msg = set.String(msg)
	for _, v := range whole {
		msg = strings.ReplaceAll(msg, v, codat.Redacted)
	}
	return msg
}

// nameWithheld stands for a field or column name that safeName does not
// show.
const nameWithheld = "(name not shown)"

// safeName quotes a field or column name for a message when it looks like a
// name; anything else (which might be a misplaced value, a token in a header
// cell or a JSON key) is not shown.
func safeName(s string) string {
	if s == "" || len(s) > maxEchoLen || credentialShaped(s) {
		return nameWithheld
	}
	for _, r := range s {
		if !(r == '_' || r == '-' || r == '.' || r == ':' || r == ' ' || unicode.IsLetter(r) || unicode.IsDigit(r)) {
			return nameWithheld
		}
	}
	return fmt.Sprintf("%q", s)
}
