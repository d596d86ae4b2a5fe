package bulk

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/codat-migrate/codat"
)

// The journal's line format (header version 2).
//
// Run events (Record.Event set) are JSON objects with Record's own keys, as
// in version 1. A ref's lines are JSON arrays [handle, step, changes]:
//
//   - handle is a small number naming one attempt at one ref while it is in
//     progress in this process (the lowest one free when the attempt
//     journals its first line; free again once it ends);
//   - step is a one-letter code (stepCodes) or, for a step without one, its
//     name;
//   - changes (left out when empty) is an object with short keys (wireRec)
//     holding the fields that differ from the attempt's previous line, and
//     in "z" the keys of fields that became empty.
//
// An attempt's first line carries the ref ("r") and is complete on its own:
// its changes are taken against an empty Record. Its time ("t") is in
// milliseconds since the latest run event's time; a later line's "t" is in
// whole seconds since the attempt's first line. Steps ("k") are left out
// when they are the previous line's steps plus the line's step (the
// previous line's steps for start, state and failed lines); the request
// count ("q") when it is the previous line's plus one for a company,
// connection, authorize or sync line (the same for the others). A
// lower-case UUID is written as "~" and its 16 bytes in base64 (compactID).
// A link URL is stored as a template in which the company and connection
// IDs are replaced by {c} and {n}: "ud" defines a new template (numbered in
// the order of definition, from 0) and "ui" refers to one. A token send's
// time ("w") is in milliseconds since the attempt's first line, and its
// fingerprint ("wf") is left out when it is the line's fingerprint ("="
// for none). A code or text that could be read otherwise is written after
// a "=".
//
// Nothing here changes what a resume reads: decoding a line gives back the
// Record that was appended, its times to the millisecond (an attempt's
// later lines to the second), and a version 1 line (a JSON object with the
// whole Record) is still read as it was. An attempt whose last line was
// torn by a crash resumes from its line before, as with version 1.

// Step codes of the version 2 format.
var stepCodes = map[string]string{
	stepStart: "S", stepFailed: "F", stepState: "X",
	string(codat.StepCompany): "c", string(codat.StepConnection): "n", string(codat.StepAuthorize): "a",
	string(codat.StepVerify): "v", string(codat.StepSync): "y", string(codat.StepWait): "w", string(codat.StepDone): "d",
}

// stepNames inverts stepCodes.
var stepNames = func() map[string]string {
	m := make(map[string]string, len(stepCodes))
	for n, c := range stepCodes {
		m[c] = n
	}
	return m
}()

// Connection status codes of the version 2 format.
var statusCodes = map[string]string{
	"PendingAuth": "P", "Linked": "L", "Unlinked": "U", "Deauthorized": "D",
}

var statusNames = func() map[string]string {
	m := make(map[string]string, len(statusCodes))
	for n, c := range statusCodes {
		m[c] = n
	}
	return m
}()

// encodeCode returns the code of s, or s itself; a name that reads as a
// code (or starts with "=") is written after a "=".
func encodeCode(codes map[string]string, s string) string {
	if c, ok := codes[s]; ok {
		return c
	}
	for _, c := range codes {
		if s == c {
			return "=" + s
		}
	}
	if strings.HasPrefix(s, "=") {
		return "=" + s
	}
	return s
}

// decodeCode inverts encodeCode.
func decodeCode(names map[string]string, s string) string {
	if strings.HasPrefix(s, "=") {
		return s[1:]
	}
	if n, ok := names[s]; ok {
		return n
	}
	return s
}

// wireRec is the changes object of a version 2 ref line.
type wireRec struct {
	Ref          string         `json:"r,omitempty"`
	T            int64          `json:"t,omitempty"`
	Line         int            `json:"l,omitempty"`
	Steps        []string       `json:"k,omitempty"`
	CompanyID    string         `json:"c,omitempty"`
	ConnectionID string         `json:"n,omitempty"`
	Status       string         `json:"st,omitempty"`
	LinkDef      string         `json:"ud,omitempty"`
	LinkIdx      *int           `json:"ui,omitempty"`
	LinkRaw      string         `json:"u,omitempty"`
	Fingerprint  string         `json:"f,omitempty"`
	Tenant       string         `json:"tn,omitempty"`
	Canary       bool           `json:"cy,omitempty"`
	Verdict      string         `json:"vd,omitempty"`
	Relink       bool           `json:"rl,omitempty"`
	NoWrite      bool           `json:"nw,omitempty"`
	Already      bool           `json:"am,omitempty"`
	TokenSent    bool           `json:"ts,omitempty"`
	PlatformKey  string         `json:"p,omitempty"`
	SendAt       *int64         `json:"w,omitempty"`
	SendFP       string         `json:"wf,omitempty"`
	KeyGen       map[string]int `json:"g,omitempty"`
	Result       string         `json:"rs,omitempty"`
	ErrorClass   string         `json:"ec,omitempty"`
	Error        string         `json:"e,omitempty"`
	Requests     int            `json:"q,omitempty"`
	Cleared      string         `json:"z,omitempty"`
}

// runBase is a run event's offset in the file and time (Unix milliseconds).
type runBase struct {
	off int64
	ms  int64
}

// codecState is what decoding a version 2 line needs beyond the line: the
// link templates and the run events' times. It only grows, in file order.
type codecState struct {
	templates []string
	tmplIdx   map[string]int
	runs      []runBase
}

func newCodecState() *codecState { return &codecState{tmplIdx: map[string]int{}} }

// base returns the time of the latest run event before off.
func (c *codecState) base(off int64) int64 {
	i := sort.Search(len(c.runs), func(i int) bool { return c.runs[i].off >= off })
	if i == 0 {
		return 0
	}
	return c.runs[i-1].ms
}

// impliedSteps is what a line's steps are when it leaves "k" out.
func impliedSteps(prev []codat.Step, step string) []codat.Step {
	switch step {
	case stepStart, stepState, stepFailed:
		return prev
	}
	return append(slices.Clip(prev), codat.Step(step))
}

// linkTemplate replaces the IDs in link by {c} and {n}; ok is false when
// the template would not give link back (a link with a brace in it, IDs
// that overlap): link is then stored as it is.
func linkTemplate(link, company, connection string) (string, bool) {
	if strings.ContainsAny(link, "{}") {
		return "", false
	}
	var pairs []string
	if company != "" {
		pairs = append(pairs, company, "{c}")
	}
	if connection != "" {
		pairs = append(pairs, connection, "{n}")
	}
	t := link
	if len(pairs) > 0 {
		t = strings.NewReplacer(pairs...).Replace(link)
	}
	return t, expandLink(t, company, connection) == link
}

func expandLink(tmpl, company, connection string) string {
	return strings.NewReplacer("{c}", company, "{n}", connection).Replace(tmpl)
}

// encodeRefLine encodes rec as a version 2 line of attempt h, against prev
// (nil for the attempt's first line), at file offset off. It returns the
// line and its changes, for c.note once the line is written.
func (c *codecState) encodeRefLine(h int, rec, prev *Record, off, startMs int64) ([]byte, *wireRec, error) {
	var d refDiff
	if prev == nil {
		prev = &Record{}
		d.w.Ref = rec.Ref
		d.w.T = rec.Time.UnixMilli() - c.base(off)
		startMs = rec.Time.UnixMilli()
	} else {
		if rec.Ref != prev.Ref {
			return nil, nil, fmt.Errorf("bulk: journal: an attempt changed its ref")
		}
		d.w.T = (rec.Time.UnixMilli() - startMs) / 1000
	}
	d.progress(rec, prev)
	c.diffConnection(&d, rec, prev)
	d.attributes(rec, prev)
	d.tokenSend(rec, prev, startMs)
	d.outcome(rec, prev)
	d.w.Cleared = strings.Join(d.cleared, ",")
	b, err := marshalRefLine(h, rec.Step, &d.w)
	if err != nil {
		return nil, nil, err
	}
	return b, &d.w, nil
}

// refDiff is the changes of one ref line against the attempt's previous
// line, as they are found: the fields set in w, and the keys of the fields
// that became empty, in the order of the format.
type refDiff struct {
	w       wireRec
	cleared []string
}

func (d *refDiff) zero(key string) { d.cleared = append(d.cleared, key) }

// str sets *dst to now when it differs from was; key when now is empty.
func (d *refDiff) str(dst *string, now, was, key string) {
	if now != was {
		if *dst = now; now == "" {
			d.zero(key)
		}
	}
}

// flag sets *dst to now when it differs from was; key when now is false.
func (d *refDiff) flag(dst *bool, now, was bool, key string) {
	if now != was {
		if *dst = now; !now {
			d.zero(key)
		}
	}
}

// progress records the input line and the steps taken ("l", "k").
func (d *refDiff) progress(rec, prev *Record) {
	if rec.Line != prev.Line {
		if d.w.Line = rec.Line; rec.Line == 0 {
			d.zero("l")
		}
	}
	if !slices.Equal(rec.Steps, impliedSteps(prev.Steps, rec.Step)) {
		if len(rec.Steps) == 0 {
			d.zero("k")
		}
		for _, s := range rec.Steps {
			d.w.Steps = append(d.w.Steps, encodeCode(stepCodes, string(s)))
		}
	}
}

// diffConnection records the company, the connection, its status and its
// link URL ("c", "n", "st", "u"; the link as a template where it can).
func (c *codecState) diffConnection(d *refDiff, rec, prev *Record) {
	d.str(&d.w.CompanyID, compactID(rec.CompanyID), compactID(prev.CompanyID), "c")
	d.str(&d.w.ConnectionID, compactID(rec.ConnectionID), compactID(prev.ConnectionID), "n")
	if rec.Status != prev.Status {
		if d.w.Status = encodeCode(statusCodes, rec.Status); rec.Status == "" {
			d.zero("st")
		}
	}
	if rec.LinkURL == prev.LinkURL {
		return
	}
	switch t, ok := linkTemplate(rec.LinkURL, rec.CompanyID, rec.ConnectionID); {
	case rec.LinkURL == "":
		d.zero("u")
	case !ok:
		d.w.LinkRaw = rec.LinkURL
	default:
		if i, known := c.tmplIdx[t]; known {
			d.w.LinkIdx = &i
		} else {
			d.w.LinkDef = t
		}
	}
}

// attributes records the token's fingerprint, the tenant, the canary and
// the flags of the migration ("f" to "p").
func (d *refDiff) attributes(rec, prev *Record) {
	d.str(&d.w.Fingerprint, rec.Fingerprint, prev.Fingerprint, "f")
	d.str(&d.w.Tenant, rec.Tenant, prev.Tenant, "tn")
	d.flag(&d.w.Canary, rec.Canary, prev.Canary, "cy")
	d.str(&d.w.Verdict, rec.Verdict, prev.Verdict, "vd")
	d.flag(&d.w.Relink, rec.Relink, prev.Relink, "rl")
	d.flag(&d.w.NoWrite, rec.NoWrite, prev.NoWrite, "nw")
	d.flag(&d.w.Already, rec.AlreadyMigrated, prev.AlreadyMigrated, "am")
	d.flag(&d.w.TokenSent, rec.TokenSent, prev.TokenSent, "ts")
	d.str(&d.w.PlatformKey, rec.PlatformKey, prev.PlatformKey, "p")
}

// tokenSend records the token send ("w", "wf"), its time since startMs.
func (d *refDiff) tokenSend(rec, prev *Record, startMs int64) {
	if sameSendMs(rec, prev) {
		return
	}
	if rec.TokenSend == nil {
		d.zero("w")
		return
	}
	at := rec.TokenSend.At.UnixMilli() - startMs
	d.w.SendAt = &at
	if rec.TokenSend.Fingerprint != rec.Fingerprint {
		// "=" before one that is empty or starts with "=".
		d.w.SendFP = rec.TokenSend.Fingerprint
		if d.w.SendFP == "" || strings.HasPrefix(d.w.SendFP, "=") {
			d.w.SendFP = "=" + d.w.SendFP
		}
	}
}

// outcome records the key generations, the result, the error and the
// request count ("g", "rs", "ec", "e", "q").
func (d *refDiff) outcome(rec, prev *Record) {
	if !maps.Equal(rec.KeyGen, prev.KeyGen) {
		if len(rec.KeyGen) == 0 {
			d.zero("g")
		}
		for s, n := range rec.KeyGen {
			if d.w.KeyGen == nil {
				d.w.KeyGen = map[string]int{}
			}
			d.w.KeyGen[encodeCode(stepCodes, string(s))] = n
		}
	}
	d.str(&d.w.Result, string(rec.Result), string(prev.Result), "rs")
	d.str(&d.w.ErrorClass, rec.ErrorClass, prev.ErrorClass, "ec")
	d.str(&d.w.Error, rec.Error, prev.Error, "e")
	if rec.Requests != impliedRequests(prev.Requests, rec.Step) {
		if d.w.Requests = rec.Requests; rec.Requests == 0 {
			d.zero("q")
		}
	}
}

// marshalRefLine writes the line [h, step, changes], changes left out
// when empty.
func marshalRefLine(h int, step string, w *wireRec) ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteByte('[')
	buf.WriteString(strconv.Itoa(h))
	buf.WriteByte(',')
	code, err := json.Marshal(encodeCode(stepCodes, step))
	if err != nil {
		return nil, err
	}
	buf.Write(code)
	if ch, err := json.Marshal(w); err != nil {
		return nil, err
	} else if string(ch) != "{}" {
		buf.WriteByte(',')
		buf.Write(ch)
	}
	buf.WriteString("]\n")
	return buf.Bytes(), nil
}

// impliedRequests is what a line's request count is when it leaves "q"
// out: one more than the previous line's for the steps that send one
// request (company, connection, authorize, sync), the same otherwise.
func impliedRequests(prev int, step string) int {
	switch codat.Step(step) {
	case codat.StepCompany, codat.StepConnection, codat.StepAuthorize, codat.StepSync:
		return prev + 1
	}
	return prev
}

// compactID writes a canonical (lower-case) UUID as "~" and its 16 bytes
// in unpadded URL-safe base64; another ID that starts with "~" gets a
// second one.
func compactID(id string) string {
	if strings.HasPrefix(id, "~") {
		return "~" + id
	}
	if u, ok := parseUUID(id); ok {
		return "~" + base64.RawURLEncoding.EncodeToString(u[:])
	}
	return id
}

// expandID inverts compactID.
func expandID(s string) string {
	switch {
	case strings.HasPrefix(s, "~~"):
		return s[1:]
	case strings.HasPrefix(s, "~"):
		b, err := base64.RawURLEncoding.DecodeString(s[1:])
		if err != nil || len(b) != 16 {
			return s
		}
		h := hex.EncodeToString(b)
		return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
	}
	return s
}

// parseUUID parses a UUID written in lower case with dashes (8-4-4-4-12).
func parseUUID(s string) ([16]byte, bool) {
	var u [16]byte
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return u, false
	}
	h := s[:8] + s[9:13] + s[14:18] + s[19:23] + s[24:]
	if strings.ToLower(h) != h {
		return u, false
	}
	if _, err := hex.Decode(u[:], []byte(h)); err != nil {
		return u, false
	}
	return u, true
}

// sameSendMs reports whether a and b record the same token send, to the
// millisecond.
func sameSendMs(a, b *Record) bool {
	if a.TokenSend == nil || b.TokenSend == nil {
		return a.TokenSend == b.TokenSend
	}
	return a.TokenSend.At.UnixMilli() == b.TokenSend.At.UnixMilli() && a.TokenSend.Fingerprint == b.TokenSend.Fingerprint
}

// note records what a line defines for later ones: a run event's time, a
// link template. It is called for every line, in file order.
func (c *codecState) note(off int64, rec *Record, w *wireRec) {
	if rec != nil && rec.Event == eventRun {
		c.runs = append(c.runs, runBase{off: off, ms: rec.Time.UnixMilli()})
	}
	if w != nil && w.LinkDef != "" {
		if _, known := c.tmplIdx[w.LinkDef]; !known {
			c.tmplIdx[w.LinkDef] = len(c.templates)
			c.templates = append(c.templates, w.LinkDef)
		}
	}
}

var errNotRefLine = errors.New("bulk: journal: not a ref line")

// parseRefLine splits a version 2 ref line into its handle, step and changes.
func parseRefLine(b []byte) (int, string, *wireRec, error) {
	var parts []json.RawMessage
	if err := json.Unmarshal(b, &parts); err != nil {
		return 0, "", nil, err
	}
	if len(parts) < 2 || len(parts) > 3 {
		return 0, "", nil, errNotRefLine
	}
	var h int
	var step string
	if err := json.Unmarshal(parts[0], &h); err != nil || h < 0 {
		return 0, "", nil, errNotRefLine
	}
	if err := json.Unmarshal(parts[1], &step); err != nil {
		return 0, "", nil, errNotRefLine
	}
	w := &wireRec{}
	if len(parts) == 3 {
		dec := json.NewDecoder(bytes.NewReader(parts[2]))
		dec.DisallowUnknownFields()
		if err := dec.Decode(w); err != nil {
			return 0, "", nil, err
		}
	}
	return h, decodeCode(stepNames, step), w, nil
}

// apply builds the Record of a version 2 line from its changes and the
// attempt's previous Record (nil for a first line), at file offset off.
func (c *codecState) apply(step string, w *wireRec, prev *Record, off, startMs int64) (*Record, error) {
	first := prev == nil
	if first != (w.Ref != "") {
		return nil, errNotRefLine
	}
	var rec Record
	var prevSteps []codat.Step
	if first {
		rec.Ref = w.Ref
		rec.Time = time.UnixMilli(c.base(off) + w.T).UTC()
		startMs = rec.Time.UnixMilli()
	} else {
		rec = nextRecord(prev, time.UnixMilli(startMs+w.T*1000).UTC())
		prevSteps = rec.Steps
	}
	rec.Step = step
	p := newRefPatch(w)
	p.progress(&rec, prevSteps)
	if err := c.applyConnection(p, &rec); err != nil {
		return nil, err
	}
	p.attributes(&rec)
	p.tokenSend(&rec, startMs)
	p.outcome(&rec)
	return &rec, nil
}

// nextRecord returns a copy of prev at time t that shares nothing with it.
func nextRecord(prev *Record, t time.Time) Record {
	rec := *prev
	rec.Steps = slices.Clone(prev.Steps)
	rec.KeyGen = maps.Clone(prev.KeyGen)
	rec.Time = t
	if rec.TokenSend != nil {
		ts := *rec.TokenSend
		rec.TokenSend = &ts
	}
	return rec
}

// refPatch is the changes of one ref line, to be applied to the attempt's
// previous Record: the fields set in w, and in cleared the keys of those
// that became empty.
type refPatch struct {
	w       *wireRec
	cleared map[string]bool
}

func newRefPatch(w *wireRec) refPatch {
	cleared := map[string]bool{}
	if w.Cleared != "" {
		for _, k := range strings.Split(w.Cleared, ",") {
			cleared[k] = true
		}
	}
	return refPatch{w: w, cleared: cleared}
}

// setInt sets *dst to v when it is not zero, to zero when key was cleared.
func (p refPatch) setInt(dst *int, v int, key string) {
	if v != 0 {
		*dst = v
	} else if p.cleared[key] {
		*dst = 0
	}
}

// setStr sets *dst to v when it is not empty, to "" when key was cleared.
func (p refPatch) setStr(dst *string, v, key string) {
	if v != "" {
		*dst = v
	} else if p.cleared[key] {
		*dst = ""
	}
}

// setBool sets *dst to true when v is, to false when key was cleared.
func (p refPatch) setBool(dst *bool, v bool, key string) {
	if v {
		*dst = true
	} else if p.cleared[key] {
		*dst = false
	}
}

// progress applies the steps taken and the input line ("k", "l"); the
// steps left out follow from prevSteps and rec.Step.
func (p refPatch) progress(rec *Record, prevSteps []codat.Step) {
	switch {
	case p.w.Steps != nil:
		rec.Steps = nil
		for _, s := range p.w.Steps {
			rec.Steps = append(rec.Steps, codat.Step(decodeCode(stepNames, s)))
		}
	case p.cleared["k"]:
		rec.Steps = nil
	default:
		rec.Steps = impliedSteps(prevSteps, rec.Step)
		if len(rec.Steps) == 0 {
			rec.Steps = nil
		}
	}
	p.setInt(&rec.Line, p.w.Line, "l")
}

// applyConnection applies the company, the connection, its status and its
// link URL ("c", "n", "st", "u"), expanding a link template.
func (c *codecState) applyConnection(p refPatch, rec *Record) error {
	w := p.w
	p.setStr(&rec.CompanyID, expandID(w.CompanyID), "c")
	p.setStr(&rec.ConnectionID, expandID(w.ConnectionID), "n")
	if w.Status != "" {
		rec.Status = decodeCode(statusNames, w.Status)
	} else if p.cleared["st"] {
		rec.Status = ""
	}
	switch {
	case w.LinkDef != "":
		rec.LinkURL = expandLink(w.LinkDef, rec.CompanyID, rec.ConnectionID)
	case w.LinkIdx != nil:
		if *w.LinkIdx < 0 || *w.LinkIdx >= len(c.templates) {
			return fmt.Errorf("bulk: journal: unknown link template %d", *w.LinkIdx)
		}
		rec.LinkURL = expandLink(c.templates[*w.LinkIdx], rec.CompanyID, rec.ConnectionID)
	case w.LinkRaw != "":
		rec.LinkURL = w.LinkRaw
	case p.cleared["u"]:
		rec.LinkURL = ""
	}
	return nil
}

// attributes applies the token's fingerprint, the tenant, the canary and
// the flags of the migration ("f" to "p").
func (p refPatch) attributes(rec *Record) {
	w := p.w
	p.setStr(&rec.Fingerprint, w.Fingerprint, "f")
	p.setStr(&rec.Tenant, w.Tenant, "tn")
	p.setBool(&rec.Canary, w.Canary, "cy")
	p.setStr(&rec.Verdict, w.Verdict, "vd")
	p.setBool(&rec.Relink, w.Relink, "rl")
	p.setBool(&rec.NoWrite, w.NoWrite, "nw")
	p.setBool(&rec.AlreadyMigrated, w.Already, "am")
	p.setBool(&rec.TokenSent, w.TokenSent, "ts")
	p.setStr(&rec.PlatformKey, w.PlatformKey, "p")
}

// tokenSend applies the token send ("w", "wf"), its time since startMs and
// its fingerprint, by default rec's.
func (p refPatch) tokenSend(rec *Record, startMs int64) {
	w := p.w
	switch {
	case w.SendAt != nil:
		fp := rec.Fingerprint
		switch {
		case strings.HasPrefix(w.SendFP, "="):
			fp = w.SendFP[1:]
		case w.SendFP != "":
			fp = w.SendFP
		}
		rec.TokenSend = &codat.TokenSend{At: time.UnixMilli(startMs + *w.SendAt).UTC(), Fingerprint: fp}
	case p.cleared["w"]:
		rec.TokenSend = nil
	}
}

// outcome applies the key generations, the result, the error and the
// request count ("g", "rs", "ec", "e", "q"); a count left out follows from
// the previous one and rec.Step.
func (p refPatch) outcome(rec *Record) {
	w := p.w
	if w.KeyGen != nil {
		rec.KeyGen = map[codat.Step]int{}
		for s, n := range w.KeyGen {
			rec.KeyGen[codat.Step(decodeCode(stepNames, s))] = n
		}
	} else if p.cleared["g"] {
		rec.KeyGen = nil
	}
	r := string(rec.Result)
	p.setStr(&r, w.Result, "rs")
	rec.Result = Status(r)
	p.setStr(&rec.ErrorClass, w.ErrorClass, "ec")
	p.setStr(&rec.Error, w.Error, "e")
	rec.Requests = impliedRequests(rec.Requests, rec.Step)
	p.setInt(&rec.Requests, w.Requests, "q")
}

// lineDecoder reads a journal's lines in file order, version 1 or 2.
type lineDecoder struct {
	c       *codecState
	handles map[int]*attempt
}

// attempt is a version 2 attempt seen while reading: its latest Record and
// the offset of its first line.
type attempt struct {
	rec     *Record
	start   int64
	startMs int64 // the time of its first line
}

func newLineDecoder(c *codecState) *lineDecoder {
	return &lineDecoder{c: c, handles: map[int]*attempt{}}
}

// decode returns the Record of the line b at offset off and the offset of
// the first line of its attempt (off itself for a version 1 line or an
// event).
func (d *lineDecoder) decode(b []byte, off int64) (*Record, int64, error) {
	b = bytes.TrimRight(b, "\n")
	if len(b) > 0 && b[0] == '[' {
		h, step, w, err := parseRefLine(b)
		if err != nil {
			return nil, 0, err
		}
		var prev *Record
		start, startMs := off, int64(0)
		if w.Ref == "" {
			a, ok := d.handles[h]
			if !ok {
				return nil, 0, fmt.Errorf("bulk: journal: a line continues an attempt that did not start")
			}
			prev, start, startMs = a.rec, a.start, a.startMs
		}
		d.c.note(off, nil, w)
		rec, err := d.c.apply(step, w, prev, off, startMs)
		if err != nil {
			return nil, 0, err
		}
		if prev == nil {
			startMs = rec.Time.UnixMilli()
		}
		d.handles[h] = &attempt{rec: rec, start: start, startMs: startMs}
		return rec, start, nil
	}
	var rec Record
	if err := json.Unmarshal(b, &rec); err != nil {
		return nil, 0, err
	}
	d.c.note(off, &rec, nil)
	return &rec, off, nil
}

// decodeAttempt decodes the latest Record of the attempt whose lines run
// from the start of buf (at file offset off) to its end, reading only
// the lines of that attempt. It does not change c.
func (c *codecState) decodeAttempt(buf []byte, off int64) (*Record, error) {
	nl := bytes.IndexByte(buf, '\n')
	if nl < 0 {
		nl = len(buf)
	}
	first := buf[:nl]
	if len(first) == 0 || first[0] != '[' {
		var rec Record
		if err := json.Unmarshal(first, &rec); err != nil {
			return nil, err
		}
		return &rec, nil
	}
	h, step, w, err := parseRefLine(first)
	if err != nil {
		return nil, err
	}
	rec, err := c.apply(step, w, nil, off, 0)
	if err != nil {
		return nil, err
	}
	startMs := rec.Time.UnixMilli()
	prefix := []byte("[" + strconv.Itoa(h) + ",")
	pos := nl + 1
	for pos < len(buf) {
		end := bytes.IndexByte(buf[pos:], '\n')
		if end < 0 {
			end = len(buf) - pos
		}
		line := buf[pos : pos+end]
		if bytes.HasPrefix(line, prefix) {
			_, step, w, err := parseRefLine(line)
			if err != nil {
				return nil, err
			}
			if w.Ref != "" {
				return nil, fmt.Errorf("bulk: journal: an attempt's lines overlap another's")
			}
			if rec, err = c.apply(step, w, rec, off+int64(pos), startMs); err != nil {
				return nil, err
			}
		}
		pos += end + 1
	}
	return rec, nil
}
