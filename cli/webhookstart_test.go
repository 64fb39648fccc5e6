package cli

import (
	"context"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"keyden/server"
	"keyden/storage"
)

// slowHead is a store whose first read of where the audit log stands is
// late, as on a loaded machine.
type slowHead struct {
	storage.Store
	slowed atomic.Bool
}

func (s *slowHead) FeedHead(ctx context.Context) (uint64, int64, error) {
	if s.slowed.CompareAndSwap(false, true) {
		time.Sleep(300 * time.Millisecond)
	}
	return s.Store.FeedHead(ctx)
}

// A decoy used by the first check serve answers reaches the webhook: the
// webhook's starting point is read before serve answers anything. Before,
// it was read by a goroutine, and a late read skipped the first alerts
// (CI saw none of four posted).
func TestTheFirstChecksAlertsArePosted(t *testing.T) {
	st, err := storage.OpenBolt(filepath.Join(t.TempDir(), "k.db"), storage.Options{Actor: Actor()})
	if err != nil {
		t.Fatal(err)
	}
	decoy, err := st.CreateKey(t.Context(), storage.CreateRequest{Name: "bait", Channel: "default", Environment: "prod", Decoy: true})
	if err != nil {
		t.Fatal(err)
	}
	posted := make(chan struct{}, 8)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { posted <- struct{}{} }))
	defer hook.Close()
	wh := &server.Webhook{URL: hook.URL, Secret: []byte("0123456789abcdef"), Store: &slowHead{Store: st}, Where: st.Location(), Poll: 10 * time.Millisecond}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(t.Context())
	done := make(chan error, 1)
	opt := server.Options{Log: log.New(io.Discard, "", 0), AlertEvery: -1}
	go func() { done <- serve(ctx, st, ln, 100, opt, wh) }()
	defer func() { stop(); <-done }()

	// Asked at once: the connection waits in the listener's queue until serve answers.
	req, _ := http.NewRequest("GET", "http://"+ln.Addr().String()+"/verify/prod", nil)
	req.Header.Set("Authorization", "Bearer "+decoy.Secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Fatalf("the decoy: %d", resp.StatusCode)
	}
	select {
	case <-posted:
	case <-time.After(10 * time.Second):
		t.Fatal("the first check's alert was never posted")
	}
}
