package codattest

import (
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// Paging limits from the contract's page and pageSize parameters.
const (
	defaultPageSize = 100
	maxPageSize     = 5000
)

// cond is one "field op value" term of Codat's query language.
type cond struct {
	field, op, value string
}

// expr is a parsed query: a term, or an && / || of sub-expressions.
type expr struct {
	term *cond
	and  bool // for a node with subs: true for &&, false for ||
	subs []*expr
}

// parseExpr parses Codat's query language: terms "field op value" with op
// one of = != ~ > >= < <=, joined by && and ||, with && binding tighter and
// curly braces grouping ({a > 1 || a < 0} && b = c). Spaces around fields,
// operators and values are ignored. An empty string is a nil expression,
// which every record satisfies.
func parseExpr(s string) (*expr, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	p := &exprParser{s: s}
	e, err := p.or()
	if err != nil {
		return nil, err
	}
	if p.i < len(p.s) {
		return nil, fmt.Errorf("unexpected %q", p.s[p.i:])
	}
	return e, nil
}

type exprParser struct {
	s string
	i int
}

func (p *exprParser) skip() {
	for p.i < len(p.s) && p.s[p.i] == ' ' {
		p.i++
	}
}

func (p *exprParser) or() (*expr, error) {
	return p.list("||", false, p.and)
}

func (p *exprParser) and() (*expr, error) {
	return p.list("&&", true, p.primary)
}

func (p *exprParser) list(sep string, isAnd bool, next func() (*expr, error)) (*expr, error) {
	first, err := next()
	if err != nil {
		return nil, err
	}
	subs := []*expr{first}
	for {
		p.skip()
		if !strings.HasPrefix(p.s[p.i:], sep) {
			break
		}
		p.i += len(sep)
		e, err := next()
		if err != nil {
			return nil, err
		}
		subs = append(subs, e)
	}
	if len(subs) == 1 {
		return first, nil
	}
	return &expr{and: isAnd, subs: subs}, nil
}

func (p *exprParser) primary() (*expr, error) {
	p.skip()
	if p.i < len(p.s) && p.s[p.i] == '{' {
		p.i++
		e, err := p.or()
		if err != nil {
			return nil, err
		}
		p.skip()
		if p.i >= len(p.s) || p.s[p.i] != '}' {
			return nil, errors.New("unbalanced braces")
		}
		p.i++
		return e, nil
	}
	// A term runs to the next &&, || or closing brace.
	end := len(p.s)
	for j := p.i; j < len(p.s); j++ {
		if p.s[j] == '}' || strings.HasPrefix(p.s[j:], "&&") || strings.HasPrefix(p.s[j:], "||") {
			end = j
			break
		}
	}
	c, err := parseCond(p.s[p.i:end])
	if err != nil {
		return nil, err
	}
	p.i = end
	return &expr{term: &c}, nil
}

func parseCond(t string) (cond, error) {
	t = strings.TrimSpace(t)
	if t == "" {
		return cond{}, errors.New("empty term")
	}
	for i := 0; i < len(t); i++ {
		var op string
		switch t[i] {
		case '!':
			if i+1 < len(t) && t[i+1] == '=' {
				op = "!="
			}
		case '~', '=':
			op = t[i : i+1]
		case '>', '<':
			op = t[i : i+1]
			if i+1 < len(t) && t[i+1] == '=' {
				op += "="
			}
		case '{':
			return cond{}, fmt.Errorf("term %q is malformed", t)
		}
		if op == "" {
			continue
		}
		field := strings.TrimSpace(t[:i])
		value := strings.TrimSpace(t[i+len(op):])
		if field == "" {
			return cond{}, fmt.Errorf("term %q has no field", t)
		}
		return cond{field: field, op: op, value: value}, nil
	}
	return cond{}, fmt.Errorf("term %q has no operator", t)
}

// match evaluates c against a record's field value; ok is false when the
// record has no such field (only != is then true). = and != compare exactly;
// ~ (contains) ignores case; the ordering operators compare numbers
// numerically and anything else (ISO dates included) as strings.
func (c cond) match(v string, ok bool) bool {
	if !ok {
		return c.op == "!="
	}
	switch c.op {
	case "=":
		return v == c.value
	case "!=":
		return v != c.value
	case "~":
		return strings.Contains(strings.ToLower(v), strings.ToLower(c.value))
	}
	a, errA := strconv.ParseFloat(v, 64)
	b, errB := strconv.ParseFloat(c.value, 64)
	cmp := 0
	if errA == nil && errB == nil {
		switch {
		case a < b:
			cmp = -1
		case a > b:
			cmp = 1
		}
	} else {
		cmp = strings.Compare(v, c.value)
	}
	switch c.op {
	case ">":
		return cmp > 0
	case ">=":
		return cmp >= 0
	case "<":
		return cmp < 0
	case "<=":
		return cmp <= 0
	}
	return false
}

// fieldFunc returns a record's value for a query field.
type fieldFunc[T any] func(rec T, field string) (string, bool)

// evalExpr reports whether rec satisfies e (a nil expression is true).
func evalExpr[T any](e *expr, rec T, f fieldFunc[T]) bool {
	if e == nil {
		return true
	}
	if e.term != nil {
		v, ok := f(rec, e.term.field)
		return e.term.match(v, ok)
	}
	for _, s := range e.subs {
		r := evalExpr(s, rec, f)
		if e.and && !r {
			return false
		}
		if !e.and && r {
			return true
		}
	}
	return e.and
}

// terms calls fn for every term of e.
func (e *expr) terms(fn func(c cond)) {
	if e == nil {
		return
	}
	if e.term != nil {
		fn(*e.term)
		return
	}
	for _, s := range e.subs {
		s.terms(fn)
	}
}

// equalities returns the field=value terms that every match must satisfy
// (the top-level && terms), for index lookups.
func (e *expr) equalities() []cond {
	if e == nil {
		return nil
	}
	if e.term != nil {
		if e.term.op == "=" {
			return []cond{*e.term}
		}
		return nil
	}
	if !e.and {
		return nil
	}
	var out []cond
	for _, s := range e.subs {
		out = append(out, s.equalities()...)
	}
	return out
}

// checkFields rejects a query naming a field the resource does not have.
func checkFields(e *expr, known map[string]bool) error {
	var err error
	e.terms(func(c cond) {
		if err == nil && !known[c.field] {
			err = fmt.Errorf("unknown query field %q", c.field)
		}
	})
	return err
}

// listParams are the common list query parameters.
type listParams struct {
	page, pageSize   int
	query, orderBy   string
	tags             string
	hasQ, hasO, hasT bool
}

// parseListParams reads page, pageSize, query, orderBy (and tags when
// allowTags) as the contract defines them: page ≥ 1 (default 1), pageSize in
// 1..5000 (default 100).
func parseListParams(q url.Values, allowTags bool) (listParams, error) {
	p := listParams{page: 1, pageSize: defaultPageSize}
	if v, ok := q["page"]; ok {
		n, err := strconv.Atoi(v[0])
		if err != nil || n < 1 {
			return p, errors.New("page must be an integer of at least 1")
		}
		p.page = n
	}
	if v, ok := q["pageSize"]; ok {
		n, err := strconv.Atoi(v[0])
		if err != nil || n < 1 || n > maxPageSize {
			return p, fmt.Errorf("pageSize must be an integer from 1 to %d", maxPageSize)
		}
		p.pageSize = n
	}
	if v, ok := q["query"]; ok {
		p.query, p.hasQ = v[0], true
	}
	if v, ok := q["orderBy"]; ok {
		p.orderBy, p.hasO = v[0], true
	}
	if v, ok := q["tags"]; ok && allowTags {
		p.tags, p.hasT = v[0], true
	}
	return p, nil
}

// window returns the [start, end) bounds of the page within total results.
func (p listParams) window(total int) (int, int) {
	start := (p.page - 1) * p.pageSize
	if start > total || start < 0 {
		start = total
	}
	end := start + p.pageSize
	if end > total {
		end = total
	}
	return start, end
}

// page builds the envelope for results out of total, with _links for path.
func makePage[T any](path string, p listParams, results []T, total int) pageBody[T] {
	if results == nil {
		results = []T{}
	}
	href := func(n int) *halRef {
		v := url.Values{}
		v.Set("page", strconv.Itoa(n))
		v.Set("pageSize", strconv.Itoa(p.pageSize))
		if p.hasQ {
			v.Set("query", p.query)
		}
		if p.hasO {
			v.Set("orderBy", p.orderBy)
		}
		if p.hasT {
			v.Set("tags", p.tags)
		}
		return &halRef{Href: path + "?" + v.Encode()}
	}
	pg := pageBody[T]{Results: results, PageNumber: p.page, PageSize: p.pageSize, TotalResults: total,
		Links: pagingLinks{Self: halRef{Href: path}, Current: *href(p.page)}}
	if p.page*p.pageSize < total {
		pg.Links.Next = href(p.page + 1)
	}
	if p.page > 1 {
		pg.Links.Previous = href(p.page - 1)
	}
	return pg
}

// orderSpec is a parsed orderBy: a field and a direction.
type orderSpec struct {
	field string
	desc  bool
}

func parseOrderBy(s string, known map[string]bool) (orderSpec, error) {
	s = strings.TrimSpace(s)
	o := orderSpec{}
	if strings.HasPrefix(s, "-") {
		o.desc = true
		s = s[1:]
	}
	if !known[s] {
		return o, fmt.Errorf("cannot order by %q", s)
	}
	o.field = s
	return o, nil
}

// sortBy sorts recs stably by the field, keeping creation order for ties.
func sortBy[T any](recs []T, o orderSpec, f fieldFunc[T]) {
	sort.SliceStable(recs, func(i, j int) bool {
		a, _ := f(recs[i], o.field)
		b, _ := f(recs[j], o.field)
		if o.desc {
			return a > b
		}
		return a < b
	})
}
