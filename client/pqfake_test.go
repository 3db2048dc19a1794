package client

import (
	"testing"

	"github.com/chaffhq/chaff/apiclient"
	"github.com/chaffhq/chaff/internal/testnet"
)

// FakePQ is testnet.FakePQ with the install config of the client's tests.
type FakePQ struct{ *testnet.FakePQ }

// StartFakePQ starts a pq deployment (testnet.StartFakePQ) for the test.
func StartFakePQ(t testing.TB) FakePQ {
	t.Helper()
	f := testnet.StartFakePQ(t)
	t.Cleanup(f.Close)
	return FakePQ{f}
}

// Config is an install of this deployment in dir.
func (f FakePQ) Config(dir string) Config {
	return Config{StateDir: dir, API: apiclient.New(f.URL), Anchors: f.Anchors(), KDF: testKDF, MinRunInterval: -1}
}
