// Package integrations builds the body of a token migration — what
// ConnectionsService.UpdateAuthorization sends to
// PUT /companies/{companyId}/connections/{connectionId}/authorization — for
// each Codat integration, and checks it offline before anything is sent.
//
// Codat types that body as a flat JSON object of strings whose keys depend on
// the integration, and publishes the keys only in the "OAuth Token Migrations"
// folder of its Postman collection. So the keys here are data, held in a
// Registry that a user can correct without a code change, and every platform
// says how sure it is.
//
// # Builders
//
// A typed builder per platform (QuickBooksOnline, Xero, FreeAgent, FreshBooks,
// Shopify, Wave, ZohoBooks and twenty more; generated, with their docs and the
// built-in registry, from one table, platforms.json) has semantic fields — RealmID,
// AccessToken, RefreshToken, ExpiresAt… — with every credential a
// codat.Secret. Its Body maps those fields to wire names through the registry
// by Role, and validates:
//   - required fields are present and not blank;
//   - formats: digits-only IDs, UUIDs, myshopify.com shop domains, URLs, RFC
//     3339 or epoch expiries that are not in the past, tokens without
//     whitespace or a "Bearer " prefix;
//   - a token that is a JWT has its exp claim read (the signature is not
//     checked) and an expired one is an error — except an expired access
//     token (JWT exp, or expiresAt, in the past) in a body that also has a
//     valid refresh token: Codat refreshes the access token with it, so the
//     body is sent as it is. When the access token is the only credential,
//     its expiry is an error;
//   - values are valid UTF-8 text without control characters.
//
// Errors (*ValidationError, matching ErrInvalid) name the platform and each
// bad field, never a value. Builders print, log (slog.LogValuer) and marshal
// to JSON with credentials redacted; only Body reveals them.
//
// Generic{Key, Fields} covers any platform, with any field names. FromRecord
// turns one CSV or JSONL row into a Generic after checking it against the
// registry: the platform by key or name, columns by name or alias
// (realm_id → realmId), every required field present and no unknown column.
// TenantID returns the provider tenant (realmId, tenantId, shop…) so a bulk run
// can spot one tenant under two references.
//
// # Evidence
//
// Each Platform has an Evidence level and a Source:
//   - documented: a public Codat source shows the body. Only Sage Bank Feeds
//     (authorizationId and bankId) is documented; Codat's migration guide
//     shows one generic body, {"accessToken": …, "businessId": …}, without
//     saying which integration it is for.
//   - inferred: the names are the provider's own OAuth field names (Intuit's
//     realmId and refresh_token, Xero's tenantId, Shopify's shop, Square's
//     merchant_id…) written in the camelCase of that generic example. Most
//     platforms are inferred: a body may be rejected by Codat until corrected.
//   - doubtful: inferred names, but Codat's documentation points to another
//     credential (Oracle NetSuite: Codat's linking guide requires NetSuite's
//     Token-based Authentication, not an OAuth 2.0 pair). Load the real body
//     before migrating.
//   - loaded: the names came from the user's Postman collection or spec file.
//
// Platforms lists them all with their evidence and expected fields
// (Platform.Expected).
//
// # Correcting the registry
//
// Users with Codat's Postman collection export it (Collection v2.1) and load
// it into a registry of their own, before building any body:
//
//	f, _ := os.Open("Codat API.postman_collection.json")
//	reg, changes, err := integrations.LoadPostman(f)
//	fmt.Println(changes) // "overridden qhyg (QuickBooks Online): … (renamed refreshToken → refresh_token)"
//	auth := reg.Bind(integrations.QuickBooksOnline{…}) // sent with the loaded field names
//
// Every request whose URL ends in /authorization under the "OAuth Token
// Migrations" folder replaces the fields of its platform (found by a
// platformKey variable, a key in brackets or a platform name in the request
// or folder names) or adds a platform. Loaded keys are matched to the
// existing fields by name, alias or synonym, so the typed builders follow a
// rename; a key no builder field can fill becomes a required field that
// Body reports by name, and that Generic and FromRecord can fill.
//
// Without a collection, write a spec file and load it with LoadSpec:
//
//	{
//	  "version": 1,
//	  "platforms": [
//	    {
//	      "key": "qhyg",
//	      "source": "Codat support ticket 1234",
//	      "fields": [
//	        {"name": "realmId"},
//	        {"name": "access_token", "role": "accessToken"},
//	        {"name": "refresh_token"},
//	        {"name": "clientId", "required": true, "secret": false, "format": "id"}
//	      ]
//	    },
//	    {
//	      "key": "wvzu", "name": "Kashflow", "sourceType": "Accounting",
//	      "fields": [{"name": "accessToken"}, {"name": "refreshToken"}]
//	    }
//	  ]
//	}
//
// A platform's fields are replaced by those listed, in order. A field is
//
//	name      wire name (required)
//	role      what a typed builder fills it with: accessToken, refreshToken,
//	          expiresAt, realmId, tenantId, businessId, accountId, … (see Role);
//	          when absent, matched from the existing fields or the name
//	required  default true (or the matched field's)
//	secret    a credential (default from the role or the name)
//	tenant    part of the tenant identity (TenantID)
//	format    text, token, id, numeric, uuid, shop-domain, url or expiry
//	aliases   other column names FromRecord accepts
//	doc       a description
//
// and a platform has key, name (needed for a new platform; defaults to the
// key), sourceType, aliases, source (recorded as the evidence) and fields.
// Unknown keys are errors. Both loaders report what they changed (Changes),
// and either apply everything or, on any error, nothing.
//
// Default() is the read-only registry of the built-in platforms: typed
// builders' Body methods and the package-level Lookup, Platforms, FromRecord
// and FromSecrets use it, and nothing in a process can change it (its
// Register, LoadPostman and LoadSpec return an error wrapping ErrReadOnly).
// The package-level LoadPostman and LoadSpec return a new registry;
// NewRegistry returns one to load into (with an injectable clock, WithClock).
// Registry.Bind sends a builder through a registry of your own, and
// bulk.Runner.Registry takes one. Registries are safe for concurrent use.
package integrations

//go:generate go run ./internal/gen
