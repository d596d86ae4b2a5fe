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
	bad := func(reason string) (Row, error) {
		return Row{}, &RowError{Line: line, Ref: row.Ref, CompanyName: row.CompanyName, Platform: row.Platform, Reason: reason}
	}
	var problems []string
	if v, ok := top["ref"]; ok {
		s, err := jsonString(v, "ref")
		if err != nil {
			problems = append(problems, err.Error())
		}
		row.Ref = s
	}
	if v, ok := top["platform"]; ok {
		s, err := jsonString(v, "platform")
		if err != nil {
			problems = append(problems, err.Error())
		}
		row.Platform = s
	}
	if v, ok := top["company"]; ok {
		co, err := jsonObject(v, "company")
		if err != nil {
			problems = append(problems, err.Error())
		}
		if v, ok := co["name"]; ok {
			s, err := jsonString(v, "company.name")
			if err != nil {
				problems = append(problems, err.Error())
			}
			row.CompanyName = s
		}
		if v, ok := co["description"]; ok && jsonType(v) != "null" {
			s, err := jsonString(v, "company.description")
			if err != nil {
				problems = append(problems, err.Error())
			}
			row.Description = s
		}
		if v, ok := co["tags"]; ok && jsonType(v) != "null" {
			tags, err := jsonObject(v, "company.tags")
			if err != nil {
				problems = append(problems, err.Error())
			}
			for _, k := range sortedKeys(tags) {
				s, err := jsonString(tags[k], "company.tags."+safeName(k))
				if err != nil {
					problems = append(problems, err.Error())
					continue
				}
				if row.Tags == nil {
					row.Tags = map[string]string{}
				}
				row.Tags[k] = s
			}
		}
	}
	if v, ok := top["authorization"]; ok {
		auth, err := jsonObject(v, "authorization")
		if err != nil {
			problems = append(problems, err.Error())
		}
		row.Fields = make(map[string]codat.Secret, len(auth))
		for _, k := range sortedKeys(auth) {
			if ignore[normColumn(k)] {
				continue
			}
			v := bytes.TrimSpace(auth[k])
			switch t := jsonType(v); {
			case t == "null":
				continue // absent, as a blank CSV cell
			case len(v) > MaxFieldBytes+2:
				problems = append(problems, fmt.Sprintf("authorization.%s is longer than %d bytes", safeName(k), MaxFieldBytes))
			case t == "a number":
				// An epoch expiresAt, a numeric realmId: the text it is
				// written as, as in a CSV cell.
				if !json.Valid(v) {
					problems = append(problems, fmt.Sprintf("authorization.%s is not a valid JSON number", safeName(k)))
					continue
				}
				row.Fields[k] = codat.Secret(string(v))
			case t != "a string":
				// Codat's authorization body is an object of strings.
				problems = append(problems, fmt.Sprintf("authorization.%s must be a string or a number, not %s", safeName(k), t))
			default:
				var s string
				if err := json.Unmarshal(v, &s); err != nil {
					problems = append(problems, fmt.Sprintf("authorization.%s is not a valid JSON string", safeName(k)))
					continue
				}
				if s = strings.TrimSpace(s); s != "" {
					row.Fields[k] = codat.Secret(s)
				}
			}
		}
	} else {
		problems = append(problems, "authorization is missing")
	}
	if len(problems) > 0 {
		return bad(strings.Join(problems, "; "))
	}
	return row, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
