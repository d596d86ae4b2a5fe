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
// body's values, in whole, in part and base64-encoded (see APIError).
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
