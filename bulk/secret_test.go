package bulk

import (
	"bytes"
	"encoding/base64"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/codat-migrate/codat"
	"github.com/codat-migrate/codat/internal/testutil"
)

const rowToken = "eyJhbGciOiJIUzI1NiJ9.row-access-token-0123456789abcdef"

// A Row logged whole through slog's JSON handler keeps its fields redacted.
func TestRowLoggedWithSlogJSON(t *testing.T) {
	row := Row{Line: 2, Ref: "crm-1", CompanyName: "Acme", Platform: "qhyg",
		Fields: map[string]codat.Secret{"accessToken": rowToken, "refreshToken": "refresh-" + rowToken}}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("row", slog.Any("row", row), slog.Any("rows", []Row{row}), slog.Any("ptr", &row))
	testutil.AssertNoSecrets(t, "slog JSON of a Row", buf.String(), rowToken)
	assert.Contains(t, buf.String(), `"Ref":"crm-1"`)
	assert.Contains(t, buf.String(), codat.Redacted)
}

// scrub removes a row's secrets echoed in part or base64-encoded, as the
// module's one scrubbing policy says.
func TestScrubPartialAndEncodedEchoes(t *testing.T) {
	row := Row{Fields: map[string]codat.Secret{"accessToken": rowToken, "realmId": "12"}}
	body := `{"accessToken":"` + rowToken + `"}`
	for name, msg := range map[string]string{
		"prefix":          "bad body " + body[:30],
		"suffix":          "token …" + rowToken[len(rowToken)-10:],
		"base64":          "echo " + base64.StdEncoding.EncodeToString([]byte(rowToken)),
		"base64 of body":  "echo " + base64.StdEncoding.EncodeToString([]byte(body)),
		"url-safe base64": "echo " + base64.RawURLEncoding.EncodeToString([]byte("x"+body)),
	} {
		t.Run(name, func(t *testing.T) {
			got := scrub(msg, row)
			assert.Contains(t, got, codat.Redacted)
			for i := 0; i+minScrubLen <= len(rowToken); i++ {
				assert.NotContains(t, got, rowToken[i:i+minScrubLen])
			}
		})
	}
	assert.Equal(t, "realm 12 unknown", scrub("realm 12 unknown", row), "a value shorter than minScrubLen stays")
}
