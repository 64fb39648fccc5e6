package sshd

import (
	"context"
	"io"
	"sync/atomic"
	"time"

	"github.com/charmbracelet/ssh"
	"golang.org/x/time/rate"
)

// input is a session's input, taken from the client by one goroutine no
// faster than its cap, remembering when the client last sent anything for
// the idle timeout. Keep-alives and window changes are not input: a silent
// client is idle.
type input struct {
	ctx     context.Context
	chunks  chan []byte
	err     error // after chunks is closed
	pending []byte
	last    atomic.Int64
}

func newInput(ctx context.Context, r io.Reader, perSecond int) *input {
	in := &input{ctx: ctx, chunks: make(chan []byte)}
	in.last.Store(time.Now().UnixNano())
	lim := rate.NewLimiter(rate.Limit(perSecond), perSecond)
	go func() {
		defer close(in.chunks)
		for {
			buf := make([]byte, min(4096, perSecond))
			n, err := r.Read(buf)
			if n > 0 {
				in.last.Store(time.Now().UnixNano())
				// Past the cap, the next read waits: the bytes are kept, not dropped.
				if lim.WaitN(ctx, n) != nil {
					return
				}
				select {
				case in.chunks <- buf[:n]:
				case <-ctx.Done():
					return
				}
			}
			if err != nil {
				in.err = err
				return
			}
		}
	}()
	return in
}

func (in *input) Read(p []byte) (int, error) { return in.read(p, nil) }

// read gives what the client sent; with wait set, only what comes within it
// (0 bytes, no error, when nothing does).
func (in *input) read(p []byte, wait <-chan time.Time) (int, error) {
	if len(in.pending) == 0 {
		select {
		case c, ok := <-in.chunks:
			if !ok {
				if in.err == nil {
					return 0, io.EOF
				}
				return 0, in.err
			}
			in.pending = c
		case <-in.ctx.Done():
			return 0, io.EOF
		case <-wait:
			return 0, nil
		}
	}
	n := copy(p, in.pending)
	in.pending = in.pending[n:]
	return n, nil
}

// querying is the session as the terminal query before the first frame
// reads it (wish/bubbletea asks for the background): its reads give up
// every 25 ms, so the query's timeout can stop it when a terminal never
// answers, and no keystroke waits in a read nobody will finish.
type querying struct {
	ssh.Session
	in *input
}

func (q querying) Read(p []byte) (int, error) { return q.in.read(p, time.After(25*time.Millisecond)) }

// watchIdle ends the session with errIdle once no input came for idle.
func (in *input) watchIdle(ctx context.Context, end context.CancelCauseFunc, idle time.Duration) {
	every := min(max(idle/8, 10*time.Millisecond), 5*time.Second)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			if now.Sub(time.Unix(0, in.last.Load())) >= idle {
				end(errIdle)
				return
			}
		}
	}
}
