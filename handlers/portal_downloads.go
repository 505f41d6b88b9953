package handlers

// Customer portal downloads: the products and releases a signed-in
// customer's licenses are entitled to, by channel with notes, and audited
// downloads of their files.

import (
	"encoding/hex"
	"fmt"
	"strconv"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/nectarcloud/nls/db"
	"github.com/nectarcloud/nls/licensing"
	"github.com/nectarcloud/nls/web/templates/pages/portal"
)

func (s *Server) registerPortalDownloadRoutes(app *fiber.App) {
	g := app.Group("/portal/downloads", s.requireRole("customer"), s.csrfProtect, s.portalCustomer)
	g.Get("/", s.portalDownloads)
	g.Get("/:license/artifacts/:id", s.portalDownloadArtifact)
}

// portalDownloads handles GET /portal/downloads.
func (s *Server) portalDownloads(c *fiber.Ctx) error {
	ctx, now, cu := c.UserContext(), s.now(), s.customerOf(c)
	lics, err := s.store.ListPortalLicenses(ctx, db.ListPortalLicensesParams{CustomerID: cu.ID, Now: now,
		MaxRows: db.PortalLicenseLimit})
	if err != nil {
		return err
	}
	var view portal.Downloads
	for _, l := range lics {
		d, err := s.store.DistributionByLicense(ctx, l.License.ID)
		if err != nil {
			return err
		}
		if len(d.Entitlement.Products) == 0 {
			continue
		}
		count, err := s.store.CountDownloadsByLicense(ctx, l.License.ID)
		if err != nil {
			return err
		}
		access := licensing.AccessAt(d.Facts, d.Entitlement, now)
		dl := portal.DownloadLicense{ID: l.License.ID.String(), Plan: l.PlanName, Downloads: plural(count, "download"),
			Access: accessSentence(access, d.Entitlement)}
		rows, err := s.store.ListPublishedReleasesForProducts(ctx, d.Entitlement.Products)
		if err != nil {
			return err
		}
		var ids []uuid.UUID
		for _, r := range rows {
			ids = append(ids, r.ID)
		}
		arts, err := s.store.ListArtifactsByReleases(ctx, ids)
		if err != nil {
			return err
		}
		byRelease := map[uuid.UUID][]db.Artifact{}
		for _, a := range arts {
			byRelease[a.ReleaseID] = append(byRelease[a.ReleaseID], a)
		}
		var prod *portal.DownloadProduct
		for _, r := range rows {
			if prod == nil || prod.Code != r.ProductCode {
				dl.Products = append(dl.Products, portal.DownloadProduct{Code: r.ProductCode, Name: r.ProductName,
					Image: s.imageRef(r.ProductRepository)})
				prod = &dl.Products[len(dl.Products)-1]
			}
			if access.Allows(d.Entitlement, db.ReleaseFacts(r.ProductCode, r.Version, r.Channel, r.PublishedAt, r.YankedAt)) != licensing.DenyNone {
				continue
			}
			rel := portal.DownloadRelease{Version: r.Version, Channel: r.Channel, Date: fmtDate(r.PublishedAt), Notes: r.Notes}
			for _, a := range byRelease[r.ID] {
				rel.Artifacts = append(rel.Artifacts, portal.DownloadArtifact{Filename: a.Filename,
					Platform: platformOf(a), Size: fmtSize(a.SizeBytes), SHA256: hex.EncodeToString(a.Sha256),
					URL: "/portal/downloads/" + l.License.ID.String() + "/artifacts/" + a.ID.String()})
			}
			prod.Releases = append(prod.Releases, rel)
		}
		view.Licenses = append(view.Licenses, dl)
	}
	return s.render(c, portal.DownloadsPage(s.portalPage(c, "Downloads"), view))
}

// portalDownloadArtifact handles GET /portal/downloads/:license/artifacts/:id:
// a redirect to a signed link, counted on the license. Another customer's
// license is 404, as is an artifact the license may not see.
func (s *Server) portalDownloadArtifact(c *fiber.Ctx) error {
	if err := s.requireBlobs(); err != nil {
		return err
	}
	licID, err := parseUUID(c.Params("license"), "license")
	if err != nil {
		return err
	}
	artID, err := parseUUID(c.Params("id"), "artifact")
	if err != nil {
		return err
	}
	d, err := s.store.DistributionByLicense(c.UserContext(), licID)
	if err != nil || d.CustomerID != s.customerOf(c).ID {
		return licensing.Errorf(licensing.ENOTFOUND, "license not found")
	}
	return s.sendArtifact(c, d, artID, s.portalActor(c), "portal")
}

// downloadCount says how many release files were downloaded with a license.
func (s *Server) downloadCount(c *fiber.Ctx, license uuid.UUID) (string, error) {
	n, err := s.store.CountDownloadsByLicense(c.UserContext(), license)
	if err != nil {
		return "", err
	}
	return plural(n, "file"), nil
}

// imageRef is how a customer names a product's image.
func (s *Server) imageRef(repo string) string {
	if s.dist.cfg.RegistryHost != "" {
		return s.dist.cfg.RegistryHost + "/" + repo
	}
	return repo
}

func accessSentence(a licensing.LicenseAccess, e licensing.Entitlement) string {
	chans := ""
	for i, ch := range e.Channels {
		if i > 0 {
			chans += ", "
		}
		chans += string(ch)
	}
	switch {
	case a.Denial != licensing.DenyNone:
		return "This license may not download anything now (" + string(a.Denial) + ")."
	case a.Cutoff != nil:
		return "This license has expired: releases published up to " + fmtDate(a.Cutoff) + " remain available (" + chans + ")."
	}
	return "Channels: " + chans + "."
}

func platformOf(a db.Artifact) string {
	switch {
	case a.Platform != "" && a.Arch != "":
		return a.Platform + "/" + a.Arch
	case a.Platform != "":
		return a.Platform
	}
	return "any platform"
}

func fmtSize(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return strconv.FormatInt(n, 10) + " bytes"
}

func plural(n int64, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return strconv.FormatInt(n, 10) + " " + word + "s"
}
