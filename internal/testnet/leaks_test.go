package testnet

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// TestLeakCheck: the check VerifyNoLeaks makes finds a goroutine left
// running, and nothing once it and the server a client used have
// stopped.
func TestLeakCheck(t *testing.T) {
	hs := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	res, err := http.Get(hs.URL)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	stop := make(chan struct{})
	go func() { <-stop }()
	if err := goleak.Find(leakOptions...); err == nil {
		t.Error("a goroutine left running was not found")
	}
	close(stop)
	hs.CloseClientConnections()
	hs.Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := goleak.Find(leakOptions...)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("found after everything stopped: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
