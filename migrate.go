package codat

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"
)

// RefTagKey is the company tag that carries Migration.Ref. Migrate creates every
// company with the tag RefTagKey=Ref and finds it again with
// GET /companies?tags=migrationRef=<ref> when it has to reconcile or resume.
const RefTagKey = "migrationRef"

// CallTagKey is the company tag that carries a random id of the Migrate
// call that created the company. It makes every call's create body its own:
// a later call for the same Ref whose derived Idempotency-Key matches an
// earlier call's is answered 422 (same key, other body) instead of a replay
// of the earlier company, and looks the company up. And when a look-up after
// an unclear create finds the company carrying this call's id, the company
// is this call's own and cannot have a connection yet, so Migrate does not
// list its connections.
const CallTagKey = "migrationCall"

// MaxUserTags is how many tags of your own a Migration's company may carry:
// Codat allows 10, and Migrate adds RefTagKey, CallTagKey and (with
// Migration.TenantID) TenantTagKey.
const MaxUserTags = maxCompanyTags - 3

// DefaultSettleWindow is how long Migrate waits, after a token PUT whose
// outcome is unknown, before it reads the connection again and may send
// the token once more (Migration.SettleWindow).
const DefaultSettleWindow = 2 * time.Minute

// Limits Codat puts on company tags (CompanyRequestBody.tags in the contract).
const (
	maxRefLen      = 100 // tag values: maxLength 100
	maxTagKeyLen   = 27  // tag keys: ^.{1,27}$
	maxCompanyTags = 10  // maxProperties 10
)

// SyncMode says what Migrate does after the connection is linked.
type SyncMode int

const (
	// SyncQueue queues a sync of every data type with
	// POST /companies/{companyId}/data/all and returns without waiting. It is the
	// default: Codat does not "fetch on first link" after a token migration.
	SyncQueue SyncMode = iota
	// SyncNone queues nothing.
	SyncNone
	// SyncWait queues the sync like SyncQueue, then polls
	// GET /companies/{companyId}/dataStatus (SyncService.Wait) until every data
	// type has finished. A data type ending in AuthError fails the migration
	// with ErrTokenRejected; a sync still running after Migration.WaitTimeout
	// fails it with ErrSyncTimeout (resumable: a resume polls again).
	SyncWait
)

// String returns "queue", "none", "wait" or "SyncMode(n)".
func (m SyncMode) String() string {
	switch m {
	case SyncQueue:
		return "queue"
	case SyncNone:
		return "none"
	case SyncWait:
		return "wait"
	}
	return fmt.Sprintf("SyncMode(%d)", int(m))
}

// Step names one stage of a migration. MigrationResult.Steps lists the stages
// that are complete; MigrationError.Step names the stage that failed.
type Step string

// The stages of a migration, in order.
const (
	// StepCompany: the company exists (MigrationResult.CompanyID is set).
	StepCompany Step = "company"
	// StepConnection: the connection for the platform exists (ConnectionID is set).
	StepConnection Step = "connection"
	// StepAuthorize: Codat answered the token PUT.
	StepAuthorize Step = "authorize"
	// StepVerify: the connection is Linked.
	StepVerify Step = "verify"
	// StepSync: POST data/all was accepted (SyncQueue and SyncWait only).
	StepSync Step = "sync"
	// StepWait: every data type reached a final status (SyncWait only).
	StepWait Step = "wait"
	// StepDone: nothing is left to do; resuming sends no request.
	StepDone Step = "done"
)

// Migration describes one company to move into Codat: who it is (Ref), the
// company to create, and the token to install. See Client.Migrate.
type Migration struct {
	// Ref is your own identifier for this customer (1–100 characters). It is
	// stored as the company tag RefTagKey and is how Migrate recognises the
	// company again, so it must be unique per customer. It may not contain
	// whitespace, control characters or any of & | = ! ~ < > ( ) { } " ' \ ,
	// because those break Codat's tag query language (see ValidateRef).
	Ref string
	// Company is the company to create. Its Name is sent as CompanyName
	// returns it (the name Codat stores), and a name with no letter or digit
	// Codat accepts makes the Migration invalid. Its Tags are sent along with
	// RefTagKey=Ref, CallTagKey and, with TenantID, TenantTagKey (at
	// most 10 in all; MaxUserTags of your own always fit).
	Company CreateCompanyRequest
	// Auth is the token body for PUT …/authorization; its PlatformKey chooses
	// the integration. Auth.Body is validated before any request is sent.
	Auth Authorization
	// TenantID names the provider tenant Auth grants access to: a
	// QuickBooks realm id, a Xero tenant id, a Shopify shop domain… (package
	// integrations' TenantID returns it for a builder). When set, the
	// company is created with the tag TenantTagKey =
	// TenantTag(Auth.PlatformKey(), TenantID) too, so that a run that knows
	// the customer under another Ref can find the company.
	TenantID string
	// Sync chooses what happens after the connection is linked (default SyncQueue).
	Sync SyncMode
	// Resume continues an earlier attempt for the same Ref from the result it
	// returned (or one read back from a journal). Steps already done are not
	// repeated; the first pending step starts with one look-up, because the
	// earlier attempt may have stopped with a request in flight.
	Resume *MigrationResult
	// Relink sends the token even when the company's connection is already
	// Linked, whether a look-up finds it so or a resume would read it back.
	// Without it, a connection found Linked by a look-up is reported as
	// AlreadyMigrated, and a resumed connection that reads back Linked is
	// taken as the earlier attempt's success; neither is sent the token.
	//
	// With Relink, a resume that starts at the token step sends the PUT
	// without reading the connection first. One exception: when
	// Resume.TokenSent says this migration already sent a token that may have
	// been installed (its answer was lost), the connection is read first and
	// a Linked one is taken as that send's success, since sending a rotating
	// refresh token twice can break the connection. To send a new token over
	// a migration a result records as done, resume from a result holding only
	// the company and connection (their ids and steps), with TokenSent false.
	Relink bool
	// MaxTokenResends bounds how often the token is sent again after a token
	// PUT that failed with a 5xx and whose connection is not Linked when read
	// back. Zero means 1; a negative value means never. The PUT is sent at
	// most 1+MaxTokenResends times per call: refresh tokens rotate, so blind
	// re-sends are dangerous. After a PUT whose answer was lost (a timeout, a
	// dropped connection) the token is never re-sent in the same call, since
	// the PUT may still be running; a resume reads the connection again.
	MaxTokenResends int
	// WaitInterval is the first SyncWait poll interval (default
	// DefaultWaitInterval); later ones grow by half, up to
	// DefaultWaitMaxInterval (or WaitInterval, if longer). It is
	// WaitOptions.Interval of SyncService.Wait.
	WaitInterval time.Duration
	// WaitTimeout bounds the SyncWait polling (default DefaultWaitTimeout; a
	// negative value means no bound but ctx). A sync still running then ends
	// the call with a MigrationError at StepWait wrapping ErrSyncTimeout; a
	// resume polls again.
	WaitTimeout time.Duration
	// SettleWindow is how long after a token PUT whose outcome is unknown
	// (MigrationResult.TokenSend: the answer was lost, or the process died
	// with the PUT in flight) Migrate refuses to send a token again to a
	// connection that is not Linked: such a PUT may still be running at
	// Codat. Before it has passed, Migrate returns a MigrationError wrapping
	// ErrTokenSendUnsettled whose RetryAt says when to resume; after it, it
	// reads the connection once and sends only if it is still not Linked.
	// Zero means DefaultSettleWindow (2 minutes); a negative value means no
	// wait.
	SettleWindow time.Duration
	// OnStep, if set, is called synchronously with a copy of the result
	// every time something a resume depends on changes (a completed step,
	// the company or connection id, TokenSent, the connection status or
	// link URL), always before the next request is sent. Journal it there:
	// after a crash, pass the last copy back as Resume. ctx is the context
	// Migrate was called with.
	//
	// An error from OnStep (a journal write that failed, a lease on the ref
	// that was lost) stops Migrate before that next request: it returns a
	// *MigrationError wrapping ErrOnStep and the hook's error.
	OnStep func(ctx context.Context, r MigrationResult) error
}

// MigrationResult records how far a migration got. Client.Migrate always
// returns one, also with an error, so it can be journaled and passed back as
// Migration.Resume. It holds identifiers only, never a token.
type MigrationResult struct {
	Ref          string `json:"ref"`
	CompanyID    string `json:"companyId,omitempty"`
	ConnectionID string `json:"connectionId,omitempty"`
	// PlatformKey is the integration of the connection (ConnectionID). A
	// resume whose Auth is for another platform fails with
	// ErrPlatformMismatch before anything is sent.
	PlatformKey string           `json:"platformKey,omitempty"`
	Status      ConnectionStatus `json:"status,omitempty"`  // last connection status seen
	LinkURL     string           `json:"linkUrl,omitempty"` // where the customer can re-link
	// Steps is the set of completed steps, in the order they completed; a
	// resume does what is not in it yet. It is not always a prefix of the
	// Step constants: a connection found already Linked records StepVerify
	// without StepAuthorize (no token was sent), and SyncNone records
	// StepDone without StepSync. Ask with HasStep.
	Steps []Step `json:"steps,omitempty"`
	// AlreadyMigrated reports that the company's connection was already Linked
	// before this migration sent any token, on a company it had no record of
	// (a rerun without a journal, or a customer migrated by other means); no
	// token was sent. Unless Sync is SyncNone, Migrate then reads the
	// company's data status (one GET): if no data type has ever been queued,
	// it queues the sync (POST data/all, step sync) and, with SyncWait,
	// waits for it; otherwise it stops there.
	AlreadyMigrated bool `json:"alreadyMigrated,omitempty"`
	// TokenSent reports that this migration sent a token PUT that Codat
	// accepted or whose outcome is unknown, so the token may be installed.
	// Migrate sets it; it only matters with Migration.Relink (see there).
	TokenSent bool `json:"tokenSent,omitempty"`
	// TokenSend is the token PUT in flight or whose outcome is unknown: set
	// (and handed to OnStep) before each PUT leaves, cleared once Codat's
	// answer or a read of the connection settles it. A resume that finds it
	// set does not send the token again before Migration.SettleWindow has
	// passed since TokenSend.At.
	TokenSend *TokenSend `json:"tokenSend,omitempty"`
	// KeyGen holds, per write step (company, connection, sync), the
	// generation of the next Idempotency-Key Migrate derives for it (zero
	// when absent). It moves on after a 5xx, which Codat keeps against the
	// key and would replay to the same key for 90 minutes.
	KeyGen map[Step]int `json:"keyGen,omitempty"`
	// SyncErrors lists the data types whose sync ended in an error status
	// (SyncWait only). A migration with sync errors is still complete.
	SyncErrors []string `json:"syncErrors,omitempty"`
	// Requests is the number of HTTP requests this call sent, every retry
	// included, counted for this call alone even when other goroutines share
	// the client. It is not carried over from Resume.
	Requests int `json:"requests"`
}

// TokenSend records one token PUT: when it was sent and a fingerprint of
// what was sent (never the token itself).
type TokenSend struct {
	At time.Time `json:"at"`
	// Fingerprint is Secret.Fingerprint of the platform key and the
	// authorization body: it tells two tokens apart without holding either.
	Fingerprint string `json:"fingerprint,omitempty"`
}

func (t *TokenSend) equal(o *TokenSend) bool {
	if t == nil || o == nil {
		return t == o
	}
	return t.At.Equal(o.At) && t.Fingerprint == o.Fingerprint
}

// HasStep reports whether step s is complete (in Steps). It is false on a
// nil result. HasStep(StepDone) reports that nothing is left to do.
func (r *MigrationResult) HasStep(s Step) bool {
	return r != nil && slices.Contains(r.Steps, s)
}

// clone returns a deep copy.
func (r *MigrationResult) clone() MigrationResult {
	c := *r
	c.Steps = slices.Clone(r.Steps)
	c.SyncErrors = slices.Clone(r.SyncErrors)
	if r.TokenSend != nil {
		ts := *r.TokenSend
		c.TokenSend = &ts
	}
	c.KeyGen = maps.Clone(r.KeyGen)
	return c
}

// MigrationError is the error Client.Migrate returns: the step that failed,
// what was known at that point, and the cause (a *APIError, ErrTokenRejected,
// a context error, …) reachable with errors.Is and errors.As.
type MigrationError struct {
	Ref          string
	Step         Step
	CompanyID    string
	ConnectionID string
	LinkURL      string // the connection's link URL, to send the customer to re-link
	// RetryAt, when set, is the earliest time a resume can get past this
	// error (ErrTokenSendUnsettled, or a token PUT whose outcome is unknown).
	RetryAt time.Time
	Err     error
}

// Error returns a one-line description. It never contains a token or the link URL.
func (e *MigrationError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "codat: migration %q failed at step %s", e.Ref, e.Step)
	if e.CompanyID != "" {
		fmt.Fprintf(&b, " (company %s", e.CompanyID)
		if e.ConnectionID != "" {
			fmt.Fprintf(&b, ", connection %s", e.ConnectionID)
		}
		b.WriteString(")")
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the cause.
func (e *MigrationError) Unwrap() error { return e.Err }

var (
	// ErrTokenRejected means Codat did not accept the migrated token: the
	// connection is not Linked after the token PUT, or a sync ended in
	// AuthError. The customer has to re-link through MigrationError.LinkURL.
	ErrTokenRejected = errors.New("codat: token rejected: the connection is not linked")
	// ErrInvalidMigration means the Migration itself is unusable (a bad Ref,
	// tags, company name, Resume or authorization body). Nothing was sent.
	ErrInvalidMigration = errors.New("codat: invalid migration")
	// ErrDuplicateRef means more than one company carries the Ref tag, or a
	// company has more than one unlinked connection for the platform, so
	// Migrate cannot tell which one is the customer's. Nothing is changed.
	ErrDuplicateRef = errors.New("codat: ref is ambiguous: more than one match")
	// ErrOnStep means Migration.OnStep returned an error, so Migrate stopped
	// before its next request. The hook's error is wrapped too. Resume from
	// the last result the hook did record.
	ErrOnStep = errors.New("codat: the OnStep hook failed")
	// ErrMigrationInProgress means another Migrate call for the same Ref is
	// running on the same Client. Nothing was sent; resume (pass the same
	// Resume, or the other call's result) once that call has returned.
	ErrMigrationInProgress = errors.New("codat: a migration for this ref is already in progress")
	// ErrTokenSendUnsettled means an earlier token PUT of this migration
	// (MigrationResult.TokenSend) may still be running at Codat and the
	// connection is not Linked, so the token was not sent again. Resume
	// after MigrationError.RetryAt.
	ErrTokenSendUnsettled = errors.New("codat: an earlier token send may still be in progress")
	// ErrPlatformMismatch means the connection is for another integration
	// than Migration.Auth (a row whose platform changed between attempts,
	// say). The token is never sent to it. To migrate the customer to the
	// new platform, start over without Resume under a new Ref, or delete the
	// old connection first.
	ErrPlatformMismatch = errors.New("codat: the connection is for another platform")
)

// refForbidden are the characters Codat's tag query language gives meaning
// to: the operators = != ~ < > <= >=, the joiners && and ||, the grouping
// braces { }, and, to be safe, quotes, parentheses, backslash and comma.
const refForbidden = `&|=!~<>(){}"'\,`

// ValidateRef reports whether ref can be used as Migration.Ref: 1–100
// characters, valid UTF-8, and none of the characters that Codat's tag query
// language gives meaning to (whitespace, control and other unprintable
// characters and & | = ! ~ < > ( ) { } " ' \ ,). The error wraps
// ErrInvalidMigration.
func ValidateRef(ref string) error {
	if ref == "" {
		return fmt.Errorf("%w: ref is empty", ErrInvalidMigration)
	}
	if !utf8.ValidString(ref) {
		return fmt.Errorf("%w: ref is not valid UTF-8", ErrInvalidMigration)
	}
	if n := utf8.RuneCountInString(ref); n > maxRefLen {
		return fmt.Errorf("%w: ref is %d characters long; Codat tag values hold at most %d", ErrInvalidMigration, n, maxRefLen)
	}
	for i, r := range ref {
		if unicode.IsSpace(r) || unicode.IsControl(r) || !unicode.IsPrint(r) || strings.ContainsRune(refForbidden, r) {
			return fmt.Errorf("%w: ref contains %q at byte %d, which Codat's tag query language cannot match", ErrInvalidMigration, r, i)
		}
	}
	return nil
}

// Migrate moves one customer's existing connection into Codat, end to end:
//
//  1. POST /companies, tagged RefTagKey=Ref and CallTagKey    (step company)
//  2. POST /companies/{companyId}/connections                 (step connection)
//  3. PUT  /companies/{companyId}/connections/{id}/authorization, checked
//     from its own response: the connection must be Linked  (steps authorize, verify)
//  4. POST /companies/{companyId}/data/all (SyncQueue, SyncWait) (step sync)
//  5. poll GET /companies/{companyId}/dataStatus (SyncWait)   (step wait)
//
// On the happy path it sends exactly those requests: four with SyncQueue, and
// no look-ups. The Migration (Ref, tags, company name, Auth.Body) is validated
// before anything is sent.
//
// Migrate never creates a second company or connection for one Ref: a
// write that fails ambiguously is reconciled with one look-up, and what it
// does when the look-up finds nothing depends on whether the failure was
// settled. The rule, what each reconciliation costs and what a resume costs
// are in the package documentation, section "Reconciliation and resuming".
//
// Echoed secrets. Every answer Migrate reads is checked for the API key and
// for the credentials of Auth's body, less the values the Migration
// publishes itself (Ref, TenantID, company name, description and tags),
// which are not counted in an answer either, and those shaped like
// identifiers (see SecretEchoError). A write answered
// with one is an unknown outcome, like an answer without an id: one
// look-up, never a second write; a token PUT answered so is read back. An
// id, link URL or status such an answer holds never reaches the result,
// OnStep or an error; when the look-up or read-back is refused too, the
// step fails with a *MigrationError wrapping ErrSecretEcho, and a resume
// looks the object up again.
//
// Concurrency. Within one process, a Client admits one Migrate call per Ref
// at a time: a second call for a Ref in flight sends nothing and returns a
// *MigrationError wrapping ErrMigrationInProgress (resume once the first has
// returned). Across processes, within Codat's 90-minute replay window, the
// writes carry Idempotency-Keys derived from (namespace, Ref, step,
// generation; see WithIdempotencyNamespace), so racing creates collapse at
// Codat: 409 while the first is in flight, then 422 (each call's company
// body carries its own CallTagKey), which is answered by a look-up, never by
// a second create. Beyond the window, and for the token of two processes
// racing to one connection, only a shared journal can tell: OnStep is where
// it is written (the bulk runner's Store holds claims with leases).
//
// The token. Before each token PUT the intent (MigrationResult.TokenSend:
// time and fingerprint) is handed to OnStep. A call that finds an earlier
// send whose outcome is unknown and a connection that is not Linked sends
// no token until Migration.SettleWindow has passed since that send
// (ErrTokenSendUnsettled, with MigrationError.RetryAt). The token goes only
// to a connection of Auth.PlatformKey(): any other fails with
// ErrPlatformMismatch. An OnStep error stops the call before its next
// request (ErrOnStep).
//
// A connection found Linked before any token was sent, on a company this
// migration has no record of, means the customer is already migrated:
// Migrate sets AlreadyMigrated and sends no token, unless Migration.Relink is
// set. It then reads GET /companies/{companyId}/dataStatus (not with
// SyncNone) and queues POST data/all only when no data type was ever queued,
// so that a migration cut off between the token PUT and data/all, and rerun
// without a journal, still gets its first sync: one GET per already-migrated
// company, plus the POST when it is needed.
//
// The result is never nil. On error it records every completed step and the
// error is a *MigrationError; pass the result back as Migration.Resume to
// continue (one look-up at the first pending step; see "Reconciliation and
// resuming" in the package documentation).
//
// Context cancellation, a spent daily quota (IsQuotaExhausted) and every other
// failure come back the same way, so a bulk run can stop and resume later.
func (c *Client) Migrate(ctx context.Context, m Migration) (*MigrationResult, error) {
	res := &MigrationResult{Ref: m.Ref}
	if m.Resume != nil {
		*res = m.Resume.clone()
		if res.Ref == "" {
			res.Ref = m.Ref
		}
	}
	res.Requests = 0
	// Known ids mean the steps that produced them are done.
	if res.ConnectionID != "" && !res.HasStep(StepConnection) {
		res.Steps = slices.Insert(res.Steps, 0, StepConnection)
	}
	if res.CompanyID != "" && !res.HasStep(StepCompany) {
		res.Steps = slices.Insert(res.Steps, 0, StepCompany)
	}
	run := &migrationRun{c: c, m: m, res: res, now: time.Now, callID: uuid.NewString()}
	if m.Resume != nil {
		run.company, run.conn = fromLookup, fromLookup // a look-up comes first
		if res.HasStep(StepCompany) {
			run.company = fromResume
		}
		if res.HasStep(StepConnection) {
			run.conn = fromResume
		}
	}
	run.reported = res.clone()
	if err := run.validate(); err != nil {
		return res, run.fail(run.nextStep(), err) // nothing was sent
	}
	if res.HasStep(StepDone) {
		return res, nil
	}
	if !c.inflight.add(m.Ref) {
		return res, run.fail(run.nextStep(), fmt.Errorf("%w: ref %q; resume once it has returned", ErrMigrationInProgress, m.Ref))
	}
	defer c.inflight.remove(m.Ref)
	ctx, run.counter = withRequestCounter(ctx)
	ctx = withAnswerGuard(ctx, answerGuardOf(m))
	err := run.run(ctx)
	res.Requests = run.requests()
	if err != nil {
		return res, err
	}
	return res, nil
}

// requestCounterKey carries a per-call count of HTTP attempts on a context.
type requestCounterKey struct{}

// withRequestCounter returns ctx with a fresh attempt counter.
func withRequestCounter(ctx context.Context) (context.Context, *atomic.Int64) {
	n := new(atomic.Int64)
	return context.WithValue(ctx, requestCounterKey{}, n), n
}

// countAttempt adds one HTTP attempt to the counter ctx carries, if any. The
// client's transport calls it for every attempt it sends, so Migrate can
// count its own requests even when other goroutines share the client. It
// should run once per request written to the wire: net/http re-sends a
// request carrying an Idempotency-Key (and any GET) by itself when a reused
// connection breaks before the answer, inside a single RoundTrip.
func countAttempt(ctx context.Context) {
	if n, ok := ctx.Value(requestCounterKey{}).(*atomic.Int64); ok {
		n.Add(1)
	}
}

// origin says how this call knows the company or the connection.
type origin int

const (
	// unknown: not known yet; this call will create it (a fresh call).
	unknown origin = iota
	// fromLookup: a look-up found it (or will be made first, on a resume
	// that records nothing for it), so it may predate this call.
	fromLookup
	// fromResume: Migration.Resume recorded it: an earlier attempt of this
	// migration made it.
	fromResume
	// createdHere: this call's own write created it (its answer, or a
	// look-up that found the company carrying this call's CallTagKey).
	createdHere
)

// migrationRun is the state of one Migrate call.
type migrationRun struct {
	c   *Client
	m   Migration
	res *MigrationResult
	now func() time.Time

	counter *atomic.Int64 // this call's attempts (see countAttempt)
	// company and conn say how this call knows the company and the
	// connection; they decide which look-ups come before a write.
	company, conn origin
	// linkedBefore: the connection was Linked before this call sent a
	// token (a look-up or a read found it so).
	linkedBefore bool
	// reported is the state OnStep last saw (initially the state the call
	// started from).
	reported MigrationResult
	// callID is this call's CallTagKey value.
	callID string
}

func (r *migrationRun) run(ctx context.Context) error {
	steps := []func(context.Context) (bool, error){
		r.companyStep, r.connectionStep, r.authorize, r.sync, r.wait,
	}
	for _, step := range steps {
		stop, err := step(ctx)
		if err != nil {
			return err
		}
		if stop {
			break
		}
	}
	return r.record(ctx, StepDone)
}

// requests is the number of HTTP attempts this call has sent, counted on the
// call's own context (see countAttempt), so other goroutines sharing the
// client do not inflate it.
func (r *migrationRun) requests() int {
	if r.counter == nil {
		return 0
	}
	return int(r.counter.Load())
}

// nextStep is the first step not yet done.
func (r *migrationRun) nextStep() Step {
	for _, s := range []Step{StepCompany, StepConnection, StepAuthorize, StepVerify, StepSync, StepWait} {
		if s == StepSync && r.m.Sync == SyncNone || s == StepWait && r.m.Sync != SyncWait {
			continue
		}
		if !r.res.HasStep(s) {
			return s
		}
	}
	return StepDone
}

func (r *migrationRun) validate() error {
	m, res := r.m, r.res
	if err := ValidateRef(m.Ref); err != nil {
		return err
	}
	if m.Resume != nil {
		if m.Resume.Ref != "" && m.Resume.Ref != m.Ref {
			return fmt.Errorf("%w: Resume is for ref %q", ErrInvalidMigration, m.Resume.Ref)
		}
		if res.HasStep(StepCompany) && res.CompanyID == "" {
			return fmt.Errorf("%w: Resume has step company but no company id", ErrInvalidMigration)
		}
		if res.HasStep(StepConnection) && res.ConnectionID == "" {
			return fmt.Errorf("%w: Resume has step connection but no connection id", ErrInvalidMigration)
		}
		if res.ConnectionID != "" && res.CompanyID == "" {
			return fmt.Errorf("%w: Resume has a connection id but no company id", ErrInvalidMigration)
		}
		if res.PlatformKey != "" && m.Auth != nil && !res.HasStep(StepVerify) && res.PlatformKey != m.Auth.PlatformKey() {
			return fmt.Errorf("%w: Resume records a %s connection, the authorization is for %s; the token is not sent",
				ErrPlatformMismatch, oneLine(res.PlatformKey, 20), oneLine(m.Auth.PlatformKey(), 20))
		}
	}
	switch m.Sync {
	case SyncQueue, SyncNone, SyncWait:
	default:
		return fmt.Errorf("%w: unknown sync mode %d", ErrInvalidMigration, int(m.Sync))
	}
	if m.WaitInterval < 0 {
		return fmt.Errorf("%w: WaitInterval is negative", ErrInvalidMigration)
	}
	if res.HasStep(StepDone) {
		return nil
	}
	if !res.HasStep(StepCompany) {
		if strings.TrimSpace(m.Company.Name) == "" {
			return fmt.Errorf("%w: company name is empty", ErrInvalidMigration)
		}
		if _, err := CompanyName(m.Company.Name); err != nil {
			return fmt.Errorf("%w: %w", ErrInvalidMigration, err)
		}
		if _, err := companyTags(m); err != nil {
			return err
		}
	}
	if !res.HasStep(StepVerify) {
		if m.Auth == nil {
			return fmt.Errorf("%w: Auth is nil", ErrInvalidMigration)
		}
		key := m.Auth.PlatformKey()
		if !IsPlatformKey(key) {
			return fmt.Errorf("%w: platform key %q is not four lowercase letters", ErrInvalidMigration, key)
		}
		if _, err := m.Auth.Body(); err != nil {
			return fmt.Errorf("%w: authorization for %s: %w", ErrInvalidMigration, key, err)
		}
	}
	return nil
}

// companyTags returns the user's tags plus RefTagKey=Ref (and
// TenantTagKey with TenantID), checked against Codat's limits. Migrate adds
// CallTagKey when it sends the create.
func companyTags(m Migration) (map[string]string, error) {
	tags := make(map[string]string, len(m.Company.Tags)+3)
	for k, v := range m.Company.Tags {
		if k == "" || utf8.RuneCountInString(k) > maxTagKeyLen {
			return nil, fmt.Errorf("%w: tag key %q must be 1–%d characters", ErrInvalidMigration, k, maxTagKeyLen)
		}
		if utf8.RuneCountInString(v) > maxRefLen {
			return nil, fmt.Errorf("%w: tag %q: value longer than %d characters", ErrInvalidMigration, k, maxRefLen)
		}
		if k == RefTagKey && v != m.Ref {
			return nil, fmt.Errorf("%w: tag %q is reserved for the migration ref", ErrInvalidMigration, RefTagKey)
		}
		if k == TenantTagKey {
			return nil, fmt.Errorf("%w: tag %q is reserved for the tenant; set Migration.TenantID", ErrInvalidMigration, TenantTagKey)
		}
		if k == CallTagKey {
			return nil, fmt.Errorf("%w: tag %q is reserved for Migrate", ErrInvalidMigration, CallTagKey)
		}
		tags[k] = v
	}
	tags[RefTagKey] = m.Ref
	if m.TenantID != "" && m.Auth != nil {
		tags[TenantTagKey] = TenantTag(m.Auth.PlatformKey(), m.TenantID)
	}
	if len(tags) > maxCompanyTags-1 {
		return nil, fmt.Errorf("%w: %d company tags with %s; Codat allows %d besides Migrate's %s", ErrInvalidMigration, len(tags), RefTagKey, maxCompanyTags-1, CallTagKey)
	}
	return tags, nil
}

// record marks the steps done (once) and reports the new state (see report).
func (r *migrationRun) record(ctx context.Context, steps ...Step) error {
	for _, s := range steps {
		if !r.res.HasStep(s) {
			r.res.Steps = append(r.res.Steps, s)
		}
	}
	return r.report(ctx)
}

// report hands a copy of the result to OnStep when something a resume
// depends on changed since the last call (or since the call started). It
// runs before every request that follows such a change; an error from the
// hook is returned as the MigrationError that ends the call.
func (r *migrationRun) report(ctx context.Context) error {
	if r.m.OnStep == nil || r.reported.sameForResume(r.res) {
		return nil
	}
	snap := r.res.clone()
	snap.Requests = r.requests()
	if err := r.m.OnStep(ctx, snap); err != nil {
		return r.fail(r.nextStep(), fmt.Errorf("%w: %w", ErrOnStep, err))
	}
	r.reported = r.res.clone()
	return nil
}

// sameForResume reports whether r and o hold the same state for a resume:
// everything but Requests.
func (r *MigrationResult) sameForResume(o *MigrationResult) bool {
	return r.Ref == o.Ref && r.CompanyID == o.CompanyID && r.ConnectionID == o.ConnectionID &&
		r.PlatformKey == o.PlatformKey && r.Status == o.Status && r.LinkURL == o.LinkURL &&
		slices.Equal(r.Steps, o.Steps) && r.AlreadyMigrated == o.AlreadyMigrated && r.TokenSent == o.TokenSent &&
		r.TokenSend.equal(o.TokenSend) && slices.Equal(r.SyncErrors, o.SyncErrors) && maps.Equal(r.KeyGen, o.KeyGen)
}

// fail wraps err as the MigrationError for step.
func (r *migrationRun) fail(step Step, err error) error {
	return &MigrationError{
		Ref:          r.m.Ref,
		Step:         step,
		CompanyID:    r.res.CompanyID,
		ConnectionID: r.res.ConnectionID,
		LinkURL:      r.res.LinkURL,
		Err:          err,
	}
}

// settled reports whether an ambiguous failure is a finished answer from
// Codat itself: Codat is done with the request, so a look-up made afterwards
// is authoritative. That is a 5xx other than 502 and 504 that carries
// Codat's error body with a correlationId, from a call none of whose
// attempts lost its answer (see APIError.settled). A transport failure (a
// timeout, a dropped connection), a 502 or 504 from a gateway, a 5xx without
// Codat's body, or a 409 for a key still in flight is not settled: the
// request may still be running at Codat, and a look-up can miss what it is
// about to create.
func settled(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.settled()
}

// readBackErr combines a write's ambiguous failure err with the failure rerr
// of the read made to reconcile it. A 429 on the read comes first, so that
// errors.As and IsQuotaExhausted see it: the caller has to wait before
// anything else. IsAmbiguous still sees the write's failure.
func readBackErr(err, rerr error, what string) error {
	if errors.Is(rerr, ErrRateLimited) {
		return fmt.Errorf("%s: %w (after the failed write: %w)", what, rerr, err)
	}
	return fmt.Errorf("%w; %s: %w", err, what, rerr)
}

// maxWrites is how often one call sends the same create (or data/all) when a
// settled failure and a look-up show it did not take effect.
const maxWrites = 2

// again decides whether a write whose ambiguous failure err was reconciled
// (the look-up found nothing) may be sent again: only after a settled
// failure, and at most maxWrites times in all. Otherwise it returns the error
// that ends the step; resuming later looks the object up again.
func again(err error, attempt int, what string) error {
	if !settled(err) {
		return fmt.Errorf("%w (no %s found; the request may still be in progress at Codat, so it was not sent again: resume later to look it up again)", err, what)
	}
	if attempt >= maxWrites {
		return fmt.Errorf("%w (no %s found after %d attempts)", err, what, attempt)
	}
	return nil
}

// ctxErr makes sure a failure caused by a done context matches
// errors.Is(err, context.Canceled / DeadlineExceeded).
func ctxErr(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("%w: %w", cerr, err)
	}
	return err
}

// failAt is fail for an error a resume can overcome after at
// (MigrationError.RetryAt).
func (r *migrationRun) failAt(step Step, at time.Time, err error) error {
	e := r.fail(step, err).(*MigrationError)
	e.RetryAt = at
	return e
}

// key returns the Idempotency-Key of a write Migrate makes: the UUIDv5, in
// the client's namespace, of the ref, the step, the generation and the
// scope (the ids and fingerprints that tell two writes of one step apart).
// Two calls for one ref derive the same key, so Codat merges their writes.
func (r *migrationRun) key(step Step, gen int, scope ...string) string {
	parts := append([]string{"migrate/v1", r.m.Ref, string(step), strconv.Itoa(gen)}, scope...)
	return uuid.NewSHA1(r.c.idemNS, []byte(strings.Join(parts, "\x00"))).String()
}

// errNoID marks a 2xx create answer that names no object.
var errNoID = errors.New("the answer carries no id")

// unusable reports whether err is a 2xx answer Migrate cannot use: a body
// that does not decode, a create without an id, or an answer withheld
// because it held a secret (SecretEchoError). The write took effect at
// Codat, most likely; a look-up has to say what it did.
func unusable(err error) bool {
	var de *DecodeError
	return errors.As(err, &de) || errors.Is(err, errNoID) || errors.Is(err, ErrSecretEcho)
}

// keyConflict reports whether err is Codat's answer to a reused
// Idempotency-Key: 409 while a request with the same key is in flight (the
// client retried it until it gave up), or 422 for the same key with another
// body (a racing call with another company name, or a validation failure).
// Both are answered by a look-up, never by another write.
func keyConflict(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && (ae.StatusCode == http.StatusConflict || ae.StatusCode == http.StatusUnprocessableEntity)
}

// write is the one loop of Migrate's keyed writes (company, connection,
// sync). It sends the write with the key of the step's generation
// (MigrationResult.KeyGen). After a failure that leaves the write's outcome
// unknown (IsAmbiguous, an unusable 2xx answer, a key conflict) it makes one
// look-up: found means done. A 5xx spends the key (Codat replays it), so the
// generation moves on, and is recorded, before the look-up. A write is sent
// again only after a settled failure (see settled) whose look-up found
// nothing, and at most maxWrites times in all. Anything else ends the step
// with an error a resume can continue from.
func (r *migrationRun) write(ctx context.Context, step Step, what string,
	send func(ctx context.Context, gen int) error, find func(ctx context.Context) (bool, error)) (bool, error) {
	for writes := 1; ; writes++ {
		if err := r.report(ctx); err != nil {
			return false, err
		}
		err := send(ctx, r.res.KeyGen[step])
		if err == nil {
			return false, nil
		}
		answered := unusable(err) || keyConflict(err)
		if _, quota := IsQuotaExhausted(err); quota || ctx.Err() != nil || !answered && !IsAmbiguous(err) {
			return false, r.fail(step, ctxErr(ctx, err))
		}
		if spentKey(err) {
			if r.res.KeyGen == nil {
				r.res.KeyGen = map[Step]int{}
			}
			r.res.KeyGen[step]++
			if rerr := r.report(ctx); rerr != nil {
				return false, rerr
			}
		}
		found, ferr := find(ctx)
		if ferr != nil {
			return false, r.fail(step, ctxErr(ctx, readBackErr(err, ferr, "looking the "+what+" up")))
		}
		if found {
			return true, nil
		}
		if answered {
			return false, r.fail(step, fmt.Errorf("%w (no %s found; it was not sent again: resume later to look it up again)", err, what))
		}
		if err := again(err, writes, what); err != nil {
			return false, r.fail(step, err)
		}
	}
}

// spentKey reports whether err is a 5xx answer, which Codat keeps against
// the Idempotency-Key and replays to every later request with it.
func spentKey(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.StatusCode >= 500
}

// companyStep makes sure the company exists: POST /companies, or, on resume
// and after an unclear create, a look-up by tag first.
func (r *migrationRun) companyStep(ctx context.Context) (bool, error) {
	if r.res.HasStep(StepCompany) {
		return false, nil
	}
	if r.company == fromLookup {
		found, err := r.lookupCompany(ctx, "")
		if err != nil {
			return false, r.fail(StepCompany, ctxErr(ctx, err))
		}
		if found {
			return false, r.record(ctx, StepCompany)
		}
	}
	tags, _ := companyTags(r.m) // validated
	tags[CallTagKey] = r.callID
	_, err := r.write(ctx, StepCompany, "company", func(ctx context.Context, gen int) error {
		req := r.m.Company
		req.Name, _ = CompanyName(req.Name) // validated: the name Codat stores
		req.Tags = tags
		co, err := r.c.Companies.Create(ctx, req, IdempotencyKey(r.key(StepCompany, gen)))
		if err == nil && co.ID == "" {
			err = fmt.Errorf("codat: POST /companies: %w", errNoID)
		}
		if err != nil {
			return err
		}
		r.res.CompanyID, r.company = co.ID, createdHere
		return nil
	}, func(ctx context.Context) (bool, error) { return r.lookupCompany(ctx, r.callID) })
	if err != nil {
		return false, err
	}
	return false, r.record(ctx, StepCompany)
}

// maxLookupPages caps the pages a company look-up reads.
const maxLookupPages = 20

// lookupCompany finds the company tagged with the Ref, reading every page of
// GET /companies?tags=… (one request when it fits in one) and comparing the
// tag exactly, since the filter is the server's. More than one match is an
// error: Migrate never picks one silently. A company carrying callID as its
// CallTagKey was created by this call's own write, so it has no
// connection yet.
func (r *migrationRun) lookupCompany(ctx context.Context, callID string) (bool, error) {
	var ids []string
	var own bool
	pages := 0
	opts := &ListOptions{Tags: RefTagKey + "=" + r.m.Ref, PageSize: 100}
	for co, err := range r.c.Companies.All(ctx, opts) {
		if err != nil {
			return false, fmt.Errorf("looking up company by tag: %w", err)
		}
		if pages++; pages > maxLookupPages*opts.PageSize {
			return false, fmt.Errorf("looking up company by tag: more than %d results", pages-1)
		}
		if co.Tags[RefTagKey] == r.m.Ref {
			ids = append(ids, co.ID)
			own = callID != "" && co.Tags[CallTagKey] == callID
		}
	}
	switch {
	case len(ids) > 1:
		return false, fmt.Errorf("%w: %d companies tagged %s=%s (%s)", ErrDuplicateRef, len(ids), RefTagKey, r.m.Ref, strings.Join(ids, ", "))
	case len(ids) == 1:
		r.res.CompanyID, r.company = ids[0], fromLookup
		if own {
			r.company = createdHere
		}
		return true, nil
	}
	return false, nil
}

// connectionStep makes sure the company has a connection for the platform:
// POST …/connections, or, when the company may predate this call and after
// an unclear create, a listing of its connections first.
func (r *migrationRun) connectionStep(ctx context.Context) (bool, error) {
	if r.res.HasStep(StepConnection) {
		return false, nil
	}
	if r.company != createdHere {
		found, err := r.lookupConnection(ctx)
		if err != nil && r.company == fromResume && errors.Is(err, ErrNotFound) {
			return r.companyGone(ctx)
		}
		if err != nil {
			return false, r.fail(StepConnection, ctxErr(ctx, err))
		}
		if found {
			return false, r.foundConnection(ctx)
		}
	}
	key := r.m.Auth.PlatformKey()
	found, err := r.write(ctx, StepConnection, "connection", func(ctx context.Context, gen int) error {
		cn, err := r.c.Connections.Create(ctx, r.res.CompanyID, key, IdempotencyKey(r.key(StepConnection, gen, r.res.CompanyID, key)))
		if err == nil && cn.ID == "" {
			err = fmt.Errorf("codat: POST /companies/%s/connections: %w", r.res.CompanyID, errNoID)
		}
		if err != nil {
			return err
		}
		if err := r.samePlatform(cn); err != nil {
			return err
		}
		r.setConnection(cn)
		r.conn = createdHere
		return nil
	}, r.lookupConnection)
	if err != nil {
		return false, err
	}
	if found {
		return false, r.foundConnection(ctx)
	}
	return false, r.record(ctx, StepConnection)
}

// companyGone starts again from the company step when the company Resume
// records no longer exists (it was deleted in Codat: its connections read
// 404). Its create is settled for good, so the company step's generation
// moves on: the create that replaces it must not carry the key Codat would
// answer with the deleted company. The look-up by tag comes first.
func (r *migrationRun) companyGone(ctx context.Context) (bool, error) {
	if r.res.KeyGen == nil {
		r.res.KeyGen = map[Step]int{}
	}
	r.res.KeyGen[StepCompany]++
	r.res.CompanyID, r.res.ConnectionID, r.res.PlatformKey, r.res.Status, r.res.LinkURL = "", "", "", "", ""
	r.res.Steps, r.res.TokenSent, r.res.TokenSend = nil, false, nil
	r.company, r.conn = fromLookup, unknown
	if _, err := r.companyStep(ctx); err != nil {
		return false, err
	}
	return r.connectionStep(ctx)
}

// samePlatform fails with ErrPlatformMismatch when cn is for another
// integration than Auth (an empty integrationKey proves nothing).
func (r *migrationRun) samePlatform(cn Connection) error {
	if cn.IntegrationKey != "" && !strings.EqualFold(cn.IntegrationKey, r.m.Auth.PlatformKey()) {
		return fmt.Errorf("%w: connection %s is for %s, the authorization for %s; the token is not sent",
			ErrPlatformMismatch, cn.ID, oneLine(cn.IntegrationKey, 20), r.m.Auth.PlatformKey())
	}
	return nil
}

func (r *migrationRun) setConnection(cn Connection) {
	r.res.ConnectionID = cn.ID
	r.res.Status = cn.Status
	if cn.LinkURL != "" {
		r.res.LinkURL = cn.LinkURL
	}
	if r.m.Auth != nil {
		r.res.PlatformKey = r.m.Auth.PlatformKey()
	}
}

// maxLookupConnections caps the connections a look-up considers.
const maxLookupConnections = 1000

// lookupConnection lists the company's connections and picks the one for the
// platform: a Linked one wins (the customer is already migrated); otherwise
// exactly one must exist to be reused.
func (r *migrationRun) lookupConnection(ctx context.Context) (bool, error) {
	key := r.m.Auth.PlatformKey()
	var linked, other, unknownKey []Connection
	n := 0
	for cn, err := range r.c.Connections.All(ctx, r.res.CompanyID, nil) {
		if err != nil {
			return false, fmt.Errorf("listing connections: %w", err)
		}
		if n++; n > maxLookupConnections {
			return false, fmt.Errorf("listing connections: more than %d connections", maxLookupConnections)
		}
		if cn.IntegrationKey == "" {
			unknownKey = append(unknownKey, cn)
			continue
		}
		if !strings.EqualFold(cn.IntegrationKey, key) {
			continue
		}
		if cn.Status.Is(StatusLinked) {
			linked = append(linked, cn)
		} else {
			other = append(other, cn)
		}
	}
	switch {
	case len(linked) > 0:
		r.setConnection(linked[0])
		r.conn, r.linkedBefore = fromLookup, true
		return true, nil
	case len(other) > 1:
		ids := make([]string, len(other))
		for i, cn := range other {
			ids[i] = cn.ID
		}
		return false, fmt.Errorf("%w: %d %s connections (%s)", ErrDuplicateRef, len(other), key, strings.Join(ids, ", "))
	case len(other) == 1:
		r.setConnection(other[0])
		r.conn = fromLookup
		return true, nil
	case len(unknownKey) > 0:
		// Codat's contract does not require integrationKey; without it a
		// connection cannot be ruled out, and creating another could
		// duplicate it.
		return false, fmt.Errorf("%w: connection %s has no integrationKey, so it may be the %s connection", ErrDuplicateRef, unknownKey[0].ID, key)
	}
	return false, nil
}

// foundConnection records a connection a look-up found. One found Linked
// is not sent the token, unless Relink asks for it and no token of this
// migration may be installed. On a company this migration's Resume records,
// a Linked connection is the earlier attempt's work, cut off before it was
// recorded: the migration goes on to queue the sync that attempt never
// reached. Otherwise the customer was migrated before: AlreadyMigrated, and
// the sync step queues data/all only if no sync ever started (see sync).
func (r *migrationRun) foundConnection(ctx context.Context) error {
	switch {
	case !r.linkedBefore, r.m.Relink && !r.res.TokenSent:
		return r.record(ctx, StepConnection)
	case r.company == fromResume:
		return r.record(ctx, StepConnection, StepAuthorize, StepVerify)
	case r.m.Relink:
		return r.record(ctx, StepConnection)
	default:
		r.res.AlreadyMigrated = true
		return r.record(ctx, StepConnection, StepVerify)
	}
}

// settleWindow is Migration.SettleWindow with its default.
func (r *migrationRun) settleWindow() time.Duration {
	switch {
	case r.m.SettleWindow == 0:
		return DefaultSettleWindow
	case r.m.SettleWindow < 0:
		return 0
	}
	return r.m.SettleWindow
}

// authorize sends the token (PUT …/authorization) and checks the connection
// in the PUT's own response. A connection Resume recorded is read first (its
// status and platform are unknown), and one found Linked is not sent the
// token again; with Relink it is read only when its platform is unknown or
// a token of this migration may already be installed (TokenSent, TokenSend).
// An earlier send whose outcome is unknown (TokenSend) blocks a new one
// until the settle window has passed. Those checks are beforeToken's; each
// send is sendToken's, and the read-back after a send with no clear answer
// readBack's, which decides whether the token is sent again.
func (r *migrationRun) authorize(ctx context.Context) (bool, error) {
	if r.res.HasStep(StepVerify) {
		return false, nil
	}
	if done, err := r.beforeToken(ctx); done || err != nil {
		return false, err
	}
	sends := r.tokenSends()
	fp := tokenFingerprint(r.m.Auth)
	for sent := 1; ; sent++ {
		sendErr, done, err := r.sendToken(ctx, fp)
		if done {
			return false, err
		}
		if again, err := r.readBack(ctx, sendErr, sent, sends); !again {
			return false, err
		}
	}
}

// tokenSends is how many times one call may send the token:
// 1+Migration.MaxTokenResends, where zero means 1 re-send and a negative
// value none.
func (r *migrationRun) tokenSends() int {
	sends := 1 + r.m.MaxTokenResends
	if r.m.MaxTokenResends == 0 {
		sends = 2
	}
	return max(sends, 1)
}

// sendToken records the intent (TokenSend, reported to OnStep before the PUT
// leaves) and sends the token once. It is done, with the step's outcome in
// err, when Codat's answer decides it: the connection in the PUT's response,
// a clear refusal, a cancelled context or an exhausted quota. Otherwise the
// PUT may or may not have been applied and sendErr, its ambiguous error, is
// for readBack.
func (r *migrationRun) sendToken(ctx context.Context, fp string) (sendErr error, done bool, err error) {
	r.res.TokenSend = &TokenSend{At: r.now().UTC(), Fingerprint: fp}
	if err := r.report(ctx); err != nil {
		return nil, true, err
	}
	cn, err := r.c.Connections.UpdateAuthorization(ctx, r.res.CompanyID, r.res.ConnectionID, r.m.Auth)
	unclear := IsAmbiguous(err) || unusable(err)
	if err == nil || unclear {
		r.res.TokenSent = true
	}
	if err == nil {
		r.res.TokenSend = nil
		if perr := r.samePlatform(cn); perr != nil {
			return nil, true, r.fail(StepAuthorize, perr)
		}
		r.setConnection(cn)
		if err := r.record(ctx, StepAuthorize); err != nil {
			return nil, true, err
		}
		if !cn.Status.Is(StatusLinked) {
			return nil, true, r.fail(StepAuthorize, fmt.Errorf("%w (status %s)", ErrTokenRejected, statusText(cn.Status)))
		}
		return nil, true, r.record(ctx, StepVerify)
	}
	if !unclear || ctx.Err() != nil {
		if !unclear {
			r.res.TokenSend = nil // Codat answered: nothing is running
		}
		if rerr := r.report(ctx); rerr != nil {
			return nil, true, rerr
		}
		return nil, true, r.fail(StepAuthorize, ctxErr(ctx, err))
	}
	if _, quota := IsQuotaExhausted(err); quota {
		return nil, true, r.fail(StepAuthorize, err)
	}
	return err, false, nil
}

// readBack reads the connection back after a send with no clear answer
// (sendErr). Linked, the token took: the step is done. Otherwise the token
// is sent again (again) only when sendErr is Codat's own settled answer, so
// no PUT can still be running, and sent, the sends so far, is below sends.
// Else the step fails; while the PUT may still be running at Codat
// (TokenSend), with a RetryAt at the end of the settle window.
func (r *migrationRun) readBack(ctx context.Context, sendErr error, sent, sends int) (again bool, err error) {
	if settled(sendErr) {
		r.res.TokenSend = nil // Codat's own finished answer: nothing is running
	}
	if err := r.report(ctx); err != nil {
		return false, err
	}
	got, gerr := r.c.Connections.Get(ctx, r.res.CompanyID, r.res.ConnectionID)
	if gerr != nil {
		return false, r.fail(StepAuthorize, ctxErr(ctx, readBackErr(sendErr, gerr, "reading the connection back")))
	}
	r.setConnection(got)
	if got.Status.Is(StatusLinked) {
		r.res.TokenSend = nil
		return false, r.record(ctx, StepAuthorize, StepVerify)
	}
	if got.Status.Is(StatusDeauthorized) {
		r.res.TokenSend = nil // Codat tried a token and refused it: nothing is running
	}
	if !settled(sendErr) {
		if rerr := r.report(ctx); rerr != nil {
			return false, rerr
		}
		if r.res.TokenSend == nil {
			return false, r.fail(StepAuthorize, fmt.Errorf("%w (connection is %s; the token was not sent again in this call: resume later to read the connection again)",
				sendErr, statusText(got.Status)))
		}
		at := r.res.TokenSend.At.Add(r.settleWindow())
		return false, r.failAt(StepAuthorize, at, fmt.Errorf("%w (connection is %s; the PUT may still be in progress at Codat, so the token was not sent again: resume later, after %s, to read the connection again)",
			sendErr, statusText(got.Status), at.UTC().Format(time.RFC3339)))
	}
	if sent >= sends {
		if rerr := r.report(ctx); rerr != nil {
			return false, rerr
		}
		return false, r.fail(StepAuthorize, fmt.Errorf("%w (connection is %s; token sent %d times, no re-send left)", sendErr, statusText(got.Status), sent))
	}
	return true, nil
}

// beforeToken makes the checks that come before a token PUT: a connection
// Resume recorded is read (its status and platform are unknown) unless
// Relink sends the token anyway to a connection of a known platform; a
// Linked one is not sent the token again (done). An earlier send whose
// outcome is unknown blocks a new one until the settle window has passed.
func (r *migrationRun) beforeToken(ctx context.Context) (done bool, err error) {
	pending := r.res.TokenSend != nil
	if r.conn == fromResume && (!r.m.Relink || r.res.TokenSent || pending || r.res.PlatformKey == "") {
		if err := r.report(ctx); err != nil {
			return false, err
		}
		cn, err := r.c.Connections.Get(ctx, r.res.CompanyID, r.res.ConnectionID)
		if err != nil {
			return false, r.fail(r.nextStep(), ctxErr(ctx, fmt.Errorf("reading connection: %w", err)))
		}
		if err := r.samePlatform(cn); err != nil {
			return false, r.fail(StepAuthorize, err)
		}
		r.setConnection(cn)
		if cn.Status.Is(StatusLinked) && (!r.m.Relink || r.res.TokenSent || pending) {
			r.res.TokenSend = nil // that send (or an earlier one) linked it
			return true, r.record(ctx, StepAuthorize, StepVerify)
		}
		if cn.Status.Is(StatusDeauthorized) {
			r.res.TokenSend = nil // Codat tried a token and refused it: nothing is running
		}
	}
	if ts := r.res.TokenSend; ts != nil {
		if at := ts.At.Add(r.settleWindow()); r.now().Before(at) {
			return false, r.failAt(StepAuthorize, at, fmt.Errorf("%w: a token PUT sent at %s may still be running at Codat and the connection is %s; resume after %s",
				ErrTokenSendUnsettled, ts.At.UTC().Format(time.RFC3339), statusText(r.res.Status), at.UTC().Format(time.RFC3339)))
		}
	}
	return false, nil
}

// answerGuardOf returns what every answer Migrate reads is checked against
// (see SecretEchoError): the credentials of m.Auth's body, that is its
// values that are not identifiers by their form, less those the Migration
// publishes itself (its Ref, TenantID and tenant tag, company name,
// description and tags), which come back in a company legitimately; and
// those published values, since what a credential shares with them (a test
// token that embeds the ref) is no echo either.
func answerGuardOf(m Migration) *answerGuard {
	g := &answerGuard{public: []string{m.Ref, m.TenantID, m.Company.Name, m.Company.Description}}
	if name, err := CompanyName(m.Company.Name); err == nil {
		g.public = append(g.public, name)
	}
	for k, v := range m.Company.Tags {
		g.public = append(g.public, k, v)
	}
	if m.Auth == nil {
		return g
	}
	g.public = append(g.public, TenantTag(m.Auth.PlatformKey(), m.TenantID))
	body, err := m.Auth.Body()
	if err != nil {
		return g
	}
	lower := make([]string, len(g.public))
	for i, p := range g.public {
		lower[i] = strings.ToLower(p)
	}
	for _, v := range credentialValues(slices.Collect(maps.Values(body))) {
		lv := strings.ToLower(strings.TrimSpace(v))
		if !slices.ContainsFunc(lower, func(p string) bool { return strings.Contains(p, lv) }) {
			g.secrets = append(g.secrets, v)
		}
	}
	return g
}

// tokenFingerprint identifies the authorization body without holding it.
func tokenFingerprint(a Authorization) string {
	body, err := a.Body()
	if err != nil {
		return ""
	}
	keys := slices.Sorted(maps.Keys(body))
	var b strings.Builder
	b.WriteString(a.PlatformKey())
	for _, k := range keys {
		b.WriteByte(0)
		b.WriteString(k)
		b.WriteByte(0)
		b.WriteString(body[k])
	}
	return Secret(b.String()).Fingerprint()
}

func statusText(s ConnectionStatus) string {
	if s == "" {
		return "unknown"
	}
	return string(s)
}

// sync queues POST /companies/{companyId}/data/all through the write loop:
// after an unclear failure it reads GET dataStatus once, and a data type in
// progress means the sync was queued.
//
// For an already-migrated customer it reads GET dataStatus first and queues
// the sync only when no data type was ever queued (a migration cut off
// between its token PUT and data/all); otherwise the migration stops here.
func (r *migrationRun) sync(ctx context.Context) (bool, error) {
	if r.m.Sync == SyncNone || r.res.HasStep(StepSync) {
		return false, nil
	}
	if r.res.AlreadyMigrated {
		if err := r.report(ctx); err != nil {
			return false, err
		}
		st, err := r.c.Sync.Status(ctx, r.res.CompanyID)
		if err != nil {
			return false, r.fail(StepSync, ctxErr(ctx, fmt.Errorf("reading the data status of the already-migrated company: %w", err)))
		}
		if syncStarted(st) {
			return true, nil
		}
	}
	fp := ""
	if r.m.Auth != nil {
		fp = tokenFingerprint(r.m.Auth)
	}
	_, err := r.write(ctx, StepSync, "sync", func(ctx context.Context, gen int) error {
		return r.c.Sync.RefreshAll(ctx, r.res.CompanyID, IdempotencyKey(r.key(StepSync, gen, r.res.CompanyID, fp)))
	}, func(ctx context.Context) (bool, error) {
		st, err := r.c.Sync.Status(ctx, r.res.CompanyID)
		if err != nil {
			return false, fmt.Errorf("reading the data status: %w", err)
		}
		for _, ds := range st {
			if ds.CurrentStatus != "" && !IsTerminalSyncStatus(ds.CurrentStatus) {
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		return false, err
	}
	return false, r.record(ctx, StepSync)
}

// wait polls the data status until the sync is over (SyncWait only).
func (r *migrationRun) wait(ctx context.Context) (bool, error) {
	if r.m.Sync != SyncWait || r.res.HasStep(StepWait) {
		return false, nil
	}
	st, err := r.c.Sync.Wait(ctx, r.res.CompanyID, &WaitOptions{Interval: r.m.WaitInterval, Timeout: r.m.WaitTimeout})
	if err != nil {
		return false, r.fail(StepWait, ctxErr(ctx, err))
	}
	r.res.SyncErrors = failedDataTypes(st)
	return false, r.record(ctx, StepWait)
}
