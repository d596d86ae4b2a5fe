package codattest

import (
	"bytes"
	"encoding/json"
	"net/http"
	"sort"
	"strings"
	"time"
)

func linkURL(co, cn uid) string {
	return "https://link-api.codat.io/companies/" + co.String() + "/connections/" + cn.String() + "/start"
}

// renderConnectionLocked turns a record into its wire form.
func (s *Server) renderConnectionLocked(cn *connection, now time.Time) Connection {
	in := cn.integ.wire
	w := Connection{ID: cn.id.String(), IntegrationID: in.IntegrationID, IntegrationKey: in.Key,
		SourceID: in.SourceID, SourceType: in.SourceType, PlatformName: in.Name,
		LinkURL: linkURL(cn.co.id, cn.id), Status: cn.status, Created: wireTime(cn.created),
		CompanyID: cn.co.id.String(), AuthFingerprint: cn.authFP, AuthAttempts: cn.authCount}
	if last := s.timing.lastSync(cn.co, cn, now); !last.IsZero() {
		w.LastSync = wireTime(last)
	}
	if len(cn.errors) > 0 {
		w.DataConnectionErrors = append([]DataConnectionError(nil), cn.errors...)
	}
	if len(cn.authFields) > 0 {
		w.AuthFields = append([]string(nil), cn.authFields...)
	}
	return w
}

// connectionLocked finds {companyId}/{connectionId}; the caller holds the lock.
func (s *Server) connectionLocked(c *call) (*connection, *reply) {
	co, bad := s.companyLocked(c)
	if bad != nil {
		return nil, bad
	}
	if id, ok := parseUID(c.params[1]); ok {
		if cn := co.connection(id); cn != nil {
			return cn, nil
		}
	}
	r := s.errorReply(http.StatusNotFound, "Data connection "+c.params[1]+" not found", nil)
	return nil, &r
}

// POST /companies/{companyId}/connections {"platformKey": "gbol"}: 200 with a
// PendingAuth connection.
func (s *Server) createConnection(c *call) reply {
	var b struct {
		PlatformKey *string `json:"platformKey"`
	}
	if err := decodeObject(c.body, &b); err != nil {
		return s.errorReply(http.StatusBadRequest, err.Error(), nil)
	}
	s.st.mu.Lock()
	defer s.st.mu.Unlock()
	co, bad := s.companyLocked(c)
	if bad != nil {
		return *bad
	}
	if b.PlatformKey == nil || !isPlatformKey(*b.PlatformKey) {
		return s.errorReply(http.StatusBadRequest, "platformKey must be four lowercase letters", &errorValidation{
			Errors:   []errorValidationItem{validationItem("platformKey", "platformKey must match [a-z]{4}", "Pattern")},
			Warnings: []errorValidationItem{}})
	}
	in := s.cfg.integrations[*b.PlatformKey]
	if in == nil {
		return s.errorReply(http.StatusNotFound, "Integration "+*b.PlatformKey+" not found", nil)
	}
	if !in.wire.Enabled {
		return s.errorReply(http.StatusBadRequest, "Integration "+*b.PlatformKey+" is not enabled", nil)
	}
	cn := &connection{id: s.ids.next(), co: co, integ: in, status: StatusPendingAuth, created: c.now}
	co.conns = append(co.conns, cn)
	s.st.conns++
	return jsonReply(http.StatusOK, s.renderConnectionLocked(cn, c.now))
}

// GET /companies/{companyId}/connections/{connectionId}
func (s *Server) getConnection(c *call) reply {
	s.st.mu.RLock()
	defer s.st.mu.RUnlock()
	cn, bad := s.connectionLocked(c)
	if bad != nil {
		return *bad
	}
	return jsonReply(http.StatusOK, s.renderConnectionLocked(cn, c.now))
}

// DELETE /companies/{companyId}/connections/{connectionId}: 200, no body.
func (s *Server) deleteConnection(c *call) reply {
	s.st.mu.Lock()
	defer s.st.mu.Unlock()
	cn, bad := s.connectionLocked(c)
	if bad != nil {
		return *bad
	}
	s.st.deleteConnectionLocked(cn)
	return reply{status: http.StatusOK}
}

// PATCH /companies/{companyId}/connections/{connectionId} {"status":"Unlinked"}:
// only a Linked connection can be unlinked.
func (s *Server) unlinkConnection(c *call) reply {
	var b struct {
		Status *string `json:"status"`
	}
	dec := json.NewDecoder(bytes.NewReader(c.body))
	dec.DisallowUnknownFields()
	t := bytes.TrimSpace(c.body)
	if len(t) == 0 || t[0] != '{' || dec.Decode(&b) != nil {
		return s.errorReply(http.StatusBadRequest, `The body must be {"status": "Unlinked"}`, nil)
	}
	s.st.mu.Lock()
	defer s.st.mu.Unlock()
	cn, bad := s.connectionLocked(c)
	if bad != nil {
		return *bad
	}
	if b.Status == nil || *b.Status != StatusUnlinked {
		return s.errorReply(http.StatusBadRequest, `The only status a connection can be set to is "Unlinked"`, nil)
	}
	if cn.status != StatusLinked {
		return s.errorReply(http.StatusBadRequest, "Only Linked data connections can be unlinked; this one is "+cn.status, nil)
	}
	s.st.setStatusLocked(cn, StatusUnlinked)
	return jsonReply(http.StatusOK, s.renderConnectionLocked(cn, c.now))
}

// parseAuthBody decodes a flat JSON object of strings. Problems name the
// field, never its value.
func parseAuthBody(body []byte) (map[string]string, []errorValidationItem, string) {
	t := bytes.TrimSpace(body)
	if len(t) == 0 || t[0] != '{' {
		return nil, nil, "The authorization body must be a JSON object of strings"
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(t, &raw); err != nil {
		return nil, nil, "The authorization body is not valid JSON"
	}
	if len(raw) == 0 {
		return nil, nil, "The authorization body has no fields"
	}
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make(map[string]string, len(raw))
	var errs []errorValidationItem
	for _, k := range keys {
		v := bytes.TrimSpace(raw[k])
		var str string
		if len(v) == 0 || v[0] != '"' || json.Unmarshal(v, &str) != nil {
			errs = append(errs, validationItem(k, "Every authorization value must be a string", "Type"))
			continue
		}
		out[k] = str
	}
	if len(errs) > 0 {
		return nil, errs, "The authorization body is not valid"
	}
	return out, nil, ""
}

// rejects reports whether the platform refuses the credentials in body.
func (s *Server) rejects(in *integration, body map[string]string) bool {
	if in.reject {
		return true
	}
	for _, v := range body {
		if s.cfg.rejectedTokens[v] {
			return true
		}
	}
	for _, f := range s.cfg.rejecters {
		if f(in.wire.Key, body) {
			return true
		}
	}
	return false
}

// PUT /companies/{companyId}/connections/{connectionId}/authorization: a flat
// string→string body. Accepted → Linked; rejected by the platform →
// Deauthorized with an Active dataConnectionErrors entry (200 either way;
// the caller reads the status). Missing required fields or non-string values
// → 400.
func (s *Server) updateAuthorization(c *call) reply {
	s.st.mu.RLock()
	cn, bad := s.connectionLocked(c)
	var in *integration
	if cn != nil {
		in = cn.integ
	}
	s.st.mu.RUnlock()
	if bad != nil {
		return *bad
	}
	body, verrs, msg := parseAuthBody(c.body)
	if msg != "" {
		var v *errorValidation
		if len(verrs) > 0 {
			v = &errorValidation{Errors: verrs, Warnings: []errorValidationItem{}}
		}
		return s.errorReply(http.StatusBadRequest, msg, v)
	}
	var missing []errorValidationItem
	for _, f := range in.required {
		if strings.TrimSpace(body[f]) == "" {
			missing = append(missing, validationItem(f, "Field "+f+" is required for "+in.wire.Name, "Required"))
		}
	}
	if len(missing) > 0 {
		return s.errorReply(http.StatusBadRequest, "The authorization body is missing required fields",
			&errorValidation{Errors: missing, Warnings: []errorValidationItem{}})
	}
	rejected := s.rejects(in, body)
	fp := Fingerprint(body)
	fields := make([]string, 0, len(body))
	for k := range body {
		fields = append(fields, k)
	}
	sort.Strings(fields)
	now := s.clock.Now()

	s.st.mu.Lock()
	defer s.st.mu.Unlock()
	cn, bad = s.connectionLocked(c) // it may have gone while the lock was free
	if bad != nil {
		return *bad
	}
	cn.authCount++
	cn.authFP = fp
	if rejected {
		s.st.setStatusLocked(cn, StatusDeauthorized)
		cn.errors = append(cn.errors, DataConnectionError{StatusCode: "401", StatusText: "Unauthorized",
			ErrorMessage: "The platform rejected the supplied credentials", ErroredOnUtc: wireTime(now), Status: "Active"})
	} else {
		s.st.setStatusLocked(cn, StatusLinked)
		cn.authFields = fields
		for i := range cn.errors {
			if cn.errors[i].Status == "Active" {
				cn.errors[i].Status = "Resolved"
				cn.errors[i].ResolvedOnUtc = wireTime(now)
			}
		}
	}
	return jsonReply(http.StatusOK, s.renderConnectionLocked(cn, now))
}

var connectionFields = map[string]bool{"id": true, "integrationId": true, "integrationKey": true,
	"sourceId": true, "sourceType": true, "platformName": true, "status": true, "created": true,
	"lastSync": true, "linkUrl": true}

func (s *Server) connectionField(now time.Time) fieldFunc[*connection] {
	return func(cn *connection, f string) (string, bool) {
		in := cn.integ.wire
		switch f {
		case "id":
			return cn.id.String(), true
		case "integrationId":
			return in.IntegrationID, true
		case "integrationKey":
			return in.Key, true
		case "sourceId":
			return in.SourceID, true
		case "sourceType":
			return in.SourceType, true
		case "platformName":
			return in.Name, true
		case "status":
			return cn.status, true
		case "created":
			return wireTime(cn.created), true
		case "linkUrl":
			return linkURL(cn.co.id, cn.id), true
		case "lastSync":
			if t := s.timing.lastSync(cn.co, cn, now); !t.IsZero() {
				return wireTime(t), true
			}
		}
		return "", false
	}
}

// GET /companies/{companyId}/connections
func (s *Server) listConnections(c *call) reply {
	p, qe, ord, bad := s.listSetup(c, connectionFields)
	if bad != nil {
		return *bad
	}
	field := s.connectionField(c.now)
	s.st.mu.RLock()
	defer s.st.mu.RUnlock()
	co, nf := s.companyLocked(c)
	if nf != nil {
		return *nf
	}
	filtered := make([]*connection, 0, len(co.conns))
	for _, cn := range co.conns {
		if evalExpr(qe, cn, field) {
			filtered = append(filtered, cn)
		}
	}
	if ord != nil {
		sortBy(filtered, *ord, field)
	}
	start, end := p.window(len(filtered))
	out := make([]Connection, 0, end-start)
	for _, cn := range filtered[start:end] {
		out = append(out, s.renderConnectionLocked(cn, c.now))
	}
	return jsonReply(http.StatusOK, makePage(c.r.URL.Path, p, out, len(filtered)))
}

// listSetup parses the common list parameters for a resource with the given
// query/orderBy fields.
func (s *Server) listSetup(c *call, fields map[string]bool) (listParams, *expr, *orderSpec, *reply) {
	fail := func(msg string) (listParams, *expr, *orderSpec, *reply) {
		r := s.errorReply(http.StatusBadRequest, msg, nil)
		return listParams{}, nil, nil, &r
	}
	p, err := parseListParams(c.r.URL.Query(), false)
	if err != nil {
		return fail(err.Error())
	}
	qe, err := parseExpr(p.query)
	if err == nil {
		err = checkFields(qe, fields)
	}
	if err != nil {
		return fail("Malformed query: " + err.Error())
	}
	var ord *orderSpec
	if p.hasO && strings.TrimSpace(p.orderBy) != "" {
		o, err := parseOrderBy(p.orderBy, fields)
		if err != nil {
			return fail("Malformed orderBy: " + err.Error())
		}
		ord = &o
	}
	return p, qe, ord, nil
}
