// Package codattest is an in-memory fake of Codat's Platform API for tests:
// the endpoints a token migration uses, Codat's error body, Idempotency-Key
// semantics, quota and rate limits, a controllable clock and fault injection.
// It imports nothing else from this module; its wire types are written from
// Codat's OpenAPI contract, and the contracttest module validates its answers
// against that contract.
//
// # Usage
//
//	clk := codattest.NewFakeClock(time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC))
//	srv := codattest.NewServer(
//		codattest.WithClock(clk),
//		codattest.WithRejectedToken("expired-token"),
//		codattest.WithQuota(codattest.Quota{Daily: 50}),
//	)
//	defer srv.Close()
//	// Point any client at srv.URL() with srv.APIKey(), sent as
//	// "Authorization: Basic " + base64(key).
//	srv.InjectFault(codattest.Fault{Route: "POST /companies", Kind: codattest.FaultAfterCommit, Times: 1})
//	// … run the code under test …
//	clk.Advance(5 * time.Second)              // pulls finish
//	clk.Advance(24 * time.Hour)               // the daily quota resets
//	companies := srv.Companies()              // what was written
//	log := srv.RequestLog()                     // what was sent
//
// # Endpoints
//
//	GET/POST          /companies                     list (page, pageSize, query, orderBy, tags) / create (200)
//	GET/PUT/PATCH/DELETE /companies/{companyId}      get / replace / update / delete (204)
//	GET/POST          /companies/{companyId}/connections                 list / create (200, PendingAuth)
//	GET/PATCH/DELETE  /companies/{companyId}/connections/{connectionId}  get / unlink / delete (200, no body)
//	PUT               /companies/{companyId}/connections/{connectionId}/authorization
//	POST              /companies/{companyId}/data/all                    204
//	POST              /companies/{companyId}/data/queue/{dataType}       200 PullOperation
//	GET               /companies/{companyId}/dataStatus
//	GET               /companies/{companyId}/data/history[/{datasetId}]
//	GET               /integrations[/{platformKey}]
//
// Malformed or unknown ids in the path give 404, as for ids that do not exist.
// Company names lose the characters the contract's pattern forbids, as Codat
// documents; a name left empty is a 400. Tags are limited to 10, keys to 27
// characters and values to 100. In query and tags filters, = and != compare
// exactly and ~ (contains) ignores case; && binds tighter than ||, and braces
// group.
//
// # Connections and tokens
//
// A new connection is PendingAuth with a linkUrl of the form
// https://link-api.codat.io/companies/{companyId}/connections/{connectionId}/start.
// PUT …/authorization takes a flat JSON object of strings; a non-string value,
// an empty object or a missing required field (WithRequiredFields) is a 400.
// Accepted credentials make the connection Linked. Credentials the platform
// rejects (WithRejectedToken, WithTokenRejecter, WithRejectedPlatform) still
// get 200, but the connection becomes Deauthorized with an Active
// dataConnectionErrors entry, and its later pulls end in AuthError. The fake
// never keeps token values: only field names and a Fingerprint.
//
// # Pulls
//
// POST data/all queues the platform's data types (WithDataTypes; defaults per
// source type) on every Linked or Deauthorized connection. Each pull is
// Queued, Fetching after 1s and Complete (or AuthError) after 5s of the
// server's clock (WithSyncTiming). dataStatus shows the latest pull per type
// and leaves out types never pulled. data/queue/{dataType} answers 400 for a
// key outside the contract's data types and for a type whose pull is still
// running (DatasetAlreadyInProgressException; Codat does not document that
// status), and 404 when no Linked or Deauthorized connection pulls the type.
//
// # Inspection
//
// Companies, Company, CompaniesWithTag, Connections, Connection,
// AllConnections, PullOperations and DataStatuses show the state as a GET
// would; RequestLog is the request log (method, path, route, status,
// Idempotency-Key, time, replay and fault; never bodies, query strings or
// credentials), bounded by WithRequestLog; QuotaStatus, ACC, FaultsFired and
// IdempotencyKeys expose the accounting. SetConnectionStatus simulates a
// change on the platform's side.
//
// # Idempotency keys
//
// An Idempotency-Key is honoured on POST and PATCH and ignored on other
// methods. It must be a GUID (else 400). The first response to a key,
// whatever its status, is replayed for 90 minutes of the server's clock; the
// same key while that first request runs gets 409; the same key with another
// method, path or body gets 422; a 429 is not kept, so the key can be reused.
//
// # Quota
//
// See Quota: a daily limit of Daily × (1 + ACC) reset at 00:00 UTC, a
// per-minute limit per client address and a concurrency limit, with
// X-Rate-Limit-Limit, -Remaining and -Reset (RFC 3339, the next 00:00 UTC) on
// every response and Retry-After on every 429. 401s use no daily quota.
//
// # Faults
//
// InjectFault adds failures per route and method: a status before the write
// commits, an error after it commits (kept against the Idempotency-Key, as
// Codat would), a dropped connection after commit, latency, or a 429 burst;
// each fires always, N times, or with a probability drawn from the seeded
// generator (WithSeed). ClearFaults removes them.
//
// # Starting a server
//
// There are two constructors, one server: NewServer for tests (it panics on
// an invalid option or a failed listen, as httptest.NewServer does) and
// Start, which returns the error instead, for programs. Both listen on a new
// 127.0.0.1 port unless WithAddr or WithListener gives another; the fake
// serves plain HTTP with no security and therefore refuses any address that
// is not loopback. Close the server when done. The `codat-migrate fake`
// command is Start behind command-line flags.
package codattest
