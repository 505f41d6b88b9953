package handlers

// Role checks for the admin portal: the signed-in admin's role (read fresh
// from the database at every request, with the session's row) must grant
// the permission each route declares in adminRoutes.

import (
	"github.com/gofiber/fiber/v2"

	"github.com/nectarcloud/nls/licensing"
	"github.com/nectarcloud/nls/web/templates/components"
)

const localAccount = "account"

// accountState is what sessionCurrent learns of the signed-in user.
type accountState struct {
	adminRole licensing.AdminRole // empty for customers' users
	totp      bool                // two-factor sign-in is on
}

// account is the signed-in user's state; zero when signed out.
func (s *Server) account(c *fiber.Ctx) accountState {
	a, _ := c.Locals(localAccount).(accountState)
	return a
}

// requirePermission refuses (403) an admin whose role lacks perm. When
// owners must use two-factor sign-in and this one has not set it up, every
// admin page but their account sends them to set it up.
func (s *Server) requirePermission(perm licensing.Permission) fiber.Handler {
	return func(c *fiber.Ctx) error {
		a := s.account(c)
		if !a.adminRole.Allows(perm) {
			return licensing.Errorf(licensing.EFORBIDDEN, "your role (%s) does not allow this; ask an owner if you need it",
				roleName(a.adminRole))
		}
		if s.cfg.RequireOwner2FA && a.adminRole == licensing.RoleOwner && !a.totp && perm != licensing.PermAccount {
			if c.Method() == fiber.MethodGet && !isHTMX(c) {
				s.setFlash(c, components.ToastInfo, "Owners must use two-factor sign-in here. Set it up to continue.")
			}
			return redirect(c, "/admin/account#two-factor")
		}
		return c.Next()
	}
}

func roleName(r licensing.AdminRole) string {
	if r == "" {
		return "none"
	}
	return string(r)
}
