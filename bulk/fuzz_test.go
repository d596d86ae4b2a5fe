package bulk

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
)

// drain reads every record of data and checks the reader's invariants: no
// panic, increasing line numbers, and no error or checked-row error that
// contains secret.
func drain(t *testing.T, data []byte, f Format, secret string) {
	rd, err := NewReader(bytes.NewReader(data), f)
	if err != nil {
		if secret != "" && strings.Contains(err.Error(), secret) {
			t.Fatalf("a reader error holds the token")
		}
		return
	}
	reg := testRegistry()
	last := 0
	for i := 0; ; i++ {
		row, err := rd.Next()
		if errors.Is(err, io.EOF) {
			return
		}
		var re *RowError
		switch {
		case errors.As(err, &re):
			if re.Line <= last {
				t.Fatalf("line %d after line %d", re.Line, last)
			}
			last = re.Line
			if secret != "" && strings.Contains(re.Error(), secret) {
				t.Fatalf("a row error holds the token")
			}
			continue
		case err != nil:
			if secret != "" && strings.Contains(err.Error(), secret) {
				t.Fatalf("a reader error holds the token")
			}
			return
		}
		if row.Line <= last {
			t.Fatalf("line %d after line %d", row.Line, last)
		}
		last = row.Line
		if _, err := checkRow(reg, row); err != nil && secret != "" && strings.Contains(err.Error(), secret) {
			t.Fatalf("a validation error holds the token")
		}
	}
}

// usableSecret reports whether secret can stand for a token in a fuzz case:
// long enough to be recognised and found nowhere else in the input.
func usableSecret(secret string, others ...string) bool {
	if len(secret) < 8 {
		return false
	}
	for _, o := range others {
		if strings.Contains(o, secret) {
			return false
		}
	}
	return true
}

func FuzzCSV(f *testing.F) {
	f.Add([]byte("crm-9,X,qhyg,1,a,b\n"), "crm-1", "Acme", "qhyg", "123", "tok-SECRET-value-1")
	f.Add([]byte("\"unterminated\n,,,\n"), "r", "N", "Xero", "abc", "tok-SECRET-value-2")
	f.Add([]byte("a,b\r\nc\"d,e\n\n"), "r 2", "", "nope", "", "eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjF9.sig")
	f.Add([]byte{0xef, 0xbb, 0xbf, ',', '\n'}, "=r", "=N", "qhyg", "999999999999", "tok-SECRET-value-4")
	f.Fuzz(func(t *testing.T, tail []byte, ref, name, platform, realm, secret string) {
		// Arbitrary bytes: no panic, lines increase.
		drain(t, tail, FormatCSV, "")
		if !usableSecret(secret, string(tail), ref, name, platform, realm, csvHeader) {
			return
		}
		var b bytes.Buffer
		b.WriteString(csvHeader)
		w := csv.NewWriter(&b)
		_ = w.Write([]string{ref, name, platform, realm, secret, "refresh-" + secret})
		w.Flush()
		b.Write(tail)
		drain(t, b.Bytes(), FormatCSV, secret)
	})
}

func FuzzJSONL(f *testing.F) {
	f.Add([]byte(`{"ref":1}`), "crm-1", "Acme", "qhyg", "accessToken", "tok-SECRET-value-1")
	f.Add([]byte("{\"ref\":\"a\",\"authorization\":{\"x\":[1]}}\n\n["), "r", "N", "Xero", "tenantId", "tok-SECRET-value-2")
	f.Add([]byte("\ufeff{}\r\n{\"company\":null}"), "r 2", "", "nope", "realmId", "eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjF9.sig")
	f.Add([]byte(`{"authorization":{"a":"b"`), "r", "n", "qhyg", "bad key \"", "tok-SECRET-value-4")
	f.Fuzz(func(t *testing.T, head []byte, ref, name, platform, key, secret string) {
		drain(t, head, FormatJSONL, "")
		if !usableSecret(secret, string(head), ref, name, platform, key) {
			return
		}
		line, err := json.Marshal(map[string]any{"ref": ref, "company": map[string]any{"name": name}, "platform": platform,
			"authorization": map[string]string{key: secret, "refreshToken": "r-" + secret}})
		if err != nil {
			return
		}
		data := append(append(append([]byte(nil), head...), '\n'), line...)
		drain(t, data, FormatJSONL, secret)
	})
}
