package deploy

import (
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/promql/promqltest"
)

// ruleExpr is the expression of alert name in prometheus/alerts.yml, on
// one line.
func ruleExpr(t *testing.T, name string) string {
	t.Helper()
	groups, errs := rulefmt.ParseFile("prometheus/alerts.yml", false, model.UTF8Validation, parser.NewParser(parser.Options{}), slog.New(slog.DiscardHandler))
	if len(errs) > 0 {
		t.Fatalf("alerts.yml: %v", errs)
	}
	for _, g := range groups.Groups {
		for _, r := range g.Rules {
			if r.Alert == name {
				return strings.Join(strings.Fields(r.Expr), " ")
			}
		}
	}
	t.Fatalf("no alert %s", name)
	return ""
}

// TestDeadDropAlertsFire evaluates the no-dead-drop alerts' expressions
// with Prometheus's own engine: an old dead drop fires them whether or not
// a CoverNode is scraped (with every node down its timeout series is gone,
// and the production timeout stands in); a fresh one, or an old one under
// a longer timeout a node reports, does not. The control: the expression
// as it was (no stand-in) stays silent with the CoverNodes gone, the case
// this test exists for. The absent-metrics alerts fire when nothing is
// scraped and not otherwise.
func TestDeadDropAlertsFire(t *testing.T) {
	engine := promqltest.NewTestEngine(t, false, 5*time.Minute, 100000)
	for _, c := range []struct{ alert, kind, direction string }{
		{"ChaffNoJournalistDeadDrop", "journalist", "u2j"},
		{"ChaffNoUserDeadDrop", "user", "j2u"},
	} {
		expr := ruleExpr(t, c.alert)
		age := fmt.Sprintf(`chaff_dead_drop_age_seconds{kind=%q}`, c.kind)
		timeout := fmt.Sprintf(`chaff_covernode_mix_timeout_seconds{direction=%q}`, c.direction)
		old := fmt.Sprintf("min(%s) > on() (max(%s) + 1800)", age, timeout)
		t.Run(c.alert, func(t *testing.T) {
			promqltest.RunTest(t, fmt.Sprintf(`
# Every CoverNode down: no timeout series; the last dead drop 6000 s old.
load 1m
  %[1]s 6000+60x10

eval instant at 5m %[3]s
  {} 6300

# The control: without the stand-in nothing fires.
eval instant at 5m %[4]s

clear
# A CoverNode up with a one-hour timeout, the dead drop 6000 s old: fires.
load 1m
  %[1]s 6000+60x10
  %[2]s 3600x10

eval instant at 5m %[3]s
  {} 6300

clear
# A fresh dead drop: silent, with or without the CoverNode.
load 1m
  %[1]s 100+60x10

eval instant at 5m %[3]s

clear
# A node with a day-long timeout: 6000 s is not late.
load 1m
  %[1]s 6000+60x10
  %[2]s 86400x10

eval instant at 5m %[3]s
`, age, timeout, expr, old), engine)
		})
	}
	t.Run("no dead drop ever", func(t *testing.T) {
		promqltest.RunTest(t, fmt.Sprintf(`
load 1m
  chaff_dead_drop_age_seconds{kind="user"} 100+60x10

eval instant at 5m %[1]s
  {kind="journalist"} 1

clear
load 1m
  chaff_dead_drop_age_seconds{kind="user"} 100+60x10
  chaff_dead_drop_age_seconds{kind="journalist"} 100+60x10

eval instant at 5m %[1]s
`, ruleExpr(t, "ChaffNoDeadDropEver")), engine)
	})
	t.Run("absent metrics", func(t *testing.T) {
		promqltest.RunTest(t, fmt.Sprintf(`
load 1m
  chaff_dead_drop_age_seconds{kind="user"} 1x10

eval instant at 5m %[1]s
  {} 1

eval instant at 5m %[2]s
  {} 1

clear
load 1m
  chaff_covernode_mix_timeout_seconds{direction="u2j"} 3600x10
  chaff_key_expiry_seconds{role="journalist_msg",owner="alice"} 100000x10

eval instant at 5m %[1]s

eval instant at 5m %[2]s
`, ruleExpr(t, "ChaffCoverNodeMetricsAbsent"), ruleExpr(t, "ChaffAPIMetricsAbsent")), engine)
	})
}
