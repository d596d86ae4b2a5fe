package codattest

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
)

// benchRequest serves one request in process (no network) and returns the
// status.
func benchRequest(s *Server, method, path string, body []byte) int {
	req := httptest.NewRequest(method, path, bytes.NewReader(body))
	req.Header.Set("Authorization", s.AuthorizationHeader())
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, req)
	return rec.Code
}

func benchServer(b *testing.B, n int) *Server {
	s, err := Start(WithoutQuota(), WithRequestLog(1000), WithClock(NewFakeClock(t0)))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(s.Close)
	for i := 0; i < n; i++ {
		body := []byte(fmt.Sprintf(`{"name":"Company %d","tags":{"migrationRef":"ref-%d"}}`, i, i))
		if st := benchRequest(s, "POST", "/companies", body); st != 200 {
			b.Fatalf("seed: %d", st)
		}
	}
	return s
}

// BenchmarkCreateCompany measures POST /companies with an Idempotency-Key.
func BenchmarkCreateCompany(b *testing.B) {
	s := benchServer(b, 0)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		body := []byte(fmt.Sprintf(`{"name":"Company %d","tags":{"migrationRef":"ref-%d"}}`, i, i))
		req := httptest.NewRequest("POST", "/companies", bytes.NewReader(body))
		req.Header.Set("Authorization", s.AuthorizationHeader())
		req.Header.Set("Idempotency-Key", fmt.Sprintf("00000000-0000-4000-8000-%012d", i))
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, req)
		if rec.Code != 200 {
			b.Fatal(rec.Code)
		}
	}
}

// BenchmarkTagLookup measures GET /companies?tags=migrationRef=… among
// 100,000 companies: an index lookup, independent of the company count.
func BenchmarkTagLookup(b *testing.B) {
	s := benchServer(b, 100_000)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if st := benchRequest(s, "GET", fmt.Sprintf("/companies?tags=migrationRef%%3Dref-%d", i%100_000), nil); st != 200 {
			b.Fatal(st)
		}
	}
}

// BenchmarkMigrateOne measures the four requests of one migration
// (company, connection, authorization, data/all) in process.
func BenchmarkMigrateOne(b *testing.B) {
	s := benchServer(b, 0)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		req := httptest.NewRequest("POST", "/companies", bytes.NewReader([]byte(`{"name":"Acme"}`)))
		req.Header.Set("Authorization", s.AuthorizationHeader())
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, req)
		id := string(rec.Body.Bytes()[7:43])
		rec = httptest.NewRecorder()
		req = httptest.NewRequest("POST", "/companies/"+id+"/connections", bytes.NewReader([]byte(`{"platformKey":"gbol"}`)))
		req.Header.Set("Authorization", s.AuthorizationHeader())
		s.Handler().ServeHTTP(rec, req)
		cid := string(rec.Body.Bytes()[7:43])
		if st := benchRequest(s, "PUT", "/companies/"+id+"/connections/"+cid+"/authorization", []byte(`{"accessToken":"a"}`)); st != 200 {
			b.Fatal(st)
		}
		if st := benchRequest(s, "POST", "/companies/"+id+"/data/all", nil); st != http.StatusNoContent {
			b.Fatal(st)
		}
	}
}
