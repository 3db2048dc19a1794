package testnet

import (
	"crypto/rand"
	"math/big"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
)

// FreePorts returns n distinct loopback TCP ports that were free when
// chosen, for servers whose configuration must name a port before they
// listen (NATS cluster routes). They are picked below the kernel's
// ephemeral range: a port that net.Listen(":0") hands out lies inside that
// range, where the outgoing connections of the servers started meanwhile
// (routes dialling each other) can take it before the server that was
// meant to have it binds, and the server then never becomes ready.
func FreePorts(t testing.TB, n int) []int {
	t.Helper()
	low := ephemeralLow()
	const floor = 10000
	if low-floor < 1000 {
		low = 40000 // an odd ephemeral range: fall back to a fixed band
	}
	seen := make(map[int]bool)
	var ports []int
	for tries := 0; len(ports) < n; tries++ {
		if tries > 1000 {
			t.Fatalf("no free loopback port below %d", low)
		}
		r, err := rand.Int(rand.Reader, big.NewInt(int64(low-floor)))
		if err != nil {
			t.Fatal(err)
		}
		p := floor + int(r.Int64())
		if seen[p] {
			continue
		}
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		if err != nil {
			continue
		}
		l.Close()
		seen[p] = true
		ports = append(ports, p)
	}
	return ports
}

// ephemeralLow is the lowest port of Linux's ephemeral range, or 32768
// (the common default) where it cannot be read.
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 32768
	}
	f := strings.Fields(string(b))
	if len(f) < 1 {
		return 32768
	}
	low, err := strconv.Atoi(f[0])
	if err != nil {
		return 32768
	}
	return low
}
