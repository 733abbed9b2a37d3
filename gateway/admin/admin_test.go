package admin

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"
)

// TestAuthorize: the admin token is bearer credentials (RFC 6750): the
// scheme in any case, then the token; anything else is a 401.
func TestAuthorize(t *testing.T) {
	a := &api{Options{Token: "gateway-admin-token"}}
	app := fiber.New()
	app.Get("/admin/x", a.authorize, func(c *fiber.Ctx) error { return c.SendStatus(fiber.StatusNoContent) })
	for header, want := range map[string]int{
		"Bearer gateway-admin-token":   fiber.StatusNoContent,
		"bearer  gateway-admin-token":  fiber.StatusNoContent,
		"Bearer gateway-admin-tokenX":  fiber.StatusUnauthorized,
		"Bearer gateway-admin-toke":    fiber.StatusUnauthorized,
		"Basic gateway-admin-token":    fiber.StatusUnauthorized,
		"Bearer ":                      fiber.StatusUnauthorized,
		"":                             fiber.StatusUnauthorized,
		"Bearer gateway admin token":   fiber.StatusUnauthorized,
		"Bearergateway-admin-token":    fiber.StatusUnauthorized,
		"BEARER gateway-admin-token  ": fiber.StatusNoContent,
	} {
		req := httptest.NewRequest("GET", "/admin/x", nil)
		if header != "" {
			req.Header.Set("Authorization", header)
		}
		resp, err := app.Test(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("Authorization %q: %d, want %d", header, resp.StatusCode, want)
		}
	}
}

// TestAuthorizeRepeated: a request with more than one Authorization header
// is refused with 400 token_mismatched whatever the headers hold, before
// either is compared with the token; one header is read as above.
func TestAuthorizeRepeated(t *testing.T) {
	a := &api{Options{Token: "gateway-admin-token"}}
	app := fiber.New()
	app.Get("/admin/x", a.authorize, func(c *fiber.Ctx) error { return c.SendStatus(fiber.StatusNoContent) })
	const good, bad = "Bearer gateway-admin-token", "Bearer other"
	for _, tc := range []struct {
		name    string
		headers []string
		want    int
	}{
		{"one good", []string{good}, fiber.StatusNoContent},
		{"two good", []string{good, good}, fiber.StatusBadRequest},
		{"good then bad", []string{good, bad}, fiber.StatusBadRequest},
		{"bad then good", []string{bad, good}, fiber.StatusBadRequest},
		{"good then empty", []string{good, ""}, fiber.StatusBadRequest},
		{"three", []string{good, good, good}, fiber.StatusBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", "/admin/x", nil)
			req.Header["Authorization"] = tc.headers
			resp, err := app.Test(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Fatalf("%d %s, want %d", resp.StatusCode, b, tc.want)
			}
			if tc.want == fiber.StatusBadRequest && !strings.Contains(string(b), `"code":"token_mismatched"`) {
				t.Fatalf("refusal %s is not token_mismatched", b)
			}
		})
	}
}
