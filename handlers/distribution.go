package handlers

// Distribution: the dependencies and shared pieces of the release,
// download and registry routes (api_releases.go, machine_releases.go,
// registry.go), license-key authentication for installations, and the body
// limit that request streaming would otherwise lift.

import (
	"bytes"
	"encoding/base64"
	"io"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"

	"github.com/nectarcloud/nls/blobstore"
	"github.com/nectarcloud/nls/db"
	"github.com/nectarcloud/nls/licensing"
)

// DistributionConfig configures releases, downloads and registry tokens.
type DistributionConfig struct {
	DownloadTTL      time.Duration // life of a signed download link; 0: 5 minutes
	UploadLimit      int64         // bytes per artifact; 0: 16 GiB
	RegistryService  string        // the registry's service name, the tokens' audience
	RegistryIssuer   string        // the tokens' issuer, as the registry's config names it
	RegistryTokenTTL time.Duration // 0: 5 minutes
	// RegistryKeyDelay is how long a new registry signing key is published
	// in the JWKS before it signs, so registries reloading their JWKS on a
	// schedule trust it first. 0: a new key signs at once.
	RegistryKeyDelay time.Duration
	RegistryHost     string // the registry's host[:port] as customers name it, for image references
}

type distribution struct {
	cfg     DistributionConfig
	blobs   blobstore.Store
	local   *blobstore.FS
	regKeys *licensing.Keyring
}

func newDistribution(cfg DistributionConfig, d Deps) distribution {
	if cfg.DownloadTTL <= 0 {
		cfg.DownloadTTL = 5 * time.Minute
	}
	if cfg.UploadLimit <= 0 {
		cfg.UploadLimit = 16 << 30
	}
	if cfg.RegistryTokenTTL <= 0 {
		cfg.RegistryTokenTTL = 5 * time.Minute
	}
	if cfg.RegistryService == "" {
		cfg.RegistryService = "nls-registry"
	}
	if cfg.RegistryIssuer == "" {
		cfg.RegistryIssuer = "nls"
	}
	return distribution{cfg: cfg, blobs: d.Blobs, local: d.LocalBlobs, regKeys: d.RegistryKeys}
}

func (s *Server) registerDistributionRoutes(app *fiber.App, api fiber.Router) {
	s.registerReleaseRoutes(api)
	s.registerMachineReleaseRoutes(app, api)
	s.registerRegistryRoutes(api)
	s.registerPortalDownloadRoutes(app)
}

// downloadWriteTimeout replaces the server's WriteTimeout for the signed
// download route: a large file to a slow client takes far longer than an
// API answer may.
const downloadWriteTimeout = 6 * time.Hour

// requestTimeouts is the server's HeaderReceived hook: it lifts the write
// timeout for signed downloads. (Uploads keep the read timeout but move it
// with the data, see storeArtifact.)
func requestTimeouts(h *fasthttp.RequestHeader) fasthttp.RequestConfig {
	if bytes.HasPrefix(h.RequestURI(), []byte("/dl/")) {
		return fasthttp.RequestConfig{WriteTimeout: downloadWriteTimeout}
	}
	return fasthttp.RequestConfig{}
}

// isUpload names the routes whose bodies stream to the blob store.
func isUpload(c *fiber.Ctx) bool {
	p := c.Path()
	return c.Method() == fiber.MethodPut && (strings.HasPrefix(p, "/api/releases/") || strings.HasPrefix(p, "/admin/releases/")) &&
		strings.Contains(p, "/artifacts/")
}

// limitBody enforces BodyLimit on every route but artifact uploads. The app
// streams request bodies (so that an upload of gigabytes is never held in
// memory); without this check any handler reading the body would read it
// whole, whatever its size.
func (s *Server) limitBody(c *fiber.Ctx) error {
	if isUpload(c) {
		// A refused upload leaves its body unread on the connection: close
		// it rather than read the rest of the file as the next request.
		err := c.Next()
		if err != nil || c.Response().StatusCode() >= 300 {
			c.Context().SetConnectionClose()
		}
		return err
	}
	req := c.Request()
	if n := req.Header.ContentLength(); n > s.cfg.BodyLimit {
		c.Context().SetConnectionClose() // the unread body cannot be skipped cheaply
		return licensing.Errorf(licensing.ETOOLARGE, "request body is larger than %d bytes", s.cfg.BodyLimit)
	} else if n >= 0 || !req.IsBodyStream() {
		return c.Next()
	}
	// Chunked: read at most one byte past the limit.
	body, err := io.ReadAll(io.LimitReader(req.BodyStream(), int64(s.cfg.BodyLimit)+1))
	if err != nil {
		return licensing.Errorf(licensing.EMALFORMED, "could not read the request body")
	}
	if len(body) > s.cfg.BodyLimit {
		c.Context().SetConnectionClose()
		return licensing.Errorf(licensing.ETOOLARGE, "request body is larger than %d bytes", s.cfg.BodyLimit)
	}
	req.SetBody(body)
	return c.Next()
}

func (s *Server) requireBlobs() error {
	if s.dist.blobs == nil {
		return licensing.Errorf(licensing.EUNAVAILABLE, "no artifact store is configured")
	}
	return nil
}

// licenseKeyFrom reads a license key from "Authorization: License <key>" or
// from the password of Basic authentication (any user name), the way
// docker login and curl -u send it.
func licenseKeyFrom(c *fiber.Ctx) string {
	h := c.Get(fiber.HeaderAuthorization)
	scheme, rest, _ := strings.Cut(h, " ")
	switch strings.ToLower(scheme) {
	case "license":
		return strings.TrimSpace(rest)
	case "basic":
		_, pass := basicAuth(rest)
		return pass
	}
	return ""
}

func basicAuth(encoded string) (user, pass string) {
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(encoded))
	if err != nil {
		return "", ""
	}
	user, pass, _ = strings.Cut(string(raw), ":")
	return user, pass
}

// licenseByKey authenticates an installation by its license key: a key that
// is malformed, badly signed, unknown or replaced is 401. The license's
// standing is not judged here: callers decide what it may still fetch.
func (s *Server) licenseByKey(c *fiber.Ctx, raw string) (db.Distribution, error) {
	unauthorized := func(msg string) error {
		c.Set(fiber.HeaderWWWAuthenticate, `License realm="nls", Basic realm="nls"`)
		return licensing.Errorf(licensing.EUNAUTHORIZED, "%s", msg)
	}
	if raw == "" {
		return db.Distribution{}, unauthorized("a license key is required: Authorization: License <key>, or Basic with the key as password")
	}
	key, err := licensing.NormalizeKey(raw)
	if err != nil {
		return db.Distribution{}, unauthorized("invalid license key")
	}
	hash := licensing.KeyHash(key)
	if err := s.keyRateLimit(c)(hash); err != nil {
		return db.Distribution{}, err
	}
	if _, err := s.keys.ParseKeyCached(key); err != nil {
		return db.Distribution{}, unauthorized("invalid license key")
	}
	d, err := s.store.DistributionByKeyHash(c.UserContext(), hash[:])
	if err != nil {
		if licensing.ErrorCode(err) == licensing.ENOTFOUND {
			return db.Distribution{}, unauthorized("invalid license key")
		}
		return db.Distribution{}, err
	}
	if d.KeyReplaced {
		return db.Distribution{}, unauthorized("this license key was replaced; use the license's current key")
	}
	return d, nil
}

// clientActor names an installation acting with a license key.
func clientActor(c *fiber.Ctx, d db.Distribution) licensing.Actor {
	return licensing.Actor{Type: licensing.ActorClient, ID: d.LicenseID.String(), Label: "license " + d.LicenseID.String(),
		IP: c.IP(), UserAgent: string([]byte(c.Get(fiber.HeaderUserAgent))), RequestID: requestIDOf(c)}
}
