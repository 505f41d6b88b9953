package handlers

// Offline activation for air-gapped sites: a customer names an installation
// that cannot reach the license server and downloads a signed offline
// license file for it. The file carries a lease — the same JWS the machine
// API answers with, its audience the deployment — wrapped in a short armor
// people can read:
//
//	-----BEGIN NLS OFFLINE LICENSE-----
//	License: 6f1c2b1e-…
//	Customer: Acme Corp
//	Plan: pro
//	Deployment: site-7
//	Issued: 2026-11-28T12:00:00Z
//	Expires: 2026-12-28T12:00:00Z
//
//	eyJhbGciOiJFZERTQSIsImtpZCI6Ii4uLiJ9.eyJzdWIiOiIuLi4iLCJhdWQiOlsic2l0
//	…
//	-----END NLS OFFLINE LICENSE-----
//
// The header lines are for people; only the signed lease is trusted. The
// client package reads the file (client.ParseOfflineLicense and
// Config.OfflineLicenseFile). Issuing one occupies a seat like an
// activation, until the lease expires.

import (
	"bytes"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/nectarcloud/nls/db"
	"github.com/nectarcloud/nls/licensing"
	"github.com/nectarcloud/nls/web/templates/pages/portal"
)

// Armor lines of an offline license file; the client package parses the same.
const (
	offlineArmorBegin = "-----BEGIN NLS OFFLINE LICENSE-----"
	offlineArmorEnd   = "-----END NLS OFFLINE LICENSE-----"
	offlineArmorWidth = 64
)

// offlineFormFor is the offline activation form of l, or why no file can
// be issued while the license is not valid.
func offlineFormFor(l db.License, now time.Time) portal.OfflineForm {
	f := portal.OfflineForm{Days: int(l.OfflineDays)}
	if eff := l.Effective(now); !eff.Valid {
		f.Unavailable = "No offline license file can be issued while the license is " +
			strings.ToLower(strings.ReplaceAll(string(eff.State), "_", " ")) + "."
	}
	return f
}

// portalOfflineActivation handles POST /portal/licenses/:id/offline
// {deploymentId, hostname}: the offline license file, as a download. A
// refusal (invalid input, no free seat, a license that is not valid) shows
// the license page again with the reason at the form.
func (s *Server) portalOfflineActivation(c *fiber.Ctx) error {
	row, err := s.portalLicenseParam(c)
	if err != nil {
		return err
	}
	form := portal.OfflineForm{DeploymentID: strings.TrimSpace(strings.Clone(c.FormValue("deploymentId"))),
		Hostname: strings.TrimSpace(strings.Clone(c.FormValue("hostname")))}
	switch {
	case form.DeploymentID == "":
		form.Error, form.Field = "Enter the deployment id of the installation.", "deploymentId"
	case len(form.DeploymentID) > 128 || !printableASCII(form.DeploymentID):
		form.Error, form.Field = "A deployment id is 1 to 128 letters, digits or punctuation, without spaces.", "deploymentId"
	case len(form.Hostname) > 256 || strings.ContainsFunc(form.Hostname, isControl) || !storableText(form.Hostname):
		form.Error, form.Field = "The host name is at most 256 characters on one line.", "hostname"
	}
	if form.Error != "" {
		return s.refuseOffline(c, row, form, fiber.StatusUnprocessableEntity)
	}
	cu := s.customerOf(c)
	off, err := s.licenses.ActivateOffline(c.UserContext(), s.portalActor(c), db.OfflineActivation{CustomerID: cu.ID,
		LicenseID: row.License.ID, DeploymentID: form.DeploymentID, Hostname: form.Hostname})
	if err != nil {
		if licensing.ErrorCode(err) != licensing.ECONFLICT {
			return err
		}
		form.Error = sentence(classify(err).Message)
		return s.refuseOffline(c, row, form, fiber.StatusConflict)
	}
	file := armorOfflineLicense([][2]string{{"License", row.License.ID.String()}, {"Customer", cu.Name}, {"Plan", row.PlanCode},
		{"Deployment", form.DeploymentID}, {"Issued", off.IssuedAt.UTC().Format(time.RFC3339)},
		{"Expires", off.ExpiresAt.UTC().Format(time.RFC3339)}}, off.Lease)
	c.Set(fiber.HeaderContentType, "text/plain; charset=utf-8")
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="`+offlineFileName(form.DeploymentID)+`"`)
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Send(file)
}

// refuseOffline shows the license page with the offline form's error.
func (s *Server) refuseOffline(c *fiber.Ctx, row db.GetPortalLicenseRow, form portal.OfflineForm, status int) error {
	d, err := s.portalLicenseDetail(c, row)
	if err != nil {
		return err
	}
	form.Days, form.Unavailable = d.Offline.Days, d.Offline.Unavailable
	d.Offline = form
	c.Status(status)
	return s.renderPortalLicense(c, d)
}

// armorOfflineLicense writes an offline license file: header lines, a blank
// line, the lease wrapped at 64 columns.
func armorOfflineLicense(headers [][2]string, lease string) []byte {
	var b bytes.Buffer
	b.WriteString(offlineArmorBegin + "\n")
	for _, h := range headers {
		b.WriteString(h[0] + ": " + oneLine(h[1]) + "\n")
	}
	b.WriteString("\n")
	for len(lease) > offlineArmorWidth {
		b.WriteString(lease[:offlineArmorWidth] + "\n")
		lease = lease[offlineArmorWidth:]
	}
	b.WriteString(lease + "\n")
	b.WriteString(offlineArmorEnd + "\n")
	return b.Bytes()
}

// oneLine keeps a header value on its line: control characters become spaces.
func oneLine(s string) string {
	return strings.TrimSpace(strings.Map(func(r rune) rune {
		if isControl(r) {
			return ' '
		}
		return r
	}, s))
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) }

// offlineFileName names the download after its deployment, in characters
// every file system accepts.
func offlineFileName(deploymentID string) string {
	name := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			return r
		}
		return '_'
	}, deploymentID)
	if len(name) > 64 {
		name = name[:64]
	}
	return "nls-offline-" + strings.Trim(name, ".") + ".txt"
}
