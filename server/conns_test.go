package server

import (
	"context"
	"fmt"

	"keyden/model"

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
	if want := "1 connection open, the most allowed: closing idle ones, or the slowest of the address holding the most, to admit new ones (0 idle and 0 mid-request closed, 1 refused with 503 so far)\n"; b.String() != want {
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

// A trusted proxy's new connection is admitted while a client's
// connections fill the cap, each in the middle of a request: the one
// mid-request longest of the client holding the most is closed for it,
// rather than the gateway's idle one (which the gateway may be sending a
// check on as it is closed). Checked to fail before: the gateway's first
// connection got 503 until the read limits closed the client's (10 s), and
// the client could open them again; with only the first half of the
// change, its second closed its first, idle.
func TestConnLimiterAdmitsAGatewayPastAClientsSlowRequests(t *testing.T) {
	l, ln := startLimited(t, 3, "127.0.0.1")
	var slow []net.Conn
	for i := range 3 {
		slow = append(slow, beginRequest(t, l, ln, "127.0.0.3", i+1))
	}
	var gw []net.Conn
	var gwR []*bufio.Reader
	for i := range 2 {
		c, r := dialFrom(t, ln, "127.0.0.1")
		gw, gwR = append(gw, c), append(gwR, r)
		if code, err := ask(c, r); code != 200 {
			t.Fatalf("the gateway's new connection %d with the cap full of a client's requests: %d %v, want 200", i+1, code, err)
		}
		if _, err := slow[i].Read(make([]byte, 1)); err != io.EOF {
			t.Fatalf("the client's request begun %d.: %v, want it closed", i+1, err)
		}
		waitForConns(t, l, 3, i+1) // the gateway's answered: idle
	}
	// The client's new connections get 503 while it holds the most.
	if code := answerUnasked(t, ln, "127.0.0.3"); code != 503 {
		t.Fatalf("the client's connection past its share: %d, want 503", code)
	}
	for i := range gw {
		if code, err := ask(gw[i], gwR[i]); code != 200 {
			t.Fatalf("the gateway's connection %d, kept: %d %v, want 200", i+1, code, err)
		}
	}
}

// Sources share the cap: at the cap, a new connection from a source
// holding at least two fewer than the one holding the most closes that
// one's connection mid-request longest; a source alone gets the whole cap.
// Checked to fail before: the second source got 503 until the read limits
// closed the first's connections.
func TestConnLimiterSharesTheCapAmongSources(t *testing.T) {
	l, ln := startLimited(t, 4, "")
	var a, b []net.Conn
	for i := range 4 {
		a = append(a, beginRequest(t, l, ln, "127.0.0.2", i+1))
	}
	for i := range 2 {
		b = append(b, beginRequest(t, l, ln, "127.0.0.3", i+1))
		if _, err := a[i].Read(make([]byte, 1)); err != io.EOF {
			t.Fatalf("the first source's request begun %d. when the second's %d. came: %v, want it closed", i+1, i+1, err)
		}
	}
	for _, from := range []string{"127.0.0.3", "127.0.0.2"} {
		if code := answerUnasked(t, ln, from); code != 503 {
			t.Fatalf("a new connection from %s with the cap shared 2 and 2: %d, want 503", from, code)
		}
	}
	for _, c := range append(a[2:], b...) {
		io.WriteString(c, "ET / HTTP/1.1\r\nHost: x\r\n\r\n")
		if resp, err := http.ReadResponse(bufio.NewReader(c), nil); err != nil || resp.StatusCode != 200 {
			t.Fatalf("a request on a connection kept: %v %v, want 200", resp, err)
		}
	}
}

// startLimited serves "ok" on a new listener capped at max connections,
// gateway ("" for none) a trusted proxy.
func startLimited(t *testing.T, max int, gateway string) (*connLimiter, net.Listener) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := &connLimiter{Listener: ln, max: max, log: log.New(io.Discard, "", 0)}
	if gateway != "" {
		l.trusted = func(a netip.Addr) bool { return a == netip.MustParseAddr(gateway) }
	}
	hs := &fasthttp.Server{ConnState: l.connState, Logger: discardLogger{}, Handler: func(ctx *fasthttp.RequestCtx) { ctx.WriteString("ok") }}
	go hs.Serve(l)
	t.Cleanup(func() { // after the connections the test dialled are closed
		ln.Close()
		stop, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		hs.ShutdownWithContext(stop)
	})
	return l, ln
}

// beginRequest connects from from and sends a request's first byte, then
// waits until the server counts it the nth of from's mid-request, so
// connections begun one after another are mid-request in that order.
func beginRequest(t *testing.T, l *connLimiter, ln net.Listener, from string, n int) net.Conn {
	t.Helper()
	c, _ := dialFrom(t, ln, from)
	io.WriteString(c, "G")
	waitUntil(t, 10*time.Second, fmt.Sprintf("%d requests begun from %s", n, from), locked(l, func() bool {
		s := l.sources[src(from)]
		return s != nil && s.busy.len == n
	}))
	return c
}

// answerUnasked is the status a new connection from from is answered
// before it sends anything: 503 if it is refused (an admitted one is
// answered nothing, and the read ends with dialFrom's deadline).
func answerUnasked(t *testing.T, ln net.Listener, from string) int {
	t.Helper()
	c, r := dialFrom(t, ln, from)
	defer c.Close()
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

func src(ip string) netip.Prefix { return model.Source(netip.MustParseAddr(ip)) }

// locked is cond called with l.mu held.
func locked(l *connLimiter, cond func() bool) func() bool {
	return func() bool {
		l.mu.Lock()
		defer l.mu.Unlock()
		return cond()
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
		o, q := l.open, l.quiet.len+l.proxies.len
		l.mu.Unlock()
		if o == open && q == quiet {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d open and %d quiet, want %d and %d", o, q, open, quiet)
		}
	}
}

// A request moves its connection to its source's busy list and back to the
// quiet list, allocating nothing. Checked to fail before: the quiet list
// (container/list) allocated an element each time.
func TestConnStateAllocatesNothing(t *testing.T) {
	l := &connLimiter{max: 2}
	for _, proxy := range []bool{false, true} {
		c := &limitedConn{l: l}
		l.admit(c, proxy, src("127.0.0.2"))
		if n := testing.AllocsPerRun(100, func() {
			l.connState(c, fasthttp.StateActive)
			l.connState(c, fasthttp.StateIdle)
		}); n != 0 {
			t.Errorf("a request (proxy %v) allocated %v times, want 0", proxy, n)
		}
	}
}
