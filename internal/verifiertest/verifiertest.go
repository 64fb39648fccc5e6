// Package verifiertest runs a verifier in a test: the server's own
// follower and heartbeats, as `keyden serve` runs them.
package verifiertest

import (
	"context"
	"testing"
	"time"

	"keyden/server"
	"keyden/storage"
)

// Start runs a verifier named id on st until the test ends, and returns it
// once its heartbeat in the store says it has applied every change so far.
func Start(t testing.TB, st storage.Store, id string) *server.Server {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	srv := server.New(st, server.Options{PollEvery: 20 * time.Millisecond,
		Verifier: storage.Verifier{ID: id, Host: "web1", PID: 7, Listen: "127.0.0.1:8080", Started: time.Now()}})
	if err := srv.Load(ctx); err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); srv.Follow(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		seq, _, err := st.FeedHead(ctx)
		if err != nil {
			t.Fatal(err)
		}
		vs, err := st.Verifiers(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range vs {
			if v.ID == id && v.Applied >= seq {
				return srv
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the verifier %s never reported: %+v", id, vs)
		}
	}
}
