package deploy

import (
	"encoding/json"
	"log/slog"
	"os"
	"slices"
	"testing"

	"github.com/chaffhq/chaff/internal/telemetry"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
)

// exported is every series name a Chaff listener serves.
func exported() map[string]bool {
	names := map[string]bool{}
	for _, m := range telemetry.All() {
		for _, s := range m.Series() {
			names[s] = true
		}
	}
	return names
}

// metricNames returns the metric names an expression selects.
func metricNames(t *testing.T, expr string) []string {
	t.Helper()
	e, err := parser.NewParser(parser.Options{}).ParseExpr(expr)
	if err != nil {
		t.Fatalf("%q: %v", expr, err)
	}
	var names []string
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		if vs, ok := n.(*parser.VectorSelector); ok {
			if vs.Name == "" {
				t.Errorf("%q selects without a metric name", expr)
			}
			names = append(names, vs.Name)
		}
		return nil
	})
	return names
}

// TestAlertRules parses prometheus/alerts.yml with Prometheus's rule
// parser and checks that every expression names only exported metrics.
func TestAlertRules(t *testing.T) {
	groups, errs := rulefmt.ParseFile("prometheus/alerts.yml", false, model.UTF8Validation, parser.NewParser(parser.Options{}), slog.New(slog.DiscardHandler))
	if len(errs) > 0 {
		t.Fatalf("alerts.yml: %v", errs)
	}
	names := exported()
	alerts := 0
	for _, g := range groups.Groups {
		for _, r := range g.Rules {
			alerts++
			if r.Labels["severity"] == "" || r.Annotations["summary"] == "" {
				t.Errorf("%s: no severity or summary", r.Alert)
			}
			for _, n := range metricNames(t, r.Expr) {
				if !names[n] {
					t.Errorf("%s: %s is not a metric Chaff exports", r.Alert, n)
				}
			}
		}
	}
	if alerts < 7 {
		t.Errorf("%d alerts, want the 7 of the deployment guide", alerts)
	}
}

// TestDashboard checks that every query of grafana/chaff.json parses and
// names only exported metrics.
func TestDashboard(t *testing.T) {
	b, err := os.ReadFile("grafana/chaff.json")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	names := exported()
	seen := map[string]bool{}
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			for _, n := range metricNames(t, tg.Expr) {
				seen[n] = true
				if !names[n] {
					t.Errorf("panel %q: %s is not a metric Chaff exports", p.Title, n)
				}
			}
		}
	}
	// Every Chaff metric is on the dashboard.
	for _, m := range telemetry.All() {
		if !slices.ContainsFunc(m.Series(), func(s string) bool { return seen[s] }) {
			t.Errorf("%s is on no panel", m.Name)
		}
	}
}

// TestMetricNamesCatchesUnknownMetric is the checks' negative control: a
// rule naming a metric Chaff does not export is caught.
func TestMetricNamesCatchesUnknownMetric(t *testing.T) {
	names := exported()
	got := metricNames(t, `rate(chaff_api_requests_total[5m]) > on() chaff_reader_count`)
	if !slices.Equal(got, []string{"chaff_api_requests_total", "chaff_reader_count"}) {
		t.Fatalf("metricNames = %v", got)
	}
	if !names[got[0]] || names[got[1]] {
		t.Fatalf("exported() is wrong about %v", got)
	}
}
