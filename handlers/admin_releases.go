package handlers

// The admin portal's releases: products, releases, artifact uploads (a raw
// PUT from the page's script, streamed like the API's) and publishing.

import (
	"encoding/hex"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/nectarcloud/nls/db"
	"github.com/nectarcloud/nls/licensing"
	"github.com/nectarcloud/nls/web/templates/components"
	"github.com/nectarcloud/nls/web/templates/pages/admin"
)

func (s *Server) renderReleases(c *fiber.Ctx, errMsg string) error {
	ctx := c.UserContext()
	prods, err := s.store.ListProducts(ctx)
	if err != nil {
		return err
	}
	rels, err := s.store.ListReleasesWithProduct(ctx, 200)
	if err != nil {
		return err
	}
	v := admin.Releases{Error: errMsg}
	for _, p := range prods {
		v.Products = append(v.Products, admin.ProductRow{Code: p.Code, Name: p.Name, Repository: p.Repository})
	}
	for _, r := range rels {
		arts, err := s.store.ListArtifactsByRelease(ctx, r.ID)
		if err != nil {
			return err
		}
		v.Releases = append(v.Releases, admin.ReleaseRow{ID: r.ID.String(), Product: r.ProductCode, Version: r.Version,
			Channel: r.Channel, State: releaseState(r.PublishedAt != nil, r.YankedAt != nil), Created: fmtDateTime(r.CreatedAt),
			Artifacts: int64(len(arts))})
	}
	if errMsg != "" {
		c.Status(fiber.StatusUnprocessableEntity)
	}
	return s.render(c, admin.ReleasesPage(s.page(c, "Releases"), v))
}

func releaseState(published, yanked bool) string {
	switch {
	case yanked:
		return "yanked"
	case published:
		return "published"
	}
	return "draft"
}

// adminReleases handles GET /admin/releases.
func (s *Server) adminReleases(c *fiber.Ctx) error { return s.renderReleases(c, "") }

// adminCreateProduct handles POST /admin/products.
func (s *Server) adminCreateProduct(c *fiber.Ctx) error {
	_, err := s.store.CreateProduct(c.UserContext(), s.adminActor(c), strings.Clone(c.FormValue("code")),
		strings.TrimSpace(c.FormValue("name")), strings.Clone(c.FormValue("repository")), s.now())
	if err != nil {
		return s.formFailure(c, err)
	}
	s.setFlash(c, components.ToastSuccess, "Product added.")
	return c.Redirect("/admin/releases", fiber.StatusSeeOther)
}

// formFailure shows a refused form's reason on the releases page.
func (s *Server) formFailure(c *fiber.Ctx, err error) error {
	code := licensing.ErrorCode(err)
	if code != licensing.EINVALID && code != licensing.ECONFLICT && code != licensing.ENOTFOUND {
		return err
	}
	var le *licensing.Error
	msg := err.Error()
	if e, ok := err.(*licensing.Error); ok {
		le = e
		msg = le.Message
		for _, d := range le.Details {
			msg += "; " + d.Field + ": " + d.Message
		}
	}
	return s.renderReleases(c, msg)
}

// adminCreateRelease handles POST /admin/releases: a draft, then its page.
func (s *Server) adminCreateRelease(c *fiber.Ctx) error {
	r, err := s.store.CreateRelease(c.UserContext(), s.adminActor(c), db.NewRelease{Product: strings.Clone(c.FormValue("product")),
		Version: strings.TrimSpace(c.FormValue("version")), Channel: strings.Clone(c.FormValue("channel", "stable")),
		Notes: strings.Clone(c.FormValue("notes"))}, s.now())
	if err != nil {
		return s.formFailure(c, err)
	}
	return c.Redirect("/admin/releases/"+r.ID.String(), fiber.StatusSeeOther)
}

// adminRelease handles GET /admin/releases/:id.
func (s *Server) adminRelease(c *fiber.Ctx) error {
	r, product, err := s.releaseParam(c)
	if err != nil {
		return err
	}
	row, err := s.store.GetReleaseWithProduct(c.UserContext(), r.ID)
	if err != nil {
		return err
	}
	arts, err := s.store.ListArtifactsByRelease(c.UserContext(), r.ID)
	if err != nil {
		return err
	}
	v := admin.ReleaseDetail{ID: r.ID.String(), Product: product, Version: r.Version, Channel: r.Channel,
		State: releaseState(r.PublishedAt != nil, r.YankedAt != nil), Notes: r.Notes,
		Image: s.imageRef(row.ProductRepository) + "/" + r.Version, Published: r.PublishedAt != nil, Yanked: r.YankedAt != nil}
	for _, a := range arts {
		v.Artifacts = append(v.Artifacts, admin.ArtifactRow{Filename: a.Filename, Platform: platformOf(a),
			Size: fmtSize(a.SizeBytes), SHA256: hex.EncodeToString(a.Sha256)})
	}
	return s.render(c, admin.ReleasePage(s.page(c, product+" "+r.Version), v))
}

// adminPublishRelease handles POST /admin/releases/:id/publish.
func (s *Server) adminPublishRelease(c *fiber.Ctx) error {
	return s.adminChangeRelease(c, "Release published.", func(r *db.Release) {
		now := s.now()
		r.PublishedAt, r.YankedAt = &now, nil
	})
}

// adminYankRelease handles POST /admin/releases/:id/yank.
func (s *Server) adminYankRelease(c *fiber.Ctx) error {
	return s.adminChangeRelease(c, "Release yanked: customers no longer see or download it.", func(r *db.Release) {
		now := s.now()
		r.YankedAt = &now
	})
}

func (s *Server) adminChangeRelease(c *fiber.Ctx, msg string, change func(*db.Release)) error {
	r, _, err := s.releaseParam(c)
	if err != nil {
		return err
	}
	if _, err := s.store.ChangeRelease(c.UserContext(), s.adminActor(c), r.ID, change, s.now()); err != nil {
		return err
	}
	s.setFlash(c, components.ToastSuccess, msg)
	return c.Redirect("/admin/releases/"+r.ID.String(), fiber.StatusSeeOther)
}

// adminUploadArtifact handles PUT /admin/releases/:id/artifacts/:filename,
// sent by the release page's script with upload progress.
func (s *Server) adminUploadArtifact(c *fiber.Ctx) error {
	return s.storeArtifact(c, s.adminActor(c))
}
