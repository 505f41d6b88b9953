package handlers

import (
	"errors"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/nectarcloud/nls/db"
	"github.com/nectarcloud/nls/licensing"
	"github.com/nectarcloud/nls/web/templates/pages"
)

// errorBody is the error envelope of ARCHITECTURE.md.
type errorBody struct {
	Error     errorDetail `json:"error"`
	RequestID string      `json:"requestId"`
}

type errorDetail struct {
	Code    string                  `json:"code"`
	Message string                  `json:"message"`
	Details []licensing.ErrorDetail `json:"details"`
}

// HTTP-level refusals with no domain meaning live here rather than among
// licensing's codes.
const (
	codeMethodNotAllowed = "method_not_allowed"
	codeHeadersTooLarge  = "headers_too_large"
)

var statusOf = map[string]int{
	codeMethodNotAllowed:    fiber.StatusMethodNotAllowed,
	codeHeadersTooLarge:     fiber.StatusRequestHeaderFieldsTooLarge,
	licensing.EMALFORMED:    fiber.StatusBadRequest,
	licensing.EINVALID:      fiber.StatusUnprocessableEntity,
	licensing.ENOTFOUND:     fiber.StatusNotFound,
	licensing.ECONFLICT:     fiber.StatusConflict,
	licensing.EUNAUTHORIZED: fiber.StatusUnauthorized,
	licensing.EFORBIDDEN:    fiber.StatusForbidden,
	licensing.ETOOLARGE:     fiber.StatusRequestEntityTooLarge,
	licensing.ERATELIMITED:  fiber.StatusTooManyRequests,
	licensing.EUNAVAILABLE:  fiber.StatusServiceUnavailable,
	licensing.EINTERNAL:     fiber.StatusInternalServerError,
}

// retryAfterUnavailable is the Retry-After of a 503, in seconds: long enough
// that clients do not hammer a database coming back, short enough that they
// notice soon after it has.
const retryAfterUnavailable = "5"

// classify turns any error into the domain error the caller may see.
func classify(err error) *licensing.Error {
	var le *licensing.Error
	if errors.As(err, &le) {
		if le.Code == licensing.EINTERNAL {
			return &licensing.Error{Code: licensing.EINTERNAL, Message: "internal error", Err: le.Err}
		}
		return le
	}
	var fe *fiber.Error
	if errors.As(err, &fe) {
		switch fe.Code {
		case fiber.StatusNotFound:
			return licensing.Errorf(licensing.ENOTFOUND, "no such route")
		case fiber.StatusMethodNotAllowed:
			// Fiber has already named the route's methods in Allow.
			return licensing.Errorf(codeMethodNotAllowed, "this route does not take that method; see the Allow header")
		case fiber.StatusRequestHeaderFieldsTooLarge:
			return licensing.Errorf(codeHeadersTooLarge, "request headers too large")
		case fiber.StatusRequestEntityTooLarge:
			return licensing.Errorf(licensing.ETOOLARGE, "request body too large")
		case fiber.StatusUnsupportedMediaType:
			return licensing.Errorf(licensing.EMALFORMED, "unsupported content type")
		case fiber.StatusTooManyRequests:
			return licensing.Errorf(licensing.ERATELIMITED, "too many requests")
		}
		if fe.Code >= 400 && fe.Code < 500 {
			return licensing.Errorf(licensing.EMALFORMED, "%s", fe.Message)
		}
	}
	return licensing.Internal(err)
}

// handleError is the one place errors become responses: the JSON envelope
// under /api, an HTML page elsewhere. Only internal errors are logged, with
// their cause; the caller sees "internal error" and the request id.
func (s *Server) handleError(c *fiber.Ctx, err error) error {
	le := classify(err)
	status := statusOf[le.Code]
	if status == 0 {
		status = fiber.StatusInternalServerError
	}
	rid := requestIDOf(c)
	switch {
	case errors.Is(err, db.ErrUnreachable):
		// Logged once per outage, not once per request.
		s.outage.failure(err)
	case status >= 500:
		s.log.Error("request failed", "request_id", rid, "method", c.Method(), "path", c.Path(), "err", err)
	}
	if status == fiber.StatusServiceUnavailable && len(c.Response().Header.Peek(fiber.HeaderRetryAfter)) == 0 {
		c.Set(fiber.HeaderRetryAfter, retryAfterUnavailable)
	}
	details := le.Details
	if details == nil {
		details = []licensing.ErrorDetail{}
	}
	// Headers too large to read leave the request unparsed: its path is
	// unknown, so the answer is the envelope, which API clients can read.
	if isAPIRequest(c) || le.Code == codeHeadersTooLarge {
		return c.Status(status).JSON(errorBody{
			Error:     errorDetail{Code: le.Code, Message: le.Message, Details: details},
			RequestID: rid,
		})
	}
	c.Status(status)
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	title := map[int]string{400: "Bad request", 401: "Sign-in required", 403: "Not allowed", 404: "Page not found", 405: "Not allowed here",
		413: "Too large", 422: "Check your input", 429: "Slow down", 503: "Temporarily unavailable"}[status]
	if title == "" {
		title = "Something went wrong"
	}
	return pages.ErrorPage(s.page(c, title), status, title, le.Message, rid).Render(c.UserContext(), c.Response().BodyWriter())
}

func isAPIRequest(c *fiber.Ctx) bool {
	p := c.Path()
	return p == "/api" || strings.HasPrefix(p, "/api/") || strings.HasPrefix(p, "/.well-known/") ||
		p == "/healthz" || p == "/readyz" || p == "/metrics"
}
