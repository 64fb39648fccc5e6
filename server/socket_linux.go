package server

import (
	"io"
	"net"
	"os"
	"syscall"
	"unsafe"
)

// socket reads and writes a connection's nonblocking socket with raw
// system calls, waiting for it through the connection's own poller (so
// deadlines and Close hold as on net.Conn). A plain net.Conn call enters the
// scheduler's syscall state, and each entry with every P idle wakes the
// runtime's monitor thread, which then polls every 20 µs for a millisecond:
// at a gateway's steady trickle of checks that thread's wakeups were 15% of
// serve's CPU (perf). read(2) and write(2) on a nonblocking socket never
// block, which is what RawSyscall asks of its callers.
type socket struct {
	net.Conn
	rc syscall.RawConn // nil: not a socket, use the net.Conn
	// The calls in flight: one reader and one writer at a time, as net.Conn
	// users (fasthttp's connection goroutine) do. The funcs are bound once,
	// since a closure made per call would allocate.
	rp, wp          []byte
	rn, wn          int
	rerr, werr      error
	readFn, writeFn func(fd uintptr) bool
}

func newSocket(c net.Conn) *socket {
	s := &socket{Conn: c}
	if sc, ok := c.(syscall.Conn); ok {
		if rc, err := sc.SyscallConn(); err == nil {
			s.rc = rc
			s.readFn, s.writeFn = s.readRaw, s.writeRaw
		}
	}
	return s
}

func (s *socket) read(p []byte) (int, error) {
	if s.rc == nil || len(p) == 0 {
		return s.Conn.Read(p)
	}
	s.rp, s.rn, s.rerr = p, 0, nil
	if err := s.rc.Read(s.readFn); err != nil {
		return 0, err // a deadline passed or the connection is closed: as net.Conn says it
	}
	s.rp = nil
	return s.rn, s.rerr
}

func (s *socket) readRaw(fd uintptr) bool {
	n, e := sysIO(syscall.SYS_READ, fd, s.rp)
	switch {
	case e == syscall.EAGAIN:
		return false // wait until readable
	case e != 0:
		s.rerr = s.opError("read", e)
	case n == 0:
		s.rerr = io.EOF
	default:
		s.rn = n
	}
	return true
}

func (s *socket) write(p []byte) (int, error) {
	if s.rc == nil || len(p) == 0 {
		return s.Conn.Write(p)
	}
	s.wp, s.wn, s.werr = p, 0, nil
	err := s.rc.Write(s.writeFn)
	s.wp = nil
	if err == nil {
		err = s.werr
	}
	return s.wn, err
}

func (s *socket) writeRaw(fd uintptr) bool {
	for s.wn < len(s.wp) {
		n, e := sysIO(syscall.SYS_WRITE, fd, s.wp[s.wn:])
		if e == syscall.EAGAIN {
			return false // wait until writable
		}
		if e != 0 {
			s.werr = s.opError("write", e)
			return true
		}
		s.wn += n
	}
	return true
}

// sysIO makes one read(2) or write(2) (trap) of p, again when a signal
// interrupts it.
func sysIO(trap, fd uintptr, p []byte) (int, syscall.Errno) {
	for {
		n, _, e := syscall.RawSyscall(trap, fd, uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
		if e != syscall.EINTR {
			return int(n), e
		}
	}
}

func (s *socket) opError(op string, e syscall.Errno) error {
	return &net.OpError{Op: op, Net: "tcp", Source: s.LocalAddr(), Addr: s.RemoteAddr(), Err: os.NewSyscallError(op, e)}
}
