package handlers

import (
	"encoding/json"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/nectarcloud/nls/app"
	"github.com/nectarcloud/nls/licensing"
)

// The hand-written validation answer is byte for byte encoding/json's, with
// and without each part, and leaves text encoding/json would escape, and
// times it would refuse, to encoding/json.
func TestValidationAnswerIsWhatEncodingJSONWrites(t *testing.T) {
	check := func(name string, v *app.Validation, wantFast bool) {
		t.Helper()
		want, err := json.Marshal(v)
		if err != nil && wantFast {
			t.Fatal(err)
		}
		got, ok := appendValidation(nil, v)
		if ok != wantFast {
			t.Errorf("%s: written by hand %v, want %v", name, ok, wantFast)
		}
		if ok && string(got) != string(want) {
			t.Errorf("%s: wrote\n%s\nencoding/json\n%s", name, got, want)
		}
	}
	now := time.Date(2026, 12, 2, 16, 4, 5, 123456789, time.UTC)
	check("refused", &app.Validation{Code: "INVALID_KEY", Detail: "a license key starts with NLS-", ServerTime: now}, true)
	seats, lease, exp := int32(5), "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJsIn0.c2ln", now.Add(72*time.Hour).Truncate(time.Second)
	grace, dunning := now.Add(96*time.Hour), now.In(time.FixedZone("x", -5*3600))
	full := func() *app.Validation {
		return &app.Validation{Valid: true, Code: "VALID", Detail: "the license is valid until 2027-05-16",
			License: &app.ValidLicense{ID: uuid.New(), Status: "active", Plan: "pro", Features: []string{"sso", "audit-log"},
				Limits: map[string]int64{"users": 50, "apiCalls": 1 << 40, "a": 0}, MaxDeployments: &seats, ActiveDeployments: 3,
				ExpiresAt: &exp, GraceEndsAt: &grace, DunningEndsAt: &dunning, NewestAllowedVersion: "2.1.0"},
			Deployment: &app.DeploymentView{ID: "web-1", Status: "active", FirstSeenAt: now.Add(-time.Hour), LastSeenAt: now},
			Lease:      &lease, LeaseExpiresAt: &exp, ServerTime: now,
			Explain:  []licensing.Check{{Name: "status", Passed: true}, {Name: "seats", Passed: false, Detail: "3 of 5"}},
			Warnings: []string{"no lease: the license stops validating now"}}
	}
	check("every part", full(), true)
	for name, edit := range map[string]func(v *app.Validation){
		"nil features and limits": func(v *app.Validation) { v.License.Features, v.License.Limits = nil, nil },
		"empty features, limits":  func(v *app.Validation) { v.License.Features, v.License.Limits = []string{}, map[string]int64{} },
		"no seats, dates, lease":  func(v *app.Validation) { v.License.MaxDeployments, v.License.ExpiresAt, v.Lease = nil, nil, nil },
		"no deployment":           func(v *app.Validation) { v.Deployment, v.Explain, v.Warnings = nil, nil, []string{} },
	} {
		v := full()
		edit(v)
		check(name, v, true)
	}
	for name, edit := range map[string]func(v *app.Validation){
		"html in detail":      func(v *app.Validation) { v.Detail = "a <b> & c" },
		"quote in plan":       func(v *app.Validation) { v.License.Plan = `p"ro` },
		"accent in a feature": func(v *app.Validation) { v.License.Features = []string{"é"} },
		"newline in warning":  func(v *app.Validation) { v.Warnings = []string{"a\nb"} },
		"backslash in limit":  func(v *app.Validation) { v.License.Limits = map[string]int64{`a\b`: 1} },
		"year 10000":          func(v *app.Validation) { far := now.AddDate(8000, 0, 0); v.License.ExpiresAt = &far },
	} {
		v := full()
		edit(v)
		check(name, v, false)
	}
	r := rand.New(rand.NewPCG(3, 4))
	word := func() string { return string(rune('a'+r.IntN(26))) + strconv.Itoa(r.IntN(1000)) }
	for n := range 200 {
		v := full()
		v.Valid, v.License.ActiveDeployments = r.IntN(2) == 0, r.IntN(100)-1
		v.License.Features, v.License.Limits = nil, map[string]int64{}
		for range r.IntN(10) {
			v.License.Features = append(v.License.Features, word())
			v.License.Limits[word()] = r.Int64() - 1<<62
		}
		v.ServerTime = time.Unix(r.Int64N(1<<35), r.Int64N(1e9)).In(time.FixedZone("", (r.IntN(48)-24)*1800))
		check("random "+strconv.Itoa(n), v, true)
	}
}
