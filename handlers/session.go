package handlers

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"
	"github.com/gorilla/securecookie"
	"github.com/gorilla/sessions"

	"github.com/nectarcloud/nls/db"
	"github.com/nectarcloud/nls/licensing"
	"github.com/nectarcloud/nls/web/templates/components"
)

// The session travels in a cookie signed (HMAC-SHA256) and encrypted
// (AES-256) with gorilla/sessions' cookie codecs. The previous secret still
// opens cookies during a rotation; new cookies use the current one.
//
// A signed-in cookie also carries a random token whose SHA-256 names a row of
// the sessions table, and every signed-in request checks that row (one
// indexed read, which also checks the user): signing out, "sign out
// everywhere", a password change or disabling the account revoke rows, so a
// copied cookie stops working at once on every process serving the database.

const (
	sessionCookie   = "nls_session"
	sessionIdle     = 2 * time.Hour
	sessionAbsolute = 12 * time.Hour
	localSession    = "session"
	localChecked    = "sessionChecked"
	csrfFieldName   = "csrf_token"
	csrfHeaderName  = "X-CSRF-Token"
)

// session is what the cookie carries. An anonymous session has only a CSRF
// token (the sign-in form needs one too).
type session struct {
	Token      string     `json:"t,omitempty"` // names the sessions row (by its SHA-256) of a signed-in session
	UserID     *uuid.UUID `json:"u,omitempty"`
	Role       string     `json:"r,omitempty"`
	CustomerID *uuid.UUID `json:"c,omitempty"`
	Email      string     `json:"e,omitempty"`
	CSRF       string     `json:"x"`
	IssuedAt   int64      `json:"i"`
	SeenAt     int64      `json:"s"`
	Flash      *flash     `json:"f,omitempty"`

	// Between the password and the two-factor code: whose password was
	// right, and when. It grants nothing (signedIn needs Token).
	Pending   *uuid.UUID `json:"p,omitempty"`
	PendingAt int64      `json:"pa,omitempty"`
	Next      string     `json:"n,omitempty"`
	// A TOTP secret being enrolled, until a code from it is confirmed.
	// The cookie is encrypted, so the secret does not travel in clear.
	Enrol string `json:"en,omitempty"`
}

// flash is a message carried to the next page a browser loads, after a
// form post answered with a redirect.
type flash struct {
	Kind    string `json:"k"`
	Message string `json:"m"`
}

func (s *session) signedIn() bool { return s != nil && s.UserID != nil && s.Token != "" }

// sessionTokenHash is how a session's token is stored and looked up.
func sessionTokenHash(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// SessionKeys derives cookie codecs from the current and previous secrets.
func SessionKeys(current, previous string) []securecookie.Codec {
	pairs := [][]byte{}
	for _, secret := range []string{current, previous} {
		if secret == "" {
			continue
		}
		hashKey := sha256.Sum256([]byte("nls-session-hash:" + secret))
		blockKey := sha256.Sum256([]byte("nls-session-block:" + secret))
		pairs = append(pairs, hashKey[:], blockKey[:])
	}
	store := sessions.NewCookieStore(pairs...)
	for _, c := range store.Codecs {
		if sc, ok := c.(*securecookie.SecureCookie); ok {
			sc.SetSerializer(securecookie.JSONEncoder{})
			sc.MaxAge(int(sessionAbsolute / time.Second))
		}
	}
	return store.Codecs
}

func newToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// loadSession reads and checks the cookie; an absent, forged, idle or too
// old session yields a fresh anonymous one.
func (s *Server) loadSession(c *fiber.Ctx) *session {
	if sess, ok := c.Locals(localSession).(*session); ok {
		return sess
	}
	now := s.now()
	var sess session
	raw := c.Cookies(sessionCookie)
	if raw == "" || len(s.codecs) == 0 || securecookie.DecodeMulti(sessionCookie, raw, &sess, s.codecs...) != nil ||
		now.Sub(time.Unix(sess.SeenAt, 0)) > sessionIdle || now.Sub(time.Unix(sess.IssuedAt, 0)) > sessionAbsolute ||
		sess.CSRF == "" {
		sess = session{CSRF: newToken(), IssuedAt: now.Unix(), SeenAt: now.Unix()}
		s.saveSession(c, &sess)
	} else if now.Unix()-sess.SeenAt > 60 {
		// Slide the idle window, at most once a minute.
		sess.SeenAt = now.Unix()
		s.saveSession(c, &sess)
	}
	c.Locals(localSession, &sess)
	return &sess
}

// saveSession writes the cookie: HttpOnly, SameSite=Lax, Secure behind TLS.
func (s *Server) saveSession(c *fiber.Ctx, sess *session) {
	if len(s.codecs) == 0 {
		return
	}
	v, err := securecookie.EncodeMulti(sessionCookie, sess, s.codecs...)
	if err != nil {
		s.log.Error("encoding session cookie failed", "err", err)
		return
	}
	c.Cookie(&fiber.Cookie{Name: sessionCookie, Value: v, Path: "/", HTTPOnly: true, SameSite: fiber.CookieSameSiteLaxMode,
		Secure: s.cfg.SecureCookies, MaxAge: int(sessionAbsolute / time.Second)})
	c.Locals(localSession, sess)
}

// startSession replaces the session at sign-in: a new sessions row, CSRF
// token and times, so that nothing from before sign-in carries over. Ended
// sessions of the user older than a day are forgotten on the way.
func (s *Server) startSession(c *fiber.Ctx, userID uuid.UUID, role, email string, customerID *uuid.UUID) error {
	at := s.now()
	token := newToken()
	ctx := c.UserContext()
	if _, err := s.store.CreateSession(ctx, db.CreateSessionParams{TokenHash: sessionTokenHash(token), UserID: userID,
		Now: at, ExpiresAt: at.Add(sessionAbsolute), Ip: clip(c.IP(), 64),
		UserAgent: clip(c.Get(fiber.HeaderUserAgent), 512)}); err != nil {
		return err
	}
	if err := s.store.DeleteEndedSessions(ctx, db.DeleteEndedSessionsParams{UserID: userID,
		Before: at.Add(-24 * time.Hour)}); err != nil {
		s.log.Warn("forgetting ended sessions failed", "user", userID, "err", err)
	}
	now := at.Unix()
	s.saveSession(c, &session{Token: token, UserID: &userID, Role: role, Email: email, CustomerID: customerID,
		CSRF: newToken(), IssuedAt: now, SeenAt: now})
	c.Locals(localChecked, true)
	return nil
}

// clip makes a header value storable as text: valid UTF-8 without NUL, at
// most n bytes, copied out of Fiber's reused buffers.
func clip(v string, n int) string {
	v = strings.ReplaceAll(strings.ToValidUTF8(v, ""), "\x00", "")
	for len(v) > n {
		_, size := utf8.DecodeLastRuneInString(v)
		v = v[:len(v)-size]
	}
	return strings.Clone(v)
}

// setFlash keeps a message for the next page this browser loads.
func (s *Server) setFlash(c *fiber.Ctx, kind, message string) {
	sess := s.loadSession(c)
	sess.Flash = &flash{Kind: kind, Message: message}
	s.saveSession(c, sess)
}

// takeFlash returns and forgets the pending message, if any.
func (s *Server) takeFlash(c *fiber.Ctx) *flash {
	sess := s.loadSession(c)
	f := sess.Flash
	if f != nil {
		sess.Flash = nil
		s.saveSession(c, sess)
	}
	return f
}

// endSession forgets the session in this browser; revoking its row is
// signOut's job.
func (s *Server) endSession(c *fiber.Ctx) {
	now := s.now().Unix()
	s.saveSession(c, &session{CSRF: newToken(), IssuedAt: now, SeenAt: now})
}

// csrfProtect refuses state-changing browser requests without the session's
// token, sent as the csrf_token form field or the X-CSRF-Token header (HTMX).
func (s *Server) csrfProtect(c *fiber.Ctx) error {
	switch c.Method() {
	case fiber.MethodGet, fiber.MethodHead, fiber.MethodOptions:
		return c.Next()
	}
	sess := s.loadSession(c)
	got := c.Get(csrfHeaderName)
	if got == "" {
		got = bodyFormValue(c, csrfFieldName)
	}
	if got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(sess.CSRF)) != 1 {
		return licensing.Errorf(licensing.EFORBIDDEN, "the form expired or did not come from this site: reload the page and try again")
	}
	return c.Next()
}

// requireRole lets signed-in users of role (any role when empty) through. A signed-out browser is
// sent to sign in (under HTMX with HX-Redirect, never a 302 into a swap
// target); a user of another role gets 403.
func (s *Server) requireRole(role string) fiber.Handler {
	return func(c *fiber.Ctx) error {
		sess := s.loadSession(c)
		if sess.signedIn() {
			current, err := s.sessionCurrent(c, sess)
			if err != nil {
				return err
			}
			if !current {
				s.endSession(c)
				s.setFlash(c, components.ToastInfo, "Your session has ended. Sign in again.")
				sess = s.loadSession(c)
			}
		}
		if !sess.signedIn() {
			back := c.OriginalURL()
			if isHTMX(c) {
				// The request's own URL may be a partial or a POST; come
				// back to the page the browser shows instead.
				back = "/"
				if u, err := url.Parse(c.Get("HX-Current-URL")); err == nil && u.Path != "" {
					back = u.RequestURI()
				}
			} else if c.Method() != fiber.MethodGet {
				back = "/"
			}
			login := "/login"
			if next := safeNext(back); next != "/" {
				login += "?next=" + url.QueryEscape(next)
			}
			return redirectWith(c, login, fiber.StatusUnauthorized)
		}
		if role != "" && sess.Role != role {
			return licensing.Errorf(licensing.EFORBIDDEN, "this page is not available to your account")
		}
		return c.Next()
	}
}

// sessionCurrent checks a signed-in session against its row and its user,
// once per request: the row is not revoked (signed out, here or
// everywhere; password set or changed; account disabled), expired or idle,
// and the user still exists and is enabled, with the same role and
// customer. So an ending made through any portal process takes effect at
// the next request everywhere.
func (s *Server) sessionCurrent(c *fiber.Ctx, sess *session) (bool, error) {
	if ok, done := c.Locals(localChecked).(bool); done {
		return ok, nil
	}
	now := s.now()
	ctx := c.UserContext()
	st, err := s.store.GetOpenSession(ctx, db.GetOpenSessionParams{TokenHash: sessionTokenHash(sess.Token),
		Now: now, IdleSince: now.Add(-sessionIdle)})
	if err != nil {
		if licensing.ErrorCode(err) != licensing.ENOTFOUND {
			return false, err
		}
		c.Locals(localChecked, false)
		return false, nil
	}
	ok := st.UserID == *sess.UserID && st.DisabledAt == nil && st.Role == sess.Role &&
		(st.CustomerID == nil) == (sess.CustomerID == nil) && (st.CustomerID == nil || *st.CustomerID == *sess.CustomerID)
	if ok && now.Sub(st.LastSeenAt) > time.Minute {
		// Slide the server's idle window too, at most once a minute.
		if err := s.store.TouchSession(ctx, db.TouchSessionParams{ID: st.ID, Now: now}); err != nil {
			s.log.Warn("recording session activity failed", "err", err)
		}
	}
	c.Locals(localChecked, ok)
	if ok {
		c.Locals(localAccount, accountState{adminRole: licensing.AdminRole(deref(st.AdminRole)), totp: st.TotpOn})
	}
	return ok, nil
}

// safeNext keeps only local paths, so that ?next= cannot send anyone off-site.
func safeNext(p string) string {
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.HasPrefix(p, "/\\") {
		return "/"
	}
	return p
}
