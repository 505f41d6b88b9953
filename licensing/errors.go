// The one error type of NLS, with a code each adapter maps once (handlers
// to an HTTP status, db from PostgreSQL errors).

package licensing

import (
	"errors"
	"fmt"
)

// Error codes. Each maps to exactly one HTTP status in handlers' error handler.
const (
	EINVALID      = "invalid"      // 422: well-formed request, unacceptable values
	EMALFORMED    = "malformed"    // 400: unparseable request
	ENOTFOUND     = "not_found"    // 404
	ECONFLICT     = "conflict"     // 409
	EUNAUTHORIZED = "unauthorized" // 401: no or bad credentials
	EFORBIDDEN    = "forbidden"    // 403: credentials lack the right
	ETOOLARGE     = "too_large"    // 413
	ERATELIMITED  = "rate_limited" // 429
	EUNAVAILABLE  = "unavailable"  // 503
	EINTERNAL     = "internal"     // 500: never shown beyond "internal error"
)

// ErrorDetail names one offending field and what is wrong with it.
type ErrorDetail struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Error is the one error type of NLS. Code decides the status; Message is
// safe to show to the caller; Err (the cause) is only ever logged.
type Error struct {
	Code    string
	Message string
	Details []ErrorDetail
	Err     error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf builds an Error with a formatted, user-safe message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Invalid builds an EINVALID error naming the offending fields.
func Invalid(message string, details ...ErrorDetail) *Error {
	return &Error{Code: EINVALID, Message: message, Details: details}
}

// Internal wraps a cause that must never reach the caller.
func Internal(err error) *Error {
	return &Error{Code: EINTERNAL, Message: "internal error", Err: err}
}

// ErrorCode returns the code of err, EINTERNAL for any error not of our type.
func ErrorCode(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the user-safe message of err.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) && e.Code != EINTERNAL {
		return e.Message
	}
	return "internal error"
}
