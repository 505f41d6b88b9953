package handlers

// Billing in the customer portal: when the vendor configured Stripe
// (STRIPE_SECRET_KEY) and the customer is known to Stripe, a button opens
// Stripe's billing portal for that customer — invoices, payment method,
// subscription — through a session created with stripe-go. STRIPE_API_BASE
// points the client at another base URL (stripe-mock in tests).

import (
	"net/http"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	stripe "github.com/stripe/stripe-go/v76"
	bpsession "github.com/stripe/stripe-go/v76/billingportal/session"

	"github.com/nectarcloud/nls/web/templates/pages/portal"
)

// portalBilling handles GET /portal/billing: the button, or why there is none.
func (s *Server) portalBilling(c *fiber.Ctx) error {
	return s.render(c, portal.BillingPage(s.portalPage(c, "Billing"), s.billingView(c)))
}

func (s *Server) billingView(c *fiber.Ctx) portal.Billing {
	cu := s.customerOf(c)
	return portal.Billing{Configured: s.billingOffered(), HasCustomer: cu.StripeCustomerID != nil && *cu.StripeCustomerID != ""}
}

// portalOpenBilling handles POST /portal/billing: a Stripe billing portal
// session for the signed-in customer (never an id from the form), then a
// redirect to it — 303, or HX-Redirect under htmx. Stripe's answer returns
// the customer to /portal. A failure is shown at the button.
func (s *Server) portalOpenBilling(c *fiber.Ctx) error {
	b := s.billingView(c)
	if b.Configured && b.HasCustomer {
		cu := s.customerOf(c)
		target, err := s.openBillingPortal(c, *cu.StripeCustomerID)
		if err == nil {
			return redirect(c, target)
		}
		s.log.Warn("creating a Stripe billing portal session failed", "request_id", requestIDOf(c),
			"customer", cu.ID, "err", err)
		b.Error = "Stripe could not open the billing portal just now. Try again in a minute; if it keeps failing, " +
			"contact your vendor and quote reference " + requestIDOf(c) + "."
	}
	if isHTMX(c) {
		// htmx swaps only 2xx answers: the explanation replaces the button.
		return s.render(c, portal.BillingSection(b, s.loadSession(c).CSRF))
	}
	c.Status(fiber.StatusConflict)
	if b.Error != "" {
		c.Status(fiber.StatusBadGateway)
	}
	return s.render(c, portal.BillingPage(s.portalPage(c, "Billing"), b))
}

// openBillingPortal creates the session and returns its URL.
func (s *Server) openBillingPortal(c *fiber.Ctx, stripeCustomerID string) (string, error) {
	cfg := &stripe.BackendConfig{HTTPClient: &http.Client{Timeout: 20 * time.Second, Transport: s.outbound},
		LeveledLogger: &stripe.LeveledLogger{Level: stripe.LevelNull}, MaxNetworkRetries: stripe.Int64(1)}
	if s.cfg.StripeAPIBase != "" {
		cfg.URL = stripe.String(s.cfg.StripeAPIBase)
	}
	api := bpsession.Client{B: stripe.GetBackendWithConfig(stripe.APIBackend, cfg), Key: s.cfg.StripeAPIKey}
	base := strings.TrimRight(s.cfg.BaseURL, "/")
	if base == "" {
		base = c.BaseURL()
	}
	params := &stripe.BillingPortalSessionParams{Customer: stripe.String(stripeCustomerID),
		ReturnURL: stripe.String(base + "/portal")}
	params.Context = c.UserContext()
	sess, err := api.New(params)
	if err != nil {
		return "", err
	}
	if !strings.HasPrefix(sess.URL, "https://") && !strings.HasPrefix(sess.URL, "http://") {
		return "", &stripe.Error{Msg: "the billing portal session has no URL"}
	}
	return sess.URL, nil
}
