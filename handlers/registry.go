package handlers

// The registry token service of the CNCF Distribution token authentication
// specification: a registry configured with auth.token sends clients here
// (Basic auth, the license key as password, any user name) and trusts the
// JWTs this answers, verified against GET /api/registry/jwks.
//
// Repositories map to products: a product's repository (e.g. "acme/server")
// may be pulled by licenses with full access to it, and its version-pinned
// paths ("acme/server/1.4.0") by every license allowed that release, which
// is how a lapsed license under the maintain strategy keeps pulling what was
// published before it expired while the registry refuses newer images:
// tokens name repositories and actions, never tags, so the version has to be
// in the repository path for the registry itself to tell releases apart.
// API keys with the registry:push scope get pull and push on every product
// repository and its version paths, for CI.

import (
	"fmt"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/nectarcloud/nls/db"
	"github.com/nectarcloud/nls/licensing"
)

func (s *Server) registerRegistryRoutes(api fiber.Router) {
	perIP := s.rateLimit("machine-ip", s.cfg.MachineRateIP, keyByIP)
	api.Get("/registry/token", perIP, s.registryToken)
	api.Post("/registry/token", perIP, s.registryToken) // OAuth2 form flow some clients try first
	api.Get("/registry/jwks", s.registryJWKS)
}

// registryJWKS handles GET /api/registry/jwks: the public keys a registry
// must trust (its auth.token.jwks file).
func (s *Server) registryJWKS(c *fiber.Ctx) error {
	if s.dist.regKeys == nil {
		return licensing.Errorf(licensing.EUNAVAILABLE, "the registry token service is not configured")
	}
	b, err := s.dist.regKeys.JWKS()
	if err != nil {
		return licensing.Internal(err)
	}
	c.Set(fiber.HeaderContentType, "application/jwk-set+json")
	return c.Send(b)
}

// RegistryAuthSection is the auth section of a CNCF Distribution registry's
// config.yml that trusts this portal's tokens; jwksPath is where the
// registry reads GET /api/registry/jwks from (it loads the file at start).
func RegistryAuthSection(baseURL, service, issuer, jwksPath string) string {
	return fmt.Sprintf(`auth:
  token:
    realm: %s/api/registry/token
    service: %s
    issuer: %s
    jwks: %s
    signingalgorithms:
      - EdDSA
`, strings.TrimRight(baseURL, "/"), service, issuer, jwksPath)
}

// scopeRequest is one "repository:name:actions" of the scope parameter.
type scopeRequest struct {
	name    string
	actions []string
}

func parseScopes(raw []string) []scopeRequest {
	var out []scopeRequest
	for _, sc := range raw {
		for _, one := range strings.Fields(sc) { // several scopes may share one parameter, space-separated
			typ, rest, ok := strings.Cut(one, ":")
			if !ok || typ != "repository" {
				continue
			}
			i := strings.LastIndexByte(rest, ':')
			if i <= 0 {
				continue
			}
			out = append(out, scopeRequest{name: rest[:i], actions: strings.Split(rest[i+1:], ",")})
		}
	}
	return out
}

// registryToken handles GET /api/registry/token?service=&scope=&account=.
func (s *Server) registryToken(c *fiber.Ctx) error {
	if s.dist.regKeys == nil {
		return licensing.Errorf(licensing.EUNAVAILABLE, "the registry token service is not configured")
	}
	if svc := c.Query("service"); svc != "" && svc != s.dist.cfg.RegistryService {
		return licensing.Invalid("unknown service "+svc, licensing.ErrorDetail{Field: "service",
			Message: "this token service serves " + s.dist.cfg.RegistryService})
	}
	var rawScopes []string
	for _, v := range c.Context().QueryArgs().PeekMulti("scope") {
		rawScopes = append(rawScopes, string(v))
	}
	if c.Method() == fiber.MethodPost {
		rawScopes = append(rawScopes, strings.Clone(c.FormValue("scope")))
	}
	scopes := parseScopes(rawScopes)

	h := c.Get(fiber.HeaderAuthorization)
	scheme, rest, _ := strings.Cut(h, " ")
	user, secret := "", ""
	if strings.EqualFold(scheme, "basic") {
		user, secret = basicAuth(rest)
	} else if c.Method() == fiber.MethodPost {
		user, secret = strings.Clone(c.FormValue("username")), strings.Clone(c.FormValue("password"))
	}
	if secret == "" {
		c.Set(fiber.HeaderWWWAuthenticate, `Basic realm="nls registry"`)
		return licensing.Errorf(licensing.EUNAUTHORIZED, "sign in with your license key as the password (any user name)")
	}
	ctx := c.UserContext()
	products, err := s.store.ListProducts(ctx)
	if err != nil {
		return err
	}
	repos := make([]string, len(products))
	codeOf := map[string]string{}
	for i, p := range products {
		repos[i] = p.Repository
		codeOf[p.Repository] = p.Code
	}
	now := s.now()
	var subject string
	var access []licensing.RegistryAccess

	if licensing.APIKeyPlausible(secret) {
		c.Request().Header.Set(fiber.HeaderAuthorization, "Bearer "+secret) // apiKey reads the bearer token
		key, err := s.apiKey(c)
		if err != nil {
			c.Set(fiber.HeaderWWWAuthenticate, `Basic realm="nls registry"`)
			return err
		}
		subject = "apikey:" + key.Prefix
		push := licensing.ScopeAllows(key.Scopes, licensing.ScopeRegistryPush)
		for _, sc := range scopes {
			if _, _, ok := licensing.RegistryRepository(sc.name, repos); !ok || !push {
				continue
			}
			if acts := intersect(sc.actions, "pull", "push"); len(acts) > 0 {
				access = append(access, licensing.RegistryAccess{Type: "repository", Name: sc.name, Actions: acts})
			}
		}
	} else {
		d, err := s.licenseByKey(c, secret)
		if err != nil {
			c.Set(fiber.HeaderWWWAuthenticate, `Basic realm="nls registry"`)
			return err
		}
		la := licensing.AccessAt(d.Facts, d.Entitlement, now)
		if la.Denial != licensing.DenyNone {
			// Revoked, suspended, not yet valid, or expired under restrict:
			// no token at all, so docker login fails too.
			c.Set(fiber.HeaderWWWAuthenticate, `Basic realm="nls registry"`)
			return &licensing.Error{Code: licensing.EUNAUTHORIZED, Message: "this license may not pull images",
				Details: []licensing.ErrorDetail{{Field: "reason", Message: string(la.Denial)}}}
		}
		subject = "license:" + d.LicenseID.String()
		for _, sc := range scopes {
			if !containsString(sc.actions, "pull") {
				continue
			}
			if s.mayPull(c, d, la, sc.name, repos, codeOf) {
				access = append(access, licensing.RegistryAccess{Type: "repository", Name: sc.name, Actions: []string{"pull"}})
			}
		}
	}
	_ = user // the user name is not a credential; the specification lets clients send anything
	kid := licensing.RegistrySigningKid(s.dist.regKeys.List(), s.dist.cfg.RegistryKeyDelay, now)
	ttl := s.dist.cfg.RegistryTokenTTL
	tok, err := s.dist.regKeys.SignRegistryToken(kid, licensing.NewRegistryClaims(s.dist.cfg.RegistryIssuer,
		s.dist.cfg.RegistryService, subject, uuid.NewString(), access, ttl, now))
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(fiber.Map{"token": tok, "access_token": tok, "expires_in": int(ttl / time.Second),
		"issued_at": now.UTC().Format(time.RFC3339)})
}

// mayPull decides one repository for a license.
func (s *Server) mayPull(c *fiber.Ctx, d db.Distribution, la licensing.LicenseAccess, name string, repos []string,
	codeOf map[string]string) bool {
	repo, version, ok := licensing.RegistryRepository(name, repos)
	if !ok || !containsString(d.Entitlement.Products, codeOf[repo]) {
		return false
	}
	if version == nil {
		// The bare repository follows the newest images: only for licenses
		// with nothing cut off.
		return la.Cutoff == nil
	}
	r, err := s.store.GetReleaseByRepositoryVersion(c.UserContext(), db.GetReleaseByRepositoryVersionParams{
		Repository: repo, Version: version.String()})
	if err != nil {
		return false
	}
	rel := db.ReleaseFacts(r.ProductCode, r.Version, r.Channel, r.PublishedAt, r.YankedAt)
	return la.Allows(d.Entitlement, rel) == licensing.DenyNone
}

func intersect(asked []string, allowed ...string) []string {
	var out []string
	for _, a := range asked {
		if containsString(allowed, a) && !containsString(out, a) {
			out = append(out, a)
		}
	}
	return out
}
