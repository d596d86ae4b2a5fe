package codattest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"
	"unicode/utf8"
)

// Limits on company tags from the contract (Company.tags).
const (
	maxTags        = 10
	maxTagKeyLen   = 27
	maxTagValueLen = 100
)

// companyBody is CompanyRequestBody / CompanyUpdateRequest. Absent and null
// fields decode to nil.
type companyBody struct {
	Name        *string           `json:"name"`
	Description *string           `json:"description"`
	Tags        map[string]string `json:"tags"`
}

// decodeObject decodes a JSON object body into v.
func decodeObject(body []byte, v any) error {
	t := bytes.TrimSpace(body)
	if len(t) == 0 || t[0] != '{' {
		return fmt.Errorf("the request body must be a JSON object")
	}
	if err := json.Unmarshal(t, v); err != nil {
		return fmt.Errorf("the request body is not valid: %s", jsonProblem(err))
	}
	return nil
}

// jsonProblem describes a decoding error without quoting the input.
func jsonProblem(err error) string {
	var te *json.UnmarshalTypeError
	if ok := asType(err, &te); ok {
		return fmt.Sprintf("field %q must be a JSON %s", te.Field, kindName(te.Type.Kind().String()))
	}
	return "malformed JSON"
}

func kindName(k string) string {
	switch k {
	case "ptr", "string":
		return "string"
	case "map", "struct":
		return "object"
	}
	return k
}

func asType[T error](err error, target *T) bool {
	for err != nil {
		if t, ok := err.(T); ok {
			*target = t
			return true
		}
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return false
		}
		err = u.Unwrap()
	}
	return false
}

// nameAllowed is the contract's name pattern: letters, digits, whitespace
// and - ' , & @ . ? !
func nameAllowed(r rune) bool {
	switch {
	case r >= 'A' && r <= 'Z', r >= 'a' && r <= 'z', r >= '0' && r <= '9':
		return true
	}
	return strings.ContainsRune(" \t\n\v\f\r-',&@.?!", r)
}

// cleanName removes the characters the name pattern forbids, as Codat does
// ("Company (Codat[1])" is created as "Company Codat1").
func cleanName(s string) string {
	return strings.Map(func(r rune) rune {
		if nameAllowed(r) {
			return r
		}
		return -1
	}, s)
}

func validationItem(item, msg, validator string) errorValidationItem {
	return errorValidationItem{ItemID: item, Message: msg, ValidatorName: validator}
}

// checkTags applies the contract's tag limits.
func checkTags(tags map[string]string) []errorValidationItem {
	var errs []errorValidationItem
	if len(tags) > maxTags {
		errs = append(errs, validationItem("tags", fmt.Sprintf("A company can have at most %d tags; %d were given", maxTags, len(tags)), "MaxProperties"))
	}
	keys := make([]string, 0, len(tags))
	for k := range tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		n := utf8.RuneCountInString(k)
		switch {
		case n == 0:
			errs = append(errs, validationItem("tags", "Tag keys must not be empty", "Pattern"))
		case n > maxTagKeyLen:
			errs = append(errs, validationItem("tags."+k, fmt.Sprintf("Tag keys must be at most %d characters", maxTagKeyLen), "Pattern"))
		case strings.ContainsAny(k, "\n\r\u0085\u2028\u2029"):
			errs = append(errs, validationItem("tags."+k, "Tag keys must be one line", "Pattern"))
		}
		if utf8.RuneCountInString(tags[k]) > maxTagValueLen {
			errs = append(errs, validationItem("tags."+k, fmt.Sprintf("Tag values must be at most %d characters", maxTagValueLen), "MaxLength"))
		}
	}
	return errs
}

// parseCompanyBody validates a create (requireName) or update body.
func (s *Server) parseCompanyBody(body []byte, requireName bool) (companyBody, *reply) {
	var b companyBody
	if err := decodeObject(body, &b); err != nil {
		r := s.errorReply(http.StatusBadRequest, err.Error(), nil)
		return b, &r
	}
	var errs []errorValidationItem
	if b.Name != nil {
		clean := cleanName(*b.Name)
		if strings.TrimSpace(clean) == "" {
			errs = append(errs, validationItem("name", "Name must contain at least one allowed character (letters, digits, spaces and - ' , & @ . ? !)", "Pattern"))
		}
		b.Name = &clean
	} else if requireName {
		errs = append(errs, validationItem("name", "Name is required", "Required"))
	}
	errs = append(errs, checkTags(b.Tags)...)
	if len(errs) > 0 {
		r := s.errorReply(http.StatusBadRequest, "The company is not valid", &errorValidation{Errors: errs, Warnings: []errorValidationItem{}})
		return b, &r
	}
	return b, nil
}

func copyTags(t map[string]string) map[string]string {
	out := make(map[string]string, len(t))
	for k, v := range t {
		out[k] = v
	}
	return out
}

func (s *Server) notFoundCompany(id string) reply {
	return s.errorReply(http.StatusNotFound, "No company was found with ID "+id, nil)
}

// companyLocked finds the {companyId} of c; the caller holds the store lock.
func (s *Server) companyLocked(c *call) (*company, *reply) {
	id, ok := parseUID(c.params[0])
	if ok {
		if co := s.st.companies[id]; co != nil {
			return co, nil
		}
	}
	r := s.notFoundCompany(c.params[0])
	return nil, &r
}

func companyRedirect(id uid) string { return "https://link.codat.io/company/" + id.String() }

// renderCompanyLocked turns a record into its wire form.
func (s *Server) renderCompanyLocked(co *company, now time.Time) Company {
	w := Company{ID: co.id.String(), Name: co.name, Description: co.description,
		Redirect: companyRedirect(co.id), Created: wireTime(co.created),
		Tags: copyTags(co.tags), DataConnections: make([]Connection, 0, len(co.conns))}
	if last := s.timing.lastSync(co, nil, now); !last.IsZero() {
		w.LastSync = wireTime(last)
	}
	for _, cn := range co.conns {
		w.DataConnections = append(w.DataConnections, s.renderConnectionLocked(cn, now))
	}
	return w
}

// POST /companies
func (s *Server) createCompany(c *call) reply {
	b, bad := s.parseCompanyBody(c.body, true)
	if bad != nil {
		return *bad
	}
	co := &company{id: s.ids.next(), name: *b.Name, tags: copyTags(b.Tags), created: c.now}
	if b.Description != nil {
		co.description = *b.Description
	}
	s.st.mu.Lock()
	defer s.st.mu.Unlock()
	s.st.addCompanyLocked(co)
	return jsonReply(http.StatusOK, s.renderCompanyLocked(co, c.now))
}

// GET /companies/{companyId}
func (s *Server) getCompany(c *call) reply {
	s.st.mu.RLock()
	defer s.st.mu.RUnlock()
	co, bad := s.companyLocked(c)
	if bad != nil {
		return *bad
	}
	return jsonReply(http.StatusOK, s.renderCompanyLocked(co, c.now))
}

// PUT /companies/{companyId}: replaces name, description and tags.
func (s *Server) replaceCompany(c *call) reply { return s.writeCompany(c, true) }

// PATCH /companies/{companyId}: updates the fields given (null = unchanged).
func (s *Server) updateCompany(c *call) reply { return s.writeCompany(c, false) }

// writeCompany applies a PUT (replace: name required, an absent description
// or tags clears it) or a PATCH (only the fields given change).
func (s *Server) writeCompany(c *call, replace bool) reply {
	b, bad := s.parseCompanyBody(c.body, replace)
	s.st.mu.Lock()
	defer s.st.mu.Unlock()
	co, nf := s.companyLocked(c)
	if nf != nil {
		return *nf
	}
	if bad != nil {
		return *bad
	}
	if replace {
		co.description = ""
	}
	if b.Name != nil {
		co.name = *b.Name
	}
	if b.Description != nil {
		co.description = *b.Description
	}
	if replace || b.Tags != nil {
		s.st.setTagsLocked(co, copyTags(b.Tags))
	}
	return jsonReply(http.StatusOK, s.renderCompanyLocked(co, c.now))
}

// DELETE /companies/{companyId}: 204, removing its connections too.
func (s *Server) deleteCompany(c *call) reply {
	s.st.mu.Lock()
	defer s.st.mu.Unlock()
	co, nf := s.companyLocked(c)
	if nf != nil {
		return *nf
	}
	s.st.deleteCompanyLocked(co)
	return reply{status: http.StatusNoContent}
}

var companyFields = map[string]bool{"id": true, "name": true, "description": true, "created": true,
	"lastSync": true, "redirect": true}

func (s *Server) companyField(now time.Time) fieldFunc[*company] {
	return func(co *company, f string) (string, bool) {
		switch f {
		case "id":
			return co.id.String(), true
		case "name":
			return co.name, true
		case "description":
			return co.description, co.description != ""
		case "created":
			return wireTime(co.created), true
		case "redirect":
			return companyRedirect(co.id), true
		case "lastSync":
			if t := s.timing.lastSync(co, nil, now); !t.IsZero() {
				return wireTime(t), true
			}
		}
		return "", false
	}
}

func tagField(co *company, key string) (string, bool) {
	v, ok := co.tags[key]
	return v, ok
}

// GET /companies: page, pageSize, query, orderBy and tags. A tags filter with
// key=value terms is answered from the tag index.
func (s *Server) listCompanies(c *call) reply {
	p, err := parseListParams(c.r.URL.Query(), true)
	if err != nil {
		return s.errorReply(http.StatusBadRequest, err.Error(), nil)
	}
	qe, err := parseExpr(p.query)
	if err == nil {
		err = checkFields(qe, companyFields)
	}
	if err != nil {
		return s.errorReply(http.StatusBadRequest, "Malformed query: "+err.Error(), nil)
	}
	te, err := parseExpr(p.tags)
	if err != nil {
		return s.errorReply(http.StatusBadRequest, "Malformed tags filter: "+err.Error(), nil)
	}
	var ord *orderSpec
	if p.hasO && strings.TrimSpace(p.orderBy) != "" {
		o, err := parseOrderBy(p.orderBy, companyFields)
		if err != nil {
			return s.errorReply(http.StatusBadRequest, "Malformed orderBy: "+err.Error(), nil)
		}
		ord = &o
	}
	field := s.companyField(c.now)

	s.st.mu.RLock()
	defer s.st.mu.RUnlock()
	base := s.st.order
	if eqs := te.equalities(); len(eqs) > 0 {
		var best map[*company]struct{}
		for i, e := range eqs {
			set := s.st.tagIdx[e.field][e.value]
			if i == 0 || len(set) < len(best) {
				best = set
			}
		}
		base = make([]*company, 0, len(best))
		for co := range best {
			base = append(base, co)
		}
		sort.Slice(base, func(i, j int) bool { return base[i].seq < base[j].seq })
	} else if ids := qe.equalities(); len(ids) > 0 {
		for _, e := range ids {
			if e.field == "id" {
				base = nil
				if id, ok := parseUID(e.value); ok && s.st.companies[id] != nil {
					base = []*company{s.st.companies[id]}
				}
				break
			}
		}
	}
	filtered := base
	if te != nil || qe != nil {
		filtered = make([]*company, 0, len(base))
		for _, co := range base {
			if evalExpr(te, co, tagField) && evalExpr(qe, co, field) {
				filtered = append(filtered, co)
			}
		}
	}
	if ord != nil {
		if len(filtered) > 0 && len(s.st.order) > 0 && &filtered[0] == &s.st.order[0] {
			filtered = append([]*company(nil), filtered...)
		}
		sortBy(filtered, *ord, field)
	}
	start, end := p.window(len(filtered))
	out := make([]Company, 0, end-start)
	for _, co := range filtered[start:end] {
		out = append(out, s.renderCompanyLocked(co, c.now))
	}
	return jsonReply(http.StatusOK, makePage(RouteCompanies, p, out, len(filtered)))
}
