package server

import (
	"container/list"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"

	"keyden/format"
)

// HTTP limits. A gateway's keep-alive pool (nginx 60 s, Caddy and
// Traefik 90–120 s) closes its side first, within IdleTimeout; under
// pressure idle connections are closed sooner (see connLimiter).
const (
	ReadHeaderTimeout = 5 * time.Second
	ReadTimeout       = 10 * time.Second
	WriteTimeout      = 10 * time.Second
	IdleTimeout       = 2 * time.Minute
	// MaxHeaderBytes leaves room for a client's cookies, which nginx's
	// auth_request passes on with the key.
	MaxHeaderBytes = 64 << 10
	// ReservedFiles are kept out of the connection cap for the store (each
	// operation opens the file), etcd's connections and watch, the
	// listener, standard streams and the runtime.
	ReservedFiles = 64
	// DefaultMaxConns bounds memory (about 10 KiB an idle connection,
	// bench/idle-conns.py) when the file limit is high.
	DefaultMaxConns = 10000
)

// MaxConns is how many connections may be open at once: max (or
// DefaultMaxConns when 0), but always ReservedFiles below the process's
// open-file limit. Go raises the soft limit to the hard one at start, so
// the limit read here is what `ulimit -Hn` allows.
func MaxConns(max int) (int, error) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 0, fmt.Errorf("cannot read the open-file limit: %v", err)
	}
	room := int(min(rl.Cur, 1<<30)) - ReservedFiles
	if room < ReservedFiles {
		return 0, fmt.Errorf("the open-file limit is %d, too low to serve: raise it to at least %d (ulimit -n)", rl.Cur, 2*ReservedFiles)
	}
	if max == 0 {
		return min(DefaultMaxConns, room), nil
	}
	if max > room {
		return 0, fmt.Errorf("--max-connections %d needs more files than the open-file limit (%d) allows with %d kept for the store: give at most %d, or raise the limit (ulimit -n)", max, rl.Cur, ReservedFiles, room)
	}
	return max, nil
}

// HTTPServer is the verifier's server on ln, with timeouts, a header cap
// and at most maxConns connections; serve it on the listener returned.
func (s *Server) HTTPServer(ln net.Listener, maxConns int) (*fasthttp.Server, net.Listener) {
	l := &connLimiter{Listener: ln, max: maxConns, log: s.opt.Log, trusted: s.trusted}
	h := s.Handler()
	return &fasthttp.Server{
		Handler: guard(func(ctx *fasthttp.RequestCtx) {
			h(ctx)
			if string(ctx.Path()) == "/metrics" {
				l.writeMetrics(ctx)
			}
		}, s.opt.Log),
		// A check carries no body; only a leak report may be large.
		HeaderReceived: func(h *fasthttp.RequestHeader) fasthttp.RequestConfig {
			if h.IsPost() && isLeaks(h) {
				return fasthttp.RequestConfig{MaxRequestBodySize: maxReport, ReadTimeout: ReadTimeout}
			}
			return fasthttp.RequestConfig{}
		},
		ErrorHandler:                 badRequest,
		DisablePreParseMultipartForm: true, // no route reads a form
		MaxRequestBodySize:           MaxCheckBody,
		// The header cap: a request must fit the read buffer. Idle
		// connections give their buffers back (ReduceMemoryUsage), so the
		// cap costs memory only while a request is read.
		ReadBufferSize:        MaxHeaderBytes,
		ReduceMemoryUsage:     true,
		ReadTimeout:           ReadHeaderTimeout,
		WriteTimeout:          WriteTimeout,
		IdleTimeout:           IdleTimeout,
		CloseOnShutdown:       true, // a gateway stops reusing a connection that is draining
		NoDefaultServerHeader: true,
		NoDefaultContentType:  true,
		SecureErrorLogMessage: true,
		ConnState:             l.connState,
		// fasthttp logs a request it cannot read with the bytes it choked
		// on, which may be a key: it is answered (badRequest) and not logged,
		// as net/http did.
		Logger: discardLogger{},
	}, l
}

// isLeaks tells whether a request goes to POST /leaks's handler, which sees
// the path as fasthttp normalizes it: a reporter's URL may carry a query
// (/leaks?from=github) or escapes, and its report is still up to 1 MB.
func isLeaks(h *fasthttp.RequestHeader) bool {
	u := fasthttp.AcquireURI()
	defer fasthttp.ReleaseURI(u)
	return u.Parse(h.Host(), h.RequestURI()) == nil && string(u.Path()) == "/leaks"
}

type discardLogger struct{}

func (discardLogger) Printf(string, ...any) {}

// guard answers 500 to a request whose handler panicked and logs the
// panic, not the request (it may hold a key), keeping serve up as net/http
// did.
func guard(h fasthttp.RequestHandler, log *log.Logger) fasthttp.RequestHandler {
	return func(ctx *fasthttp.RequestCtx) {
		defer func() {
			if p := recover(); p != nil {
				log.Printf("a request failed inside keyden (a bug: please report it): %v", p)
				ctx.Response.Reset()
				textError(ctx, "keyden failed to answer: try again", fasthttp.StatusInternalServerError)
			}
		}()
		h(ctx)
	}
}

// MaxCheckBody is the most body a check may carry (it is not read): a
// gateway sends none.
const MaxCheckBody = 64 << 10

// badRequest answers a request that could not be read, in a sentence.
func badRequest(ctx *fasthttp.RequestCtx, err error) {
	var small *fasthttp.ErrSmallBuffer
	var ne net.Error
	switch {
	case errors.As(err, &small):
		textError(ctx, fmt.Sprintf("the request's headers are larger than %d KiB: send fewer or shorter ones", MaxHeaderBytes>>10), fasthttp.StatusRequestHeaderFieldsTooLarge)
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		textError(ctx, fmt.Sprintf("the request's body is too large: a check carries none, and a leak report is at most %d MB", maxReport>>20), fasthttp.StatusRequestEntityTooLarge)
	case errors.As(err, &ne) && ne.Timeout():
		textError(ctx, "the request was not sent in time", fasthttp.StatusRequestTimeout)
	default:
		textError(ctx, "the request is not valid HTTP/1.1", fasthttp.StatusBadRequest)
	}
}

// connLimiter caps open connections. To admit a new one at the cap it
// closes the connection that has been quiet longest (accepted with no
// request yet, or idle between keep-alive requests); when every one is
// busy, the new one gets a 503 at once. Accept never waits for room.
type connLimiter struct {
	net.Listener
	max     int
	log     *log.Logger
	trusted func(netip.Addr) bool // a --trusted-proxy's address

	mu    sync.Mutex
	open  int
	quiet list.List // of *limitedConn, longest quiet first

	accepted, shed, refused atomic.Uint64
	lastLog                 atomic.Int64 // unix seconds of the last pressure line
}

type limitedConn struct {
	net.Conn
	l      *connLimiter
	proxy  bool // from a --trusted-proxy
	socket *socket
	// Read's: what one read of the socket gave beyond what was asked.
	buf     *[smallRead]byte
	pending []byte
	// Guarded by l.mu.
	quiet  *list.Element
	closed bool
}

func (l *connLimiter) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			// Out of files despite the reserve (another part of the process
			// used them): make room rather than let http.Server back off.
			if (errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE)) && l.closeQuietest(true) {
				continue
			}
			return nil, err
		}
		l.accepted.Add(1)
		proxy := false
		if a, ok := c.RemoteAddr().(*net.TCPAddr); ok && l.trusted != nil {
			proxy = l.trusted(a.AddrPort().Addr().Unmap())
		}
		if l.admit(proxy) {
			lc := &limitedConn{Conn: c, socket: newSocket(c), l: l, proxy: proxy}
			l.mu.Lock()
			lc.quiet = l.quiet.PushBack(lc)
			l.mu.Unlock()
			return lc, nil
		}
		l.refused.Add(1)
		l.pressure()
		refuseBusy(c)
	}
}

// admit counts a new connection in, closing quiet ones to make room. A
// connection from an address that is not a trusted proxy never closes a
// proxy's: else one client opening connections would close every idle one
// a gateway keeps, and its checks would pay a new connection each, or a
// 503 once the client's connections are busy.
func (l *connLimiter) admit(proxy bool) bool {
	for {
		l.mu.Lock()
		if l.open < l.max {
			l.open++
			l.mu.Unlock()
			return true
		}
		l.mu.Unlock()
		if !l.closeQuietest(proxy) {
			return false
		}
		l.pressure()
	}
}

// closeQuietest closes the connection quiet longest, a trusted proxy's
// only if orProxy; false if none is.
func (l *connLimiter) closeQuietest(orProxy bool) bool {
	l.mu.Lock()
	e := l.quiet.Front()
	for e != nil && !orProxy && e.Value.(*limitedConn).proxy {
		e = e.Next()
	}
	if e == nil {
		l.mu.Unlock()
		return false
	}
	c := e.Value.(*limitedConn)
	c.claimLocked()
	l.mu.Unlock()
	c.release()
	l.shed.Add(1)
	return true
}

// claimLocked marks c closed so nothing else closes or counts it again.
func (c *limitedConn) claimLocked() {
	c.closed = true
	if c.quiet != nil {
		c.l.quiet.Remove(c.quiet)
		c.quiet = nil
	}
}

// release closes the socket, then frees its place: the file is closed
// when Close returns, so the count never runs ahead of the files.
func (c *limitedConn) release() error {
	err := c.Conn.Close()
	c.l.mu.Lock()
	c.l.open--
	c.l.mu.Unlock()
	return err
}

func (c *limitedConn) Close() error {
	c.l.mu.Lock()
	if c.closed {
		c.l.mu.Unlock()
		return c.Conn.Close() // already released (closed to make room)
	}
	c.claimLocked()
	c.l.mu.Unlock()
	return c.release()
}

// connState keeps the quiet list: idle connections join its end, a request
// takes its connection out.
func (l *connLimiter) connState(nc net.Conn, st fasthttp.ConnState) {
	c, ok := nc.(*limitedConn)
	if !ok {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if c.closed {
		return
	}
	switch st {
	case fasthttp.StateIdle:
		if c.quiet == nil {
			c.quiet = l.quiet.PushBack(c)
		}
	case fasthttp.StateActive:
		if c.quiet != nil {
			l.quiet.Remove(c.quiet)
			c.quiet = nil
		}
	}
}

// pressure logs, at most once a minute, that the cap was reached.
func (l *connLimiter) pressure() {
	now := time.Now().Unix()
	if last := l.lastLog.Load(); now-last >= 60 && l.lastLog.CompareAndSwap(last, now) {
		l.log.Printf("%s open, the most allowed: closing idle ones to admit new ones (%d closed, %d refused with 503 so far)",
			format.Count(l.max, "connection"), l.shed.Load(), l.refused.Load())
	}
}

const busyResponse = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: 1\r\nConnection: close\r\nContent-Length: 29\r\n\r\n{\"ok\":false,\"reason\":\"busy\"}\n"

// refuseBusy answers a connection there is no room for without reading it:
// a fresh socket's send buffer takes the few bytes without blocking.
func refuseBusy(c net.Conn) {
	c.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
	io.WriteString(c, busyResponse)
	c.Close()
}

func (l *connLimiter) writeMetrics(w io.Writer) {
	l.mu.Lock()
	open := l.open
	l.mu.Unlock()
	for _, g := range []struct {
		name, help, typ string
		v               any
	}{
		{"keyden_connections_open", "HTTP connections open.", "gauge", open},
		{"keyden_connections_max", "The most HTTP connections allowed at once.", "gauge", l.max},
		{"keyden_connections_accepted_total", "HTTP connections accepted (a gateway that keeps its connections alive adds few).", "counter", l.accepted.Load()},
		{"keyden_connections_closed_idle_total", "Idle connections closed to admit new ones.", "counter", l.shed.Load()},
		{"keyden_connections_refused_total", "Connections answered 503 because every allowed one was busy.", "counter", l.refused.Load()},
	} {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n%s %v\n", g.name, g.help, g.name, g.typ, g.name, g.v)
	}
}
