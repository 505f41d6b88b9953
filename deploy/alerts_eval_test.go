// Tests of the alert rules with Prometheus's own rule engine (the packages
// "promtool check rules" and "promtool test rules" are built on): the rules
// parse and validate, and each test group of prometheus/alerts_test.yaml
// (promtool's format) loads its series, evaluates the rules every interval
// and compares the firing alerts with the expected ones. Building promtool
// itself took too long for the suite; these packages compile in the test.
package deploy

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/common/promslog"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/promql/promqltest"
	"github.com/prometheus/prometheus/rules"
	"sigs.k8s.io/yaml"
)

// ruleTestFile is the part of promtool's unit test format alerts_test.yaml uses.
type ruleTestFile struct {
	RuleFiles          []string        `json:"rule_files"`
	EvaluationInterval string          `json:"evaluation_interval"`
	Tests              []ruleTestGroup `json:"tests"`
}

type ruleTestGroup struct {
	Name        string `json:"name"`
	Interval    string `json:"interval"`
	InputSeries []struct {
		Series string `json:"series"`
		Values string `json:"values"`
	} `json:"input_series"`
	AlertRuleTests []struct {
		EvalTime  string `json:"eval_time"`
		Alertname string `json:"alertname"`
		ExpAlerts []struct {
			ExpLabels      map[string]string `json:"exp_labels"`
			ExpAnnotations map[string]string `json:"exp_annotations"`
		} `json:"exp_alerts"`
	} `json:"alert_rule_test"`
}

func mustDuration(t *testing.T, s, def string) time.Duration {
	t.Helper()
	if s == "" {
		s = def
	}
	d, err := model.ParseDuration(s)
	if err != nil {
		t.Fatalf("duration %q: %v", s, err)
	}
	return time.Duration(d)
}

func readRuleTests(t *testing.T) ruleTestFile {
	t.Helper()
	src, err := os.ReadFile("prometheus/alerts_test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var f ruleTestFile
	if err := yaml.UnmarshalStrict(src, &f); err != nil {
		t.Fatalf("alerts_test.yaml: %v", err)
	}
	if len(f.Tests) == 0 || !slices.Equal(f.RuleFiles, []string{"alerts.yaml"}) {
		t.Fatalf("alerts_test.yaml: %d tests of rule files %v, want tests of alerts.yaml", len(f.Tests), f.RuleFiles)
	}
	return f
}

// TestAlertRulesAreValid is "promtool check rules": the file parses
// strictly, every expression and template is valid, and no alert name is
// used twice.
func TestAlertRulesAreValid(t *testing.T) {
	groups, errs := rulefmt.ParseFile("prometheus/alerts.yaml", false, model.UTF8Validation,
		parser.NewParser(parser.Options{}), promslog.NewNopLogger())
	if len(errs) > 0 {
		t.Fatalf("alerts.yaml: %v", errs)
	}
	seen := map[string]bool{}
	for _, g := range groups.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				t.Errorf("group %s has a recording rule %s; alerts.yaml holds alerts only", g.Name, r.Record)
				continue
			}
			if seen[r.Alert] {
				t.Errorf("alert %s is defined twice", r.Alert)
			}
			seen[r.Alert] = true
			for _, k := range []string{"summary", "description"} {
				if r.Annotations[k] == "" {
					t.Errorf("alert %s has no %s", r.Alert, k)
				}
			}
			if r.Labels["severity"] == "" {
				t.Errorf("alert %s has no severity", r.Alert)
			}
		}
	}
}

// TestEveryAlertIsTestedFiringAndQuiet: each alert of alerts.yaml has a case
// where it fires and one where it must not, so a rule that always or never
// fires fails the suite.
func TestEveryAlertIsTestedFiringAndQuiet(t *testing.T) {
	groups, errs := rulefmt.ParseFile("prometheus/alerts.yaml", false, model.UTF8Validation,
		parser.NewParser(parser.Options{}), promslog.NewNopLogger())
	if len(errs) > 0 {
		t.Fatalf("alerts.yaml: %v", errs)
	}
	fires, quiet := map[string]bool{}, map[string]bool{}
	for _, g := range readRuleTests(t).Tests {
		for _, c := range g.AlertRuleTests {
			if len(c.ExpAlerts) > 0 {
				fires[c.Alertname] = true
			} else {
				quiet[c.Alertname] = true
			}
		}
	}
	for _, g := range groups.Groups {
		for _, r := range g.Rules {
			if !fires[r.Alert] || !quiet[r.Alert] {
				t.Errorf("alert %s: tested firing %v, tested quiet %v; want both", r.Alert, fires[r.Alert], quiet[r.Alert])
			}
		}
	}
}

// TestAlertRulesUnitTests runs alerts_test.yaml the way promtool test rules does.
func TestAlertRulesUnitTests(t *testing.T) {
	f := readRuleTests(t)
	evalInterval := mustDuration(t, f.EvaluationInterval, "1m")
	ruleFile, err := filepath.Abs(filepath.Join("prometheus", f.RuleFiles[0]))
	if err != nil {
		t.Fatal(err)
	}
	for _, tg := range f.Tests {
		t.Run(tg.Name, func(t *testing.T) { runRuleTestGroup(t, tg, evalInterval, ruleFile) })
	}
}

// alertSet is the firing alerts of one rule at one time, as sortable text.
type alertSet []string

func alertString(l, a labels.Labels) string { return l.String() + " " + a.String() }

func runRuleTestGroup(t *testing.T, tg ruleTestGroup, evalInterval time.Duration, ruleFile string) {
	interval := mustDuration(t, tg.Interval, "1m")
	var load strings.Builder
	fmt.Fprintf(&load, "load %s\n", model.Duration(interval))
	for _, s := range tg.InputSeries {
		fmt.Fprintf(&load, "  %s %s\n", s.Series, s.Values)
	}
	p := parser.NewParser(parser.Options{})
	suite, err := promqltest.NewLazyLoader(load.String(), promqltest.LazyLoaderOpts{
		EnableAtModifier: true, EnableNegativeOffset: true, Parser: p})
	if err != nil {
		t.Fatalf("input_series: %v", err)
	}
	defer suite.Close()
	suite.SubqueryInterval = evalInterval

	m := rules.NewManager(&rules.ManagerOptions{
		QueryFunc:    rules.EngineQueryFunc(suite.QueryEngine(), suite.Storage()),
		AppendableV2: suite.Storage(),
		Context:      context.Background(),
		NotifyFunc:   func(context.Context, string, ...*rules.Alert) {},
		Logger:       promslog.NewNopLogger(),
		Parser:       p,
	})
	groupsMap, errs := m.LoadGroups(interval, labels.EmptyLabels(), "", nil, false, ruleFile)
	if len(errs) > 0 {
		t.Fatalf("loading alerts.yaml: %v", errs)
	}
	var groups []*rules.Group
	for _, g := range groupsMap {
		groups = append(groups, g)
		for _, r := range g.Rules() {
			if ar, ok := r.(*rules.AlertingRule); ok {
				// As promtool does: nothing to restore from a previous run.
				ar.SetRestored(true)
			}
		}
	}

	// Expected alerts by evaluation time and alert name.
	type key struct {
		at   time.Duration
		name string
	}
	want := map[key]alertSet{}
	var maxAt time.Duration
	for _, c := range tg.AlertRuleTests {
		at := mustDuration(t, c.EvalTime, "")
		k := key{at, c.Alertname}
		if _, dup := want[k]; dup {
			t.Fatalf("alert %s is tested twice at %s", c.Alertname, c.EvalTime)
		}
		set := alertSet{}
		for _, a := range c.ExpAlerts {
			l := map[string]string{"alertname": c.Alertname}
			for n, v := range a.ExpLabels {
				l[n] = v
			}
			set = append(set, alertString(labels.FromMap(l), labels.FromMap(a.ExpAnnotations)))
		}
		sort.Strings(set)
		want[k] = set
		maxAt = max(maxAt, at)
	}

	start := time.Unix(0, 0).UTC()
	for ts := start; !ts.After(start.Add(maxAt)); ts = ts.Add(evalInterval) {
		suite.WithSamplesTill(ts, func(err error) {
			if err != nil {
				t.Fatalf("loading samples till %s: %v", ts.Sub(start), err)
			}
			for _, g := range groups {
				g.Eval(suite.Context(), ts)
				for _, r := range g.Rules() {
					if r.LastError() != nil {
						t.Fatalf("rule %s at %s: %v", r.Name(), ts.Sub(start), r.LastError())
					}
				}
			}
		})
		// An eval_time between two evaluations is checked against the earlier one.
		for k, exp := range want {
			if k.at < ts.Sub(start) || k.at >= ts.Sub(start)+evalInterval {
				continue
			}
			got := alertSet{}
			found := false
			for _, g := range groups {
				for _, r := range g.Rules() {
					ar, ok := r.(*rules.AlertingRule)
					if !ok || ar.Name() != k.name {
						continue
					}
					found = true
					for _, a := range ar.ActiveAlerts() {
						if a.State == rules.StateFiring {
							got = append(got, alertString(a.Labels, a.Annotations))
						}
					}
				}
			}
			if !found {
				t.Errorf("alert %s is not in alerts.yaml", k.name)
			}
			sort.Strings(got)
			if !slices.Equal(got, exp) {
				t.Errorf("%s at %s: firing\n  %s\nwant\n  %s", k.name, model.Duration(k.at),
					strings.Join(got, "\n  "), strings.Join(exp, "\n  "))
			}
			delete(want, k)
		}
	}
	if len(want) > 0 {
		t.Errorf("eval times never reached: %v", want)
	}
}
