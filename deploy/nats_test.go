package deploy

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chaffhq/chaff/deaddrop"
	"github.com/chaffhq/chaff/internal/covernode"
	"github.com/chaffhq/chaff/internal/store"
	"github.com/chaffhq/chaff/internal/testnet"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// TestNATSClusterConfig starts a three-node cluster from deploy/nats (on
// loopback ports, with throwaway certificates) and checks the accounts:
// the API user opens Chaff's real store (streams, buckets), appends and
// reads dead drops but cannot consume the message streams; the CoverNode
// user consumes and acknowledges through the shared consumer but cannot
// touch the replay guard or read dead drops; an unknown certificate is
// refused.
func TestNATSClusterConfig(t *testing.T) {
	dir := t.TempDir()
	pki := newPKI(t, dir)
	t.Setenv("NATS_TLS_CA", pki.ca)
	t.Setenv("NATS_TLS_CERT", pki.serverCert)
	t.Setenv("NATS_TLS_KEY", pki.serverKey)

	const nodes = 3
	ports := testnet.FreePorts(t, 2*nodes)
	client, route := ports[:nodes], ports[nodes:]
	var urls []string
	for i := range nodes {
		nodeDir := filepath.Join(dir, "node"+strconv.Itoa(i+1))
		os.MkdirAll(nodeDir, 0o755)
		pairs := []string{
			"0.0.0.0:4222", "127.0.0.1:" + strconv.Itoa(client[i]),
			"0.0.0.0:6222", "127.0.0.1:" + strconv.Itoa(route[i]),
			"$NATS_STORE_DIR", strconv.Quote(filepath.Join(nodeDir, "jetstream")),
		}
		for j := range nodes {
			pairs = append(pairs, "nats-"+strconv.Itoa(j+1)+".chaff.internal:6222", "127.0.0.1:"+strconv.Itoa(route[j]))
		}
		for _, name := range []string{"chaff-common.conf", "accounts.conf", "nats-" + strconv.Itoa(i+1) + ".conf"} {
			b, err := os.ReadFile(filepath.Join("nats", name))
			if err != nil {
				t.Fatal(err)
			}
			os.WriteFile(filepath.Join(nodeDir, name), []byte(strings.NewReplacer(pairs...).Replace(string(b))), 0o600)
		}
		opts, err := server.ProcessConfigFile(filepath.Join(nodeDir, "nats-"+strconv.Itoa(i+1)+".conf"))
		if err != nil {
			t.Fatalf("node %d: %v", i+1, err)
		}
		s, err := server.NewServer(opts)
		if err != nil {
			t.Fatalf("node %d: %v", i+1, err)
		}
		go s.Start()
		t.Cleanup(s.Shutdown)
		if !s.ReadyForConnections(20 * time.Second) {
			t.Fatalf("node %d not ready", i+1)
		}
		urls = append(urls, "tls://127.0.0.1:"+strconv.Itoa(client[i]))
	}
	connect := func(user string) (*nats.Conn, error) {
		return nats.Connect(strings.Join(urls, ","), nats.RootCAs(pki.ca),
			nats.ClientCert(filepath.Join(dir, user+".pem"), filepath.Join(dir, user+"-key.pem")),
			nats.ErrorHandler(func(*nats.Conn, *nats.Subscription, error) {}))
	}

	// The API: Chaff's real store, replicated three times.
	apiNC, err := connect("chaff-api")
	if err != nil {
		t.Fatal(err)
	}
	defer apiNC.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	var st *store.Store
	start := time.Now()
	for {
		if st, err = store.Open(ctx, apiNC, store.Config{Replicas: 3}); err == nil {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("the API user cannot open the store: %v", err)
		}
		t.Logf("store.Open: %v", err)
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("store opened in %v", time.Since(start))
	step := func(what string) context.Context {
		t.Logf("%s (%v)", what, time.Since(start))
		c, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		t.Cleanup(cancel)
		return c
	}
	if err := st.AppendU2C(step("append"), make([]byte, 773)); err != nil {
		t.Fatalf("the API user cannot append: %v", err)
	}
	d := &deaddrop.DeadDrop{Kind: deaddrop.User, CreatedAt: time.Now().UTC().Truncate(time.Second), Data: make([]byte, 10)}
	id, _, err := st.PublishDeadDrop(step("publish dead drop"), d)
	if err != nil {
		t.Fatalf("the API user cannot store a dead drop: %v", err)
	}
	if _, err := st.DeadDrop(step("read dead drop"), deaddrop.User, id); err != nil {
		t.Fatalf("the API user cannot read a dead drop: %v", err)
	}
	if fresh, err := st.SeenForm(step("replay guard"), []byte("signature"), time.Now().Add(time.Hour), time.Now()); err != nil || !fresh {
		t.Fatalf("the API user and the replay guard: %v %v", fresh, err)
	}
	if _, err := st.Mirror(step("mirror the keys"), store.BucketKeys); err != nil {
		t.Fatalf("the API user cannot follow a bucket: %v", err)
	}
	apiJS, _ := jetstream.New(apiNC)
	if err := consume(apiJS); err == nil {
		t.Error("the API user consumed readers' messages")
	}

	// The CoverNode: takes the message and acknowledges it.
	cnNC, err := connect("chaff-covernode")
	if err != nil {
		t.Fatal(err)
	}
	defer cnNC.Close()
	cnJS, _ := jetstream.New(cnNC)
	// A replicated consumer just created may take a while to deliver on
	// a busy machine: retried for up to a minute.
	for deadline := time.Now().Add(time.Minute); ; {
		err := consume(cnJS)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the CoverNode user cannot consume: %v", err)
		}
		t.Logf("consume: %v", err)
	}
	short := func() context.Context {
		c, cancel := context.WithTimeout(ctx, 2*time.Second)
		t.Cleanup(cancel)
		return c
	}
	if _, err := cnJS.KeyValue(short(), store.BucketSeenForms); err == nil {
		t.Error("the CoverNode user opened the replay guard")
	}
	if err := cnNC.Publish("$KV."+store.BucketSeenForms+".x", []byte("x")); err == nil {
		if err := cnNC.FlushTimeout(2 * time.Second); err == nil {
			if lastErr := cnNC.LastError(); lastErr == nil || !strings.Contains(lastErr.Error(), "Permissions Violation") {
				t.Errorf("the CoverNode user wrote to the replay guard (last error %v)", lastErr)
			}
		}
	}
	if _, err := cnJS.Stream(short(), store.StreamUserDeadDrops); err == nil {
		t.Error("the CoverNode user read the dead-drop stream")
	}

	// A certificate of the CA that names no user is refused.
	if nc, err := connect("stranger"); err == nil {
		nc.Close()
		t.Error("a certificate naming no user connected")
	} else if !errors.Is(err, nats.ErrAuthorization) && !strings.Contains(strings.ToLower(err.Error()), "authorization") {
		t.Errorf("stranger: %v", err)
	}
}

// consume takes one message from the U2C stream through the CoverNodes'
// durable consumer (configured as the CoverNode does) and acknowledges it.
func consume(js jetstream.JetStream) error {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	cons, err := js.CreateOrUpdateConsumer(ctx, store.StreamU2C, jetstream.ConsumerConfig{
		Durable: covernode.ConsumerName, AckPolicy: jetstream.AckExplicitPolicy, AckWait: covernode.DefaultAckWait,
		MaxAckPending: -1, DeliverPolicy: jetstream.DeliverAllPolicy,
	})
	if err != nil {
		return err
	}
	if _, err := cons.Info(ctx); err != nil {
		return err
	}
	batch, err := cons.Fetch(1, jetstream.FetchMaxWait(10*time.Second))
	if err != nil {
		return err
	}
	n := 0
	for m := range batch.Messages() {
		if err := m.DoubleAck(ctx); err != nil {
			return err
		}
		n++
	}
	if n != 1 {
		return errors.New("no message")
	}
	return batch.Error()
}

type pki struct{ ca, serverCert, serverKey string }

// newPKI writes a throwaway CA, a server certificate for the three nodes
// (and loopback) and client certificates for chaff-api, chaff-covernode
// and a stranger into dir.
func newPKI(t *testing.T, dir string) pki {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "chaff test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	write := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	issue := func(name string, serial int64, tmpl *x509.Certificate) {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl.SerialNumber = big.NewInt(serial)
		tmpl.NotBefore, tmpl.NotAfter = caTmpl.NotBefore, caTmpl.NotAfter
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature
		der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		kder, _ := x509.MarshalECPrivateKey(key)
		write(name+".pem", "CERTIFICATE", der)
		write(name+"-key.pem", "EC PRIVATE KEY", kder)
	}
	issue("server", 2, &x509.Certificate{Subject: pkix.Name{CommonName: "nats"},
		DNSNames:    []string{"localhost", "nats-1.chaff.internal", "nats-2.chaff.internal", "nats-3.chaff.internal"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}})
	for i, user := range []string{"chaff-api", "chaff-covernode", "stranger"} {
		issue(user, int64(10+i), &x509.Certificate{Subject: pkix.Name{CommonName: user}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	}
	return pki{ca: write("ca.pem", "CERTIFICATE", caDER), serverCert: filepath.Join(dir, "server.pem"), serverKey: filepath.Join(dir, "server-key.pem")}
}
