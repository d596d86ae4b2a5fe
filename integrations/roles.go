package integrations

import (
	"strings"
	"unicode"
)

// Role is the stable meaning of a field, independent of its wire name: a typed
// builder fills fields by role (QuickBooksOnline.RealmID fills the field whose
// role is RoleRealmID, whatever that field is called on the wire), so a spec
// that renames a wire field changes what the builder sends without a code
// change. A field with no role can only be filled through Generic or
// FromRecord.
type Role string

// Roles known to the typed builders. The role's string is also the field's
// canonical name: FromRecord accepts it as a column name for any platform that
// has a field with that role.
const (
	RoleAccessToken      Role = "accessToken"
	RoleRefreshToken     Role = "refreshToken"
	RoleExpiresAt        Role = "expiresAt"
	RoleRealmID          Role = "realmId"
	RoleTenantID         Role = "tenantId"
	RoleBusinessID       Role = "businessId"
	RoleAccountID        Role = "accountId"
	RoleOrganizationID   Role = "organizationId"
	RoleShop             Role = "shop"
	RoleAPIDomain        Role = "apiDomain"
	RoleEnvironment      Role = "environment"
	RoleCompanyID        Role = "companyId"
	RoleUserID           Role = "userId"
	RolePassword         Role = "password"
	RoleEntityID         Role = "entityId"
	RoleDivision         Role = "division"
	RoleMerchantID       Role = "merchantId"
	RoleStoreURL         Role = "storeUrl"
	RoleConsumerKey      Role = "consumerKey"
	RoleConsumerSecret   Role = "consumerSecret"
	RoleSellingPartnerID Role = "sellingPartnerId"
	RoleRegion           Role = "region"
	RoleStoreHash        Role = "storeHash"
	RoleItemID           Role = "itemId"
	RoleCredentialsID    Role = "credentialsId"
	RoleAuthorizationID  Role = "authorizationId"
	RoleBankID           Role = "bankId"
)

// roleInfo gives a role's defaults (used when a loaded field is matched to a
// role but no existing field carries it) and the names that mean it.
type roleInfo struct {
	format   FieldFormat
	secret   bool
	tenant   bool
	synonyms []string // normalized (see normalize)
}

var roleTable = map[Role]roleInfo{
	RoleAccessToken:      {FormatToken, true, false, []string{"accesstoken", "token", "oauthtoken", "bearertoken", "authtoken", "oauthaccesstoken"}},
	RoleRefreshToken:     {FormatToken, true, false, []string{"refreshtoken", "oauthrefreshtoken"}},
	RoleExpiresAt:        {FormatExpiry, false, false, []string{"expiresat", "expiry", "expires", "expiration", "accesstokenexpiry", "accesstokenexpiresat", "accesstokenexpiration", "tokenexpiry", "tokenexpiresat", "expiresutc", "expiresatutc"}},
	RoleRealmID:          {FormatNumeric, false, true, []string{"realmid", "qborealmid", "intuitrealmid"}},
	RoleTenantID:         {FormatID, false, true, []string{"tenantid", "xerotenantid", "aadtenantid"}},
	RoleBusinessID:       {FormatID, false, true, []string{"businessid"}},
	RoleAccountID:        {FormatID, false, true, []string{"accountid"}},
	RoleOrganizationID:   {FormatID, false, true, []string{"organizationid", "organisationid", "orgid"}},
	RoleShop:             {FormatShopDomain, false, true, []string{"shop", "shopdomain", "myshopifydomain", "storedomain"}},
	RoleAPIDomain:        {FormatURL, false, false, []string{"apidomain"}},
	RoleEnvironment:      {FormatID, false, true, []string{"environment", "environmentname"}},
	RoleCompanyID:        {FormatID, false, true, []string{"companyid"}},
	RoleUserID:           {FormatID, false, false, []string{"userid", "username"}},
	RolePassword:         {FormatText, true, false, []string{"password", "userpassword"}},
	RoleEntityID:         {FormatID, false, true, []string{"entityid", "locationid"}},
	RoleDivision:         {FormatNumeric, false, true, []string{"division", "divisionid", "currentdivision"}},
	RoleMerchantID:       {FormatID, false, true, []string{"merchantid"}},
	RoleStoreURL:         {FormatURL, false, true, []string{"storeurl", "siteurl"}},
	RoleConsumerKey:      {FormatToken, true, false, []string{"consumerkey"}},
	RoleConsumerSecret:   {FormatToken, true, false, []string{"consumersecret"}},
	RoleSellingPartnerID: {FormatID, false, true, []string{"sellingpartnerid", "sellerid"}},
	RoleRegion:           {FormatID, false, false, []string{"region"}},
	RoleStoreHash:        {FormatID, false, true, []string{"storehash"}},
	RoleItemID:           {FormatID, false, true, []string{"itemid"}},
	RoleCredentialsID:    {FormatID, false, true, []string{"credentialsid"}},
	RoleAuthorizationID:  {FormatID, false, false, []string{"authorizationid", "authid"}},
	RoleBankID:           {FormatID, false, false, []string{"bankid"}},
}

// synonymRoles maps each normalized synonym to its role.
var synonymRoles = func() map[string]Role {
	m := make(map[string]Role)
	for role, info := range roleTable {
		m[normalize(string(role))] = role
		for _, s := range info.synonyms {
			m[s] = role
		}
	}
	return m
}()

// knownRole reports whether r is one of the Role constants.
func knownRole(r Role) bool {
	_, ok := roleTable[r]
	return ok
}

// roleForName returns the role a field or column name means, by the global
// synonym table (realm_id, RealmID and realmId all mean RoleRealmID).
func roleForName(name string) (Role, bool) {
	r, ok := synonymRoles[normalize(name)]
	return r, ok
}

// normalize folds a name for matching: lower case, letters and digits only, so
// "realm_id", "Realm ID" and "realmId" are the same name.
func normalize(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, c := range s {
		if unicode.IsLetter(c) || unicode.IsDigit(c) {
			b.WriteRune(unicode.ToLower(c))
		}
	}
	return b.String()
}
