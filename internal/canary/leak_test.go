package canary_test

import (
	"testing"

	"github.com/chaffhq/chaff/internal/testnet"
)

func TestMain(m *testing.M) { testnet.VerifyNoLeaks(m) }
