package handlers

import (
	"strings"

	"github.com/a-h/templ"
	"github.com/gofiber/fiber/v2"

	"github.com/nectarcloud/nls/web/templates/layouts"
	"github.com/nectarcloud/nls/web/templates/pages"
)

func (s *Server) registerPageRoutes(app *fiber.App) {
	app.Get("/", s.home)
	s.registerLoginRoutes(app)
	s.registerAdminRoutes(app)
}

// registerStaticRoutes serves the embedded CSS, scripts and images.
// Fingerprinted names never change content, so they are cached for a year.
func (s *Server) registerStaticRoutes(app *fiber.App) {
	app.Get("/static/*", func(c *fiber.Ctx) error {
		p := "/static/" + c.Params("*")
		content, ctype, ok := s.assets.Lookup(p)
		if !ok {
			return fiber.ErrNotFound
		}
		if s.assets.Immutable(p) {
			c.Set(fiber.HeaderCacheControl, "public, max-age=31536000, immutable")
		} else {
			c.Set(fiber.HeaderCacheControl, "public, max-age=300")
		}
		c.Set(fiber.HeaderContentType, ctype)
		return c.Send(content)
	})
}

// home handles GET /: the landing page.
func (s *Server) home(c *fiber.Ctx) error {
	return s.render(c, pages.Welcome(s.page(c, "License server")))
}

// page builds the layout props every page shares: the session's CSRF
// token and user, a pending flash message, and the nav item of the path.
func (s *Server) page(c *fiber.Ctx, title string) layouts.Page {
	p := layouts.Page{Title: title, Assets: s.assets, Nav: navOf(c.Path())}
	if len(s.codecs) == 0 {
		return p
	}
	sess := s.loadSession(c)
	p.CSRFToken = sess.CSRF
	if sess.signedIn() {
		p.User = &layouts.UserView{Email: sess.Email, Role: sess.Role}
	}
	if f := s.takeFlash(c); f != nil {
		p.Flash = []layouts.Flash{{Kind: f.Kind, Message: f.Message}}
	}
	return p
}

// navOf is the navigation key of an admin path: /admin/licenses/x → "licenses".
func navOf(path string) string {
	rest, ok := strings.CutPrefix(path, "/admin")
	if !ok || (rest != "" && rest[0] != '/') {
		return ""
	}
	rest = strings.Trim(rest, "/")
	if rest == "" {
		return "dashboard"
	}
	key, _, _ := strings.Cut(rest, "/")
	return key
}

// render writes a templ component as HTML. Responses differ for HTMX
// requests (partials) and full loads, so caches must key on HX-Request.
func (s *Server) render(c *fiber.Ctx, comp templ.Component) error {
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	c.Vary("HX-Request")
	return comp.Render(c.UserContext(), c.Response().BodyWriter())
}

func isHTMX(c *fiber.Ctx) bool { return strings.EqualFold(c.Get("HX-Request"), "true") }
