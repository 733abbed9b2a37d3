package console

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"
)

// TestServesEmbeddedFiles: every file is served with its type and a CSP
// that keeps the page on the admin listener.
func TestServesEmbeddedFiles(t *testing.T) {
	app := fiber.New()
	Register(app)
	for _, tc := range []struct{ path, ctype, contains string }{
		{Path, "text/html", "<title>idgate operator console</title>"},
		{Path + "app.js", "javascript", "sessionStorage"},
		{Path + "style.css", "text/css", "body"},
		{"/admin/console", "text/html", "/admin/console/app.js"},
	} {
		resp, err := app.Test(httptest.NewRequest("GET", tc.path, nil))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Content-Type"), tc.ctype) || !strings.Contains(string(b), tc.contains) {
			t.Errorf("GET %s: %d %s, want 200 %s containing %q", tc.path, resp.StatusCode, resp.Header.Get("Content-Type"), tc.ctype, tc.contains)
		}
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
			t.Errorf("GET %s: CSP %q", tc.path, csp)
		}
	}
}
