package handlers

// Admin page for management API keys: the list, creating a key (its
// secret shown once) and revoking one.

import (
	"strings"

	"github.com/a-h/templ"
	"github.com/gofiber/fiber/v2"

	"github.com/nectarcloud/nls/licensing"
	"github.com/nectarcloud/nls/web/templates/components"
	"github.com/nectarcloud/nls/web/templates/pages/admin"
	"github.com/nectarcloud/nls/web/templates/partials"
)

// scopeLabels says what each scope allows, for the create form.
var scopeLabels = map[string]string{
	licensing.ScopeAdmin:          "everything",
	licensing.ScopeLicensesRead:   "read licenses",
	licensing.ScopeLicensesWrite:  "issue and change licenses",
	licensing.ScopeCustomersRead:  "read customers",
	licensing.ScopeCustomersWrite: "add and change customers",
	licensing.ScopeUsageRead:      "read usage",
	licensing.ScopeAuditRead:      "read the audit log",
	licensing.ScopeInsightsRead:   "read insights (findings)",
}

// apiKeyRows is the keys table.
func (s *Server) apiKeyRows(c *fiber.Ctx) ([]partials.APIKeyRow, error) {
	keys, err := s.store.ListAPIKeys(c.UserContext())
	if err != nil {
		return nil, err
	}
	rows := make([]partials.APIKeyRow, 0, len(keys))
	for _, k := range keys {
		r := partials.APIKeyRow{ID: k.ID.String(), Name: k.Name, Prefix: k.Prefix, Scopes: strings.Join(k.Scopes, ", "),
			CreatedAt: fmtDateTime(k.CreatedAt)}
		if k.LastUsedAt != nil {
			r.LastUsed = fmtDateTime(*k.LastUsedAt)
		}
		if k.RevokedAt != nil {
			r.RevokedAt = fmtDate(k.RevokedAt)
		}
		rows = append(rows, r)
	}
	return rows, nil
}

func (s *Server) renderAPIKeys(c *fiber.Ctx, v admin.APIKeysPage) error {
	var err error
	if v.Rows, err = s.apiKeyRows(c); err != nil {
		return err
	}
	for _, sc := range licensing.Scopes {
		v.AllScopes = append(v.AllScopes, admin.Option{Value: sc, Label: scopeLabels[sc]})
	}
	return s.render(c, admin.APIKeysListPage(s.page(c, "API keys"), v))
}

// adminAPIKeys handles GET /admin/api-keys.
func (s *Server) adminAPIKeys(c *fiber.Ctx) error {
	return s.renderAPIKeys(c, admin.APIKeysPage{})
}

// adminCreateAPIKey handles POST /admin/api-keys {name, scopes...}: creates
// the key and answers the page with its secret, once (201); or the form
// with its errors (422), storing nothing.
func (s *Server) adminCreateAPIKey(c *fiber.Ctx) error {
	f := admin.APIKeyForm{Name: strings.Clone(c.FormValue("name")), Errors: formTextErrors(c)}
	for _, v := range c.Request().PostArgs().PeekMulti("scopes") {
		f.Scopes = append(f.Scopes, string(v))
	}
	if len(f.Scopes) == 0 {
		f.Errors["scopes"] = "Tick at least one scope."
	} else if role := s.account(c).adminRole; licensing.ValidateScopes(f.Scopes) == nil && !role.GrantsScopes(f.Scopes) {
		// A key never does more than the role of the admin who made it.
		f.Errors["scopes"] = "Your role (" + string(role) + ") can make keys with these scopes only: " +
			strings.Join(role.Scopes(), ", ") + "."
	}
	if strings.TrimSpace(f.Name) == "" {
		f.Errors["name"] = "Give the key a name, such as the script that will use it."
	}
	if len(f.Errors) == 0 {
		key, secret, err := s.store.CreateAPIKey(c.UserContext(), s.adminActor(c), f.Name, f.Scopes,
			s.loadSession(c).UserID, s.now())
		if err == nil {
			c.Status(fiber.StatusCreated)
			return s.renderAPIKeys(c, admin.APIKeysPage{NewName: key.Name, NewSecret: secret})
		}
		if err := formErrors(err, f.Errors, "name", "scopes"); err != nil {
			return err
		}
	}
	c.Status(fiber.StatusUnprocessableEntity)
	return s.renderAPIKeys(c, admin.APIKeysPage{Form: f})
}

// adminRevokeAPIKey handles POST /admin/api-keys/:id/revoke: the key stops
// authenticating at once. Under HTMX the table is swapped with a toast;
// without JavaScript, a redirect back with a flash message.
func (s *Server) adminRevokeAPIKey(c *fiber.Ctx) error {
	id, err := parseUUID(c.Params("id"), "API key")
	if err != nil {
		return err
	}
	key, err := s.store.GetAPIKey(c.UserContext(), id)
	if err != nil {
		return notFoundAs(err, "API key")
	}
	msg, kind := "Key "+key.Name+" revoked.", components.ToastSuccess
	if key.RevokedAt != nil {
		msg, kind = "Key "+key.Name+" was already revoked.", components.ToastInfo
	} else if _, err := s.store.RevokeAPIKey(c.UserContext(), s.adminActor(c), id, s.now()); err != nil {
		if licensing.ErrorCode(err) != licensing.ENOTFOUND {
			return err
		}
		// Revoked by someone else in the meantime.
		msg, kind = "Key "+key.Name+" was already revoked.", components.ToastInfo
	}
	if !isHTMX(c) {
		s.setFlash(c, kind, msg)
		return c.Redirect("/admin/api-keys", fiber.StatusSeeOther)
	}
	rows, err := s.apiKeyRows(c)
	if err != nil {
		return err
	}
	return s.render(c, templ.Join(partials.APIKeysTable(rows, s.loadSession(c).CSRF), components.ToastOOB(kind, msg)))
}
