package server

import (
	"context"

	"github.com/valyala/fasthttp"

	"bufio"
	"io"
	"log"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// At the cap, the connection idle longest is closed to admit a new one; when
// every connection is busy, a new one is answered 503 at once, not left to wait.
func TestConnLimiterClosesIdleFirstThenRefuses(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := &connLimiter{Listener: ln, max: 2, log: log.New(io.Discard, "", 0)}
	release := make(chan struct{})
	hs := &fasthttp.Server{ConnState: l.connState, Handler: func(ctx *fasthttp.RequestCtx) {
		if string(ctx.Path()) == "/block" {
			<-release
		}
		ctx.WriteString("ok")
	}}
	go hs.Serve(l)
	defer func() {
		ln.Close()
		stop, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		hs.ShutdownWithContext(stop)
	}()
	defer close(release)

	dial := func() (net.Conn, *bufio.Reader) { return dialFrom(t, ln, "") }
	idle, idleR := dial()
	if code, err := ask(idle, idleR); code != 200 {
		t.Fatalf("first request: %d %v", code, err)
	}
	waitForConns(t, l, 1, 1)
	busy, _ := dial()
	io.WriteString(busy, "GET /block HTTP/1.1\r\nHost: x\r\n\r\n")
	waitForConns(t, l, 2, 1) // the idle one quiet, the blocked one busy

	third, thirdR := dial()
	if code, err := ask(third, thirdR); code != 200 {
		t.Fatalf("a new connection at the cap: %d %v", code, err)
	}
	if _, err := ask(idle, idleR); err == nil {
		t.Fatal("the idle connection was not closed to make room")
	}
	if l.shed.Load() != 1 {
		t.Fatalf("closed %d idle connections, want 1", l.shed.Load())
	}

	waitForConns(t, l, 2, 1)
	io.WriteString(third, "GET /block HTTP/1.1\r\nHost: x\r\n\r\n")
	waitForConns(t, l, 2, 0)
	_, fourthR := dial()
	resp, err := http.ReadResponse(fourthR, nil)
	if err != nil {
		t.Fatalf("a connection with every place busy got no answer: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" || !strings.Contains(string(body), `"busy"`) {
		t.Fatalf("got %d %q %q, want 503 with Retry-After and reason busy", resp.StatusCode, resp.Header, body)
	}
}

// The cap's log line counts in words: "1 connection open", not "1 connections".
func TestPressureLogCountsInWords(t *testing.T) {
	var b strings.Builder
	l := &connLimiter{max: 1, log: log.New(&b, "", 0)}
	l.refused.Add(1)
	l.pressure()
	if want := "1 connection open, the most allowed: closing idle ones to admit new ones (0 closed, 1 refused with 503 so far)\n"; b.String() != want {
		t.Errorf("got %q, want %q", b.String(), want)
	}
}

// One client's connections never close a gateway's at the cap: a client
// opening connections that each send a byte closed every idle connection
// the gateway kept, and its next checks got 503.
func TestConnLimiterKeepsATrustedProxysConnections(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gateway := netip.MustParseAddr("127.0.0.1")
	l := &connLimiter{Listener: ln, max: 3, log: log.New(io.Discard, "", 0), trusted: func(a netip.Addr) bool { return a == gateway }}
	hs := &fasthttp.Server{ConnState: l.connState, Logger: discardLogger{}, Handler: func(ctx *fasthttp.RequestCtx) { ctx.WriteString("ok") }}
	go hs.Serve(l)
	t.Cleanup(func() { // after the connections below are closed
		ln.Close()
		stop, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		hs.ShutdownWithContext(stop)
	})
	dial := func(from string) (net.Conn, *bufio.Reader) { return dialFrom(t, ln, from) }

	gw, gwR := dial("127.0.0.1")
	if code, err := ask(gw, gwR); code != 200 {
		t.Fatalf("the gateway's first check: %d %v", code, err)
	}
	waitForConns(t, l, 1, 1)
	for range 2 {
		c, _ := dial("127.0.0.3")
		io.WriteString(c, "G") // a request begun: busy, not quiet
	}
	waitForConns(t, l, 3, 1)
	_, r := dial("127.0.0.3")
	resp, err := http.ReadResponse(r, nil)
	if err != nil || resp.StatusCode != 503 {
		t.Fatalf("the client's connection past the cap: %v %v, want 503", resp, err)
	}
	resp.Body.Close()
	if code, err := ask(gw, gwR); code != 200 {
		t.Fatalf("the gateway's kept connection after the client's flood: %d %v, want 200", code, err)
	}
}

// dialFrom connects to ln from the local address from ("" for any).
func dialFrom(t *testing.T, ln net.Listener, from string) (net.Conn, *bufio.Reader) {
	t.Helper()
	d := net.Dialer{}
	if from != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(from)}
	}
	c, err := d.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	return c, bufio.NewReader(c)
}

// ask sends one request on c and reads its answer's status.
func ask(c net.Conn, r *bufio.Reader) (int, error) {
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// waitForConns waits until l holds open connections, quiet of them idle:
// the server marks a connection idle just after its answer is sent.
func waitForConns(t *testing.T, l *connLimiter, open, quiet int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		l.mu.Lock()
		o, q := l.open, l.quiet.Len()
		l.mu.Unlock()
		if o == open && q == quiet {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d open and %d quiet, want %d and %d", o, q, open, quiet)
		}
	}
}
