package testnet

import (
	"net"
	"strings"
	"time"
)

// SlowClient is a slow-loris client: it connects to addr (host:port, or
// an http:// URL) and sends a request one byte every `every`, headers
// never finished, for at most `limit`. It returns how long the server
// kept the connection open and whether the server closed it (false: the
// client gave up at limit). A server with a header timeout shorter than
// limit must close it.
func SlowClient(t TB, addr string, every, limit time.Duration) (held time.Duration, closed bool) {
	t.Helper()
	addr = strings.TrimPrefix(strings.TrimSuffix(addr, "/"), "http://")
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	// The server closing the connection ends this read (it sends nothing
	// else: the request never ends).
	gone := make(chan struct{})
	go func() {
		var b [512]byte
		for {
			if _, err := c.Read(b[:]); err != nil {
				close(gone)
				return
			}
		}
	}()
	req := "POST / HTTP/1.1\r\nHost: chaff\r\nX-Slow: " + strings.Repeat("a", 1<<16)
	tick := time.NewTicker(every)
	defer tick.Stop()
	for i := 0; ; i++ {
		select {
		case <-gone:
			return time.Since(start), true
		case <-tick.C:
		}
		if time.Since(start) >= limit {
			return time.Since(start), false
		}
		if _, err := c.Write([]byte{req[i%len(req)]}); err != nil {
			<-gone
			return time.Since(start), true
		}
	}
}
