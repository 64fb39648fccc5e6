package server

import (
	"sync"
)

// smallRead is what one read(2) takes when fasthttp asks for less: a
// gateway's check request (a GET with a few headers) fits in it whole.
const smallRead = 1024

var smallReads = sync.Pool{New: func() any { return new([smallRead]byte) }}

// Read answers fasthttp's one-byte read, with which it waits for a kept
// connection's next request (ReduceMemoryUsage gives the read buffer back
// between requests), from one read of up to smallRead bytes and hands out
// the rest on the next calls: else every check costs a second read(2).
// The buffer is held only from that read until fasthttp has taken it all,
// which is while it reads the request, so an idle connection holds none.
func (c *limitedConn) Read(p []byte) (int, error) {
	if c.pending != nil {
		n := copy(p, c.pending)
		if c.pending = c.pending[n:]; len(c.pending) == 0 {
			c.pending = nil
			smallReads.Put(c.buf)
			c.buf = nil
		}
		return n, nil
	}
	if len(p) >= smallRead {
		return c.socket.read(p)
	}
	buf := smallReads.Get().(*[smallRead]byte)
	n, err := c.socket.read(buf[:])
	if n <= len(p) {
		copy(p, buf[:n])
		smallReads.Put(buf)
		return n, err
	}
	// The socket gave more than asked: the error, if any, comes again
	// with the next read of the socket, after what is kept here.
	c.buf, c.pending = buf, buf[len(p):n]
	return copy(p, buf[:n]), nil
}

func (c *limitedConn) Write(p []byte) (int, error) { return c.socket.write(p) }
