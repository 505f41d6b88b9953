package handlers

// Releases for installations, authenticated by the license key: the upgrade
// check and artifact downloads (a redirect to a short-lived signed link),
// and the route serving the filesystem store's signed links.

import (
	"errors"
	"io"
	"net/url"

	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/nectarcloud/nls/blobstore"
	"github.com/nectarcloud/nls/db"
	"github.com/nectarcloud/nls/licensing"
)

func (s *Server) registerMachineReleaseRoutes(app *fiber.App, api fiber.Router) {
	// GET /api/releases/upgrade is registered with the release routes, ahead
	// of /api/releases/:id.
	api.Get("/artifacts/:id/download", s.downloadByKey)
	app.Get("/dl/:key", s.serveSignedDownload)
}

// upgradeAnswer is the answer of the upgrade check.
type upgradeAnswer struct {
	Product string       `json:"product"`
	Current string       `json:"current"`
	Channel string       `json:"channel"`
	Upgrade *releaseJSON `json:"upgrade"` // null: nothing to upgrade to
	Reason  *string      `json:"reason"`  // why not, when upgrade is null
}

// upgradeCheck handles GET /api/releases/upgrade?product=&current=&channel=
// (license key auth): the newest release the license may have.
func (s *Server) upgradeCheck(c *fiber.Ctx) error {
	var pr licensing.Problems
	product, current, channel := strings.Clone(c.Query("product")), strings.Clone(c.Query("current")), strings.Clone(c.Query("channel", "stable"))
	if product == "" {
		pr.Add("product", "is required")
	}
	cur, err := licensing.ParseVersion(current)
	if err != nil {
		pr.Add("current", "a semantic version, e.g. 1.3.2")
	}
	ch, err := licensing.ParseChannel(channel)
	if err != nil {
		pr.Add("channel", "one of stable, rc, beta, alpha, dev")
	}
	if err := pr.Err(); err != nil {
		return err
	}
	d, err := s.licenseByKey(c, licenseKeyFrom(c))
	if err != nil {
		return err
	}
	ctx := c.UserContext()
	now := s.now()
	rows, err := s.store.ListPublishedReleasesForProducts(ctx, []string{product})
	if err != nil {
		return err
	}
	rels := make([]licensing.Release, len(rows))
	for i, r := range rows {
		rels[i] = db.ReleaseFacts(r.ProductCode, r.Version, r.Channel, r.PublishedAt, r.YankedAt)
	}
	access := licensing.AccessAt(d.Facts, d.Entitlement, now)
	up := licensing.NewestAllowed(access, d.Entitlement, rels, cur, ch)
	ans := upgradeAnswer{Product: product, Current: cur.String(), Channel: string(ch)}
	if up.Release == nil {
		reason := up.Reason
		if access.Denial == licensing.DenyNone && !containsString(d.Entitlement.Products, product) {
			reason = string(licensing.DenyProduct)
		}
		ans.Reason = &reason
	} else {
		for _, r := range rows {
			if r.Version == up.Release.Version.String() {
				out, err := s.releaseOut(c, product, db.Release{ID: r.ID, ProductID: r.ProductID, Version: r.Version,
					Channel: r.Channel, Notes: r.Notes, PublishedAt: r.PublishedAt, CreatedAt: r.CreatedAt})
				if err != nil {
					return err
				}
				ans.Upgrade = &out
			}
		}
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(ans)
}

func containsString(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

// downloadByKey handles GET /api/artifacts/:id/download (license key auth):
// a 302 to a short-lived signed link. An artifact of a product the license
// is not entitled to, unpublished or yanked is 404, exactly like one that
// does not exist; one withheld by the license's state or channel is 403.
func (s *Server) downloadByKey(c *fiber.Ctx) error {
	if err := s.requireBlobs(); err != nil {
		return err
	}
	id, err := parseUUID(c.Params("id"), "artifact")
	if err != nil {
		return err
	}
	d, err := s.licenseByKey(c, licenseKeyFrom(c))
	if err != nil {
		return err
	}
	return s.sendArtifact(c, d, id, clientActor(c, d), "key")
}

// sendArtifact decides, counts and redirects one download.
func (s *Server) sendArtifact(c *fiber.Ctx, d db.Distribution, id [16]byte, actor licensing.Actor, via string) error {
	ctx := c.UserContext()
	a, err := s.store.GetArtifactWithRelease(ctx, id)
	if err != nil {
		return notFoundErr(err, "artifact not found")
	}
	now := s.now()
	rel := db.ReleaseFacts(a.ProductCode, a.Version, a.Channel, a.PublishedAt, a.YankedAt)
	switch denial := licensing.ReleaseAllowed(d.Facts, d.Entitlement, rel, now); denial {
	case licensing.DenyNone:
	case licensing.DenyProduct, licensing.DenyUnpublished, licensing.DenyYanked:
		return licensing.Errorf(licensing.ENOTFOUND, "artifact not found")
	default:
		return &licensing.Error{Code: licensing.EFORBIDDEN, Message: "this license may not download this release",
			Details: []licensing.ErrorDetail{{Field: "reason", Message: string(denial)}}}
	}
	link, err := s.dist.blobs.DownloadURL(ctx, a.BlobKey, a.Filename, a.ContentType, s.dist.cfg.DownloadTTL)
	if err != nil {
		return licensing.Internal(err)
	}
	if err := s.store.RecordDownload(ctx, actor, d, a, via, now); err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Redirect(link, fiber.StatusFound)
}

// serveSignedDownload handles GET /dl/:key?name=&type=&exp=&sig=: the
// filesystem store's signed links. A bad or expired signature is 404, so a
// link reveals nothing once it is no longer valid.
func (s *Server) serveSignedDownload(c *fiber.Ctx) error {
	if s.dist.local == nil {
		return fiber.ErrNotFound
	}
	q, err := url.ParseQuery(string(c.Request().URI().QueryString()))
	if err != nil {
		return licensing.Errorf(licensing.ENOTFOUND, "download link not found")
	}
	dl, err := s.dist.local.Verify(strings.Clone(c.Params("key")), q)
	if err != nil {
		if errors.Is(err, blobstore.ErrExpired) {
			return licensing.Errorf(licensing.ENOTFOUND, "this download link has expired; ask for a new one")
		}
		return licensing.Errorf(licensing.ENOTFOUND, "download link not found")
	}
	c.Set(fiber.HeaderContentType, dl.ContentType)
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="`+dl.Filename+`"`)
	c.Set(fiber.HeaderCacheControl, "private, no-store")
	// SendFile serves through fasthttp's file server: sendfile(2) where
	// the OS has it, ranges, no copy of the file in memory.
	return c.SendFile(dl.Path, false)
}

var errUploadTooLarge = errors.New("upload larger than the limit")

// limitedReader fails once more than max bytes were read.
func limitedReader(r io.Reader, max int64) io.Reader { return &capReader{r: r, left: max} }

type capReader struct {
	r    io.Reader
	left int64
}

func (c *capReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.left -= int64(n)
	if c.left < 0 {
		return n, errUploadTooLarge
	}
	return n, err
}
