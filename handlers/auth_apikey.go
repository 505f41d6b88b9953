package handlers

import (
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/nectarcloud/nls/db"
	"github.com/nectarcloud/nls/licensing"
)

const localAPIKey = "apiKey"

func bearerToken(c *fiber.Ctx) string {
	h := c.Get(fiber.HeaderAuthorization)
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

// failedAuthWeight is how many requests one failed authentication counts as
// against its client's limit: guessing keys runs out of budget ten times
// sooner than honest use does.
const failedAuthWeight = 10

// requireScope authenticates the API key in Authorization: Bearer and checks
// it grants scope. No, unknown, revoked or expired key: 401. Missing scope: 403.
// The client's address is limited before anything is looked up, so a flood
// of wrong keys costs no queries once over the limit; the key is limited
// after it authenticated, wherever its requests come from.
func (s *Server) requireScope(scope string) fiber.Handler {
	return func(c *fiber.Ctx) error {
		ipKey := "api-ip:" + c.IP()
		if err := s.allow(c, ipKey, s.cfg.APIRate); err != nil {
			return err
		}
		key, err := s.apiKey(c)
		if err != nil {
			if licensing.ErrorCode(err) == licensing.EUNAUTHORIZED {
				s.charge(c, ipKey, s.cfg.APIRate, failedAuthWeight-1)
				// Counted per source for the insights' attack detector,
				// in batches off the request path.
				s.stats.Failure(c.IP(), "api_auth", uuid.Nil, s.now())
			}
			return err
		}
		if !licensing.ScopeAllows(key.Scopes, scope) {
			return licensing.Errorf(licensing.EFORBIDDEN, "this API key lacks the %s scope", scope)
		}
		return s.limit(c, "api-key:"+key.ID.String(), s.cfg.APIRate)
	}
}

func (s *Server) apiKey(c *fiber.Ctx) (db.ApiKey, error) {
	if k, ok := c.Locals(localAPIKey).(db.ApiKey); ok {
		return k, nil
	}
	token := bearerToken(c)
	if token == "" {
		c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="nls"`)
		return db.ApiKey{}, licensing.Errorf(licensing.EUNAUTHORIZED, "an API key is required: Authorization: Bearer <key>")
	}
	if !licensing.APIKeyPlausible(token) {
		// Wrong prefix, length, alphabet or checksum: no key of ours, and
		// no query to find that out.
		return db.ApiKey{}, licensing.Errorf(licensing.EUNAUTHORIZED, "invalid API key")
	}
	hash := licensing.HashAPIKey(token)
	key, err := s.store.GetAPIKeyBySecretHash(c.UserContext(), hash[:])
	if err != nil {
		if licensing.ErrorCode(err) == licensing.ENOTFOUND {
			return db.ApiKey{}, licensing.Errorf(licensing.EUNAUTHORIZED, "invalid API key")
		}
		return db.ApiKey{}, err
	}
	now := s.now()
	if key.RevokedAt != nil {
		return db.ApiKey{}, licensing.Errorf(licensing.EUNAUTHORIZED, "this API key was revoked")
	}
	if key.ExpiresAt != nil && !now.Before(*key.ExpiresAt) {
		return db.ApiKey{}, licensing.Errorf(licensing.EUNAUTHORIZED, "this API key has expired")
	}
	if err := s.store.TouchAPIKey(c.UserContext(), db.TouchAPIKeyParams{ID: key.ID, UsedAt: now}); err != nil {
		s.log.Warn("recording API key use failed", "api_key", key.Prefix, "err", err)
	}
	c.Locals(localAPIKey, key)
	return key, nil
}

// apiActor names the API key behind the request, for the audit log.
func (s *Server) apiActor(c *fiber.Ctx) licensing.Actor {
	a := licensing.Actor{Type: licensing.ActorAPIKey, IP: c.IP(), UserAgent: string([]byte(c.Get(fiber.HeaderUserAgent))),
		RequestID: requestIDOf(c)}
	if k, ok := c.Locals(localAPIKey).(db.ApiKey); ok {
		a.ID, a.Label = k.ID.String(), k.Name+" ("+k.Prefix+"…)"
	}
	return a
}
