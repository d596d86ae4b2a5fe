package integrations

import "testing"

// BenchmarkFromRecordBody measures turning one bulk row into a wire body.
func BenchmarkFromRecordBody(b *testing.B) {
	r := testRegistry()
	row := map[string]string{"realm_id": "9130350000000001", "access_token": "fake-a", "refresh_token": "fake-r", "expires_at": "2099-01-01T00:00:00Z"}
	b.ReportAllocs()
	for b.Loop() {
		a, err := r.FromRecord("QuickBooks Online", row)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := a.Body(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTypedBody measures a typed builder's Body, JWT check included.
func BenchmarkTypedBody(b *testing.B) {
	r := testRegistry()
	a := Xero{TenantID: "00000000-0000-4000-8000-000000000001", AccessToken: "eyJhbGciOiJSUzI1NiJ9.eyJleHAiOjQxMDI0NDQ4MDB9.ZmFrZQ", RefreshToken: fakeRefresh, ExpiresAt: farFuture}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.Body(a); err != nil {
			b.Fatal(err)
		}
	}
}
