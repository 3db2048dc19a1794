package testnet

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestBalancerPassesOverADownReplica: with one replica down, every request
// reaches the other, body intact; with both down, the client gets 502.
func TestBalancerPassesOverADownReplica(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Write(append([]byte(r.URL.Path+" "), b...))
	}))
	defer up.Close()
	down := httptest.NewServer(http.NotFoundHandler())
	downURL := down.URL
	down.Close()
	b := StartBalancer(t, downURL, up.URL)
	for i := range 4 {
		res, err := http.Post(b.URL+"/user/messages", "application/json", strings.NewReader("body"))
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || string(got) != "/user/messages body" {
			t.Fatalf("request %d: %d %q", i, res.StatusCode, got)
		}
	}
	if n := b.Failovers.Load(); n != 2 {
		t.Errorf("%d requests passed over the replica that is down, want 2 of 4", n)
	}
	up.Close()
	res, err := http.Get(b.URL + "/v1/healthcheck")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusBadGateway {
		t.Errorf("with every replica down: %d, want 502", res.StatusCode)
	}
}
