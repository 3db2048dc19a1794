package client_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/chaffhq/chaff/client"
	"github.com/chaffhq/chaff/internal/up"
	"github.com/chaffhq/chaff/journalist"
	"github.com/chaffhq/chaff/keys"
)

// cheapKDF stands in for the default Argon2id in tests and examples, so
// that they run in seconds. A real app keeps client.DefaultKDF.
var cheapKDF = struct {
	Time, Memory uint32
	Threads      uint8
}{1, 64, 1}

// deployment is the deployment chaff up runs, in this process, on loopback
// with ports of its own, its data in a temporary directory.
type deployment struct {
	*up.Deployment
	dir    string
	anchor keys.SignedPublicKey
}

func startDeployment(ctx context.Context) (*deployment, error) {
	dir, err := os.MkdirTemp("", "chaff-example-")
	if err != nil {
		return nil, err
	}
	d, err := up.Start(ctx, up.Options{
		DataDir: filepath.Join(dir, "up"), APIAddr: "127.0.0.1:0", JournalistAddr: "127.0.0.1:0", IdentityAddr: "127.0.0.1:0",
		Readers: 20, ReaderEvery: 300 * time.Millisecond, JournalistEvery: 200 * time.Millisecond, Mixing: "test",
		JournalistKDF: journalist.KDFParams(cheapKDF), ReaderKDF: client.KDFParams(cheapKDF),
	})
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	a, err := keys.ReadPublicKeyFile(d.State.Anchor)
	if err != nil {
		d.Close()
		os.RemoveAll(dir)
		return nil, err
	}
	return &deployment{Deployment: d, dir: dir, anchor: *a}, nil
}

func (d *deployment) Close() {
	d.Deployment.Close()
	os.RemoveAll(d.dir)
}

// replyAs plays the journalist id: it syncs the vault until a source's
// message holding text arrives, replies, and sends the reply, as the
// journalist's app would.
func (d *deployment) replyAs(ctx context.Context, id, text, reply string) error {
	var j *up.Journalist
	for i := range d.State.Journalists {
		if d.State.Journalists[i].ID == id {
			j = &d.State.Journalists[i]
		}
	}
	if j == nil {
		return errors.New("no journalist " + id)
	}
	v, err := journalist.Open(j.Vault, j.Passphrase)
	if err != nil {
		return err
	}
	defer v.Close()
	for {
		if _, err := v.Sync(ctx); err != nil {
			return err
		}
		for _, c := range v.Conversations() {
			for _, m := range c.Messages {
				if m.From == "source" && strings.Contains(m.Text, text) {
					if err := v.Reply(ctx, c.ID, reply); err != nil {
						return err
					}
					for v.Queued() > 0 {
						if _, err := v.SendOne(ctx); err != nil {
							return err
						}
					}
					return nil
				}
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}
