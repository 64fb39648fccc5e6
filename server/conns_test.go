package server

import (
	"context"

	"github.com/valyala/fasthttp"

	"bufio"
	"io"
	"log"
	"net"
	"net/http"
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

	dial := func() (net.Conn, *bufio.Reader) {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		c.SetDeadline(time.Now().Add(10 * time.Second))
		return c, bufio.NewReader(c)
	}
	get := func(c net.Conn, r *bufio.Reader, path string) (int, error) {
		io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, err := http.ReadResponse(r, nil)
		if err != nil {
			return 0, err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	// waitFor waits until open connections and quiet ones are as given:
	// the server marks a connection idle just after its answer is sent.
	waitFor := func(open, quiet int) {
		for deadline := time.Now().Add(10 * time.Second); ; {
			l.mu.Lock()
			o, q := l.open, l.quiet.Len()
			l.mu.Unlock()
			if o == open && q == quiet {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d open and %d quiet, want %d and %d", o, q, open, quiet)
			}
			time.Sleep(time.Millisecond)
		}
	}

	idle, idleR := dial()
	if code, err := get(idle, idleR, "/"); code != 200 {
		t.Fatalf("first request: %d %v", code, err)
	}
	waitFor(1, 1)
	busy, _ := dial()
	io.WriteString(busy, "GET /block HTTP/1.1\r\nHost: x\r\n\r\n")
	waitFor(2, 1) // the idle one quiet, the blocked one busy

	third, thirdR := dial()
	if code, err := get(third, thirdR, "/"); code != 200 {
		t.Fatalf("a new connection at the cap: %d %v", code, err)
	}
	if _, err := get(idle, idleR, "/"); err == nil {
		t.Fatal("the idle connection was not closed to make room")
	}
	if l.shed.Load() != 1 {
		t.Fatalf("closed %d idle connections, want 1", l.shed.Load())
	}

	waitFor(2, 1)
	io.WriteString(third, "GET /block HTTP/1.1\r\nHost: x\r\n\r\n")
	waitFor(2, 0)
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
