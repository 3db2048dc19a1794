package client_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/chaffhq/chaff/apiclient"
	"github.com/chaffhq/chaff/client"
	"github.com/chaffhq/chaff/keys"
)

// The reader's whole life cycle in an app: start, create (or unlock) the
// mailbox, send, the background runs that carry the message out among
// cover traffic and bring the reply back, and the inbox. It runs against
// the deployment chaff up runs, started in this process.
func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dep, err := startDeployment(ctx)
	if err != nil {
		log.Fatal(err)
	}
	defer dep.Close()
	stateDir, _ := os.MkdirTemp("", "reader-")
	defer os.RemoveAll(stateDir)

	// Every app start. The anchors are built into the app; the API client
	// may send through the app's own HTTP stack (apiclient.NewWith).
	app, err := client.Start(client.Config{
		StateDir: stateDir,
		API:      apiclient.New(dep.State.API),
		Anchors:  []keys.SignedPublicKey{dep.anchor},
		KDF:      client.KDFParams(cheapKDF), // a real app keeps the default
		// The background job runs at most hourly by default; here at once.
		MinRunInterval: -1,
	})
	if err != nil {
		log.Fatal(err)
	}
	// The background job, on the platform's schedule: it refreshes the
	// keys and dead drops and sends two messages, cover unless something
	// real is queued.
	if _, err := app.BackgroundRun(ctx); err != nil {
		log.Fatal(err)
	}
	// The reader opens the secure feature for the first time: a new
	// mailbox and its passphrase, which the reader writes down.
	passphrase, s, err := app.CreateMailbox()
	if err != nil {
		log.Fatal(err)
	}
	if err := s.Send("alice", "the planning office takes bribes"); err != nil {
		log.Fatal(err)
	}
	n, _ := s.Queued()
	fmt.Println("queued:", n)
	if _, err := app.BackgroundRun(ctx); err != nil { // it leaves in place of cover
		log.Fatal(err)
	}
	n, _ = s.Queued()
	fmt.Println("queued after the background run:", n)

	// Alice reads it in her app and replies.
	if err := dep.replyAs(ctx, "alice", "the planning office takes bribes", "who pays them?"); err != nil {
		log.Fatal(err)
	}

	// Later background runs bring the reply down with every dead drop;
	// only the unlocked mailbox can read it.
	for ctx.Err() == nil {
		if _, err := app.BackgroundRun(ctx); err != nil {
			log.Fatal(err)
		}
		s, err := app.Unlock(passphrase)
		if err != nil {
			log.Fatal(err)
		}
		if msgs := s.Threads()["alice"]; len(msgs) == 2 {
			for _, m := range msgs {
				fmt.Printf("%s: %s\n", m.From, m.Text)
			}
			break
		}
		time.Sleep(300 * time.Millisecond)
	}
	// Output:
	// queued: 1
	// queued after the background run: 0
	// me: the planning office takes bribes
	// alice: who pays them?
}
