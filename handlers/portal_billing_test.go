package handlers_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/nectarcloud/nls/handlers"
)

// stripeRecorder forwards to stripe-mock and keeps each request's path,
// API key and form, so a test can see what the portal asked Stripe for.
type stripeRecorder struct {
	mu   sync.Mutex
	reqs []recordedStripeRequest
}

type recordedStripeRequest struct {
	Path string
	Auth string
	Form url.Values
}

func (r *stripeRecorder) proxy(t *testing.T, target string) string {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		form, _ := url.ParseQuery(string(body))
		r.mu.Lock()
		r.reqs = append(r.reqs, recordedStripeRequest{Path: req.URL.Path, Auth: req.Header.Get("Authorization"), Form: form})
		r.mu.Unlock()
		req.Body = io.NopCloser(strings.NewReader(string(body)))
		rp.ServeHTTP(w, req)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func (r *stripeRecorder) take() []recordedStripeRequest {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.reqs
	r.reqs = nil
	return out
}

func TestPortalBillingAgainstStripeMock(t *testing.T) {
	mock := stripeMock(t)
	rec := &stripeRecorder{}
	base := rec.proxy(t, mock)
	pe := newPortalEnv(t, func(c *handlers.Config) {
		c.StripeAPIKey, c.StripeAPIBase, c.BaseURL = "sk_test_portal", base, "https://licenses.example.com"
	})

	p := pe.a.get("/portal/billing")
	wantStatus(t, p, http.StatusOK)
	checkCSP(t, p)
	one(t, p, "[data-testid=billing-portal]")
	if cur := p.Doc.Find(`aside [aria-current=page]`).Text(); cur != "Billing" {
		t.Errorf("current nav item %q", cur)
	}

	wantSession := func(t *testing.T) {
		t.Helper()
		reqs := rec.take()
		if len(reqs) != 1 {
			t.Fatalf("Stripe got %d requests, want 1: %+v", len(reqs), reqs)
		}
		r := reqs[0]
		if r.Path != "/v1/billing_portal/sessions" || r.Auth != "Bearer sk_test_portal" {
			t.Errorf("Stripe got %s with %q", r.Path, r.Auth)
		}
		if got := r.Form.Get("customer"); got != pe.stripeCustomer {
			t.Errorf("session for customer %q, want A's %q", got, pe.stripeCustomer)
		}
		if got := r.Form.Get("return_url"); got != "https://licenses.example.com/portal" {
			t.Errorf("return_url %q", got)
		}
	}
	t.Run("plain form: 303 to the session", func(t *testing.T) {
		// A form field naming B's Stripe customer is ignored.
		p := pe.a.post("/portal/billing", url.Values{"customer": {"cus_portalB"}, "stripeCustomerId": {"cus_portalB"}})
		wantStatus(t, p, http.StatusSeeOther)
		if loc := p.Header.Get("Location"); !strings.HasPrefix(loc, "https://") || !strings.Contains(loc, "/session/") {
			t.Errorf("Location %q, want the session's URL", loc)
		}
		wantSession(t)
	})
	t.Run("htmx: HX-Redirect", func(t *testing.T) {
		p := pe.a.hxPost("/portal/billing", url.Values{})
		if p.Status/100 != 2 {
			t.Fatalf("got %d", p.Status)
		}
		if loc := p.Header.Get("HX-Redirect"); !strings.HasPrefix(loc, "https://") {
			t.Errorf("HX-Redirect %q", loc)
		}
		wantSession(t)
	})
	t.Run("a customer unknown to Stripe", func(t *testing.T) {
		pe.exec(`UPDATE customers SET stripe_customer_id = NULL WHERE id = $1`, pe.customerID)
		p := pe.a.get("/portal/billing")
		one(t, p, "[data-testid=billing-no-customer]")
		if p.Doc.Find("[data-testid=billing-portal]").Length() != 0 {
			t.Error("the button is offered without a Stripe customer")
		}
		wantStatus(t, pe.a.post("/portal/billing", nil), http.StatusConflict)
		if n := len(rec.take()); n != 0 {
			t.Errorf("Stripe got %d requests, want none", n)
		}
	})
}

func TestPortalBillingFailuresAndAbsence(t *testing.T) {
	t.Run("without Stripe", func(t *testing.T) {
		pe := newPortalEnv(t)
		p := pe.a.get("/portal/billing")
		wantStatus(t, p, http.StatusOK)
		one(t, p, "[data-testid=billing-unavailable]")
		wantStatus(t, pe.a.post("/portal/billing", nil), http.StatusConflict)
	})
	t.Run("Stripe unreachable", func(t *testing.T) {
		dead := httptest.NewServer(http.NotFoundHandler())
		dead.Close()
		pe := newPortalEnv(t, func(c *handlers.Config) { c.StripeAPIKey, c.StripeAPIBase = "sk_test_portal", dead.URL })
		p := pe.a.hxPost("/portal/billing", url.Values{})
		wantStatus(t, p, http.StatusOK)
		if got := one(t, p, "[data-testid=billing-error]").Text(); !strings.Contains(got, "could not open the billing portal") {
			t.Errorf("error %q", got)
		}
		if p.Header.Get("HX-Redirect") != "" {
			t.Error("redirected although Stripe failed")
		}
		wantStatus(t, pe.a.post("/portal/billing", nil), http.StatusBadGateway)
	})
}
