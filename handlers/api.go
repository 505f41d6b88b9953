package handlers

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/nectarcloud/nls/licensing"
)

// registerAPIRoutes mounts the management API (API-key auth).
func (s *Server) registerAPIRoutes(api fiber.Router) {
	s.registerCustomerRoutes(api)
	s.registerPlanRoutes(api)
	s.registerAuditRoutes(api)
	s.registerLicenseRoutes(api)
	s.registerDashboardRoutes(api)
	s.registerOpenAPIRoutes(api)
	s.registerStripeRoutes(api)
	s.registerWebhookRoutes(api)
	s.registerFindingRoutes(api)
}

// fieldError lets custom UnmarshalJSON methods name the offending field.
type fieldError struct{ field, msg string }

func (e *fieldError) Error() string { return e.field + ": " + e.msg }

func jsonTypeName(goType string) string {
	switch {
	case strings.HasPrefix(goType, "int"), strings.HasPrefix(goType, "uint"), strings.HasPrefix(goType, "*int"):
		return "an integer"
	case strings.Contains(goType, "string"):
		return "a string"
	case strings.Contains(goType, "bool"):
		return "a boolean"
	case strings.HasPrefix(goType, "[]"), strings.HasPrefix(goType, "*[]"):
		return "an array"
	case strings.HasPrefix(goType, "map"), strings.Contains(goType, "Map"):
		return "an object"
	case strings.Contains(goType, "Time"):
		return "an RFC 3339 time"
	}
	return goType
}

func jsonErrorText(err error) string {
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return "unexpected end of input"
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return se.Error() + " at offset " + strconv.FormatInt(se.Offset, 10)
	}
	return "invalid body"
}

// page is a keyset position: the sort key and id of the last row shown.
type page struct {
	Limit  int32
	After  *cursor
	Cursor string
}

type cursor struct {
	T  time.Time `json:"t"`
	ID uuid.UUID `json:"i"`
	N  int64     `json:"n,omitempty"` // for lists keyed by a number (audit)
	S  string    `json:"s,omitempty"` // for lists keyed by text (plan codes)
}

// parsePage reads limit (default 50, at most 200) and cursor from the query.
func parsePage(c *fiber.Ctx) (page, error) {
	p := page{Limit: 50}
	if l := c.Query("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > 200 {
			return p, licensing.Invalid("limit must be an integer from 1 to 200",
				licensing.ErrorDetail{Field: "limit", Message: "expected 1 to 200"})
		}
		p.Limit = int32(n)
	}
	if raw := c.Query("cursor"); raw != "" {
		b, err := base64.RawURLEncoding.DecodeString(raw)
		var cur cursor
		if err != nil || json.Unmarshal(b, &cur) != nil {
			return p, licensing.Invalid("cursor is not one this API returned",
				licensing.ErrorDetail{Field: "cursor", Message: "invalid cursor"})
		}
		p.After = &cur
	}
	return p, nil
}

func encodeCursor(cur cursor) *string {
	b, _ := json.Marshal(cur)
	s := base64.RawURLEncoding.EncodeToString(b)
	return &s
}

// listBody is the list envelope: {"data": [...], "nextCursor": "..."|null}.
type listBody[T any] struct {
	Data       []T     `json:"data"`
	NextCursor *string `json:"nextCursor"`
}

// parseUUID reads a path or body id; a malformed id is simply not found.
func parseUUID(s, what string) (uuid.UUID, error) {
	id, err := uuid.Parse(s)
	if err != nil {
		return uuid.Nil, licensing.Errorf(licensing.ENOTFOUND, "%s not found", what)
	}
	return id, nil
}

// likePattern escapes LIKE wildcards in user text.
func likePattern(q string) *string {
	q = strings.TrimSpace(q)
	if q == "" {
		return nil
	}
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(q)
	return &r
}

// jsonTime renders times as RFC 3339 in UTC.
type jsonTime = time.Time

func utc(t time.Time) time.Time { return t.UTC() }

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

func hexString(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, len(b)*2)
	for i, x := range b {
		out[2*i], out[2*i+1] = digits[x>>4], digits[x&15]
	}
	return string(out)
}

func trimmed(s string) string { return strings.TrimSpace(s) }

func parseIntRange(v string, min, max int) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil || n < min || n > max {
		return 0, licensing.Invalid("out of range")
	}
	return n, nil
}

func encodeLimits(m map[string]int64) []byte {
	b, _ := json.Marshal(m)
	return b
}
