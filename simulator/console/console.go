// Package console is the simulator's QA web page: it plays the phone of a
// verification session (mini program or App Clip) so testers can walk every
// path without a phone or an ID card. Static files, embedded; no build step.
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
const Path = "/console/"

// Register serves the console under Path. It calls only the public phone
// and session routes, like any client would.
func Register(r fiber.Router) {
	r.Get("/console", func(c *fiber.Ctx) error {
		q := string(c.Request().URI().QueryString())
		if q != "" {
			q = "?" + q
		}
		return c.Redirect(Path+q, fiber.StatusMovedPermanently)
	})
	serve := func(name string) fiber.Handler {
		b, err := files.ReadFile("static/" + name)
		if err != nil {
			panic("console: embedded file missing: " + name) // caught by the package test
		}
		ct := mime.TypeByExtension(path.Ext(name))
		return func(c *fiber.Ctx) error {
			c.Set(fiber.HeaderContentType, ct)
			c.Set(fiber.HeaderCacheControl, "no-cache")
			c.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:")
			return c.Send(b)
		}
	}
	r.Get(Path, serve("index.html"))
	r.Get(Path+"app.js", serve("app.js"))
	r.Get(Path+"style.css", serve("style.css"))
}
