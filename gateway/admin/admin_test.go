package admin

import (
	"net/http/httptest"
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
