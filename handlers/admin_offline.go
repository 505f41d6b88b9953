package handlers

// Offline license files issued by an admin on a customer's behalf, for an
// air-gapped site whose people cannot sign in to the customer portal: the
// same use case (app.Licenses.ActivateOffline) and file as the customer
// portal's, audited with the admin as the actor.

import (
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/nectarcloud/nls/db"
	"github.com/nectarcloud/nls/licensing"
	"github.com/nectarcloud/nls/web/templates/components"
)

// adminOfflineActivation handles POST /admin/licenses/:id/offline
// {deploymentId, hostname}: the offline license file, as a download. A
// refusal goes back to the license page with the reason and what to do.
func (s *Server) adminOfflineActivation(c *fiber.Ctx) error {
	l, err := s.licenseByParam(c)
	if err != nil {
		return err
	}
	back := "/admin/licenses/" + l.ID.String()
	dep := strings.TrimSpace(strings.Clone(c.FormValue("deploymentId")))
	host := strings.TrimSpace(strings.Clone(c.FormValue("hostname")))
	refuse := func(msg string) error {
		s.setFlash(c, components.ToastError, msg)
		return c.Redirect(back, fiber.StatusSeeOther)
	}
	switch {
	case dep == "":
		return refuse("Enter the deployment id of the installation, then issue the file again.")
	case len(dep) > 128 || !printableASCII(dep):
		return refuse("A deployment id is 1 to 128 letters, digits or punctuation, without spaces: correct it and try again.")
	case len(host) > 256 || strings.ContainsFunc(host, isControl) || !storableText(host):
		return refuse("The host name is at most 256 characters on one line: shorten it and try again.")
	}
	off, err := s.licenses.ActivateOffline(c.UserContext(), s.adminActor(c), db.OfflineActivation{CustomerID: l.CustomerID,
		LicenseID: l.ID, DeploymentID: dep, Hostname: host})
	if err != nil {
		if licensing.ErrorCode(err) != licensing.ECONFLICT {
			return err
		}
		return refuse(sentence(classify(err).Message) + " Release a deployment or raise the seats, then try again.")
	}
	customer := l.CustomerID.String()
	if cu, err := s.store.GetCustomer(c.UserContext(), l.CustomerID); err == nil {
		customer = cu.Name
	}
	v, err := s.licenseResponse(c, l)
	if err != nil {
		return err
	}
	file := armorOfflineLicense([][2]string{{"License", l.ID.String()}, {"Customer", customer}, {"Plan", v.Plan},
		{"Deployment", dep}, {"Issued", off.IssuedAt.UTC().Format(time.RFC3339)},
		{"Expires", off.ExpiresAt.UTC().Format(time.RFC3339)}}, off.Lease)
	c.Set(fiber.HeaderContentType, "text/plain; charset=utf-8")
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="`+offlineFileName(dep)+`"`)
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Send(file)
}
