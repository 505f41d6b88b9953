package db

import (
	"context"
	"sort"
	"time"

	"github.com/google/uuid"

	"github.com/nectarcloud/nls/licensing"
)

// UsageConsumer is a customer's use of a metric over a range of days.
type UsageConsumer struct {
	CustomerID   uuid.UUID
	CustomerName string
	Total        int64
}

// topUsageBounds is how many customers' bounds TopUsageCustomers reads;
// when the ranking is not settled within them it sums every customer's days.
// A variable for the tests.
var topUsageBounds = 2000

// TopUsageCustomers is the n customers using the most of metric over the
// days [from, to] (by UsageTotalsByCustomer's rule), most first, ties by
// id. Summing every customer's days would read every license's rows in the
// range; instead, each customer's months (usage_customer_months) bound its
// use over any days within them, and only the customers whose bound could
// still place them among the n are summed exactly, the highest bounds
// first, until the n-th exact total ranks before every bound left.
func (s *Store) TopUsageCustomers(ctx context.Context, metric string, from, to time.Time, n int) ([]UsageConsumer, error) {
	if n <= 0 {
		return nil, nil
	}
	bounds, err := s.q.ListUsageCustomerBounds(ctx, ListUsageCustomerBoundsParams{Metric: metric,
		Gauge: licensing.MetricKindOf(metric) == licensing.Gauge, FromMonth: monthOf(from), ToMonth: monthOf(to),
		MaxRows: int32(topUsageBounds) + 1})
	if err != nil {
		return nil, Translate(err)
	}
	complete := len(bounds) <= topUsageBounds // every customer with use in the months
	bounds = bounds[:min(len(bounds), topUsageBounds)]
	var exact []UsageConsumer
	for done := 0; ; {
		next := min(len(bounds), max(2*n, 4*done))
		ids := make([]uuid.UUID, 0, next-done)
		for _, b := range bounds[done:next] {
			ids = append(ids, b.CustomerID)
		}
		rows, err := s.q.UsageTotalsOfCustomers(ctx, UsageTotalsOfCustomersParams{CustomerIds: ids, Metric: metric,
			FromDay: from, ToDay: to})
		if err != nil {
			return nil, Translate(err)
		}
		for _, r := range rows {
			exact = append(exact, UsageConsumer(r))
		}
		done = next
		sortConsumers(exact)
		switch {
		case done == len(bounds) && complete:
			return exact[:min(n, len(exact))], nil
		case done == len(bounds):
			return s.topUsageCustomersSummed(ctx, metric, from, to, n)
		case len(exact) >= n && ranksBefore(exact[n-1], bounds[done]):
			// Everyone left uses at most their bound: none can pass the n-th.
			return exact[:n], nil
		}
	}
}

// topUsageCustomersSummed ranks every customer by summing their days.
func (s *Store) topUsageCustomersSummed(ctx context.Context, metric string, from, to time.Time, n int) ([]UsageConsumer, error) {
	rows, err := s.q.ListTopUsageCustomers(ctx, ListTopUsageCustomersParams{Metric: metric, FromDay: from, ToDay: to,
		MaxRows: int32(n)})
	if err != nil {
		return nil, Translate(err)
	}
	out := make([]UsageConsumer, 0, len(rows))
	for _, r := range rows {
		out = append(out, UsageConsumer(r))
	}
	return out, nil
}

// ranksBefore reports whether c ranks before every customer not yet summed,
// the first of whom is b: the bounds come highest first, ties by id, so
// those after b have a lower bound or an equal one and a later id.
func ranksBefore(c UsageConsumer, b ListUsageCustomerBoundsRow) bool {
	return c.Total > b.Bound || (c.Total == b.Bound && c.CustomerID.String() < b.CustomerID.String())
}

func sortConsumers(cs []UsageConsumer) {
	sort.Slice(cs, func(i, j int) bool {
		if cs[i].Total != cs[j].Total {
			return cs[i].Total > cs[j].Total
		}
		return cs[i].CustomerID.String() < cs[j].CustomerID.String()
	})
}

// monthOf is the first day of t's calendar month (UTC).
func monthOf(t time.Time) time.Time {
	start, _ := licensing.MonthPeriod(t)
	return start
}
