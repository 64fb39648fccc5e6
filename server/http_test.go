package server

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/netip"
	rtmetrics "runtime/metrics"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// requestCtx is a GET of uri from peer, for a handler called directly.
func requestCtx(uri, peer string) *fasthttp.RequestCtx {
	var c fasthttp.RequestCtx
	c.Init(&fasthttp.Request{}, net.TCPAddrFromAddrPort(netip.MustParseAddrPort(peer)), nil)
	c.Request.SetRequestURI(uri)
	return &c
}

// testHTTP is srv served as `keyden serve` serves it, on a loopback port.
type testHTTP struct {
	URL   string
	ln    net.Listener
	hs    *fasthttp.Server
	done  chan struct{}
	close sync.Once
}

func serveHTTP(t testing.TB, srv *Server) *testHTTP {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs, limited := srv.HTTPServer(ln, 1000)
	th := &testHTTP{URL: "http://" + ln.Addr().String(), ln: ln, hs: hs, done: make(chan struct{})}
	go func() { hs.Serve(limited); close(th.done) }()
	t.Cleanup(th.Close)
	return th
}

// Close stops accepting, closes idle connections and waits for the rest.
func (th *testHTTP) Close() {
	th.close.Do(func() {
		th.ln.Close() // Serve returns even if it had not begun when Close was called
		stop, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		th.hs.ShutdownWithContext(stop)
		<-th.done
	})
}

// A gateway asks once for every request it lets through, so a check must
// cost little beyond the check itself: no goroutine is started per request.
// net/http started one per request (to notice a client going away), 1,000
// for 1,000 checks on one kept-alive connection.
func TestChecksOnAKeptConnectionStartNoGoroutines(t *testing.T) {
	f := newFixture(t, Options{})
	c, err := net.Dial("tcp", strings.TrimPrefix(f.http.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Minute))
	r := bufio.NewReader(c)
	req := "GET /verify HTTP/1.1\r\nHost: keyden\r\nAuthorization: Bearer " + f.plain.Secret + "\r\n\r\n"
	check := func() {
		t.Helper()
		if _, err := io.WriteString(c, req); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(r, nil)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.Close {
			t.Fatalf("got %d (closing: %v), want 200 on a kept connection", resp.StatusCode, resp.Close)
		}
	}
	created := func() uint64 {
		s := []rtmetrics.Sample{{Name: "/sched/goroutines-created:goroutines"}}
		rtmetrics.Read(s)
		return s[0].Value.Uint64()
	}
	check() // the connection's own goroutine is running from here on
	before := created()
	const checks = 1000
	for range checks {
		check()
	}
	if n := created() - before; n > checks/10 {
		t.Fatalf("%d goroutines were started for %d checks on one connection", n, checks)
	}
}
