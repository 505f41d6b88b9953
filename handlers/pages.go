package handlers

import (
	"strings"

	"github.com/a-h/templ"
	"github.com/gofiber/fiber/v2"

	"github.com/nectarcloud/nls/web/templates/components"
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
		p.User = &layouts.UserView{Email: sess.Email, Role: sess.Role, AdminRole: string(s.account(c).adminRole)}
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
// An admin's pages show only the actions their role may take (see
// adminAllower).
func (s *Server) render(c *fiber.Ctx, comp templ.Component) error {
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	c.Vary("HX-Request")
	ctx := c.UserContext()
	if role := s.account(c).adminRole; role != "" {
		ctx = components.WithAllower(ctx, adminAllower(s.adminRouteTable, role))
	}
	return comp.Render(ctx, c.Response().BodyWriter())
}

func isHTMX(c *fiber.Ctx) bool { return strings.EqualFold(c.Get("HX-Request"), "true") }

// wantsPartial reports whether an HTMX request asks for the swap target
// only. A history restore (htmx found no cached copy) needs the whole page.
func wantsPartial(c *fiber.Ctx) bool {
	return isHTMX(c) && !strings.EqualFold(c.Get("HX-History-Restore-Request"), "true")
}

// renderSwap answers an HTMX swap with partial and any other request with
// the page that page builds (only then, since a page costs more reads), with
// status. htmx swaps only 2xx answers, so the partial is always 200 and shows
// any error in place.
func (s *Server) renderSwap(c *fiber.Ctx, status int, partial templ.Component, page func() (templ.Component, error)) error {
	if wantsPartial(c) {
		return s.render(c, partial)
	}
	c.Status(status) // before page, which may know better
	full, err := page()
	if err != nil {
		return err
	}
	return s.render(c, full)
}

// redirect sends the browser to another page: under HTMX with HX-Redirect
// and no body (a 303 would be followed inside the swap and its page put in
// the swap target), otherwise with 303 See Other.
func redirect(c *fiber.Ctx, to string) error { return redirectWith(c, to, fiber.StatusNoContent) }

// redirectWith is redirect whose HTMX answer has the given status, for an
// answer that is also a refusal (401 for an ended session).
func redirectWith(c *fiber.Ctx, to string, htmxStatus int) error {
	c.Vary("HX-Request")
	if isHTMX(c) {
		c.Set("HX-Redirect", to)
		return c.SendStatus(htmxStatus)
	}
	return c.Redirect(to, fiber.StatusSeeOther)
}
