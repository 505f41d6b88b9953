// Package components holds small templ building blocks shared by layouts,
// pages and partials: badges, buttons, toasts, empty states.
//
// Every class a component can emit is spelled out in full in this package so
// Tailwind, which scans web/templates for class names, keeps it in app.css.
package components

import (
	"strings"

	"github.com/a-h/templ"
)

// CSRF token transport shared by forms and htmx requests; the handlers'
// CSRF middleware reads the same names.
const (
	CSRFFieldName  = "csrf_token"   // hidden form field on plain <form> posts
	CSRFHeaderName = "X-CSRF-Token" // header htmx sends (hx-headers on <body>)
)

// License states, as licensing names the effective status.
const (
	StateActive      = "active"
	StateGrace       = "grace"
	StatePastDue     = "past_due"
	StateExpired     = "expired"
	StateSuspended   = "suspended"
	StateNotYetValid = "not_yet_valid"
	StateRevoked     = "revoked"
)

// BadgeLabel is the words a badge shows for a state, so the state is read
// from text and never from colour alone. Unknown states are humanised.
func BadgeLabel(state string) string {
	switch state {
	case StateActive:
		return "Active"
	case StateGrace:
		return "Grace period"
	case StatePastDue:
		return "Past due"
	case StateExpired:
		return "Expired"
	case StateSuspended:
		return "Suspended"
	case StateNotYetValid:
		return "Not yet valid"
	case StateRevoked:
		return "Revoked"
	case "":
		return "Unknown"
	}
	s := strings.ReplaceAll(state, "_", " ")
	return strings.ToUpper(s[:1]) + s[1:]
}

// BadgeClass is the CSS class list of a state's badge.
func BadgeClass(state string) string {
	switch state {
	case StateActive:
		return "badge badge-active"
	case StateGrace:
		return "badge badge-grace"
	case StatePastDue:
		return "badge badge-past_due"
	case StateExpired:
		return "badge badge-expired"
	case StateSuspended:
		return "badge badge-suspended"
	case StateNotYetValid:
		return "badge badge-not_yet_valid"
	case StateRevoked:
		return "badge badge-revoked"
	}
	return "badge badge-neutral"
}

// Button variants for ButtonClass.
const (
	ButtonDefault = ""
	ButtonPrimary = "primary"
	ButtonDanger  = "danger"
	ButtonGhost   = "ghost"
)

// ButtonClass is the CSS class list of a button or button-like link.
func ButtonClass(variant string) string {
	switch variant {
	case ButtonPrimary:
		return "btn btn-primary"
	case ButtonDanger:
		return "btn btn-danger"
	case ButtonGhost:
		return "btn btn-ghost"
	}
	return "btn"
}

// Toast kinds: the values of Flash.Kind.
const (
	ToastSuccess = "success"
	ToastError   = "error"
	ToastInfo    = "info"
)

func toastClass(kind string) string {
	switch kind {
	case ToastSuccess:
		return "toast toast-success"
	case ToastError:
		return "toast toast-error"
	}
	return "toast toast-info"
}

// toastPrefix names the kind in words for screen readers.
func toastPrefix(kind string) string {
	switch kind {
	case ToastSuccess:
		return "Success:"
	case ToastError:
		return "Error:"
	}
	return "Note:"
}

// FieldAttrs marks a form field invalid and points it at its error message
// (errorID) when invalid; hint ids, always shown, follow the error's in
// aria-describedby.
func FieldAttrs(invalid bool, errorID string, hints ...string) templ.Attributes {
	a := templ.Attributes{}
	ids := hints
	if invalid {
		a["aria-invalid"] = "true"
		ids = append([]string{errorID}, hints...)
	}
	if len(ids) > 0 {
		a["aria-describedby"] = strings.Join(ids, " ")
	}
	return a
}
