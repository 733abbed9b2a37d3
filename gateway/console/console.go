// Package console is the gateway's operator console: a single page served
// by the admin listener under Path. The page is public static files,
// embedded in the binary; every figure it shows and every change it makes
// goes through the admin API with the admin token, which the operator types
// in and the page keeps in sessionStorage and sends as a bearer header
// (never a cookie, so another site cannot make the browser call the API).
// Charts are SVG drawn by the page itself: no build step, nothing vendored,
// no request leaves the admin listener.
package console

import (
	"embed"
	"mime"
	"path"

	"github.com/gofiber/fiber/v2"
)

//go:embed static
var files embed.FS

// Path is where the console is served.
const Path = "/admin/console/"

// Files are the console's embedded files, served under Path.
var Files = []string{"index.html", "app.js", "style.css"}

// Register serves the console under Path (and at /admin/console: the
// page names its files by absolute path). It must be mounted before the
// admin API (admin.Register), whose /admin middleware asks every request
// for the token: the page itself is public, its data calls are not.
func Register(r fiber.Router) {
	for _, name := range Files {
		b, err := files.ReadFile("static/" + name)
		if err != nil {
			panic("console: embedded file missing: " + name) // caught by the package test
		}
		ct := mime.TypeByExtension(path.Ext(name))
		h := func(c *fiber.Ctx) error {
			c.Set(fiber.HeaderContentType, ct)
			c.Set(fiber.HeaderCacheControl, "no-cache")
			c.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'none'")
			c.Set("X-Content-Type-Options", "nosniff")
			c.Set("Referrer-Policy", "no-referrer")
			return c.Send(b)
		}
		p := Path + name
		if name == "index.html" {
			p = Path
		}
		r.Get(p, h)
	}
}
