package testnet

import (
	"testing"

	"go.uber.org/goleak"
)

// VerifyNoLeaks runs a package's tests (call it from TestMain) and fails
// them when a goroutine outlives them, the check wireguard-go makes: a
// long-running component stopped with its context stops every goroutine
// it started. Idle keep-alive connections in an HTTP client's pool are
// not leaks (their transport closes them).
func VerifyNoLeaks(m *testing.M) { goleak.VerifyTestMain(m, leakOptions...) }

var leakOptions = []goleak.Option{
	goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
	goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
}
