package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chaffhq/chaff/apiclient"
	"github.com/chaffhq/chaff/crypto"
	"github.com/chaffhq/chaff/deaddrop"
	"github.com/chaffhq/chaff/internal/embeddednats"
	"github.com/chaffhq/chaff/internal/loadgen"
	"github.com/chaffhq/chaff/internal/testnet"
	"github.com/chaffhq/chaff/keys"
	"github.com/chaffhq/chaff/protocol"
	"github.com/nats-io/nats-server/v2/server"
)

// The chaos harness of TestScaleOutUnderFailures: a deployment of separate
// processes (three NATS nodes, two `chaff api` behind a load balancer, two
// `chaff covernode`), all of them this test binary, so that each can be
// killed with SIGKILL and started again; loadgen's readers sending cover
// with real messages among it; a journalist who answers every message;
// readers who read the answers.

// natsNodeEnv, set to an embeddednats.Options in JSON, makes this test
// binary a NATS node (TestMain): a process of its own, to be killed.
const natsNodeEnv = "CHAFF_TEST_NATS_NODE"

// runNATSNode runs a NATS node until the process is killed. It prints
// "healthy" once the node's JetStream is current with the cluster (the
// monitoring endpoint's healthz), so that a test kills another node only
// once this one has caught up.
func runNATSNode(spec string) {
	var o embeddednats.Options
	if err := json.Unmarshal([]byte(spec), &o); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	s, err := embeddednats.Start(o)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	for s.Healthz(&server.HealthzOptions{}).Status != "ok" {
		time.Sleep(50 * time.Millisecond)
	}
	fmt.Println("healthy")
	select {}
}

// role is what a process of the deployment is.
type role string

const (
	roleNATS      role = "NATS node"
	roleAPI       role = "API replica"
	roleCoverNode role = "CoverNode"
)

// slot keeps one process of the deployment running: started again at once
// when the test kills it, and after a pause when it exits on its own (as
// systemd restarts it), which is counted.
type slot struct {
	role role
	name string
	args []string
	env  []string

	mu      sync.Mutex
	cur     *child
	stopped bool
	kills   int
	exits   []string // the last stderr line of each exit on its own
}

// child is one run of a slot's process.
type child struct {
	cmd     *exec.Cmd
	stderr  *tail
	done    chan struct{} // closed when it exited
	healthy chan struct{} // closed when it printed "healthy"
	killed  bool          // by the test; under the slot's mu
}

func newSlot(t *testing.T, r role, name string, env []string, args ...string) *slot {
	s := &slot{role: r, name: name, args: args, env: env}
	s.mu.Lock()
	err := s.start(t)
	s.mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.mu.Lock()
		s.stopped = true
		c := s.cur
		s.mu.Unlock()
		c.cmd.Process.Kill()
		<-c.done
		if t.Failed() {
			t.Logf("%s (%s), last output:\n%s", s.name, s.role, c.stderr)
		}
	})
	return s
}

// chaosLogsEnv names a directory where the chaos test keeps every
// process's whole standard error, one file per process (it keeps only
// their tails otherwise, shown when it fails).
const chaosLogsEnv = "CHAFF_CHAOS_LOGS"

// start starts the slot's process and watches it. The caller holds s.mu.
func (s *slot) start(t *testing.T) error {
	cmd := exec.Command(os.Args[0], s.args...)
	cmd.Env = append(os.Environ(), s.env...)
	c := &child{cmd: cmd, stderr: &tail{max: 16 << 10}, done: make(chan struct{}), healthy: make(chan struct{})}
	cmd.Stderr = c.stderr
	if d := os.Getenv(chaosLogsEnv); d != "" {
		f, err := os.OpenFile(filepath.Join(d, s.name+".log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
		if err != nil {
			return err
		}
		cmd.Stderr = io.MultiWriter(c.stderr, f)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	s.cur = c
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if sc.Text() == "healthy" {
				close(c.healthy)
				break
			}
		}
		io.Copy(io.Discard, out)
		cmd.Wait()
		close(c.done)
		s.mu.Lock()
		again := !c.killed && !s.stopped
		if again {
			s.exits = append(s.exits, c.stderr.lastLine())
		}
		s.mu.Unlock()
		if !again {
			return
		}
		time.Sleep(300 * time.Millisecond)
		s.mu.Lock()
		defer s.mu.Unlock()
		if !s.stopped && s.cur == c {
			if err := s.start(t); err != nil {
				t.Errorf("restarting %s: %v", s.name, err)
			}
		}
	}()
	return nil
}

// kill kills the running process with SIGKILL and starts it again at
// once. It reports false, and kills nothing, when the process is not
// running (it exited on its own and waits to be started again).
func (s *slot) kill(t *testing.T) bool {
	s.mu.Lock()
	c := s.cur
	select {
	case <-c.done:
		s.mu.Unlock()
		return false
	default:
	}
	c.killed = true
	s.mu.Unlock()
	c.cmd.Process.Signal(syscall.SIGKILL)
	<-c.done
	// Counted only if the signal is what ended it.
	ws, ok := c.cmd.ProcessState.Sys().(syscall.WaitStatus)
	killed := ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL
	s.mu.Lock()
	defer s.mu.Unlock()
	if killed {
		s.kills++
	}
	if s.cur == c && !s.stopped {
		if err := s.start(t); err != nil {
			t.Fatalf("restarting %s: %v", s.name, err)
		}
	}
	return killed
}

// current is the running child.
func (s *slot) current() *child {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cur
}

// tail keeps the last max bytes written to it.
type tail struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (w *tail) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.b = append(w.b, p...)
	if len(w.b) > w.max {
		w.b = append([]byte(nil), w.b[len(w.b)-w.max:]...)
	}
	return len(p), nil
}

func (w *tail) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return string(w.b)
}

func (w *tail) lastLine() string {
	lines := strings.Split(strings.TrimSpace(w.String()), "\n")
	return lines[len(lines)-1]
}

// chaosPlan sizes a run.
type chaosPlan struct {
	rate    float64       // loadgen's messages a second
	readers int           // loadgen's installs
	calm    time.Duration // load without kills first: the rate the same stack reaches unharmed, in the same run
	chaos   time.Duration // load with kills
	kills   int           // SIGKILLs spread over chaos: API replica, CoverNode, NATS node in turn
	reals   int           // real messages, spread over calm and chaos
	ackWait time.Duration // the CoverNodes' --ack-wait
	drain   time.Duration // the most the drain may take
}

// chaosReport is what a run measured.
type chaosReport struct {
	Kills, Exits              map[role]int
	ExitReasons               []string
	NATSWaits                 time.Duration // kills of NATS nodes delayed until the last one restarted had caught up
	CalmRate, ChaosRate       float64       // messages a second loadgen achieved
	CalmSent, ChaosSent       int64
	ChaosErrors               map[string]int
	RealsAcked, RealsSent     int
	RealsFound, RealsLost     int
	RealDuplicates            int // acknowledged or not, a real message in more than one C2J
	Replies, RepliesDelivered int
	ReplyDuplicates           int // a reply in more than one user dead drop chunk
	RepliesRetried            int // replies whose post had to be retried (a copy may then be in the streams twice)
	Failovers                 int64
	Setup, Calm, Chaos, Drain time.Duration
	// Probes of the API replicas' health during the chaos, every
	// probeEvery: how many, how many found neither replica answering, and
	// how long each replica's outages (kills and exits alike) lasted.
	Probes, NoReplica int
	Outages           []time.Duration
}

// probeEvery is how often the chaos probes the API replicas' health.
const probeEvery = 100 * time.Millisecond

// probeAPIs probes each replica's health every probeEvery until stop is
// closed, and records in rep how often none answered and how long each
// outage of a replica lasted.
func probeAPIs(urls []string, rep *chaosReport, stop <-chan struct{}) {
	hc := &http.Client{Timeout: time.Second}
	down := make([]time.Time, len(urls)) // zero while it answers
	tick := time.NewTicker(probeEvery)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		up := 0
		for i, u := range urls {
			ok := false
			if res, err := hc.Get(u + apiclient.Healthcheck.Path); err == nil {
				res.Body.Close()
				ok = res.StatusCode == http.StatusOK
			}
			switch {
			case ok && !down[i].IsZero():
				rep.Outages = append(rep.Outages, time.Since(down[i]))
				down[i] = time.Time{}
			case !ok && down[i].IsZero():
				down[i] = time.Now()
			}
			if ok {
				up++
			}
		}
		rep.Probes++
		if up == 0 {
			rep.NoReplica++
		}
	}
}

// journalistDesk is the journalist: it reads every journalist dead drop
// as it is published and answers each message once, through the load
// balancer, with cover journalist messages keeping the user dead drops
// going, as a journalist's client sends them.
type journalistDesk struct {
	api      *apiclient.Client
	id       *keys.KeyPair
	key      *crypto.PrivateKey // messaging
	opener   *deaddrop.JournalistOpener
	cnKeys   []*crypto.PublicKey
	lastID   int64
	received map[[32]byte]bool   // U2J ciphertexts, as a vault keeps them
	copies   map[string]int      // message text: C2J copies seen
	where    map[string][]string // message text: the dead drops it was in (describe)
	signers  []*crypto.VerifyingKey
	queue    []*reply
	replies  map[string]*reply // by the text answered
}

// reply is the journalist's answer to one message.
type reply struct {
	text  string
	j2c   []byte
	posts int // attempts; each after the first may leave a second copy in the stream
}

// Every deskTick the journalist sends perTick messages: replies first (at
// most maxRepliesPerTick, so that a user dead drop's real messages stay
// within its output size) and cover for the rest.
const (
	deskTick          = 250 * time.Millisecond
	perTick           = 10
	maxRepliesPerTick = 4
)

// step reads the new journalist dead drops and sends a tick's messages.
func (d *journalistDesk) step(ctx context.Context) error {
	for {
		b, err := d.api.DeadDropsAfter(ctx, deaddrop.Journalist, d.lastID)
		if err != nil {
			break // no replica answered; next tick
		}
		l, err := deaddrop.ParseList(deaddrop.Journalist, b)
		if err != nil {
			return err
		}
		if len(l.DeadDrops) == 0 {
			break
		}
		for _, dd := range l.DeadDrops {
			got, err := d.opener.Open(dd)
			if err != nil && !errors.Is(err, deaddrop.ErrNotForMe) {
				return err
			}
			for _, m := range got {
				d.copies[m.Message.Text]++
				d.where[m.Message.Text] = append(d.where[m.Message.Text], describe(dd, d.signers))
				sum := sha256.Sum256(m.U2J)
				if d.received[sum] {
					continue
				}
				d.received[sum] = true
				r := &reply{text: "reply to " + m.Message.Text}
				j2u, err := protocol.SealJ2U(m.Message.ReplyKey, d.key, &protocol.JournalistMessage{Type: protocol.J2UTypeText, Text: r.text})
				if err != nil {
					return err
				}
				if r.j2c, err = protocol.SealJ2C(d.cnKeys, j2u); err != nil {
					return err
				}
				d.queue = append(d.queue, r)
				d.replies[m.Message.Text] = r
			}
		}
		d.lastID = l.DeadDrops[len(l.DeadDrops)-1].ID
	}
	var left []*reply
	sent := 0
	for _, r := range d.queue {
		if sent == maxRepliesPerTick {
			left = append(left, r)
			continue
		}
		sent++
		r.posts++
		if err := d.api.SendJournalistMessage(ctx, d.id, r.j2c); err != nil {
			left = append(left, r) // sent again next tick, as a client does
		}
	}
	d.queue = left
	for ; sent < perTick; sent++ {
		c, err := protocol.SealCoverJ2C(d.cnKeys)
		if err != nil {
			return err
		}
		d.api.SendJournalistMessage(ctx, d.id, c)
	}
	return nil
}

// readerDesk is the readers holding the reply keys: they read every user
// dead drop as it is published.
type readerDesk struct {
	api      *apiclient.Client
	openers  []*deaddrop.ReaderOpener
	lastID   int64
	copies   map[string]int // reply text: copies seen
	where    map[string][]string
	signers  []*crypto.VerifyingKey
	openedBy map[string][]int // reply text: the readers that opened it
}

func (r *readerDesk) step(ctx context.Context) error {
	for {
		b, err := r.api.DeadDropsAfter(ctx, deaddrop.User, r.lastID)
		if err != nil {
			return nil // no replica answered; next tick
		}
		l, err := deaddrop.ParseList(deaddrop.User, b)
		if err != nil {
			return err
		}
		if len(l.DeadDrops) == 0 {
			return nil
		}
		for _, dd := range l.DeadDrops {
			for i, o := range r.openers {
				got, err := o.Open(dd)
				if err != nil && !errors.Is(err, deaddrop.ErrNotForMe) {
					return err
				}
				for _, m := range got {
					r.copies[m.Message.Text]++
					r.where[m.Message.Text] = append(r.where[m.Message.Text], describe(dd, r.signers))
					r.openedBy[m.Message.Text] = append(r.openedBy[m.Message.Text], i)
				}
			}
		}
		r.lastID = l.DeadDrops[len(l.DeadDrops)-1].ID
	}
}

// describe names a dead drop for a failure's message: its id, date, the
// CoverNode that signed it (by its index in signers) and a digest of its
// data (two posts of one release have the same).
func describe(d *deaddrop.DeadDrop, signers []*crypto.VerifyingKey) string {
	signer := -1
	for i, k := range signers {
		if d.Verify([]*crypto.VerifyingKey{k}) == nil {
			signer = i
		}
	}
	sum := sha256.Sum256(d.Data)
	return fmt.Sprintf("#%d %s by CoverNode %d, data %x", d.ID, d.CreatedAt.Format("15:04:05.000"), signer, sum[:4])
}

// replyReaders is how many readers hold the reply keys of the real
// messages, in turn.
const replyReaders = 8

// runChaos runs a plan and checks that every acknowledged real message
// reaches the journalist exactly once and every reply its reader.
func runChaos(t *testing.T, p chaosPlan) *chaosReport {
	rep := &chaosReport{Kills: map[role]int{}, Exits: map[role]int{}}
	t0 := time.Now()
	dir := t.TempDir()
	n := testnet.NewNewsroom(t, time.Now())
	anchor := filepath.Join(dir, "org.pub.json")
	b, _ := json.Marshal(n.Org.Public)
	if err := os.WriteFile(anchor, b, 0o644); err != nil {
		t.Fatal(err)
	}
	runMain := []string{"CHAFF_RUN_MAIN=1"}

	// Three NATS nodes, each its own process.
	var nats []*slot
	var clientURLs, routes []string
	ports := testnet.FreePorts(t, 6)
	clientPorts, routePorts := ports[:3], ports[3:]
	for i := range 3 {
		clientURLs = append(clientURLs, fmt.Sprintf("nats://127.0.0.1:%d", clientPorts[i]))
		routes = append(routes, fmt.Sprintf("nats://127.0.0.1:%d", routePorts[i]))
	}
	for i := range 3 {
		o, _ := json.Marshal(embeddednats.Options{StoreDir: filepath.Join(dir, fmt.Sprintf("nats-%d", i)), Name: fmt.Sprintf("n%d", i),
			Port: clientPorts[i], ClusterName: "chaff-chaos", ClusterPort: routePorts[i], Routes: routes})
		nats = append(nats, newSlot(t, roleNATS, fmt.Sprintf("nats-%d", i), []string{natsNodeEnv + "=" + string(o)}))
	}
	waitHealthy := func(limit time.Duration) bool {
		deadline := time.After(limit)
		for _, s := range nats {
			select {
			case <-s.current().healthy:
			case <-deadline:
				return false
			}
		}
		return true
	}
	if !waitHealthy(time.Minute) {
		t.Fatal("the NATS cluster did not become healthy")
	}
	natsURLs := strings.Join(clientURLs, ",")

	// Two API replicas behind a load balancer, which every client uses.
	var apis []*slot
	var apiURLs []string
	for i := range 2 {
		addr := freeAddr(t)
		apiURLs = append(apiURLs, "http://"+addr)
		apis = append(apis, newSlot(t, roleAPI, fmt.Sprintf("api-%d", i), runMain, "api", "--anchor", anchor, "--nats", natsURLs, "--replicas", "3",
			"--listen", addr, "--admin-listen", "127.0.0.1:0", "--ingest-rate", "1000000", "--ingest-burst", "1000000", "--log-level", "warn"))
	}
	for _, u := range apiURLs {
		waitUntil(t, "the API", func() bool {
			_, err := apiclient.New(u).StatusBody(context.Background())
			return err == nil
		})
	}
	lb := testnet.StartBalancer(t, apiURLs...)
	ctx := context.Background()
	api := apiclient.New(lb.URL)

	// Two CoverNodes, once both replicas serve the keys uploaded through
	// one of them.
	alice, bundle1 := testnet.Bootstrap(t, apiURLs[0], n, dir)
	for _, u := range apiURLs {
		waitUntil(t, "the newsroom's keys at every replica", func() bool {
			h, err := apiclient.New(u).PublicKeys(ctx)
			if err != nil {
				return false
			}
			v, err := keys.Verify(h, []keys.SignedPublicKey{n.Org.Public}, time.Now())
			return err == nil && slices.Contains(v.JournalistIDs(), "alice")
		})
	}
	bundle2 := n.CoverNodeBundle("covernode_002", dir)
	var cns []*slot
	for i, bundle := range []string{bundle1, bundle2} {
		id := fmt.Sprintf("covernode_%03d", i+1)
		cns = append(cns, newSlot(t, roleCoverNode, id, runMain, "covernode", "--state", filepath.Join(dir, id), "--state-key-file", filepath.Join(dir, id+".key"),
			"--bundle", bundle, "--api", lb.URL, "--anchor", anchor, "--nats", natsURLs, "--admin-listen", "127.0.0.1:0", "--mixing", "test",
			"--u2j-threshold-max", "100", "--u2j-output-size", "20", "--j2u-threshold-max", "40", "--j2u-output-size", "20",
			"--ack-wait", p.ackWait.String(), "--log-level", "warn"))
	}
	var v *keys.Verified
	waitUntil(t, "both CoverNodes' keys", func() bool {
		h, err := api.PublicKeys(ctx)
		if err != nil {
			return false
		}
		v, err = keys.Verify(h, []keys.SignedPublicKey{n.Org.Public}, time.Now())
		return err == nil && everyCoverNodeHasMessagingKey(v, 2)
	})
	cnKeys, err := v.CoverNodeKeys()
	if err != nil {
		t.Fatal(err)
	}

	// The journalist and the readers.
	ask, err := alice.Msg[0].PrivateKey()
	if err != nil {
		t.Fatal(err)
	}
	jo, err := deaddrop.NewJournalistOpener([]*crypto.PrivateKey{ask}, v.AllCoverNodeMessagingKeys())
	if err != nil {
		t.Fatal(err)
	}
	desk := &journalistDesk{api: api, id: alice.ID, key: ask, opener: jo, cnKeys: cnKeys,
		received: map[[32]byte]bool{}, copies: map[string]int{}, replies: map[string]*reply{},
		where: map[string][]string{}, signers: v.CoverNodeIdentityKeys()}
	readers := &readerDesk{api: api, copies: map[string]int{}, openedBy: map[string][]int{}, where: map[string][]string{}, signers: v.CoverNodeIdentityKeys()}
	var replyKeys []*crypto.PublicKey
	for range replyReaders {
		sk, err := crypto.GenerateKey()
		if err != nil {
			t.Fatal(err)
		}
		o, err := deaddrop.NewReaderOpener(sk, map[string][]*crypto.PublicKey{"alice": {ask.PublicKey()}})
		if err != nil {
			t.Fatal(err)
		}
		replyKeys = append(replyKeys, sk.PublicKey())
		readers.openers = append(readers.openers, o)
	}
	var deskMu sync.Mutex // the desks' state, read by this goroutine
	stopDesks := make(chan struct{})
	desksDone := make(chan struct{})
	go func() {
		defer close(desksDone)
		tick := time.NewTicker(deskTick)
		defer tick.Stop()
		for {
			select {
			case <-stopDesks:
				return
			case <-tick.C:
			}
			deskMu.Lock()
			err := desk.step(ctx)
			if err == nil {
				err = readers.step(ctx)
			}
			deskMu.Unlock()
			if err != nil {
				t.Error(err)
				return
			}
		}
	}()
	defer func() {
		select {
		case <-stopDesks:
		default:
			close(stopDesks)
		}
		<-desksDone
	}()
	rep.Setup = time.Since(t0)

	// Load: first calm, then with the kills.
	load := func(d time.Duration, reals int) (*loadgen.Report, error) {
		return loadgen.Run(ctx, loadgen.Options{API: lb.URL, Anchors: []keys.SignedPublicKey{n.Org.Public}, Readers: p.readers, Rate: p.rate,
			Duration: d, Real: reals, To: []string{"alice"}, ReplyKeys: replyKeys, DownloadEvery: time.Minute})
	}
	var loads []*loadgen.Report
	calmReals := int(float64(p.reals) * p.calm.Seconds() / (p.calm + p.chaos).Seconds())
	if p.calm > 0 {
		t1 := time.Now()
		r, err := load(p.calm, calmReals)
		if err != nil {
			t.Fatal(err)
		}
		rep.Calm, rep.CalmSent, rep.CalmRate = time.Since(t1), r.Sent, float64(r.Sent)/r.Seconds
		loads = append(loads, r)
	}
	t1 := time.Now()
	stopProbes, probesDone := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(probesDone)
		probeAPIs(apiURLs, rep, stopProbes)
	}()
	chaosDone := make(chan *loadgen.Report, 1)
	go func() {
		r, err := load(p.chaos, p.reals-calmReals)
		if err != nil {
			t.Error(err)
		}
		chaosDone <- r
	}()
	slots := map[role][]*slot{roleAPI: apis, roleCoverNode: cns, roleNATS: nats}
	order := []role{roleAPI, roleCoverNode, roleNATS}
	turn := map[role]int{}
	every := p.chaos / time.Duration(p.kills)
	for k := range p.kills {
		due := t1.Add(time.Duration((float64(k) + 0.2 + 0.6*rand.Float64()) * float64(every)))
		time.Sleep(time.Until(due))
		r := order[k%len(order)]
		s := slots[r][turn[r]%len(slots[r])]
		turn[r]++
		if r == roleNATS {
			// A NATS node is killed only once the cluster has caught up
			// from the last one: two nodes of three down, or behind, is
			// beyond what a 3-node cluster survives.
			w := time.Now()
			if !waitHealthy(2 * time.Minute) {
				t.Fatal("the NATS cluster did not become healthy again within 2 minutes")
			}
			rep.NATSWaits += time.Since(w)
		}
		// A process that exited on its own and waits to be started again
		// is not there to kill: wait for it.
		waitUntilWithin(t, 2*time.Minute, s.name+" running, to be killed", func() bool { return s.kill(t) })
	}
	chaos := <-chaosDone
	close(stopProbes)
	<-probesDone
	if chaos == nil {
		t.FailNow()
	}
	rep.Chaos, rep.ChaosSent, rep.ChaosRate, rep.ChaosErrors = time.Since(t1), chaos.Sent, float64(chaos.Sent)/chaos.Seconds, chaos.Errors
	loads = append(loads, chaos)

	// Drain: readers' cover makes the CoverNodes release what they hold.
	owner := map[string]int{}
	var acked []string
	for _, r := range loads {
		for k, m := range r.Real {
			owner["reply to "+m.Text] = k % replyReaders
			if m.Acknowledged {
				acked = append(acked, m.Text)
			}
		}
		rep.RealsSent += len(r.Real)
	}
	rep.RealsAcked = len(acked)
	if rep.RealsAcked < p.reals/3 {
		t.Fatalf("only %d of %d real messages acknowledged", rep.RealsAcked, p.reals)
	}
	t2 := time.Now()
	missing := func() (msgs, replies int) {
		deskMu.Lock()
		defer deskMu.Unlock()
		for _, text := range acked {
			if desk.copies[text] == 0 {
				msgs++
			}
		}
		for _, r := range desk.replies {
			if readers.copies[r.text] == 0 {
				replies++
			}
		}
		return msgs, replies
	}
	defer func() {
		if t.Failed() {
			m, r := missing()
			t.Logf("missing: %d acknowledged real messages at the journalist, %d replies at their readers", m, r)
		}
	}()
	waitUntilWithin(t, p.drain, "every acknowledged real message at the journalist and every reply at its reader", func() bool {
		for range 20 {
			msg, err := protocol.SealCoverU2C(cnKeys)
			if err != nil {
				t.Fatal(err)
			}
			api.SendUserMessage(ctx, msg)
		}
		m, r := missing()
		return m == 0 && r == 0
	})
	rep.Drain = time.Since(t2)
	close(stopDesks)
	<-desksDone

	// Exactly once: each acknowledged real message in one C2J message of
	// one journalist dead drop, and no message of any reader in two; each
	// reply read by its reader, once unless its post was retried.
	for _, text := range acked {
		switch c := desk.copies[text]; {
		case c == 0:
			rep.RealsLost++
			t.Errorf("acknowledged, never delivered: %q", text)
		case c > 1:
			t.Errorf("acknowledged, delivered %d times: %q, in %q", c, text, desk.where[text])
		}
	}
	for text, c := range desk.copies {
		rep.RealsFound++
		if c > 1 {
			rep.RealDuplicates++
			if !slices.Contains(acked, text) {
				t.Errorf("not acknowledged, delivered %d times: %q, in %q", c, text, desk.where[text])
			}
		}
	}
	for _, r := range desk.replies {
		rep.Replies++
		c := readers.copies[r.text]
		if c > 0 {
			rep.RepliesDelivered++
		}
		if r.posts > 1 {
			rep.RepliesRetried++
		}
		if c > 1 {
			rep.ReplyDuplicates++
		}
		if c > r.posts {
			t.Errorf("a reply posted %d times was read %d times: %q, in %q", r.posts, c, r.text, readers.where[r.text])
		}
		for _, i := range readers.openedBy[r.text] {
			if want, ok := owner[r.text]; !ok || i != want {
				t.Errorf("reader %d read a reply for reader %d: %q", i, want, r.text)
			}
		}
	}
	for _, ss := range slots {
		for _, s := range ss {
			s.mu.Lock()
			rep.Kills[s.role] += s.kills
			rep.Exits[s.role] += len(s.exits)
			for _, e := range s.exits {
				rep.ExitReasons = append(rep.ExitReasons, s.name+": "+e)
			}
			s.mu.Unlock()
		}
	}
	sort.Strings(rep.ExitReasons)
	rep.Failovers = lb.Failovers.Load()
	for _, r := range order {
		if rep.Kills[r] < p.kills/len(order) {
			t.Errorf("%d kills of a %s, want %d", rep.Kills[r], r, p.kills/len(order))
		}
	}
	return rep
}

// String is the report as the soak prints it.
func (r *chaosReport) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "SIGKILLs: %d API replica, %d CoverNode, %d NATS node (%d in all); exits on their own, restarted: %v\n",
		r.Kills[roleAPI], r.Kills[roleCoverNode], r.Kills[roleNATS], r.Kills[roleAPI]+r.Kills[roleCoverNode]+r.Kills[roleNATS], r.Exits)
	for _, e := range r.ExitReasons {
		fmt.Fprintf(&b, "  exit: %s\n", e)
	}
	if r.CalmSent > 0 {
		fmt.Fprintf(&b, "load without kills: %d messages in %s, %.0f/s\n", r.CalmSent, r.Calm.Round(time.Second), r.CalmRate)
	}
	fmt.Fprintf(&b, "load with kills: %d messages in %s, %.0f/s; not acknowledged: %v; balancer failovers %d\n",
		r.ChaosSent, r.Chaos.Round(time.Second), r.ChaosRate, r.ChaosErrors, r.Failovers)
	if r.Probes > 0 {
		sort.Slice(r.Outages, func(i, j int) bool { return r.Outages[i] < r.Outages[j] })
		var med, worst time.Duration
		if len(r.Outages) > 0 {
			med, worst = r.Outages[len(r.Outages)/2], r.Outages[len(r.Outages)-1]
		}
		fmt.Fprintf(&b, "API replicas during the kills: neither answering in %d of %d probes (%.0f%%); %d outages of a replica, median %s, longest %s\n",
			r.NoReplica, r.Probes, 100*float64(r.NoReplica)/float64(r.Probes), len(r.Outages), med.Round(100*time.Millisecond), worst.Round(100*time.Millisecond))
	}
	fmt.Fprintf(&b, "real messages: %d sent, %d acknowledged, %d delivered (acknowledged or not), %d lost, %d delivered more than once\n",
		r.RealsSent, r.RealsAcked, r.RealsFound, r.RealsLost, r.RealDuplicates)
	fmt.Fprintf(&b, "replies: %d sent, %d read by their reader, %d posted more than once, %d read more than once\n",
		r.Replies, r.RepliesDelivered, r.RepliesRetried, r.ReplyDuplicates)
	fmt.Fprintf(&b, "durations: setup %s, drain %s; NATS kills held back %s for the cluster to catch up",
		r.Setup.Round(time.Second), r.Drain.Round(time.Second), r.NATSWaits.Round(time.Second))
	return b.String()
}
