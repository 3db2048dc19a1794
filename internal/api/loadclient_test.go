package api_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// hammer sends n copies of one HTTP/1.1 request over conns keep-alive
// connections, writing each request as soon as the previous answer is
// read. It is a much lighter client than net/http's, so that on a small
// machine the figures measure the server rather than the client. It
// returns the number of answers with a status other than want.
func hammer(tb testing.TB, baseURL, method, path string, body []byte, conns, n int, want int) int64 {
	tb.Helper()
	host := strings.TrimPrefix(baseURL, "http://")
	req := []byte(fmt.Sprintf("%s %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", method, path, host, len(body), body))
	var next atomic.Int64
	var bad atomic.Int64
	var wg sync.WaitGroup
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.Dial("tcp", host)
			if err != nil {
				tb.Error(err)
				return
			}
			defer c.Close()
			r := bufio.NewReaderSize(c, 64<<10)
			for next.Add(1) <= int64(n) {
				if _, err := c.Write(req); err != nil {
					tb.Error(err)
					return
				}
				res, err := http.ReadResponse(r, nil)
				if err != nil {
					tb.Error(err)
					return
				}
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode != want {
					bad.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	return bad.Load()
}
