// Table tests of the billing policy: one row per rule of ARCHITECTURE's
// Stripe section and of what db/stripe_*.go used to decide inline.

package licensing

import (
	"maps"
	"strings"
	"testing"
	"time"
)

var (
	t0     = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	oneDay = 24 * time.Hour
)

func at(d time.Duration) *time.Time { t := t0.Add(d); return &t }

func src(s SuspensionSource) *SuspensionSource { return &s }

func str(s string) *string { return &s }

func TestPaymentSignalOf(t *testing.T) {
	for status, want := range map[string]string{"active": SignalPaid, "trialing": SignalPaid, "past_due": SignalOverdue,
		"unpaid": SignalOverdue, "incomplete": SignalOverdue, "canceled": "", "paused": "", "incomplete_expired": ""} {
		if got := PaymentSignalOf(status); got != want {
			t.Errorf("%s: got %q, want %q", status, got, want)
		}
	}
	for status, want := range map[string]bool{"canceled": true, "incomplete_expired": true, "active": false,
		"past_due": false, "paused": false} {
		if got := SubscriptionEnded(status); got != want {
			t.Errorf("ended %s: got %v, want %v", status, got, want)
		}
	}
}

func TestSubscriptionEventIgnored(t *testing.T) {
	live := Billed{ID: "L1", License: License{Status: StatusActive}, StripeStatus: "active", StateAt: at(oneDay)}
	tests := []struct {
		name string
		b    Billed
		sub  Subscription
		at   time.Time
		want string // substring; "" applies
	}{
		{"first event applies", Billed{License: License{Status: StatusActive}}, Subscription{Status: "active"}, t0, ""},
		{"newer event applies", live, Subscription{Status: "past_due"}, t0.Add(2 * oneDay), ""},
		{"same second, an update applies", live, Subscription{Status: "past_due"}, t0.Add(oneDay), ""},
		{"older event: latest Stripe state wins", live, Subscription{Status: "canceled"}, t0, "older than the state already applied (event created"},
		{"same second, the creation is the older", live, Subscription{Status: "active", Creation: true}, t0.Add(oneDay),
			"the subscription's creation, in the same second"},
		{"an ended subscription is never revived", Billed{License: License{Status: StatusActive}, StripeStatus: "canceled", StateAt: at(oneDay)},
			Subscription{Status: "active"}, t0.Add(2 * oneDay), "Stripe never reactivates"},
		{"an ended subscription may end again", Billed{License: License{Status: StatusActive}, StripeStatus: "canceled", StateAt: at(oneDay)},
			Subscription{Status: "active", Deleted: true}, t0.Add(2 * oneDay), ""},
		{"a revoked license takes no Stripe change", Billed{ID: "L1", License: License{Status: StatusRevoked}},
			Subscription{Status: "active"}, t0, "license L1 was revoked"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.b.Ignores(tc.sub, tc.at)
			if tc.want == "" && got != "" || tc.want != "" && !strings.Contains(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestSubscriptionFacts(t *testing.T) {
	pro, team := &BillingPlan{Code: "pro"}, &BillingPlan{Code: "team"}
	t.Run("a deletion ends the subscription whatever its status", func(t *testing.T) {
		if s := (Subscription{Status: "active", Deleted: true}).Normalize(); s.Status != "canceled" || !s.Ended() {
			t.Errorf("got %+v", s)
		}
		if s := (Subscription{Status: "incomplete_expired", Deleted: true}).Normalize(); s.Status != "incomplete_expired" {
			t.Errorf("got %+v", s)
		}
	})
	t.Run("price to plan: the first mapped item wins", func(t *testing.T) {
		s := Subscription{Items: []SubscriptionItem{{PriceID: ""}, {PriceID: "price_x"}, {PriceID: "price_pro", Plan: pro},
			{PriceID: "price_team", Plan: team}}}
		it, unmapped, ok := s.Priced()
		if !ok || it.Plan != pro || unmapped != nil {
			t.Errorf("got %+v %v %v", it, unmapped, ok)
		}
	})
	t.Run("price to plan: unmapped prices are named", func(t *testing.T) {
		_, unmapped, ok := Subscription{Items: []SubscriptionItem{{PriceID: "price_a"}, {PriceID: "price_b"}}}.Priced()
		if ok || strings.Join(unmapped, ",") != "price_a,price_b" {
			t.Errorf("got %v %v", unmapped, ok)
		}
		if _, unmapped, ok := (Subscription{}).Priced(); ok || unmapped != nil {
			t.Errorf("no items: got %v %v", unmapped, ok)
		}
	})
	t.Run("expiry", func(t *testing.T) {
		if got := (Subscription{Status: "active", PeriodEnd: at(30 * oneDay)}).Expiry(); !got.Equal(*at(30 * oneDay)) {
			t.Errorf("period end: %v", got)
		}
		s := Subscription{Status: "incomplete_expired", PeriodEnd: at(30 * oneDay), EndedAt: at(oneDay)}
		if got := s.Expiry(); !got.Equal(*at(oneDay)) {
			t.Errorf("incomplete_expired ends when it expired: %v", got)
		}
	})
	t.Run("a new license counts invoices paid before it existed", func(t *testing.T) {
		live := Subscription{Status: "active", PeriodEnd: at(30 * oneDay)}
		if got := live.NewExpiry(at(60 * oneDay)); !got.Equal(*at(60 * oneDay)) {
			t.Errorf("paid further: %v", got)
		}
		if got := live.NewExpiry(at(10 * oneDay)); !got.Equal(*at(30 * oneDay)) {
			t.Errorf("paid less far: %v", got)
		}
		ended := Subscription{Status: "canceled", PeriodEnd: at(30 * oneDay)}
		if got := ended.NewExpiry(at(60 * oneDay)); !got.Equal(*at(30 * oneDay)) {
			t.Errorf("ended: %v", got)
		}
	})
	t.Run("start", func(t *testing.T) {
		if got := (Subscription{StartDate: at(-oneDay), PeriodStart: at(0)}).Start(t0.Add(oneDay)); !got.Equal(*at(-oneDay)) {
			t.Errorf("start date: %v", got)
		}
		if got := (Subscription{PeriodStart: at(0)}).Start(t0.Add(oneDay)); !got.Equal(t0) {
			t.Errorf("period start: %v", got)
		}
		if got := (Subscription{}).Start(t0.Add(oneDay)); !got.Equal(t0.Add(oneDay)) {
			t.Errorf("event time: %v", got)
		}
	})
	t.Run("quantity", func(t *testing.T) {
		big, zero := int64(5_000_000), int64(0)
		for _, tc := range []struct {
			q    *int64
			want int32
		}{{nil, 1}, {&zero, 0}, {&big, 1_000_000}} {
			if got := (SubscriptionItem{Quantity: tc.q}).Count(); got != tc.want {
				t.Errorf("quantity %v: got %d, want %d", tc.q, got, tc.want)
			}
		}
	})
}

func TestSetQuantity(t *testing.T) {
	two := int32(2)
	tests := []struct {
		name     string
		sets     string
		qty      int32
		wantErr  bool
		wantMax  *int32
		wantUser int64 // -1: no users limit
	}{
		{"quantity sets nothing", "", 5, false, &two, 10},
		{"quantity sets the seats", QuantitySetsDeployments, 5, false, ptr32(5), 10},
		{"no seats from quantity 0", QuantitySetsDeployments, 0, true, &two, 10},
		{"quantity sets the users limit", QuantitySetsUsers, 25, false, &two, 25},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			limits := map[string]int64{"users": 10, "apiCalls": 1000}
			b := Billed{MaxDeployments: &two, Limits: limits}
			err := b.SetQuantity(BillingPlan{Code: "pro", QuantitySets: tc.sets}, tc.qty)
			if (err != nil) != tc.wantErr || err != nil && ErrorCode(err) != EINVALID {
				t.Fatalf("error %v", err)
			}
			if *b.MaxDeployments != *tc.wantMax || b.Limits["users"] != tc.wantUser || b.Limits["apiCalls"] != 1000 {
				t.Errorf("got max %d limits %v", *b.MaxDeployments, b.Limits)
			}
			if limits["users"] != 10 {
				t.Error("the license's own limits map was changed in place")
			}
		})
	}
	t.Run("users on a license without limits", func(t *testing.T) {
		var b Billed
		if err := b.SetQuantity(BillingPlan{QuantitySets: QuantitySetsUsers}, 3); err != nil || !maps.Equal(b.Limits, map[string]int64{"users": 3}) {
			t.Errorf("got %v %v", b.Limits, err)
		}
	})
}

func ptr32(v int32) *int32 { return &v }

func TestApplySubscription(t *testing.T) {
	pro := BillingPlan{Code: "pro", QuantitySets: QuantitySetsDeployments}
	item := SubscriptionItem{PriceID: "price_pro", Quantity: ptrInt64(3), Plan: &pro}
	base := func() Billed {
		return Billed{License: License{Status: StatusActive, ExpiresAt: at(30 * oneDay)}, StripeStatus: "active", StateAt: at(0)}
	}
	tests := []struct {
		name       string
		mod        func(*Billed)
		sub        Subscription
		priced     bool
		wantExp    *time.Time
		wantStatus StoredStatus
		wantSource SuspensionSource
	}{
		{"a renewed period extends the expiry", nil, Subscription{Status: "active", PeriodEnd: at(60 * oneDay)}, true, at(60 * oneDay), StatusActive, ""},
		{"an earlier period never shortens a live license", nil, Subscription{Status: "active", PeriodEnd: at(10 * oneDay)}, true, at(30 * oneDay), StatusActive, ""},
		{"a deleted subscription ends at its period end", nil, Subscription{Status: "active", Deleted: true, PeriodEnd: at(10 * oneDay)}, true, at(10 * oneDay), StatusActive, ""},
		{"a canceled one ends at its period end, later or not", nil, Subscription{Status: "canceled", PeriodEnd: at(45 * oneDay)}, true, at(45 * oneDay), StatusActive, ""},
		{"incomplete_expired ends when it expired", nil, Subscription{Status: "incomplete_expired", PeriodEnd: at(45 * oneDay), EndedAt: at(2 * oneDay)}, true, at(2 * oneDay), StatusActive, ""},
		{"a perpetual license stays perpetual while live", func(b *Billed) { b.ExpiresAt = nil }, Subscription{Status: "active", PeriodEnd: at(60 * oneDay)}, true, nil, StatusActive, ""},
		{"paused suspends as a payment matter", nil, Subscription{Status: "paused", PeriodEnd: at(30 * oneDay)}, true, at(30 * oneDay), StatusSuspended, SuspendedByPayment},
		{"active again lifts a payment suspension", func(b *Billed) { _ = b.Suspend("paused", SuspendedByPayment) },
			Subscription{Status: "active", PeriodEnd: at(30 * oneDay)}, true, at(30 * oneDay), StatusActive, ""},
		{"trialing lifts a payment suspension", func(b *Billed) { _ = b.Suspend("paused", SuspendedByPayment) },
			Subscription{Status: "trialing", PeriodEnd: at(30 * oneDay)}, true, at(30 * oneDay), StatusActive, ""},
		{"an admin's suspension is never lifted by Stripe", func(b *Billed) { _ = b.Suspend("hold", SuspendedByAdmin) },
			Subscription{Status: "active", PeriodEnd: at(30 * oneDay)}, true, at(30 * oneDay), StatusSuspended, SuspendedByAdmin},
		{"a dispute's suspension is never lifted by Stripe", func(b *Billed) { _ = b.Suspend("dp", SuspendedByDispute) },
			Subscription{Status: "active", PeriodEnd: at(30 * oneDay)}, true, at(30 * oneDay), StatusSuspended, SuspendedByDispute},
		{"paused leaves an admin's suspension as it is", func(b *Billed) { _ = b.Suspend("hold", SuspendedByAdmin) },
			Subscription{Status: "paused", PeriodEnd: at(30 * oneDay)}, true, at(30 * oneDay), StatusSuspended, SuspendedByAdmin},
		{"past_due changes no status (dunning decides)", nil, Subscription{Status: "past_due", PeriodEnd: at(30 * oneDay)}, true, at(30 * oneDay), StatusActive, ""},
		{"unpriced: an ended subscription keeps the plan", nil, Subscription{Status: "canceled", PeriodEnd: at(20 * oneDay)}, false, at(20 * oneDay), StatusActive, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := base()
			b.PriceID, b.Quantity = str("price_old"), ptr32(1)
			if tc.mod != nil {
				tc.mod(&b)
			}
			sub := tc.sub
			sub.PeriodStart = at(-oneDay)
			it := item
			if !tc.priced {
				it = SubscriptionItem{}
			}
			if err := b.ApplySubscription(sub, it, t0.Add(oneDay)); err != nil {
				t.Fatal(err)
			}
			if !eqTime(b.ExpiresAt, tc.wantExp) {
				t.Errorf("expires %v, want %v", b.ExpiresAt, tc.wantExp)
			}
			if b.Status != tc.wantStatus || tc.wantSource != "" && !b.SuspendedBy(tc.wantSource) {
				t.Errorf("status %s by %v, want %s by %s", b.Status, b.SuspensionSource, tc.wantStatus, tc.wantSource)
			}
			if b.StripeStatus != sub.Normalize().Status || !b.StateAt.Equal(t0.Add(oneDay)) || !eqTime(b.PeriodEnd, sub.PeriodEnd) ||
				!eqTime(b.PeriodStart, at(-oneDay)) {
				t.Errorf("Stripe state %q at %v, period %v..%v", b.StripeStatus, b.StateAt, b.PeriodStart, b.PeriodEnd)
			}
			if tc.priced && (*b.PriceID != "price_pro" || *b.Quantity != 3 || *b.MaxDeployments != 3) {
				t.Errorf("price %s quantity %d seats %v", *b.PriceID, *b.Quantity, b.MaxDeployments)
			}
			if !tc.priced && (*b.PriceID != "price_old" || *b.Quantity != 1 || b.MaxDeployments != nil) {
				t.Errorf("unpriced changed price %s quantity %d seats %v", *b.PriceID, *b.Quantity, b.MaxDeployments)
			}
		})
	}
	t.Run("quantity 0 cannot set seats", func(t *testing.T) {
		b := base()
		bad := SubscriptionItem{PriceID: "price_pro", Quantity: ptrInt64(0), Plan: &pro}
		if err := b.ApplySubscription(Subscription{Status: "active", PeriodEnd: at(60 * oneDay)}, bad, t0); ErrorCode(err) != EINVALID {
			t.Errorf("got %v", err)
		}
	})
}

func ptrInt64(v int64) *int64 { return &v }

func TestSetPayment(t *testing.T) {
	var l License
	berlin := time.FixedZone("CET", 3600)
	since := time.Date(2026, 11, 2, 13, 0, 0, 0, berlin)
	l.SetPayment(&since)
	if l.PaymentState != PaymentPastDue || !l.PastDueSince.Equal(since) || l.PastDueSince.Location() != time.UTC {
		t.Errorf("overdue: %s since %v", l.PaymentState, l.PastDueSince)
	}
	l.DunningDays, l.Status, l.StartsAt = 14, StatusActive, t0
	if s := l.Effective(since.AddDate(0, 0, 14)).State; s != StatePastDue {
		t.Errorf("at the dunning end: %s", s)
	}
	if s := l.Effective(since.AddDate(0, 0, 14).Add(time.Second)).State; s != StateSuspended {
		t.Errorf("after the dunning end: %s (a failed payment must suspend after dunning days)", s)
	}
	l.SetPayment(nil)
	if l.PaymentState != PaymentOK || l.PastDueSince != nil {
		t.Errorf("paid: %s since %v", l.PaymentState, l.PastDueSince)
	}
}

func TestApplyPaidInvoice(t *testing.T) {
	tests := []struct {
		name       string
		b          Billed
		paidEnd    *time.Time
		at         time.Time
		wantExp    *time.Time
		wantStatus StoredStatus
	}{
		{"a paid invoice extends to the paid period's end",
			Billed{License: License{Status: StatusActive, ExpiresAt: at(30 * oneDay)}, StripeStatus: "active"}, at(60 * oneDay), t0, at(60 * oneDay), StatusActive},
		{"without lines, to the billing period's end",
			Billed{License: License{Status: StatusActive, ExpiresAt: at(30 * oneDay)}, StripeStatus: "active", PeriodEnd: at(45 * oneDay)}, nil, t0, at(45 * oneDay), StatusActive},
		{"an older period never shortens",
			Billed{License: License{Status: StatusActive, ExpiresAt: at(30 * oneDay)}, StripeStatus: "active"}, at(10 * oneDay), t0, at(30 * oneDay), StatusActive},
		{"an ended subscription is not extended",
			Billed{License: License{Status: StatusActive, ExpiresAt: at(30 * oneDay)}, StripeStatus: "canceled"}, at(60 * oneDay), t0, at(30 * oneDay), StatusActive},
		{"a perpetual license stays perpetual",
			Billed{License: License{Status: StatusActive}, StripeStatus: "active"}, at(60 * oneDay), t0, nil, StatusActive},
		{"payment lifts a payment suspension",
			Billed{License: License{Status: StatusSuspended, SuspensionSource: src(SuspendedByPayment), SuspendedReason: str("paused"), ExpiresAt: at(30 * oneDay)},
				StripeStatus: "active", StateAt: at(0)}, at(60 * oneDay), t0, at(60 * oneDay), StatusActive},
		{"an invoice older than the newer state does not lift it",
			Billed{License: License{Status: StatusSuspended, SuspensionSource: src(SuspendedByPayment), SuspendedReason: str("paused"), ExpiresAt: at(30 * oneDay)},
				StripeStatus: "paused", StateAt: at(oneDay)}, at(60 * oneDay), t0, at(60 * oneDay), StatusSuspended},
		{"payment never lifts an admin's suspension",
			Billed{License: License{Status: StatusSuspended, SuspensionSource: src(SuspendedByAdmin), SuspendedReason: str("hold"), ExpiresAt: at(30 * oneDay)},
				StripeStatus: "active"}, at(60 * oneDay), t0, at(60 * oneDay), StatusSuspended},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := tc.b
			b.ApplyPaidInvoice(tc.paidEnd, tc.at)
			if !eqTime(b.ExpiresAt, tc.wantExp) || b.Status != tc.wantStatus {
				t.Errorf("expires %v status %s, want %v %s", b.ExpiresAt, b.Status, tc.wantExp, tc.wantStatus)
			}
		})
	}
}

func TestApplyDispute(t *testing.T) {
	tests := []struct {
		name       string
		l          License
		reason     string
		wantIgnore string
		wantStatus StoredStatus
		wantSource SuspensionSource
		wantReason string
	}{
		{"a dispute suspends", License{Status: StatusActive}, "fraudulent", "", StatusSuspended, SuspendedByDispute,
			"payment disputed in Stripe (dp_1, reason fraudulent)"},
		{"without a reason", License{Status: StatusActive}, "", "", StatusSuspended, SuspendedByDispute, "payment disputed in Stripe (dp_1)"},
		{"over a payment suspension", License{Status: StatusSuspended, SuspensionSource: src(SuspendedByPayment), SuspendedReason: str("paused")},
			"", "", StatusSuspended, SuspendedByDispute, "payment disputed in Stripe (dp_1)"},
		{"a second dispute keeps the first", License{Status: StatusSuspended, SuspensionSource: src(SuspendedByDispute), SuspendedReason: str("dp_0")},
			"x", "", StatusSuspended, SuspendedByDispute, "dp_0"},
		{"an admin's suspension keeps its reason", License{Status: StatusSuspended, SuspensionSource: src(SuspendedByAdmin), SuspendedReason: str("hold")},
			"x", "suspended by an admin already", StatusSuspended, SuspendedByAdmin, "hold"},
		{"revoked stays revoked", License{Status: StatusRevoked}, "x", "revoked already", StatusRevoked, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := tc.l
			if got := l.DisputeIgnored(); tc.wantIgnore == "" && got != "" || !strings.Contains(got, tc.wantIgnore) {
				t.Errorf("ignored %q, want %q", got, tc.wantIgnore)
			}
			if err := l.ApplyDispute("dp_1", tc.reason); err != nil {
				t.Fatal(err)
			}
			if l.Status != tc.wantStatus || tc.wantSource != "" && !l.SuspendedBy(tc.wantSource) ||
				tc.wantReason != "" && *l.SuspendedReason != tc.wantReason {
				t.Errorf("got %s by %v (%v)", l.Status, l.SuspensionSource, l.SuspendedReason)
			}
		})
	}
}
