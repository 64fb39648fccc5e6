package server

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/netip"
	rtmetrics "runtime/metrics"
	"strings"
	"sync"
	"testing"
	"time"

	"keyden/internal/testutil"

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

// What a request may carry: 64 KiB of headers (431 above), a check's body,
// which is never read, 64 KiB (413 above), a leak report's 1 MB; a request
// refused is answered in one sentence. A body too large is refused on its
// Content-Length alone, so those requests send none: a body still being
// sent when serve closes the connection would have it reset.
func TestRequestLimits(t *testing.T) {
	f := newFixture(t, Options{})
	_, keys := leakReporter(t)
	leaks := serveHTTP(t, New(f.st, Options{LeakReportKeys: keys}))
	send := func(method, url string, size int, header map[string]string) (int, string) {
		t.Helper()
		host, path, _ := strings.Cut(strings.TrimPrefix(url, "http://"), "/")
		c, err := net.Dial("tcp", host)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(20 * time.Second))
		var req strings.Builder
		fmt.Fprintf(&req, "%s /%s HTTP/1.1\r\nHost: keyden\r\n", method, path)
		for k, v := range header {
			fmt.Fprintf(&req, "%s: %s\r\n", k, v)
		}
		if size > 0 {
			fmt.Fprintf(&req, "Content-Length: %d\r\n", size)
		}
		req.WriteString("\r\n")
		if size <= MaxCheckBody || size <= maxReport && strings.Contains(path, "eaks") {
			req.WriteString(strings.Repeat("x", size)) // too large: announced, not sent
		}
		if _, err := io.WriteString(c, req.String()); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	auth := "Bearer " + f.plain.Secret
	for _, c := range []struct {
		name, method, url string
		body              int
		header            map[string]string
		want              int
		says              string
	}{
		{"a check", "GET", f.http.URL + "/verify", 0, map[string]string{"Authorization": auth}, 200, ""},
		{"a check with 60 KiB of headers", "GET", f.http.URL + "/verify", 0, map[string]string{"Authorization": auth, "Cookie": strings.Repeat("c", 60<<10)}, 200, ""},
		{"a check with 70 KiB of headers", "GET", f.http.URL + "/verify", 0, map[string]string{"Authorization": auth, "Cookie": strings.Repeat("c", 70<<10)}, 431, "larger than 64 KiB"},
		{"a check with a body", "POST", f.http.URL + "/verify", 60 << 10, map[string]string{"Authorization": auth}, 200, ""},
		{"a check with too large a body", "POST", f.http.URL + "/verify", 70 << 10, map[string]string{"Authorization": auth}, 413, "a check carries none"},
		{"an unsigned report of 900 KB", "POST", leaks.URL + "/leaks", 900 << 10, nil, 401, "the signature does not verify"},
		// A reporter's URL may carry a query, and a path is read as
		// fasthttp normalizes it: the report's limit follows the route.
		{"an unsigned report of 900 KB to /leaks?from=github", "POST", leaks.URL + "/leaks?from=github", 900 << 10, nil, 401, "the signature does not verify"},
		{"an unsigned report of 900 KB to /%6Ceaks", "POST", leaks.URL + "/%6Ceaks", 900 << 10, nil, 401, "the signature does not verify"},
		{"a report over 1 MB", "POST", leaks.URL + "/leaks", 1<<20 + 1, nil, 413, "at most 1 MB"},
		{"a report by GET", "GET", leaks.URL + "/leaks", 0, nil, 405, "Method Not Allowed"},
		{"no such path", "GET", f.http.URL + "/verify/prod/x", 0, map[string]string{"Authorization": auth}, 404, "not found"},
	} {
		code, body := send(c.method, c.url, c.body, c.header)
		if code != c.want || !strings.Contains(body, c.says) || strings.Count(strings.TrimSpace(body), "\n") > 0 {
			t.Errorf("%s: %d %q, want %d saying %q in one line", c.name, code, body, c.want, c.says)
		}
	}
}

// A request serve cannot read is answered and not logged: the bytes it
// choked on may hold a key (fasthttp's own log line quoted them).
func TestUnreadableRequestsAreNotLogged(t *testing.T) {
	var logs testutil.SyncBuffer
	f := newFixture(t, Options{Log: log.New(&logs, "", 0)})
	key := f.plain.Secret
	for _, req := range []string{
		"GET /verify HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + key + "\r\nA line with no colon " + key + "\r\n\r\n",
		"GET /verify HTTP/9.9 " + key + "\r\nHost: x\r\n\r\n",
		"GET /verify HTTP/1.1\r\nHost: x\r\nContent-Length: x" + key + "\r\n\r\n",
	} {
		c, err := net.Dial("tcp", strings.TrimPrefix(f.http.URL, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(10 * time.Second))
		io.WriteString(c, req)
		r := bufio.NewReader(c)
		resp, err := http.ReadResponse(r, nil)
		if err != nil {
			t.Fatalf("%q: %v", req, err)
		}
		body, _ := io.ReadAll(resp.Body)
		// serve closes the connection after such an answer, and fasthttp
		// would have logged before closing it: wait for the close.
		if _, err := io.Copy(io.Discard, r); err != nil {
			t.Fatalf("%q: the connection was not closed: %v", req, err)
		}
		c.Close()
		if resp.StatusCode != http.StatusBadRequest || strings.Contains(string(body), key) {
			t.Errorf("%q: %d %q, want 400 without the key", req, resp.StatusCode, body)
		}
	}
	if strings.Contains(logs.String(), key) || strings.Contains(logs.String(), "error when serving") {
		t.Fatalf("the log tells of unreadable requests:\n%s", logs.String())
	}
}

// A handler that panics gets the request a 500 and a log line without the
// request, and serve goes on answering.
func TestAPanicIsAnswered500(t *testing.T) {
	var logs testutil.SyncBuffer
	h := guard(func(ctx *fasthttp.RequestCtx) {
		ctx.Response.Header.Set("X-Key-Id", "half-written")
		panic("boom")
	}, log.New(&logs, "", 0))
	c := requestCtx("/verify", "127.0.0.1:40000")
	c.Request.Header.Set("Authorization", "Bearer kd_secret")
	h(c)
	if c.Response.StatusCode() != 500 || len(c.Response.Header.Peek("X-Key-Id")) != 0 {
		t.Errorf("got %d with X-Key-Id %q, want 500 and no key header", c.Response.StatusCode(), c.Response.Header.Peek("X-Key-Id"))
	}
	if l := logs.String(); !strings.Contains(l, "boom") || strings.Contains(l, "kd_secret") {
		t.Errorf("log: %q", l)
	}
}

// A leak report's signature is checked over the body as sent, whatever its
// Content-Type says: a multipart one is not parsed first.
func TestLeakReportBodyIsReadAsSent(t *testing.T) {
	f := newFixture(t, Options{})
	gh, keys := leakReporter(t)
	leaks := serveHTTP(t, New(f.st, Options{LeakReportKeys: keys}))
	body := "--b\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n--b--\r\n"
	req, _ := http.NewRequest("POST", leaks.URL+"/leaks", strings.NewReader(body))
	req.Header.Set("Content-Type", "multipart/form-data; boundary=b")
	req.Header.Set(HeaderKeyID, "gh-1")
	req.Header.Set(HeaderSignature, gh.Sign(t, []byte(body)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(b), "not a JSON list") {
		t.Fatalf("got %d %q, want 400: signed, but not a JSON list", resp.StatusCode, b)
	}
}
