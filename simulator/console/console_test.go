package console

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"
)

func TestServesEmbeddedFiles(t *testing.T) {
	app := fiber.New(fiber.Config{StrictRouting: true, CaseSensitive: true})
	Register(app)
	tests := []struct {
		path, wantType, wantBody string
		wantStatus               int
	}{
		{"/console/", "text/html", "phone console", 200},
		{"/console/app.js", "javascript", "/phone/open", 200},
		{"/console/style.css", "text/css", ".badge", 200},
		{"/console?qr=abc", "", "", 301},
	}
	for _, tt := range tests {
		resp, err := app.Test(httptest.NewRequest("GET", tt.path, nil), -1)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != tt.wantStatus || !strings.Contains(resp.Header.Get("Content-Type"), tt.wantType) || !strings.Contains(string(b), tt.wantBody) {
			t.Errorf("%s: %d %s %.60q", tt.path, resp.StatusCode, resp.Header.Get("Content-Type"), b)
		}
		if tt.wantStatus == 301 && resp.Header.Get("Location") != "/console/?qr=abc" {
			t.Errorf("redirect to %s", resp.Header.Get("Location"))
		}
	}
}
