package components_test

import (
	"strings"
	"testing"

	"github.com/a-h/templ"

	"github.com/nectarcloud/nls/web/templates/components"
	"github.com/nectarcloud/nls/web/templates/internal/viewtest"
)

func TestBadge(t *testing.T) {
	tests := []struct{ state, label, class string }{
		{"active", "Active", "badge-active"},
		{"grace", "Grace period", "badge-grace"},
		{"past_due", "Past due", "badge-past_due"},
		{"expired", "Expired", "badge-expired"},
		{"suspended", "Suspended", "badge-suspended"},
		{"not_yet_valid", "Not yet valid", "badge-not_yet_valid"},
		{"revoked", "Revoked", "badge-revoked"},
		{"on_hold", "On hold", "badge-neutral"},
		{"", "Unknown", "badge-neutral"},
	}
	for _, tc := range tests {
		t.Run(tc.state, func(t *testing.T) {
			doc, _ := viewtest.MustRender(t, components.Badge(tc.state))
			b := viewtest.One(t, doc, `[data-testid=badge]`)
			if got := b.Text(); got != tc.label {
				t.Errorf("text: got %q, want %q", got, tc.label)
			}
			if !b.HasClass("badge") || !b.HasClass(tc.class) {
				t.Errorf("class: got %q, want badge %s", b.AttrOr("class", ""), tc.class)
			}
			if got := b.AttrOr("data-state", ""); got != tc.state {
				t.Errorf("data-state: got %q, want %q", got, tc.state)
			}
		})
	}
}

func TestEmptyState(t *testing.T) {
	doc, _ := viewtest.MustRender(t, viewtest.WithChildren(
		components.EmptyState("No licenses yet", "Create one to get started."),
		templ.Raw(`<a href="/admin/licenses/new" class="btn btn-primary">New license</a>`)))
	e := viewtest.One(t, doc, `[data-testid=empty-state]`)
	if got := e.Find("h3").Text(); got != "No licenses yet" {
		t.Errorf("title: got %q", got)
	}
	if !strings.Contains(e.Text(), "Create one to get started.") {
		t.Error("message missing")
	}
	if e.Find(`a[href="/admin/licenses/new"]`).Length() != 1 {
		t.Error("children (call to action) missing")
	}
	viewtest.CheckCSP(t, doc)
}

func TestToastOOB(t *testing.T) {
	doc, _ := viewtest.MustRender(t, components.ToastOOB(components.ToastError, "Could not save"))
	w := viewtest.One(t, doc, `#toasts`)
	if got := w.AttrOr("hx-swap-oob", ""); got != "beforeend" {
		t.Errorf("hx-swap-oob: got %q, want beforeend", got)
	}
	toast := viewtest.One(t, doc, `[data-testid=toast]`)
	if !toast.HasClass("toast-error") || !strings.Contains(toast.Text(), "Error:") || !strings.Contains(toast.Text(), "Could not save") {
		t.Errorf("toast: class %q text %q", toast.AttrOr("class", ""), toast.Text())
	}
}

func TestCSRFFieldAndButtons(t *testing.T) {
	doc, _ := viewtest.MustRender(t, components.CSRFField("abc"))
	f := viewtest.One(t, doc, `input[type=hidden]`)
	if f.AttrOr("name", "") != components.CSRFFieldName || f.AttrOr("value", "") != "abc" {
		t.Errorf("got name=%q value=%q", f.AttrOr("name", ""), f.AttrOr("value", ""))
	}
	doc, _ = viewtest.MustRender(t, components.SubmitButton("Save", components.ButtonPrimary))
	b := viewtest.One(t, doc, `button[type=submit]`)
	if !b.HasClass("btn-primary") || b.Find(".htmx-indicator").Length() != 1 {
		t.Errorf("submit button: %q", b.AttrOr("class", ""))
	}
}

// The new-password fields point each input at its error when there is one,
// and the password at its rules always, so a screen reader hears both.
func TestNewPasswordFields(t *testing.T) {
	doc, _ := viewtest.MustRender(t, components.NewPasswordFields(12, "", "", "Type it again"))
	pw := viewtest.One(t, doc, `input#password`)
	if pw.AttrOr("minlength", "") != "12" || pw.AttrOr("aria-describedby", "") != "password-rules" || pw.AttrOr("aria-invalid", "") != "" {
		t.Errorf("valid password field: %v", pw.Nodes[0].Attr)
	}
	if c := viewtest.One(t, doc, `input#confirm`); c.AttrOr("aria-describedby", "-") != "-" || c.AttrOr("aria-invalid", "") != "" {
		t.Errorf("valid confirm field: %v", c.Nodes[0].Attr)
	}
	if got := viewtest.One(t, doc, `label[for=confirm]`).Text(); got != "Type it again" {
		t.Errorf("confirm label: %q", got)
	}
	if n := doc.Find(`.field-error`).Length(); n != 0 {
		t.Errorf("%d errors shown without any", n)
	}

	doc, _ = viewtest.MustRender(t, components.NewPasswordFields(12, "is too short", "does not match", "Again"))
	pw = viewtest.One(t, doc, `input#password`)
	if pw.AttrOr("aria-invalid", "") != "true" || pw.AttrOr("aria-describedby", "") != "password-error password-rules" {
		t.Errorf("invalid password field: %v", pw.Nodes[0].Attr)
	}
	if got := viewtest.One(t, doc, `#password-error`).Text(); got != "is too short" {
		t.Errorf("password error: %q", got)
	}
	c := viewtest.One(t, doc, `input#confirm`)
	if c.AttrOr("aria-invalid", "") != "true" || c.AttrOr("aria-describedby", "") != "confirm-error" {
		t.Errorf("invalid confirm field: %v", c.Nodes[0].Attr)
	}
	if got := viewtest.One(t, doc, `#confirm-error`).Text(); got != "does not match" {
		t.Errorf("confirm error: %q", got)
	}
}
