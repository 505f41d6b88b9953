package db

// Applying Stripe customer, checkout and dispute events: the NLS customer
// linked to a Stripe customer, and the license a disputed charge paid for.

import (
	"encoding/json"
	"errors"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/nectarcloud/nls/events"
	"github.com/nectarcloud/nls/licensing"
)

func (r *stripeRun) customer() (stripeResult, error) {
	var c stripeCustomer
	if err := r.object(&c); err != nil {
		return stripeResult{}, err
	}
	if c.ID == "" {
		return stripeResult{}, attention("the customer has no id")
	}
	return r.customerDetails(c)
}

func (r *stripeRun) checkout() (stripeResult, error) {
	var cs stripeCheckoutSession
	if err := r.object(&cs); err != nil {
		return stripeResult{}, err
	}
	if cs.Customer.ID == "" {
		return ignored("checkout session %s has no Stripe customer (a guest checkout): nothing to link", cs.ID), nil
	}
	return r.customerDetails(stripeCustomer{ID: cs.Customer.ID, Name: cs.CustomerDetails.Name, Email: cs.CustomerDetails.Email})
}

// customerDetails creates or updates the NLS customer linked to c, unless
// newer details were already applied.
func (r *stripeRun) customerDetails(c stripeCustomer) (stripeResult, error) {
	if err := r.lock(c.ID); err != nil {
		return stripeResult{}, err
	}
	newer, err := r.q.HasNewerStripeCustomerEvent(r.ctx, HasNewerStripeCustomerEventParams{CustomerID: c.ID,
		ID: r.ev.ID, CreatedAt: r.ev.Created})
	if err != nil {
		return stripeResult{}, err
	}
	if newer {
		return ignored("older than the customer details already applied"), nil
	}
	cust, err := r.q.GetCustomerByStripeID(r.ctx, &c.ID)
	if errors.Is(err, pgx.ErrNoRows) {
		_, err = r.createCustomer(c)
		return processedResult, err
	}
	if err != nil {
		return stripeResult{}, err
	}
	in := customerInputOf(cust)
	if name := strings.TrimSpace(c.Name); name != "" {
		in.Name = name
	} else if cust.Name == placeholderName(c.ID) && c.Email != "" {
		in.Name = c.Email
	}
	if email := strings.TrimSpace(c.Email); email != "" {
		in.Email = email
	}
	if in.Name == cust.Name && in.Email == cust.Email {
		return processedResult, nil
	}
	return processedResult, r.updateCustomer(cust, in)
}

// ensureCustomer finds the NLS customer of a Stripe customer, or creates it.
// A subscription may arrive before its customer.created: rather than wait,
// the customer is created from what the subscription carries (the expanded
// customer, or a placeholder name and an address under the reserved .invalid
// domain) and filled in by the customer event whenever it comes.
func (r *stripeRun) ensureCustomer(ref stripeRef) (Customer, error) {
	cust, err := r.q.GetCustomerByStripeID(r.ctx, &ref.ID)
	if err == nil || !errors.Is(err, pgx.ErrNoRows) {
		return cust, err
	}
	c := stripeCustomer{ID: ref.ID}
	if ref.Raw != nil {
		_ = json.Unmarshal(ref.Raw, &c)
	}
	return r.createCustomer(c)
}

func placeholderName(stripeID string) string { return "Stripe customer " + stripeID }

func (r *stripeRun) createCustomer(c stripeCustomer) (Customer, error) {
	in := CustomerInput{Name: strings.TrimSpace(c.Name), Email: strings.TrimSpace(c.Email), StripeCustomerID: &c.ID}
	if in.Name == "" {
		in.Name = in.Email
	}
	if in.Name == "" {
		in.Name = placeholderName(c.ID)
	}
	if in.Email == "" {
		in.Email = strings.ToLower(c.ID) + "@stripe.invalid"
	}
	md, err := in.normalise()
	if err != nil {
		return Customer{}, err
	}
	cust, err := r.q.CreateCustomer(r.ctx, CreateCustomerParams{Name: in.Name, Email: in.Email, Company: in.Company,
		Metadata: md, StripeCustomerID: in.StripeCustomerID})
	if err != nil {
		return Customer{}, conflictAs(err, "stripeCustomerId", "another customer has this Stripe customer id")
	}
	if err := r.s.recordCustomer(r.ctx, r.q, events.CustomerCreated, cust, r.now); err != nil {
		return Customer{}, err
	}
	return cust, Audit(r.ctx, r.q, r.actor, AuditEntry{Action: "customer.create", EntityType: "customer",
		EntityID: cust.ID.String(), CustomerID: &cust.ID, After: cust.View()}, r.now)
}

func customerInputOf(c Customer) CustomerInput {
	in := CustomerInput{Name: c.Name, Email: c.Email, Company: c.Company, StripeCustomerID: c.StripeCustomerID}
	_ = json.Unmarshal(c.Metadata, &in.Metadata)
	return in
}

func (r *stripeRun) updateCustomer(before Customer, in CustomerInput) error {
	md, err := in.normalise()
	if err != nil {
		return err
	}
	after, err := r.q.UpdateCustomer(r.ctx, UpdateCustomerParams{ID: before.ID, Name: in.Name, Email: in.Email,
		Company: in.Company, Metadata: md, StripeCustomerID: in.StripeCustomerID, UpdatedAt: r.now})
	if err != nil {
		return conflictAs(err, "stripeCustomerId", "another customer has this Stripe customer id")
	}
	if err := r.s.recordCustomer(r.ctx, r.q, events.CustomerUpdated, after, r.now); err != nil {
		return err
	}
	return Audit(r.ctx, r.q, r.actor, AuditEntry{Action: "customer.update", EntityType: "customer",
		EntityID: before.ID.String(), CustomerID: &before.ID, Before: before.View(), After: after.View()}, r.now)
}

func (r *stripeRun) dispute() (stripeResult, error) {
	var d stripeDispute
	if err := r.object(&d); err != nil {
		return stripeResult{}, err
	}
	lic, err := r.disputedLicense(d)
	if err != nil {
		return stripeResult{}, err
	}
	if note := lic.Standing().DisputeIgnored(); note != "" {
		return ignored("license %s is %s", lic.ID, note), nil
	}
	return r.changeLicense(lic.ID, "license.suspend", func(l *License) error {
		return l.Transition(func(x *licensing.License) error { return x.ApplyDispute(d.ID, d.Reason) })
	})
}

// disputedLicense finds the license a disputed charge paid for: through
// the charge's invoice to its subscription, else the customer's single live
// subscription license. Nothing is fetched from Stripe: what is known comes
// from the dispute (its charge, when expanded) and the events received.
func (r *stripeRun) disputedLicense(d stripeDispute) (License, error) {
	var ch stripeCharge
	if d.Charge.Raw != nil {
		_ = json.Unmarshal(d.Charge.Raw, &ch)
	}
	pi := d.PaymentIntent.ID
	if pi == "" {
		pi = ch.PaymentIntent.ID
	}
	if ch.Invoice.Raw != nil {
		var inv stripeInvoice
		if json.Unmarshal(ch.Invoice.Raw, &inv) == nil {
			if sub := inv.subscriptionID(); sub != "" {
				if lic, err := r.q.GetLicenseBySubscription(r.ctx, &sub); err == nil {
					return lic, nil
				}
			}
		}
	}
	sub, err := r.q.FindStripeSubscriptionForCharge(r.ctx, FindStripeSubscriptionForChargeParams{
		InvoiceID: ch.Invoice.ID, ChargeID: d.Charge.ID, PaymentIntentID: pi})
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return License{}, err
	}
	if sub != "" {
		lic, err := r.q.GetLicenseBySubscription(r.ctx, &sub)
		if err == nil {
			return lic, nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return License{}, err
		}
	}
	cus := ch.Customer.ID
	if cus == "" {
		if cus, err = r.q.FindStripeCustomerForCharge(r.ctx, d.Charge.ID); err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return License{}, err
		}
	}
	if cus != "" {
		cust, err := r.q.GetCustomerByStripeID(r.ctx, &cus)
		if err == nil {
			lics, err := r.q.ListLiveStripeLicensesByCustomer(r.ctx, cust.ID)
			if err != nil {
				return License{}, err
			}
			if len(lics) == 1 {
				return lics[0], nil
			}
			return License{}, attention("dispute %s on charge %s: customer %s has %d live subscription licenses, so the "+
				"disputed one cannot be told; suspend it by hand", d.ID, d.Charge.ID, cus, len(lics))
		} else if !errors.Is(err, pgx.ErrNoRows) {
			return License{}, err
		}
	}
	return License{}, attention("dispute %s on charge %s: no license found for it (no invoice or customer event "+
		"names this charge); suspend the license by hand, or replay this event once its invoice event is received",
		d.ID, d.Charge.ID)
}
