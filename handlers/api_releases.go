package handlers

// The management API of distribution: products, releases, artifact uploads
// (raw PUT bodies streamed to the blob store while hashed) and the
// entitlements of plans and licenses.

import (
	"encoding/hex"
	"io"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/nectarcloud/nls/db"
	"github.com/nectarcloud/nls/licensing"
)

func (s *Server) registerReleaseRoutes(api fiber.Router) {
	read, write := s.requireScope(licensing.ScopeReleasesRead), s.requireScope(licensing.ScopeReleasesWrite)
	api.Get("/products", read, s.listProducts)
	api.Post("/products", write, s.createProduct)
	// The upgrade check authenticates by license key (machine_releases.go)
	// and must be matched before /releases/:id.
	api.Get("/releases/upgrade", s.upgradeCheck)
	api.Get("/releases", read, s.listReleases)
	api.Post("/releases", write, s.createRelease)
	api.Get("/releases/:id", read, s.getRelease)
	api.Patch("/releases/:id", write, s.updateRelease)
	api.Put("/releases/:id/artifacts/:filename", write, s.uploadArtifact)
	api.Put("/plans/:id/distribution", s.requireScope(licensing.ScopeAdmin), s.setPlanDistribution)
	api.Put("/licenses/:id/distribution", s.requireScope(licensing.ScopeLicensesWrite), s.setLicenseDistribution)
}

type productJSON struct {
	ID         uuid.UUID `json:"id"`
	Code       string    `json:"code"`
	Name       string    `json:"name"`
	Repository string    `json:"repository"`
	CreatedAt  time.Time `json:"createdAt"`
}

func productOut(p db.Product) productJSON {
	return productJSON{ID: p.ID, Code: p.Code, Name: p.Name, Repository: p.Repository, CreatedAt: p.CreatedAt.UTC()}
}

type releaseJSON struct {
	ID          uuid.UUID      `json:"id"`
	Product     string         `json:"product"`
	Version     string         `json:"version"`
	Channel     string         `json:"channel"`
	Notes       string         `json:"notes"`
	PublishedAt *time.Time     `json:"publishedAt"`
	YankedAt    *time.Time     `json:"yankedAt"`
	CreatedAt   time.Time      `json:"createdAt"`
	Artifacts   []artifactJSON `json:"artifacts"`
}

type artifactJSON struct {
	ID          uuid.UUID `json:"id"`
	Filename    string    `json:"filename"`
	Platform    string    `json:"platform"`
	Arch        string    `json:"arch"`
	ContentType string    `json:"contentType"`
	Size        int64     `json:"size"`
	SHA256      string    `json:"sha256"`
	DownloadURL string    `json:"downloadUrl"` // by license key: answers a redirect to a signed link
	CreatedAt   time.Time `json:"createdAt"`
}

func artifactOut(a db.Artifact) artifactJSON {
	return artifactJSON{ID: a.ID, Filename: a.Filename, Platform: a.Platform, Arch: a.Arch, ContentType: a.ContentType,
		Size: a.SizeBytes, SHA256: hex.EncodeToString(a.Sha256), DownloadURL: "/api/artifacts/" + a.ID.String() + "/download",
		CreatedAt: a.CreatedAt.UTC()}
}

func (s *Server) releaseOut(c *fiber.Ctx, product string, r db.Release) (releaseJSON, error) {
	arts, err := s.store.ListArtifactsByRelease(c.UserContext(), r.ID)
	if err != nil {
		return releaseJSON{}, err
	}
	out := releaseJSON{ID: r.ID, Product: product, Version: r.Version, Channel: r.Channel, Notes: r.Notes,
		PublishedAt: utcPtr(r.PublishedAt), YankedAt: utcPtr(r.YankedAt), CreatedAt: r.CreatedAt.UTC(),
		Artifacts: make([]artifactJSON, 0, len(arts))}
	for _, a := range arts {
		out.Artifacts = append(out.Artifacts, artifactOut(a))
	}
	return out, nil
}

// listProducts handles GET /api/products.
func (s *Server) listProducts(c *fiber.Ctx) error {
	rows, err := s.store.ListProducts(c.UserContext())
	if err != nil {
		return err
	}
	out := make([]productJSON, 0, len(rows))
	for _, p := range rows {
		out = append(out, productOut(p))
	}
	return c.JSON(fiber.Map{"data": out, "nextCursor": nil})
}

// createProduct handles POST /api/products.
func (s *Server) createProduct(c *fiber.Ctx) error {
	var b struct {
		Code       *string `json:"code"`
		Name       *string `json:"name"`
		Repository *string `json:"repository"`
	}
	if err := decodeJSON(c, &b); err != nil {
		return err
	}
	p, err := s.store.CreateProduct(c.UserContext(), s.apiActor(c), deref(b.Code), trimmed(deref(b.Name)), deref(b.Repository), s.now())
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(productOut(p))
}

// listReleases handles GET /api/releases: the newest 200, optionally of one
// product.
func (s *Server) listReleases(c *fiber.Ctx) error {
	rows, err := s.store.ListReleasesWithProduct(c.UserContext(), 200)
	if err != nil {
		return err
	}
	product := c.Query("product")
	out := []releaseJSON{}
	for _, r := range rows {
		if product != "" && r.ProductCode != product {
			continue
		}
		rel, err := s.releaseOut(c, r.ProductCode, db.Release{ID: r.ID, ProductID: r.ProductID, Version: r.Version,
			Channel: r.Channel, Notes: r.Notes, PublishedAt: r.PublishedAt, YankedAt: r.YankedAt, CreatedAt: r.CreatedAt})
		if err != nil {
			return err
		}
		out = append(out, rel)
	}
	return c.JSON(fiber.Map{"data": out, "nextCursor": nil})
}

// releaseBody is a release create or update request.
type releaseBody struct {
	Product     *string          `json:"product"`
	Version     *string          `json:"version"`
	Channel     *string          `json:"channel"`
	Notes       *string          `json:"notes"`
	Publish     *bool            `json:"publish"`     // true: published now
	PublishedAt optional[string] `json:"publishedAt"` // a release date (RFC 3339); null: back to draft
	Yanked      *bool            `json:"yanked"`
}

func (b releaseBody) publishedAt(now time.Time) (*time.Time, bool, error) {
	if b.PublishedAt.Set {
		if b.PublishedAt.Value == nil {
			return nil, true, nil
		}
		t, err := time.Parse(time.RFC3339, *b.PublishedAt.Value)
		if err != nil {
			return nil, false, licensing.Invalid("publishedAt must be an RFC 3339 time",
				licensing.ErrorDetail{Field: "publishedAt", Message: "e.g. 2026-05-01T12:00:00Z"})
		}
		t = t.UTC()
		return &t, true, nil
	}
	if b.Publish != nil {
		if *b.Publish {
			return &now, true, nil
		}
		return nil, true, nil
	}
	return nil, false, nil
}

// createRelease handles POST /api/releases.
func (s *Server) createRelease(c *fiber.Ctx) error {
	var b releaseBody
	if err := decodeJSON(c, &b); err != nil {
		return err
	}
	var pr licensing.Problems
	if b.Product == nil || *b.Product == "" {
		pr.Add("product", "is required (a product code)")
	}
	if b.Version == nil {
		pr.Add("version", "is required")
	}
	if err := pr.Err(); err != nil {
		return err
	}
	now := s.now()
	published, _, err := b.publishedAt(now)
	if err != nil {
		return err
	}
	channel := "stable"
	if b.Channel != nil {
		channel = *b.Channel
	}
	r, err := s.store.CreateRelease(c.UserContext(), s.apiActor(c), db.NewRelease{Product: *b.Product, Version: *b.Version,
		Channel: channel, Notes: deref(b.Notes), PublishedAt: published}, now)
	if err != nil {
		return err
	}
	out, err := s.releaseOut(c, *b.Product, r)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(out)
}

func (s *Server) releaseParam(c *fiber.Ctx) (db.Release, string, error) {
	id, err := parseUUID(c.Params("id"), "release")
	if err != nil {
		return db.Release{}, "", err
	}
	rows, err := s.store.GetReleaseWithProduct(c.UserContext(), id)
	if err != nil {
		return db.Release{}, "", notFoundErr(err, "release not found")
	}
	return db.Release{ID: rows.ID, ProductID: rows.ProductID, Version: rows.Version, Channel: rows.Channel, Notes: rows.Notes,
		PublishedAt: rows.PublishedAt, YankedAt: rows.YankedAt, CreatedAt: rows.CreatedAt}, rows.ProductCode, nil
}

func notFoundErr(err error, msg string) error {
	if licensing.ErrorCode(err) == licensing.ENOTFOUND {
		return licensing.Errorf(licensing.ENOTFOUND, "%s", msg)
	}
	return err
}

// getRelease handles GET /api/releases/:id.
func (s *Server) getRelease(c *fiber.Ctx) error {
	r, product, err := s.releaseParam(c)
	if err != nil {
		return err
	}
	out, err := s.releaseOut(c, product, r)
	if err != nil {
		return err
	}
	return c.JSON(out)
}

// updateRelease handles PATCH /api/releases/:id: notes, publication date,
// yanking.
func (s *Server) updateRelease(c *fiber.Ctx) error {
	var b releaseBody
	if err := decodeJSON(c, &b); err != nil {
		return err
	}
	r, product, err := s.releaseParam(c)
	if err != nil {
		return err
	}
	now := s.now()
	published, setPublished, err := b.publishedAt(now)
	if err != nil {
		return err
	}
	if b.Notes != nil && len(*b.Notes) > 20000 {
		return licensing.Invalid("notes are too long", licensing.ErrorDetail{Field: "notes", Message: "at most 20000 characters"})
	}
	r, err = s.store.ChangeRelease(c.UserContext(), s.apiActor(c), r.ID, func(r *db.Release) {
		setIf(&r.Notes, b.Notes)
		if setPublished {
			r.PublishedAt = published
		}
		if b.Yanked != nil {
			r.YankedAt = nil
			if *b.Yanked {
				r.YankedAt = &now
			}
		}
	}, now)
	if err != nil {
		return err
	}
	out, err := s.releaseOut(c, product, r)
	if err != nil {
		return err
	}
	return c.JSON(out)
}

// uploadArtifact handles PUT /api/releases/:id/artifacts/:filename: the raw
// body is the file, streamed to the blob store and hashed on the way. An
// X-Checksum-Sha256 header (hex) is checked against what arrived; on a
// mismatch nothing is kept. Query: platform, arch.
func (s *Server) uploadArtifact(c *fiber.Ctx) error { return s.storeArtifact(c, s.apiActor(c)) }

// storeArtifact streams the request body into the blob store as a file of
// the release named in the path, for the API and the admin portal.
func (s *Server) storeArtifact(c *fiber.Ctx, actor licensing.Actor) error {
	if err := s.requireBlobs(); err != nil {
		return err
	}
	r, _, err := s.releaseParam(c)
	if err != nil {
		return err
	}
	filename := strings.Clone(c.Params("filename"))
	platform, arch := strings.Clone(c.Query("platform")), strings.Clone(c.Query("arch"))
	contentType := strings.Clone(c.Get(fiber.HeaderContentType))
	if contentType == "" {
		contentType = fiber.MIMEOctetStream
	}
	var pr licensing.Problems
	if !validFilename(filename) {
		pr.Add("filename", "1 to 200 letters, digits, '.', '_', '+' or '-', starting with a letter or digit")
	}
	if len(platform) > 32 || len(arch) > 32 {
		pr.Add("platform", "platform and arch are at most 32 characters")
	}
	var want []byte
	if h := c.Get("X-Checksum-Sha256"); h != "" {
		if want, err = hex.DecodeString(h); err != nil || len(want) != 32 {
			pr.Add("X-Checksum-Sha256", "64 hex characters")
		}
	}
	if err := pr.Err(); err != nil {
		return err
	}
	if n := c.Request().Header.ContentLength(); int64(n) > s.dist.cfg.UploadLimit {
		c.Context().SetConnectionClose()
		return licensing.Errorf(licensing.ETOOLARGE, "artifacts are limited to %d bytes", s.dist.cfg.UploadLimit)
	}
	body := c.Context().RequestBodyStream()
	if body == nil {
		return licensing.Errorf(licensing.EMALFORMED, "the request body is the file; it is missing")
	}
	ctx := c.UserContext()
	key := uuid.NewString()
	// The server's ReadTimeout bounds a whole request; an upload of
	// gigabytes may take longer, so the deadline moves with the data
	// instead: it only fires when nothing arrives for a minute.
	if conn := c.Context().Conn(); conn != nil {
		body = &idleDeadlineReader{r: body, conn: conn, idle: time.Minute}
	}
	w, err := s.dist.blobs.Put(ctx, key, limitedReader(body, s.dist.cfg.UploadLimit))
	if err != nil {
		if err == errUploadTooLarge {
			c.Context().SetConnectionClose()
			return licensing.Errorf(licensing.ETOOLARGE, "artifacts are limited to %d bytes", s.dist.cfg.UploadLimit)
		}
		return licensing.Internal(err)
	}
	if want != nil && !equalBytes(want, w.SHA256[:]) {
		_ = s.dist.blobs.Delete(ctx, key)
		return licensing.Invalid("the file's SHA-256 does not match X-Checksum-Sha256",
			licensing.ErrorDetail{Field: "X-Checksum-Sha256", Message: "received " + hex.EncodeToString(w.SHA256[:])})
	}
	a, err := s.store.AddArtifact(ctx, actor, db.CreateArtifactParams{ReleaseID: r.ID, Filename: filename,
		Platform: platform, Arch: arch, ContentType: contentType, SizeBytes: w.Size, Sha256: w.SHA256[:], BlobKey: key}, s.now())
	if err != nil {
		_ = s.dist.blobs.Delete(ctx, key)
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(artifactOut(a))
}

// idleDeadlineReader pushes the connection's read deadline forward before
// every read.
type idleDeadlineReader struct {
	r    io.Reader
	conn interface{ SetReadDeadline(time.Time) error }
	idle time.Duration
}

func (d *idleDeadlineReader) Read(p []byte) (int, error) {
	_ = d.conn.SetReadDeadline(time.Now().Add(d.idle))
	return d.r.Read(p)
}

func equalBytes(a, b []byte) bool { return hex.EncodeToString(a) == hex.EncodeToString(b) }

func validFilename(s string) bool {
	if s == "" || len(s) > 200 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if !alnum && (i == 0 || (c != '.' && c != '_' && c != '+' && c != '-')) {
			return false
		}
	}
	return true
}

// entitlementBody sets what a plan's (or one license's) licenses may fetch.
type entitlementBody struct {
	Products       *[]string `json:"products"`
	Channels       *[]string `json:"channels"`
	ExpiryStrategy *string   `json:"expiryStrategy"`
}

func (b entitlementBody) channels() []licensing.Channel {
	if b.Channels == nil {
		return nil
	}
	out := make([]licensing.Channel, 0, len(*b.Channels))
	for _, c := range *b.Channels {
		out = append(out, licensing.Channel(c))
	}
	return out
}

// setPlanDistribution handles PUT /api/plans/:id/distribution.
func (s *Server) setPlanDistribution(c *fiber.Ctx) error {
	var b entitlementBody
	if err := decodeJSON(c, &b); err != nil {
		return err
	}
	id, err := parseUUID(c.Params("id"), "plan")
	if err != nil {
		return err
	}
	e := licensing.Entitlement{Products: []string{}, Channels: []licensing.Channel{licensing.ChannelStable},
		Expiry: licensing.ExpiryRestrict}
	setIf(&e.Products, b.Products)
	if b.Channels != nil {
		e.Channels = b.channels()
	}
	if b.ExpiryStrategy != nil {
		e.Expiry = licensing.ExpiryStrategy(*b.ExpiryStrategy)
	}
	if err := s.store.SetPlanDistribution(c.UserContext(), s.apiActor(c), id, e, s.now()); err != nil {
		return err
	}
	return c.JSON(fiber.Map{"products": e.Products, "channels": e.Channels, "expiryStrategy": e.Expiry})
}

// setLicenseDistribution handles PUT /api/licenses/:id/distribution: fields
// given override the plan's; absent or null ones follow it.
func (s *Server) setLicenseDistribution(c *fiber.Ctx) error {
	var b entitlementBody
	if err := decodeJSON(c, &b); err != nil {
		return err
	}
	id, err := parseUUID(c.Params("id"), "license")
	if err != nil {
		return err
	}
	var products []string
	if b.Products != nil {
		products = *b.Products
	}
	var expiry *licensing.ExpiryStrategy
	if b.ExpiryStrategy != nil {
		e, err := licensing.ParseExpiryStrategy(*b.ExpiryStrategy)
		if err != nil {
			return err
		}
		expiry = &e
	}
	chans := b.channels()
	for _, ch := range chans {
		if _, err := licensing.ParseChannel(string(ch)); err != nil {
			return err
		}
	}
	if err := s.store.SetLicenseDistribution(c.UserContext(), s.apiActor(c), id, products, chans, expiry, s.now()); err != nil {
		return err
	}
	d, err := s.store.DistributionByLicense(c.UserContext(), id)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"products": d.Entitlement.Products, "channels": d.Entitlement.Channels,
		"expiryStrategy": d.Entitlement.Expiry})
}
