package contract

import (
	"encoding/json"
	"net/http"

	verrors "github.com/pb33f/libopenapi-validator/errors"
)

// specBug excuses one validation failure that comes from a known defect in
// the published contract, not from the request or response under test.
type specBug struct {
	// why explains the defect.
	why string
	// match reports whether a validation error is this defect.
	match func(req *http.Request, resp *http.Response, e *verrors.ValidationError) bool
}

// knownSpecBugs lists every excused defect. Keep each match as narrow as
// possible: one operation, one field, one kind of failure.
var knownSpecBugs = []specBug{}

// filter drops validation errors that are known contract defects.
func filter(req *http.Request, resp *http.Response, verrs []*verrors.ValidationError) []*verrors.ValidationError {
	var out []*verrors.ValidationError
next:
	for _, e := range verrs {
		for _, b := range knownSpecBugs {
			if b.match(req, resp, e) {
				continue next
			}
		}
		out = append(out, e)
	}
	return out
}

// fixNullable rewrites OpenAPI 3.0's "nullable" keyword into its OpenAPI 3.1
// form before the contract is loaded.
//
// Spec bug: the contract declares "openapi: 3.1.0" but marks nullable
// fields with 3.0's "nullable: true" (description, lastSync,
// dataConnectionErrors, connectionInfo, validation, …). A 3.1 validator
// rejects the keyword, so every schema that holds it fails to compile. The
// rewrite keeps the contract's meaning: {type: T, nullable: true} becomes
// {type: [T, "null"]} (with null added to an enum), and a nullable $ref or
// composition becomes {anyOf: [<schema>, {type: "null"}]}. "nullable: false"
// is dropped. Only a boolean "nullable" is touched, so a property that
// happens to be named "nullable" (an object) is left alone.
func fixNullable(spec []byte) ([]byte, error) {
	var doc any
	if err := json.Unmarshal(spec, &doc); err != nil {
		return nil, err
	}
	return json.Marshal(rewriteNullable(doc))
}

func rewriteNullable(v any) any {
	switch n := v.(type) {
	case []any:
		for i := range n {
			n[i] = rewriteNullable(n[i])
		}
		return n
	case map[string]any:
		for k, child := range n {
			n[k] = rewriteNullable(child)
		}
		flag, ok := n["nullable"].(bool)
		if !ok {
			return n
		}
		delete(n, "nullable")
		if !flag {
			return n
		}
		if t, ok := n["type"]; ok {
			switch tt := t.(type) {
			case string:
				n["type"] = []any{tt, "null"}
			case []any:
				n["type"] = append(tt, "null")
			}
			if enum, ok := n["enum"].([]any); ok {
				n["enum"] = append(enum, nil)
			}
			return n
		}
		_, isRef := n["$ref"]
		_, isAll := n["allOf"]
		_, isAny := n["anyOf"]
		_, isOne := n["oneOf"]
		if !isRef && !isAll && !isAny && !isOne {
			return n // no type constraint: null is already allowed
		}
		inner := map[string]any{}
		outer := map[string]any{}
		for k, val := range n {
			switch k {
			case "$ref", "allOf", "anyOf", "oneOf", "properties", "required", "additionalProperties", "enum":
				inner[k] = val
			default:
				outer[k] = val // annotations: description, title, example…
			}
		}
		outer["anyOf"] = []any{inner, map[string]any{"type": "null"}}
		return outer
	}
	return v
}
