package licensing

import (
	"net/mail"
	"strings"
	"unicode/utf8"
)

// Problems collects field errors so that a form or request reports them all at once.
type Problems []ErrorDetail

// Add records a problem with field.
func (p *Problems) Add(field, msg string) { *p = append(*p, ErrorDetail{Field: field, Message: msg}) }

// Err is nil when there were no problems, else one EINVALID error naming them.
func (p Problems) Err() error {
	if len(p) == 0 {
		return nil
	}
	msg := p[0].Field + ": " + p[0].Message
	if len(p) > 1 {
		msg += " (and more)"
	}
	return &Error{Code: EINVALID, Message: msg, Details: p}
}

// ValidEmail accepts a plain address (no display name) of sane length.
func ValidEmail(s string) bool {
	if len(s) > 254 || strings.ContainsAny(s, " <>\t\r\n") {
		return false
	}
	a, err := mail.ParseAddress(s)
	return err == nil && a.Address == s && strings.Contains(s[strings.LastIndexByte(s, '@'):], ".")
}

// CheckText validates a required or optional single-line text field.
func (p *Problems) CheckText(field, value string, required bool, max int) {
	switch {
	case required && strings.TrimSpace(value) == "":
		p.Add(field, "is required")
	case utf8.RuneCountInString(value) > max:
		p.Add(field, "is longer than the allowed characters")
	case !utf8.ValidString(value):
		p.Add(field, "is not valid UTF-8")
	}
}

// ValidateCustomer checks a customer's name, email and company.
func ValidateCustomer(name, email, company string) error {
	var p Problems
	p.CheckText("name", name, true, 200)
	if !ValidEmail(email) {
		p.Add("email", "must be an email address like ops@example.com")
	}
	p.CheckText("company", company, false, 200)
	return p.Err()
}
