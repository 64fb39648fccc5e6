package server

import (
	"container/heap"
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
	"keyden/model"
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
// closes, of the connections not from a trusted proxy, the one quiet
// longest (accepted with no request yet, or idle between keep-alive
// requests); else, when all are in the middle of a request, the one
// mid-request longest of the source (model.Source) holding the most, if
// the new one is a trusted proxy's or comes from a source holding at least
// two fewer; else, for a trusted proxy's new one, a trusted proxy's
// connection quiet longest. Else the new one gets a 503 at once. Accept
// never waits for room.
//
// So one client opening connections, or sending a byte now and then on
// each, keeps neither a gateway out nor clients from other sources, and a
// gateway's idle connections are closed only for its own new ones: a
// gateway may send a check on an idle connection as serve closes it, and
// nginx answers that check 502.
type connLimiter struct {
	net.Listener
	max     int
	log     *log.Logger
	trusted func(netip.Addr) bool // a --trusted-proxy's address

	mu       sync.Mutex
	open     int
	quiet    connList // not from a trusted proxy, longest quiet first
	proxies  connList // a trusted proxy's quiet ones, longest quiet first
	sources  map[netip.Prefix]*source
	heaviest sourceHeap

	accepted, shed, cut, refused atomic.Uint64
	lastLog                      atomic.Int64 // unix seconds of the last pressure line
}

// source counts the open connections of one source that is not a trusted
// proxy.
type source struct {
	prefix netip.Prefix
	open   int
	busy   connList // its connections mid-request, longest first
	index  int      // in heaviest
}

type limitedConn struct {
	net.Conn
	l      *connLimiter
	src    *source // nil for a trusted proxy's, never closed mid-request
	socket *socket
	// Read's: what one read of the socket gave beyond what was asked.
	buf     *[smallRead]byte
	pending []byte
	// Guarded by l.mu.
	prev, next *limitedConn
	on         *connList // l.quiet, l.proxies, src.busy, or nil
	closed     bool
}

func (l *connLimiter) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			// Out of files despite the reserve (another part of the process
			// used them): make room rather than let http.Server back off.
			if (errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE)) && l.closeQuietest() {
				continue
			}
			return nil, err
		}
		l.accepted.Add(1)
		var from netip.Addr
		if a, ok := c.RemoteAddr().(*net.TCPAddr); ok {
			from = a.AddrPort().Addr().Unmap()
		}
		proxy := from.IsValid() && l.trusted != nil && l.trusted(from)
		lc := &limitedConn{Conn: c, socket: newSocket(c), l: l}
		if l.admit(lc, proxy, model.Source(from)) {
			return lc, nil
		}
		l.refused.Add(1)
		l.pressure()
		refuseBusy(c)
	}
}

// admit counts c in, closing others to make room as connLimiter says.
func (l *connLimiter) admit(c *limitedConn, proxy bool, from netip.Prefix) bool {
	for {
		l.mu.Lock()
		if l.open < l.max {
			l.open++
			if !proxy {
				l.join(c, from)
			}
			l.quietList(c).pushBack(c)
			l.mu.Unlock()
			return true
		}
		v := l.quietestLocked(false)
		if v == nil {
			v = l.slowestLocked(proxy, from)
		}
		if v == nil && proxy {
			v = l.quietestLocked(true)
		}
		if v == nil {
			l.mu.Unlock()
			return false
		}
		v.claimLocked()
		l.mu.Unlock()
		v.release()
		l.pressure()
	}
}

// quietestLocked counts out and returns the connection quiet longest not
// from a trusted proxy, else, if orProxy, a trusted proxy's; nil if none.
func (l *connLimiter) quietestLocked(orProxy bool) *limitedConn {
	c := l.quiet.front
	if c == nil && orProxy {
		c = l.proxies.front
	}
	if c != nil {
		l.shed.Add(1)
	}
	return c
}

// slowestLocked counts out and returns the connection mid-request longest
// of the source holding the most, if a new one from a trusted proxy (if
// proxy) or from source from may take its place; nil if not.
func (l *connLimiter) slowestLocked(proxy bool, from netip.Prefix) *limitedConn {
	if len(l.heaviest) == 0 {
		return nil
	}
	h, n := l.heaviest[0], 0
	if s := l.sources[from]; s != nil {
		n = s.open
	}
	if !proxy && h.open < n+2 {
		return nil
	}
	c := h.busy.front
	if c != nil {
		l.cut.Add(1)
	}
	return c
}

// closeQuietest closes the connection quiet longest, others' before a
// trusted proxy's; false if none is.
func (l *connLimiter) closeQuietest() bool {
	l.mu.Lock()
	c := l.quietestLocked(true)
	if c != nil {
		c.claimLocked()
	}
	l.mu.Unlock()
	if c == nil {
		return false
	}
	c.release()
	return true
}

// join counts c against its source.
func (l *connLimiter) join(c *limitedConn, from netip.Prefix) {
	s := l.sources[from]
	if s == nil {
		if l.sources == nil {
			l.sources = make(map[netip.Prefix]*source)
		}
		s = &source{prefix: from}
		l.sources[from] = s
		heap.Push(&l.heaviest, s)
	}
	s.open++
	heap.Fix(&l.heaviest, s.index)
	c.src = s
}

// claimLocked marks c closed so nothing else closes or counts it again.
func (c *limitedConn) claimLocked() {
	c.closed = true
	c.unlink()
	if s := c.src; s != nil {
		l := c.l
		if s.open--; s.open == 0 {
			heap.Remove(&l.heaviest, s.index)
			delete(l.sources, s.prefix)
		} else {
			heap.Fix(&l.heaviest, s.index)
		}
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

// connState moves a connection between the lists: a request takes it to
// its source's busy list (a trusted proxy's to none), its answer to the
// end of a quiet list.
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
		if q := l.quietList(c); c.on != q {
			c.unlink()
			q.pushBack(c)
		}
	case fasthttp.StateActive:
		c.unlink()
		if c.src != nil {
			c.src.busy.pushBack(c)
		}
	}
}

// quietList is the list c joins when quiet.
func (l *connLimiter) quietList(c *limitedConn) *connList {
	if c.src == nil {
		return &l.proxies
	}
	return &l.quiet
}

// connList is a list of connections linked through themselves, so that a
// request, which moves its connection twice, allocates nothing for it.
type connList struct {
	front, back *limitedConn
	len         int
}

func (q *connList) pushBack(c *limitedConn) {
	c.on, c.prev, c.next = q, q.back, nil
	if q.back != nil {
		q.back.next = c
	} else {
		q.front = c
	}
	q.back = c
	q.len++
}

// unlink takes c off the list it is on, if any.
func (c *limitedConn) unlink() {
	q := c.on
	if q == nil {
		return
	}
	if c.prev != nil {
		c.prev.next = c.next
	} else {
		q.front = c.next
	}
	if c.next != nil {
		c.next.prev = c.prev
	} else {
		q.back = c.prev
	}
	c.on, c.prev, c.next = nil, nil, nil
	q.len--
}

// sourceHeap orders sources by the connections they hold, the most first.
type sourceHeap []*source

func (h sourceHeap) Len() int           { return len(h) }
func (h sourceHeap) Less(i, j int) bool { return h[i].open > h[j].open }
func (h sourceHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *sourceHeap) Push(x any) {
	s := x.(*source)
	s.index = len(*h)
	*h = append(*h, s)
}
func (h *sourceHeap) Pop() any {
	old := *h
	s := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return s
}

// pressure logs, at most once a minute, that the cap was reached.
func (l *connLimiter) pressure() {
	now := time.Now().Unix()
	if last := l.lastLog.Load(); now-last >= 60 && l.lastLog.CompareAndSwap(last, now) {
		l.log.Printf("%s open, the most allowed: closing idle ones, or the slowest of the address holding the most, to admit new ones (%d idle and %d mid-request closed, %d refused with 503 so far)",
			format.Count(l.max, "connection"), l.shed.Load(), l.cut.Load(), l.refused.Load())
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
		{"keyden_connections_closed_busy_total", "Connections mid-request closed to admit one from a trusted proxy, or from an address holding fewer.", "counter", l.cut.Load()},
		{"keyden_connections_refused_total", "Connections answered 503 because every allowed one was busy.", "counter", l.refused.Load()},
	} {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n%s %v\n", g.name, g.help, g.name, g.typ, g.name, g.v)
	}
}
