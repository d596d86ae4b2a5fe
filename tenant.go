package codat

import (
	"crypto/sha256"
	"encoding/hex"
	"unicode/utf8"
)

// TenantTagKey is the company tag that names the provider tenant a migrated
// connection belongs to (a QuickBooks realm, a Xero tenant, a Shopify shop…).
// Migrate adds it, with the value TenantTag returns, to every company it
// creates for a Migration whose TenantID is set, so that a later run that
// knows the customer under another Ref can find the company with
// GET /companies?tags=migrationTenant=<value>.
const TenantTagKey = "migrationTenant"

// tenantHashPrefix separates the platform key from a hashed tenant id. '#'
// is not in tenantIDChar's set, so a hashed value never equals a plain one.
const tenantHashPrefix = "#sha256:"

// TenantTag returns the value of the TenantTagKey tag for the tenant
// tenantID of the platform platformKey: "<platformKey>:<tenantID>", for
// example "qhyg:9130350000000002", when that is at most 100 characters and
// tenantID uses only letters, digits and . _ - / : @ (realm ids, UUIDs, shop
// domains, Business Central's tenant/environment/company). Any other tenant
// id (one with characters Codat's tag query language gives meaning to, or
// too long) is replaced by its SHA-256:
// "<platformKey>#sha256:<64 lowercase hex digits>". Either form is matched
// exactly by Codat's tags filter. tenantID is used as given: normalise it
// first (package integrations' TenantID does). An empty tenantID gives "".
func TenantTag(platformKey, tenantID string) string {
	if tenantID == "" {
		return ""
	}
	v := platformKey + ":" + tenantID
	if utf8.RuneCountInString(v) <= maxRefLen && plainTenant(tenantID) && plainTenant(platformKey) {
		return v
	}
	sum := sha256.Sum256([]byte(platformKey + "\x00" + tenantID))
	if !plainTenant(platformKey) || len(platformKey) > maxTagKeyLen {
		platformKey = "" // the hash covers it
	}
	return platformKey + tenantHashPrefix + hex.EncodeToString(sum[:])
}

// plainTenant reports whether s can go into a tag value as it is.
func plainTenant(s string) bool {
	for i := 0; i < len(s); i++ {
		if !tenantIDChar(s[i]) {
			return false
		}
	}
	return true
}

func tenantIDChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	switch c {
	case '.', '_', '-', '/', ':', '@':
		return true
	}
	return false
}
