package handlers

// Actions on one license from its admin page. Each is a form that htmx
// posts: the answer is the license's header block, swapped in place, and a
// toast out of band. Without JavaScript the form posts normally and the
// answer is a redirect back to the license page with a flash message.

import (
	"net/url"
	"strconv"
	"strings"

	"github.com/a-h/templ"
	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/nectarcloud/nls/db"
	"github.com/nectarcloud/nls/licensing"
	"github.com/nectarcloud/nls/web/templates/components"
	"github.com/nectarcloud/nls/web/templates/layouts"
	"github.com/nectarcloud/nls/web/templates/pages/admin"
	"github.com/nectarcloud/nls/web/templates/partials"
)

// adminSuspendLicense handles POST /admin/licenses/:id/suspend {reason}.
func (s *Server) adminSuspendLicense(c *fiber.Ctx) error {
	reason := strings.TrimSpace(c.FormValue("reason"))
	if reason == "" || len(reason) > 500 {
		return s.answerLicenseAction(c, db.License{}, licensing.Invalid("Give a reason for suspending (at most 500 characters)."), "", "")
	}
	if !storableText(reason) {
		return s.answerLicenseAction(c, db.License{}, licensing.Invalid("The reason contains a NUL byte or invalid UTF-8: remove it and try again."), "", "")
	}
	reason = strings.Clone(reason)
	return s.adminLicenseAction(c, "License suspended.", func(id uuid.UUID) (db.License, error) {
		return s.licenses.Suspend(c.UserContext(), s.adminActor(c), id, reason)
	})
}

// adminReactivateLicense handles POST /admin/licenses/:id/reactivate.
func (s *Server) adminReactivateLicense(c *fiber.Ctx) error {
	return s.adminLicenseAction(c, "License reactivated.", func(id uuid.UUID) (db.License, error) {
		return s.licenses.Reactivate(c.UserContext(), s.adminActor(c), id)
	})
}

// adminRenewLicense handles POST /admin/licenses/:id/renew {days}: from the
// current expiry, or from now when already expired.
func (s *Server) adminRenewLicense(c *fiber.Ctx) error {
	days, err := strconv.Atoi(strings.TrimSpace(c.FormValue("days")))
	if err != nil || days < licensing.MinRenewDays || days > licensing.MaxRenewDays {
		return s.answerLicenseAction(c, db.License{}, licensing.Invalid("Renew for a whole number of days from 1 to 36500."), "", "")
	}
	return s.adminLicenseAction(c, "License renewed for "+strconv.Itoa(days)+" days.", func(id uuid.UUID) (db.License, error) {
		return s.licenses.Renew(c.UserContext(), s.adminActor(c), id, nil, days)
	})
}

// adminRevokeLicense handles POST /admin/licenses/:id/revoke.
func (s *Server) adminRevokeLicense(c *fiber.Ctx) error {
	return s.adminLicenseAction(c, "License revoked.", func(id uuid.UUID) (db.License, error) {
		return s.licenses.Revoke(c.UserContext(), s.adminActor(c), id)
	})
}

// adminRekeyLicense handles POST /admin/licenses/:id/rekey: the new key is
// shown once, in the header.
func (s *Server) adminRekeyLicense(c *fiber.Ctx) error {
	id, err := parseUUID(c.Params("id"), "license")
	if err != nil {
		return err
	}
	l, key, err := s.licenses.Rekey(c.UserContext(), s.adminActor(c), id)
	return s.answerLicenseAction(c, l, err, "New key issued. Copy it now; the old key no longer validates.", key)
}

// adminLicenseAction runs one action on the license at :id and answers it.
func (s *Server) adminLicenseAction(c *fiber.Ctx, done string, act func(id uuid.UUID) (db.License, error)) error {
	id, err := parseUUID(c.Params("id"), "license")
	if err != nil {
		return err
	}
	l, err := act(id)
	return s.answerLicenseAction(c, l, err, done, "")
}

// answerLicenseAction answers an action's outcome. A refusal the admin can
// act on (invalid input, a conflict) is shown in place with status 200 so
// that htmx swaps it; anything else goes to the error handler.
func (s *Server) answerLicenseAction(c *fiber.Ctx, l db.License, actErr error, done, newKey string) error {
	msg, kind := done, components.ToastSuccess
	if actErr != nil {
		le := classify(actErr)
		if le.Code != licensing.EINVALID && le.Code != licensing.ECONFLICT {
			return actErr
		}
		msg, kind = sentence(problemText(actErr)), components.ToastError
		var err error
		if l, err = s.licenseByParam(c); err != nil {
			return err
		}
	}
	if !isHTMX(c) && newKey == "" {
		s.setFlash(c, kind, msg)
		return redirect(c, "/admin/licenses/"+l.ID.String())
	}
	h, err := s.licenseHeader(c, l)
	if err != nil {
		return err
	}
	h.NewKey = newKey
	if actErr != nil {
		h.Error = msg
	}
	if actErr == nil && isHTMX(c) {
		c.Set("HX-Trigger", partials.EventLicenseChanged)
	}
	partial := templ.Join(partials.Header(h, s.loadSession(c).CSRF), components.ToastOOB(kind, msg))
	return s.renderSwap(c, fiber.StatusOK, partial, func() (templ.Component, error) {
		// A new key without JavaScript: the whole page, key included, once.
		d, err := s.licenseDetail(c, l)
		if err != nil {
			return nil, err
		}
		d.Header = h
		p := s.page(c, "License "+l.ID.String()[:8])
		p.Flash = append(p.Flash, layouts.Flash{Kind: kind, Message: msg})
		return admin.LicensePage(p, d), nil
	})
}

// adminRevealKey handles POST /admin/licenses/:id/reveal: the current key,
// opened from its sealed copy; the reveal is audited.
func (s *Server) adminRevealKey(c *fiber.Ctx) error {
	l, err := s.licenseByParam(c)
	if err != nil {
		return err
	}
	key, err := s.licenses.RevealKey(c.UserContext(), s.adminActor(c), l.ID)
	if err != nil {
		return err
	}
	if isHTMX(c) {
		c.Set("HX-Trigger", partials.EventKeyRevealed)
	}
	return s.renderSwap(c, fiber.StatusOK, partials.KeyReveal(l.ID.String(), key, s.loadSession(c).CSRF),
		func() (templ.Component, error) {
			d, err := s.licenseDetail(c, l)
			if err != nil {
				return nil, err
			}
			d.RevealedKey = key
			return admin.LicensePage(s.page(c, "License "+l.ID.String()[:8]), d), nil
		})
}

// adminReleaseDeployment handles POST /admin/licenses/:id/deployments/:dep/release:
// the deployment's seat is freed and it answers DEPLOYMENT_DEACTIVATED.
func (s *Server) adminReleaseDeployment(c *fiber.Ctx) error {
	l, err := s.licenseByParam(c)
	if err != nil {
		return err
	}
	dep, err := url.PathUnescape(c.Params("dep"))
	if err != nil {
		return licensing.Errorf(licensing.ENOTFOUND, "deployment not found")
	}
	_, err = s.licenses.ReleaseDeployment(c.UserContext(), s.adminActor(c), l, dep, "admin")
	if err != nil {
		return err
	}
	msg := "Deployment " + dep + " released."
	if !isHTMX(c) {
		s.setFlash(c, components.ToastSuccess, msg)
		return redirect(c, "/admin/licenses/"+l.ID.String())
	}
	d, err := s.licenseDeployments(c, l)
	if err != nil {
		return err
	}
	c.Set("HX-Trigger", partials.EventDeploymentsChanged)
	return s.render(c, templ.Join(partials.DeploymentsTable(d, s.loadSession(c).CSRF), components.ToastOOB(components.ToastSuccess, msg)))
}
