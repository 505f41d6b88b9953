// Reading what callers send, at the edge: JSON bodies (unknown fields,
// text PostgreSQL cannot store), query strings and form bodies (the same
// text check), form fields from the body only, and the window of dates a
// license may carry.
package handlers

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"

	"github.com/nectarcloud/nls/licensing"
)

// bodyFormValue reads a field of a urlencoded or multipart form body.
// Unlike c.FormValue it never falls back to the query string, so a value
// that must not travel in URLs (a CSRF token: URLs end up in logs,
// Referer headers and browser history) is never taken from one.
func bodyFormValue(c *fiber.Ctx, name string) string {
	if v := c.Request().PostArgs().Peek(name); v != nil {
		return string(v)
	}
	if f, err := c.MultipartForm(); err == nil && f != nil {
		if vs := f.Value[name]; len(vs) > 0 {
			return vs[0]
		}
	}
	return ""
}

// storableText reports whether PostgreSQL can store s as text or inside
// jsonb: valid UTF-8 without NUL bytes (SQLSTATE 22021 and 22P05 otherwise).
func storableText(s string) bool {
	return utf8.ValidString(s) && strings.IndexByte(s, 0) < 0
}

const unstorableMessage = "contains a NUL byte or invalid UTF-8"

func unstorable(field string) *licensing.Error {
	return licensing.Invalid(field+" "+unstorableMessage, licensing.ErrorDetail{Field: field, Message: unstorableMessage})
}

// checkQueryText refuses a query string carrying text PostgreSQL cannot
// store, whatever the route, naming the parameter. Every handler reads
// its parameters after this, so none needs its own check.
func (s *Server) checkQueryText(c *fiber.Ctx) error {
	var bad string
	c.Request().URI().QueryArgs().VisitAll(func(k, v []byte) {
		if bad == "" && !(storableText(string(k)) && storableText(string(v))) {
			bad = string(k)
			if !storableText(bad) {
				bad = strconv.QuoteToASCII(bad)
			}
		}
	})
	if bad != "" {
		return unstorable(bad)
	}
	return c.Next()
}

// badFormField names the first field of a urlencoded or multipart form
// body whose name or value PostgreSQL cannot store; "" when all can be.
func badFormField(c *fiber.Ctx) string {
	var bad string
	check := func(k, v string) {
		if bad == "" && !(storableText(k) && storableText(v)) {
			bad = k
			if !storableText(bad) {
				bad = strconv.QuoteToASCII(bad)
			}
		}
	}
	ct := strings.ToLower(c.Get(fiber.HeaderContentType))
	switch {
	case strings.HasPrefix(ct, fiber.MIMEApplicationForm):
		c.Request().PostArgs().VisitAll(func(k, v []byte) { check(string(k), string(v)) })
	case strings.HasPrefix(ct, fiber.MIMEMultipartForm):
		if f, err := c.MultipartForm(); err == nil && f != nil {
			for k, vs := range f.Value {
				for _, v := range vs {
					check(k, v)
				}
			}
		}
	}
	return bad
}

// decodeJSON reads a management API body into v: malformed JSON is 400; a
// value of the wrong type, a field v does not have, or text PostgreSQL
// cannot store is 422 naming the field; trailing data is 400. Unknown
// fields are refused so that a typo ("maxDeployment") is not silently
// ignored.
func decodeJSON(c *fiber.Ctx, v any) error { return decodeBody(c, v, true) }

// decodeJSONLenient reads a machine API body: unknown fields are ignored,
// so that installations running newer or older clients keep working.
func decodeJSONLenient(c *fiber.Ctx, v any) error { return decodeBody(c, v, false) }

func decodeBody(c *fiber.Ctx, v any, strict bool) error {
	ct := c.Get(fiber.HeaderContentType)
	if ct != "" && !strings.HasPrefix(strings.ToLower(ct), fiber.MIMEApplicationJSON) {
		return licensing.Errorf(licensing.EMALFORMED, "expected Content-Type application/json")
	}
	body := c.Body()
	if len(bytes.TrimSpace(body)) == 0 {
		return licensing.Errorf(licensing.EMALFORMED, "request body is empty; expected a JSON object")
	}
	// encoding/json would turn invalid UTF-8 into U+FFFD silently and keep
	// \u0000, which PostgreSQL refuses: find the field before decoding.
	if !utf8.Valid(body) || bytes.Contains(body, []byte(`\u0000`)) {
		if field := unstorableJSONField(body); field != "" {
			return unstorable(field)
		}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if strict {
		dec.DisallowUnknownFields()
	}
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			field := te.Field
			if field == "" {
				return licensing.Errorf(licensing.EMALFORMED, "expected a JSON object")
			}
			return licensing.Invalid("wrong type for "+field,
				licensing.ErrorDetail{Field: field, Message: "expected " + jsonTypeName(te.Type.String()) + ", got " + te.Value})
		}
		var ve *fieldError
		if errors.As(err, &ve) {
			return licensing.Invalid(ve.msg, licensing.ErrorDetail{Field: ve.field, Message: ve.msg})
		}
		if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			return unknownFields(body, v, name)
		}
		return licensing.Errorf(licensing.EMALFORMED, "malformed JSON: %s", jsonErrorText(err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return licensing.Errorf(licensing.EMALFORMED, "malformed JSON: unexpected data after the object")
	}
	return nil
}

// unknownFields names every top-level field of body that v does not have
// (encoding/json stops at the first), or the nested one it reported.
func unknownFields(body []byte, v any, reported string) error {
	known := jsonFieldNames(reflect.TypeOf(v))
	var top map[string]json.RawMessage
	var names []string
	if json.Unmarshal(body, &top) == nil {
		for k := range top {
			if !known[k] {
				names = append(names, k)
			}
		}
	}
	if len(names) == 0 {
		if n, err := strconv.Unquote(reported); err == nil {
			reported = n
		}
		names = []string{reported}
	}
	sort.Strings(names)
	details := make([]licensing.ErrorDetail, len(names))
	for i, n := range names {
		msg := "is not a field of this request"
		if near := nearestField(n, known); near != "" {
			msg += "; did you mean " + near + "?"
		}
		details[i] = licensing.ErrorDetail{Field: n, Message: msg}
	}
	return licensing.Invalid("unknown field "+strings.Join(names, ", "), details...)
}

// jsonFieldNames are the JSON names of a struct's fields.
func jsonFieldNames(t reflect.Type) map[string]bool {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	out := map[string]bool{}
	if t == nil || t.Kind() != reflect.Struct {
		return out
	}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if f.Anonymous {
			for k := range jsonFieldNames(f.Type) {
				out[k] = true
			}
			continue
		}
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = true
	}
	return out
}

// nearestField suggests the known field a typo most likely meant: the
// same name in another case, or one at most two edits away.
func nearestField(name string, known map[string]bool) string {
	best, bestD := "", 3
	for k := range known {
		if strings.EqualFold(k, name) {
			return k
		}
		if d := editDistance(strings.ToLower(k), strings.ToLower(name)); d < bestD || d == bestD && k < best {
			best, bestD = k, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// unstorableJSONField walks a JSON document and names (as a dotted path,
// array positions in brackets) the first string, key or value, that holds
// a NUL byte or invalid UTF-8 as sent. "" when there is none or the JSON
// is malformed (decoding then reports that).
func unstorableJSONField(body []byte) string {
	dec := json.NewDecoder(bytes.NewReader(body))
	type frame struct {
		object    bool
		key       string
		index     int
		expectKey bool
	}
	var stack []frame
	path := func(last string) string {
		var b strings.Builder
		for _, f := range stack {
			if f.object {
				if b.Len() > 0 {
					b.WriteByte('.')
				}
				b.WriteString(f.key)
			} else {
				b.WriteString("[" + strconv.Itoa(f.index) + "]")
			}
		}
		if last != "" {
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(last)
		}
		if b.Len() == 0 {
			return "body"
		}
		return b.String()
	}
	// after a value: move the enclosing container to its next slot.
	advance := func() {
		if n := len(stack); n > 0 {
			if stack[n-1].object {
				stack[n-1].expectKey = true
			} else {
				stack[n-1].index++
			}
		}
	}
	for {
		start := dec.InputOffset()
		tok, err := dec.Token()
		if err != nil {
			return ""
		}
		raw := body[start:dec.InputOffset()]
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{', '[':
				stack = append(stack, frame{object: t == '{', expectKey: t == '{'})
			case '}', ']':
				stack = stack[:len(stack)-1]
				advance()
			}
		case string:
			bad := !utf8.Valid(raw) || strings.IndexByte(t, 0) >= 0
			if n := len(stack); n > 0 && stack[n-1].object && stack[n-1].expectKey {
				if bad {
					return path(strconv.QuoteToASCII(t))
				}
				stack[n-1].key, stack[n-1].expectKey = t, false
				continue
			}
			if bad {
				return path("")
			}
			advance()
		default:
			advance()
		}
	}
}

// Dates a license may carry: a year-1 start or a year-9999 expiry is a
// mistake (or a probe), not a plan, and far years break date arithmetic
// in clients. The window is wide enough for any real license.
var (
	earliestLicenseDate = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	latestLicenseDate   = time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC) // exclusive
)

const licenseDateWindow = "must be between 2000-01-01 and 2999-12-31"

func inLicenseDateWindow(t time.Time) bool {
	return !t.Before(earliestLicenseDate) && t.Before(latestLicenseDate)
}

// formTextErrors starts a form's error map with the field (if any) whose
// text PostgreSQL cannot store, so that the form is shown again with the
// problem in place, like any other validation error, and nothing is saved.
func formTextErrors(c *fiber.Ctx) map[string]string {
	errs := map[string]string{}
	if f := badFormField(c); f != "" {
		errs[f] = "Contains a NUL byte or invalid UTF-8: remove it and try again."
	}
	return errs
}
