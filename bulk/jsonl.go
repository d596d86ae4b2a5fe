package bulk

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/codat-migrate/codat"
)

type jsonlReader struct {
	r      *bufio.Reader
	ignore map[string]bool // authorization keys to leave out (normColumn form)
	line   int
	eof    bool
}

// readLine returns the next physical line without its newline. A line longer
// than MaxRecordBytes is skipped and reported with tooLong.
func (j *jsonlReader) readLine() (line []byte, tooLong bool, err error) {
	var buf []byte
	for {
		chunk, err := j.r.ReadSlice('\n')
		switch {
		case err == nil:
			if !tooLong {
				buf = append(buf, chunk[:len(chunk)-1]...)
			}
			if len(buf) > MaxRecordBytes {
				return nil, true, nil
			}
			return buf, tooLong, nil
		case errors.Is(err, bufio.ErrBufferFull):
			if !tooLong {
				buf = append(buf, chunk...)
				if len(buf) > MaxRecordBytes {
					tooLong, buf = true, nil
				}
			}
		case errors.Is(err, io.EOF):
			if len(chunk) == 0 && len(buf) == 0 && !tooLong {
				return nil, false, io.EOF
			}
			if !tooLong {
				buf = append(buf, chunk...)
			}
			j.eof = true
			if len(buf) > MaxRecordBytes {
				return nil, true, nil
			}
			return buf, tooLong, nil
		default:
			return nil, false, fmt.Errorf("read JSONL: %w", err)
		}
	}
}

func (j *jsonlReader) next() (Row, error) {
	for {
		if j.eof {
			return Row{}, io.EOF
		}
		raw, tooLong, err := j.readLine()
		if err != nil {
			return Row{}, err
		}
		j.line++
		if tooLong {
			return Row{}, &RowError{Line: j.line, Reason: fmt.Sprintf("line is longer than %d bytes", MaxRecordBytes)}
		}
		raw = bytes.TrimSpace(raw)
		if len(raw) == 0 {
			continue
		}
		if !utf8.Valid(raw) {
			// Decoding would turn the bad bytes into U+FFFD silently.
			return Row{}, notUTF8(j.line)
		}
		return parseJSONLRecord(j.line, raw, j.ignore)
	}
}

// jsonType names the JSON type of a raw value, for messages that must not
// quote the value.
func jsonType(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '"':
		return "a string"
	case '{':
		return "an object"
	case '[':
		return "an array"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

// jsonString decodes raw as a JSON string; what names the field in the error.
func jsonString(raw json.RawMessage, what string) (string, error) {
	if t := jsonType(raw); t != "a string" {
		return "", fmt.Errorf("%s must be a string, not %s", what, t)
	}
	if len(raw) > MaxFieldBytes+2 {
		return "", fmt.Errorf("%s is longer than %d bytes", what, MaxFieldBytes)
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", fmt.Errorf("%s is not a valid JSON string", what)
	}
	return strings.TrimSpace(s), nil
}

// jsonObject decodes raw as an object of raw values.
func jsonObject(raw json.RawMessage, what string) (map[string]json.RawMessage, error) {
	if t := jsonType(raw); t != "an object" {
		return nil, fmt.Errorf("%s must be an object, not %s", what, t)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("%s is not a valid JSON object", what)
	}
	return m, nil
}

// syntaxReason describes a JSON decoding error by position only: the
// standard library's messages quote the offending character, which may be
// part of a token.
func syntaxReason(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("invalid JSON near byte %d", se.Offset)
	}
	return "invalid JSON"
}

// parseJSONLRecord reads one JSONL line into a Row. A line that is not a
// JSON object is a RowError; so is one with any field of the wrong type or
// size, or without authorization: the error lists every such problem, by
// field name and never by value.
func parseJSONLRecord(line int, raw []byte, ignore map[string]bool) (Row, error) {
	var top map[string]json.RawMessage
	if t := jsonType(raw); t != "an object" {
		return Row{}, &RowError{Line: line, Reason: fmt.Sprintf("line is %s, not a JSON object", t)}
	}
	if !json.Valid(raw) {
		var v any
		return Row{}, &RowError{Line: line, Reason: syntaxReason(json.Unmarshal(raw, &v))}
	}
	if err := json.Unmarshal(raw, &top); err != nil {
		return Row{}, &RowError{Line: line, Reason: syntaxReason(err)}
	}
	row := Row{Line: line}
	var p jsonlProblems
	if v, ok := top["ref"]; ok {
		row.Ref = p.str(v, "ref")
	}
	if v, ok := top["platform"]; ok {
		row.Platform = p.str(v, "platform")
	}
	if v, ok := top["company"]; ok {
		p.company(v, &row)
	}
	if v, ok := top["authorization"]; ok {
		row.Fields = p.authorization(v, ignore)
	} else {
		p = append(p, "authorization is missing")
	}
	if len(p) > 0 {
		return Row{}, &RowError{Line: line, Ref: row.Ref, CompanyName: row.CompanyName, Platform: row.Platform,
			Reason: strings.Join(p, "; ")}
	}
	return row, nil
}

// jsonlProblems collects what is wrong with a JSONL record, in field order.
type jsonlProblems []string

func (p *jsonlProblems) add(err error) {
	if err != nil {
		*p = append(*p, err.Error())
	}
}

func (p *jsonlProblems) addf(format string, args ...any) {
	*p = append(*p, fmt.Sprintf(format, args...))
}

// str decodes raw as a string; what names the field.
func (p *jsonlProblems) str(raw json.RawMessage, what string) string {
	s, err := jsonString(raw, what)
	p.add(err)
	return s
}

// company reads the company object's name, description and tags into row;
// a null description or tags is absent.
func (p *jsonlProblems) company(raw json.RawMessage, row *Row) {
	co, err := jsonObject(raw, "company")
	p.add(err)
	if v, ok := co["name"]; ok {
		row.CompanyName = p.str(v, "company.name")
	}
	if v, ok := co["description"]; ok && jsonType(v) != "null" {
		row.Description = p.str(v, "company.description")
	}
	if v, ok := co["tags"]; ok && jsonType(v) != "null" {
		row.Tags = p.tags(v)
	}
}

// tags reads company.tags, an object of strings; nil when it has none that
// is valid.
func (p *jsonlProblems) tags(raw json.RawMessage) map[string]string {
	tags, err := jsonObject(raw, "company.tags")
	p.add(err)
	var out map[string]string
	for _, k := range sortedKeys(tags) {
		s, err := jsonString(tags[k], "company.tags."+safeName(k))
		if err != nil {
			p.add(err)
			continue
		}
		if out == nil {
			out = map[string]string{}
		}
		out[k] = s
	}
	return out
}

// authorization reads the authorization object, leaving out the keys in
// ignore (normColumn form) and the null or blank values.
func (p *jsonlProblems) authorization(raw json.RawMessage, ignore map[string]bool) map[string]codat.Secret {
	auth, err := jsonObject(raw, "authorization")
	p.add(err)
	fields := make(map[string]codat.Secret, len(auth))
	for _, k := range sortedKeys(auth) {
		if ignore[normColumn(k)] {
			continue
		}
		if s, ok := p.authField(k, auth[k]); ok {
			fields[k] = s
		}
	}
	return fields
}

// authField reads one authorization value: a string, or a number kept as
// the text it is written as (an epoch expiresAt, a numeric realmId), as in
// a CSV cell. It reports false for a value that is absent (null or blank)
// or wrong.
func (p *jsonlProblems) authField(k string, raw json.RawMessage) (codat.Secret, bool) {
	v := bytes.TrimSpace(raw)
	name := "authorization." + safeName(k)
	switch t := jsonType(v); {
	case t == "null":
		// absent, as a blank CSV cell
	case len(v) > MaxFieldBytes+2:
		p.addf("%s is longer than %d bytes", name, MaxFieldBytes)
	case t == "a number":
		if json.Valid(v) {
			return codat.Secret(string(v)), true
		}
		p.addf("%s is not a valid JSON number", name)
	case t != "a string":
		// Codat's authorization body is an object of strings.
		p.addf("%s must be a string or a number, not %s", name, t)
	default:
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			p.addf("%s is not a valid JSON string", name)
		} else if s = strings.TrimSpace(s); s != "" {
			return codat.Secret(s), true
		}
	}
	return "", false
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
