package covernode_test

import (
	"context"
	"testing"

	"github.com/chaffhq/chaff/crypto"
	"github.com/chaffhq/chaff/internal/covernode"
	"github.com/chaffhq/chaff/internal/telemetry"
	"github.com/chaffhq/chaff/internal/testnet"
	"github.com/chaffhq/chaff/protocol"
	"github.com/prometheus/client_golang/prometheus"
)

// counter reads a counter of reg with the given direction label.
func counter(t *testing.T, reg *prometheus.Registry, name, direction string) float64 {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == telemetry.LabelDirection && l.GetValue() == direction {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return -1 // not exported
}

// TestUnopenedInputsCounted: inputs sealed to keys the node does not hold
// (a sender whose view of the published keys predates this node's key,
// the cause of the lost messages of TestScaleOutUnderFailures) are
// counted, per direction, and inputs the node opens are not. A node
// opening nothing of what it takes is visible to operators rather than
// silently dropping its share as cover.
func TestUnopenedInputsCounted(t *testing.T) {
	w := newWorld(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	reg := prometheus.NewRegistry()
	cfg := w.config(t.TempDir())
	cfg.Registry = reg
	node, err := covernode.New(ctx, w.nc, cfg)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- node.Run(ctx) }()

	own, err := w.verified(t).CoverNodeKeys()
	if err != nil {
		t.Fatal(err)
	}
	stranger, _ := crypto.GenerateKey() // another CoverNode's key
	other := []*crypto.PublicKey{stranger.PublicKey(), stranger.PublicKey()}
	for _, ks := range [][]*crypto.PublicKey{other, other, other, own} {
		c, err := protocol.SealCoverU2C(ks)
		if err != nil {
			t.Fatal(err)
		}
		post(t, w.a.URL+"/user/messages", testnet.EncodeU2C(c))
	}
	c, _ := protocol.SealCoverJ2C(other)
	post(t, w.a.URL+"/v1/journalist-messages", w.n.Form(w.alice.ID, protocol.EncodeBase64(c)))

	inputs, unopened := telemetry.CoverNodeInputs.Name, telemetry.CoverNodeUnopened.Name
	waitFor(t, "the inputs taken", func() bool {
		return counter(t, reg, inputs, "u2j") == 4 && counter(t, reg, inputs, "j2u") == 1
	})
	if got := counter(t, reg, unopened, "u2j"); got != 3 {
		t.Errorf("u2j: %v inputs counted unopened, want 3 (of 4, one sealed to the node)", got)
	}
	if got := counter(t, reg, unopened, "j2u"); got != 1 {
		t.Errorf("j2u: %v inputs counted unopened, want 1", got)
	}
	// No other CoverNode is published to hand them to: given up at once.
	dropped := telemetry.CoverNodeUnopenedDropped.Name
	if u, j := counter(t, reg, dropped, "u2j"), counter(t, reg, dropped, "j2u"); u != 3 || j != 1 {
		t.Errorf("given up: %v u2j and %v j2u inputs, want 3 and 1", u, j)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
