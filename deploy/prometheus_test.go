// Tests of the Prometheus rules and the Grafana dashboard: every metric they
// query is one the portal exports (or one listed below as being added with
// the metrics work). alerts_eval_test.go checks and unit-tests the rules.
package deploy

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// plannedMetrics are named by issue 17's business metrics, not exported by
// handlers/ yet; the alerts and dashboard already use them. Remove a name
// here once the portal exports it.
var plannedMetrics = []string{
	"nls_validations_total",       // counter {code}
	"nls_job_queue_depth",         // gauge
	"nls_deliveries_total",        // counter {kind, outcome}
	"nls_signing_key_age_seconds", // gauge {kid}
}

// exportedMetrics are the nls_* names registered in handlers/ and db/, plus the planned ones.
func exportedMetrics(t *testing.T) map[string]bool {
	t.Helper()
	names := map[string]bool{"up": true}
	for _, n := range plannedMetrics {
		names[n] = true
	}
	re := regexp.MustCompile(`"(nls_[a-z0-9_]+)"`)
	for _, dir := range []string{"handlers", "db", "cmd/portal"} {
		files, err := filepath.Glob(filepath.Join(root, dir, "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range re.FindAllStringSubmatch(string(src), -1) {
				names[m[1]] = true
			}
		}
	}
	return names
}

var (
	metricRef = regexp.MustCompile(`\b(nls_[a-z0-9_]+|up)\b`)
	// Label values and legends may contain metric-like words; drop quoted strings first.
	quoted = regexp.MustCompile(`"[^"]*"`)
)

func checkQueries(t *testing.T, where string, exprs []string, known map[string]bool) {
	t.Helper()
	if len(exprs) == 0 {
		t.Fatalf("%s: no queries found", where)
	}
	for _, e := range exprs {
		refs := metricRef.FindAllString(quoted.ReplaceAllString(e, `""`), -1)
		if len(refs) == 0 {
			t.Errorf("%s: query %q uses no NLS metric", where, e)
		}
		for _, name := range refs {
			base := name
			for _, suffix := range []string{"_bucket", "_sum", "_count"} {
				if b, ok := strings.CutSuffix(name, suffix); ok && known[b] {
					base = b
				}
			}
			if !known[base] {
				t.Errorf("%s: query %q uses %s, which the portal does not export", where, e, name)
			}
		}
	}
}

func TestAlertRulesQueryExportedMetrics(t *testing.T) {
	rules := readYAML(t, "prometheus/alerts.yaml")
	var exprs []string
	for _, g := range rules["groups"].([]any) {
		for _, r := range g.(map[string]any)["rules"].([]any) {
			exprs = append(exprs, r.(map[string]any)["expr"].(string))
		}
	}
	checkQueries(t, "alerts.yaml", exprs, exportedMetrics(t))
}

func TestGrafanaDashboardQueriesExportedMetrics(t *testing.T) {
	src, err := os.ReadFile("grafana/nls.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		UID    string `json:"uid"`
		Title  string `json:"title"`
		Panels []struct {
			ID      int    `json:"id"`
			Title   string `json:"title"`
			Type    string `json:"type"`
			Targets []struct {
				RefID string `json:"refId"`
				Expr  string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(src, &dash); err != nil {
		t.Fatalf("grafana/nls.json is not valid JSON: %v", err)
	}
	if dash.UID == "" || dash.Title == "" || len(dash.Panels) == 0 {
		t.Fatalf("dashboard has uid %q, title %q and %d panels; want all three", dash.UID, dash.Title, len(dash.Panels))
	}
	ids := map[int]bool{}
	var exprs []string
	used := map[string]bool{}
	for _, p := range dash.Panels {
		if ids[p.ID] {
			t.Errorf("panel id %d is used twice", p.ID)
		}
		ids[p.ID] = true
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			exprs = append(exprs, tg.Expr)
			for _, m := range metricRef.FindAllString(tg.Expr, -1) {
				used[strings.TrimSuffix(m, "_bucket")] = true
			}
		}
	}
	checkQueries(t, "grafana/nls.json", exprs, exportedMetrics(t))
	// Every metric an alert watches is on the dashboard, so a page leads somewhere.
	var missing []string
	for _, n := range append([]string{"nls_http_requests_total", "nls_http_request_duration_seconds", "nls_db_pool_connections"}, plannedMetrics...) {
		if !used[n] {
			missing = append(missing, n)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("the dashboard shows none of %v", missing)
	}
}
