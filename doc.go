// Package codat is a Go client for Codat's Platform API, built to move a
// business's existing OAuth connections (QuickBooks Online, Xero, FreeAgent,
// Shopify, …) from a self-managed integration into Codat without the end
// customer reconnecting.
//
// # The migration flow
//
// Codat's self-service token migration takes four requests per company:
//
//  1. Companies.Create — POST /companies {name, description?, tags?} → Company.
//  2. Connections.Create — POST /companies/{id}/connections {platformKey} →
//     Connection in status PendingAuth.
//  3. Connections.UpdateAuthorization — PUT
//     /companies/{id}/connections/{connectionId}/authorization with the
//     integration's token fields as a flat string→string body → Connection,
//     Linked when Codat accepted the tokens.
//  4. Sync.RefreshAll — POST /companies/{id}/data/all → 204. Codat does not
//     "fetch on first link" for migrated connections, so this must be called.
//
// Client.Migrate runs these steps for one company, resumably; the
// integrations package builds the authorization bodies; package bulk runs
// thousands of migrations from a CSV or JSONL export.
//
// Before migrating, disable token refresh in the old system (refresh tokens
// rotate: two systems refreshing the same grant invalidate each other), and
// migrate one company first to check that no reauthorization is needed.
//
// # Client
//
//	c, err := codat.NewClient(apiKey,
//		codat.WithUserAgent("acme-migrator/1.0"),
//		codat.WithRequestRate(1000, time.Minute))
//	co, err := c.Companies.Create(ctx, codat.CreateCompanyRequest{
//		Name: "Acme Ltd",
//		Tags: map[string]string{"migrationRef": "crm-42"},
//	})
//	cn, err := c.Connections.Create(ctx, co.ID, "qhyg")
//	cn, err = c.Connections.UpdateAuthorization(ctx, co.ID, cn.ID, auth)
//	err = c.Sync.RefreshAll(ctx, co.ID)
//
// The API key is sent as "Authorization: Basic base64(key)". Credentials are
// Secret values: they print as [REDACTED] under every fmt verb, in slog (text
// and JSON handlers, nested or not) and when marshalled, and reach only the
// wire. Texts a server sends back are scrubbed of the API key and the request
// body's values, in whole, in part and base64-encoded (see APIError). A
// successful answer whose data holds the API key, or the credentials of the
// token PUT, is not returned at all: the call fails with a SecretEchoError.
//
// # Quota and request counts
//
// Codat allows 1,000 + 1,000 × (active connected companies) requests per day,
// reset at 00:00 UTC, so on the first day of a migration about 1,000 requests
// in total. Client.Quota returns the last X-Rate-Limit-* snapshot;
// Client.Requests counts HTTP attempts, retries included; WithRequestRate
// paces attempts client-side. A 429 whose Retry-After is longer than
// RetryPolicy.MaxWait is returned at once: IsQuotaExhausted gives the time to
// resume when it is (or may be) the daily quota; RateLimitOf reports every
// 429 with its kind, so that a short per-minute or concurrency limit can be
// paused for instead. A wait more than MaxResetWait (25 hours) ahead is not
// trusted: it becomes the time until the next 00:00 UTC.
//
// # Retries and idempotency
//
// Each method's documentation names its retry class (see RetryPolicy):
// reads retry transport errors, 408, 429 and 5xx; creates and refreshes
// carry one Idempotency-Key per call, the same on every attempt, and retry
// transport errors, 409 and 429 but return a 5xx (Codat replays it for the
// same key); the authorization PUT retries only a 429 and failures where the
// request never left. Request bodies are byte slices re-sent unchanged on
// every attempt. IsAmbiguous reports a write that may or may not have taken
// effect, which must be reconciled (looked up) before it is sent again.
//
// # Reconciliation and resuming
//
// Client.Migrate never creates a second company or connection for one Ref
// and never sends a token blindly. A write that fails ambiguously
// (IsAmbiguous) is reconciled with one look-up before anything is written
// again: the company with GET /companies?tags=migrationRef=<ref> (every page;
// the tag is compared exactly), the connection by listing the company's
// connections or reading it. What a look-up that finds nothing means depends
// on whether the failure was settled:
//
//   - Settled: Codat's own finished answer, that is any 5xx except 502 and
//     504, carrying Codat's error body with a correlationId, from a call none
//     of whose attempts lost its answer. Nothing is still running at Codat,
//     so the look-up can be trusted: when it finds nothing, the write is
//     sent once more. A 5xx spends its Idempotency-Key (Codat replays it to
//     the same key for 90 minutes), so the step's generation moves on
//     (MigrationResult.KeyGen) and the new write, or a resume, uses the next
//     key.
//   - Not settled: an answer lost to a timeout or a dropped connection (after
//     the client's retries with the same key), a 502 or 504 from a gateway, a
//     5xx without Codat's error body, a 409 (the key still in flight) or 422
//     (the key with another body) after the retries, a 2xx create without an
//     id, a 2xx write answer that does not decode, or one withheld because
//     it held a secret (SecretEchoError). The write may still be
//     running at Codat, where a look-up cannot see it yet, so when the
//     look-up finds nothing the call stops with a resumable *MigrationError
//     instead of risking a duplicate. Refresh tokens rotate, so a token whose
//     send was not settled is never sent again in the same call; a step is
//     never recorded without its id.
//
// The extra requests each reconciliation costs, beyond the four of the
// happy path:
//
//	company, settled 5xx     +1 look-up; found with this call's CallTagKey
//	                         (this call's own company, no connection yet):
//	                         nothing more; found otherwise: +1 list
//	                         connections; not found: +1 POST /companies
//	connection, settled 5xx  +1 list connections; not found: +1 POST
//	token PUT, settled 5xx   +1 GET connection; Linked: continue; otherwise
//	                         +1 PUT, at most Migration.MaxTokenResends times
//	token PUT, answer lost   +1 GET connection; Linked: continue; otherwise
//	                         stop (resumable), no re-send
//	data/all, settled 5xx    +1 GET dataStatus; a data type in progress: the
//	                         sync was queued; otherwise +1 POST
//	keyed POST, answer lost  +1 per retry with the same key (Codat replays
//	                         the first answer); if that does not settle it,
//	                         the look-up of a settled 5xx, and stop
//	                         (resumable) when nothing is found
//	other unsettled failure  the look-up of a settled 5xx; stop (resumable)
//	                         when nothing is found (a token PUT is never
//	                         re-sent)
//
// A spent quota (IsQuotaExhausted) is never reconciled: nothing else would be
// answered either. When the look-up itself is refused with a 429, the error
// wraps that 429 first, so errors.As and IsQuotaExhausted find it. A look-up
// that finds more than one company tagged with the Ref fails with
// ErrDuplicateRef, and so does a company with more than one unlinked
// connection for the platform: Migrate never picks one silently. Listings
// stop with an error on a page that repeats an earlier one or beyond what the
// first page's totalResults allows (plus one); a connection look-up considers
// at most 1,000 connections. A company the result records that was deleted in
// Codat meanwhile (its connections read 404) is looked up by Ref and created
// again with the next key.
//
// Every result, including the one returned with an error (never nil),
// records the steps it completed; pass it back as Migration.Resume to
// continue. A resume cannot know whether a request was in flight when the
// earlier call stopped, so it costs one look-up at the first pending step and
// nothing else beyond the remaining steps:
//
//	resume from           look-up it costs, then
//	nothing done          GET /companies?tags=…; found: list its connections,
//	(&MigrationResult{    otherwise create it
//	Ref: ref})
//	company               list the company's connections; reuse a PendingAuth
//	                      one, stop on a Linked one, or create one
//	connection,           GET the connection (none with Relink when the
//	authorize             result records the platform); Linked: skip the
//	                      PUT; another platform: ErrPlatformMismatch; an
//	                      unsettled earlier send (TokenSend) within
//	                      Migration.SettleWindow: ErrTokenSendUnsettled;
//	                      otherwise send the token. With Relink the token
//	                      is sent, unless TokenSent or TokenSend says this
//	                      migration's token may be installed already: then
//	                      the GET is made and a Linked connection is kept
//	verify                none; POST data/all (when AlreadyMigrated, GET
//	                      dataStatus first)
//	sync                  none; SyncWait polls dataStatus, otherwise done
//	done                  none: no request at all
//
// # Errors
//
// A non-2xx response is an *APIError (status, method, path, Codat's message,
// service, correlation id, validation, RetryAfter); match its class with
// errors.Is and ErrNotFound, ErrUnauthorized, ErrRateLimited, ErrConflict or
// ErrValidation. A call that got no usable response is a *TransportError,
// whose chain holds the cause (for example context.Canceled). Error strings
// are one line and never contain a body, a header or a query string.
//
// # Logging
//
// WithLogger takes a *slog.Logger. The client logs each attempt's method,
// path, status, attempt number and duration, and each failed call's Codat
// correlation id — never headers, query strings or bodies.
package codat
