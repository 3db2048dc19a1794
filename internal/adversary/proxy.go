package adversary

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// Exchange is one HTTP request and the answer the client got, as the
// adversary on the wire (or running the API or the CDN) records it. The
// bodies are the bytes sent; Status and RespBody are what the client
// received, after any interception.
type Exchange struct {
	Seq        int // order of arrival at the proxy, from 0
	Method     string
	Path       string
	RawQuery   string
	ReqHeader  http.Header
	ReqBody    []byte
	Status     int
	RespHeader http.Header
	RespBody   []byte
	// Start is when the request arrived; Duration how long the client
	// waited for the whole answer.
	Start    time.Time
	Duration time.Duration
	// Forwarded says whether the request reached the genuine API.
	Forwarded bool
	// Intercepted says whether a rule answered or changed the answer.
	Intercepted bool
}

// Rule is a hostile behaviour of the API or the CDN for the requests it
// matches: Method ("" for any) and Path, a prefix of the request's path.
type Rule struct {
	Method string
	Path   string
	// Answer, when set, answers in the API's place: the request never
	// reaches the API (a dropped POST, a forged GET). It sets ex.Status,
	// ex.RespBody and, if it wants, ex.RespHeader.
	Answer func(ex *Exchange)
	// Rewrite, when set, changes the API's genuine answer (ex.Status,
	// ex.RespBody, ex.RespHeader) before the client gets it.
	Rewrite func(ex *Exchange)
	// Delay holds the answer back this long.
	Delay time.Duration
}

func (r *Rule) matches(method, path string) bool {
	return (r.Method == "" || r.Method == method) && strings.HasPrefix(path, r.Path)
}

// Proxy is the API as every client of a Deployment sees it: a recording,
// rewriting reverse proxy on loopback in front of the genuine API.
// Its methods are safe for concurrent use.
type Proxy struct {
	URL string
	// Mode is the protocol mode of the pages RewriteDeadDrops reads (""
	// is coverdrop): a Deployment's proxy has its mode.
	Mode string

	upstream string
	client   *http.Client

	mu    sync.Mutex
	log   []Exchange
	rules []*Rule
}

// NewProxy starts a proxy in front of the API at upstream; it stops when
// the test ends.
func NewProxy(t testing.TB, upstream string) *Proxy {
	p := &Proxy{upstream: strings.TrimRight(upstream, "/"), client: &http.Client{Timeout: time.Minute}}
	hs := httptest.NewServer(http.HandlerFunc(p.serve))
	t.Cleanup(hs.Close)
	p.URL = hs.URL
	return p
}

// Intercept installs a rule, tried before the rules installed earlier;
// the returned function removes it.
func (p *Proxy) Intercept(r Rule) (remove func()) {
	rp := &r
	p.mu.Lock()
	p.rules = append([]*Rule{rp}, p.rules...)
	p.mu.Unlock()
	return func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		for i, x := range p.rules {
			if x == rp {
				p.rules = append(p.rules[:i], p.rules[i+1:]...)
				return
			}
		}
	}
}

// Serve makes the API answer every matching request with status and body,
// without asking the genuine API.
func (p *Proxy) Serve(method, path string, status int, body []byte) (remove func()) {
	return p.Intercept(Rule{Method: method, Path: path, Answer: func(ex *Exchange) {
		ex.Status, ex.RespBody = status, append([]byte(nil), body...)
	}})
}

// Exchanges returns a copy of everything recorded so far, in order of
// arrival.
func (p *Proxy) Exchanges() []Exchange {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Exchange(nil), p.log...)
}

// Matching returns the recorded exchanges of one method and path prefix.
func (p *Proxy) Matching(method, path string) []Exchange {
	r := Rule{Method: method, Path: path}
	var out []Exchange
	for _, ex := range p.Exchanges() {
		if r.matches(ex.Method, ex.Path) {
			out = append(out, ex)
		}
	}
	return out
}

// Reset forgets what was recorded (the rules stay).
func (p *Proxy) Reset() {
	p.mu.Lock()
	p.log = nil
	p.mu.Unlock()
}

func (p *Proxy) serve(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	body, _ := io.ReadAll(r.Body)
	ex := Exchange{Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery, ReqHeader: r.Header.Clone(), ReqBody: body, Start: start, RespHeader: http.Header{}}
	p.mu.Lock()
	var rule *Rule
	for _, x := range p.rules {
		if x.matches(r.Method, r.URL.Path) {
			rule = x
			break
		}
	}
	p.mu.Unlock()
	if rule != nil && rule.Answer != nil {
		ex.Intercepted = true
		ex.Status = http.StatusOK
		rule.Answer(&ex)
	} else {
		p.forward(r, &ex)
		if rule != nil && rule.Rewrite != nil {
			ex.Intercepted = true
			rule.Rewrite(&ex)
		}
	}
	if rule != nil && rule.Delay > 0 {
		time.Sleep(rule.Delay)
	}
	if ex.RespHeader.Get("Content-Type") == "" && len(ex.RespBody) > 0 {
		ex.RespHeader.Set("Content-Type", "application/json")
	}
	for k, vs := range ex.RespHeader {
		if k == "Content-Length" {
			continue
		}
		w.Header()[k] = vs
	}
	w.WriteHeader(ex.Status)
	w.Write(ex.RespBody)
	ex.Duration = time.Since(start)
	p.mu.Lock()
	ex.Seq = len(p.log)
	p.log = append(p.log, ex)
	p.mu.Unlock()
}

// forward asks the genuine API; a failure to reach it answers 502.
func (p *Proxy) forward(r *http.Request, ex *Exchange) {
	u := p.upstream + r.URL.Path
	if r.URL.RawQuery != "" {
		u += "?" + r.URL.RawQuery
	}
	req, err := http.NewRequestWithContext(r.Context(), r.Method, u, bytes.NewReader(ex.ReqBody))
	if err != nil {
		ex.Status, ex.RespBody = http.StatusBadGateway, []byte(`{"error":"proxy"}`)
		return
	}
	req.Header = r.Header.Clone()
	res, err := p.client.Do(req)
	if err != nil {
		ex.Status, ex.RespBody = http.StatusBadGateway, []byte(`{"error":"proxy"}`)
		return
	}
	defer res.Body.Close()
	ex.Forwarded = true
	ex.Status = res.StatusCode
	ex.RespHeader = res.Header.Clone()
	ex.RespBody, _ = io.ReadAll(res.Body)
}
