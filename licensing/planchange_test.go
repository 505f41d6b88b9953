// Tests of plan changes (overrides kept or reset, seats lost on a
// downgrade) and of the true-up report.
package licensing

import (
	"reflect"
	"slices"
	"testing"
	"time"
)

func TestChangePlan(t *testing.T) {
	basic := DefaultPlanSpec()
	basic.Features, basic.Limits, basic.MaxDeployments = []string{"core"}, map[string]int64{"users": 10}, ptr32(5)
	pro := DefaultPlanSpec()
	pro.Features, pro.Limits, pro.MaxDeployments, pro.GraceDays = []string{"core", "sso"}, map[string]int64{"users": 50}, ptr32(10), 14

	following := basic.Terms()
	overridden := basic.Terms()
	overridden.MaxDeployments, overridden.DunningDays = ptr32(7), 30
	lock := FingerprintLock
	overridden.Overrides.FingerprintPolicy = &lock

	t.Run("keep: terms equal to the old plan follow the new one", func(t *testing.T) {
		got, err := ChangePlan(following, basic, pro, OverridesKeep)
		if err != nil || !reflect.DeepEqual(got, pro.Terms()) {
			t.Errorf("got %+v %v, want the new plan's terms", got, err)
		}
	})
	t.Run("keep: overrides stay", func(t *testing.T) {
		got, err := ChangePlan(overridden, basic, pro, OverridesKeep)
		if err != nil || *got.MaxDeployments != 7 || got.DunningDays != 30 || got.GraceDays != 14 ||
			!reflect.DeepEqual(got.Features, pro.Features) || got.Limits["users"] != 50 || got.Overrides.FingerprintPolicy == nil {
			t.Errorf("got %+v %v, want 7 seats, 30 dunning days and the lock kept, the rest from pro", got, err)
		}
	})
	t.Run("reset: everything from the new plan", func(t *testing.T) {
		got, err := ChangePlan(overridden, basic, pro, OverridesReset)
		if err != nil || !reflect.DeepEqual(got, pro.Terms()) || !got.Overrides.IsZero() {
			t.Errorf("got %+v %v, want the new plan's terms and no overrides", got, err)
		}
	})
	t.Run("downgrade keeping a smaller seat count", func(t *testing.T) {
		got, err := ChangePlan(pro.Terms(), pro, basic, OverridesKeep)
		if err != nil || *got.MaxDeployments != 5 {
			t.Fatalf("got %+v %v, want 5 seats", got, err)
		}
		if lost := SeatsLost(8, SeatAllowance(int(*got.MaxDeployments), OverageNone)); lost != 3 {
			t.Errorf("8 holders on 5 seats: got %d lose their seat, want 3", lost)
		}
	})
	t.Run("the mode is required", func(t *testing.T) {
		if _, err := ChangePlan(following, basic, pro, ""); ErrorCode(err) != EINVALID {
			t.Errorf("got %v, want EINVALID", err)
		}
	})
	for _, tt := range []struct{ holders, allowance, want int }{{5, 5, 0}, {6, 5, 1}, {4, 5, 0}, {9, 0, 0}} {
		if got := SeatsLost(tt.holders, tt.allowance); got != tt.want {
			t.Errorf("SeatsLost(%d, %d): got %d, want %d", tt.holders, tt.allowance, got, tt.want)
		}
	}
}

func TestTrueUp(t *testing.T) {
	p := Policy{SeatOverage: Overage125, LimitEnforcement: map[string]Enforcement{"users": EnforceSoft}}
	got := TrueUp(4, 5, map[string]int64{"users": 10, "apiCalls": 1000}, map[string]int64{"users": 13, "apiCalls": 1000, "sessions": 9}, p)
	want := []TrueUpLine{
		{Metric: "deployments", Entitled: 4, Used: 5, Over: 1, Enforcement: EnforceSoft},
		{Metric: "apiCalls", Entitled: 1000, Used: 1000, Over: 0, Enforcement: EnforceHard},
		{Metric: "users", Entitled: 10, Used: 13, Over: 3, Enforcement: EnforceSoft},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
	if got := TrueUp(0, 3, nil, nil, Policy{}); len(got) != 0 {
		t.Errorf("unlimited seats and no limits: got %+v, want nothing", got)
	}
	soft, hard := EvaluateLimitPolicy(11, 10, EnforceSoft), EvaluateLimitPolicy(11, 10, EnforceHard)
	if !soft.Exceeded || soft.Blocked || !hard.Blocked || EvaluateLimitPolicy(10, 10, EnforceHard).Blocked {
		t.Errorf("got soft %+v hard %+v, want soft exceeded without blocking, hard blocking only over the limit", soft, hard)
	}
}

func TestLosingSeats(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	holders := []SeatHolder{
		{Key: "c", FirstSeenAt: t0.Add(2 * time.Minute)},
		{Key: "a", FirstSeenAt: t0},
		{Key: "e", FirstSeenAt: t0.Add(3 * time.Minute)},
		{Key: "b2", FirstSeenAt: t0.Add(time.Minute)},
		{Key: "b1", FirstSeenAt: t0.Add(time.Minute)}, // same instant: the smaller key is older
	}
	cases := []struct {
		allowance int
		want      []int
	}{
		{0, nil},            // unlimited
		{5, nil},            // exactly enough
		{6, nil},            // more than enough
		{4, []int{2}},       // the newest
		{2, []int{2, 0, 3}}, // newest first: e, c, b2
		{1, []int{2, 0, 3, 4}},
	}
	for _, tc := range cases {
		if got := LosingSeats(holders, tc.allowance); !slices.Equal(got, tc.want) {
			t.Errorf("allowance %d: got %v, want %v", tc.allowance, got, tc.want)
		}
	}
}
