package sshd

import (
	"context"
	"io"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// input is a session's input, read no faster than its cap, remembering
// when the client last sent anything for the idle timeout. Keep-alives
// and window changes are not input: a silent client is idle.
type input struct {
	ctx  context.Context
	r    io.Reader
	lim  *rate.Limiter
	last atomic.Int64
}

func newInput(ctx context.Context, r io.Reader, perSecond int) *input {
	in := &input{ctx: ctx, r: r, lim: rate.NewLimiter(rate.Limit(perSecond), perSecond)}
	in.last.Store(time.Now().UnixNano())
	return in
}

func (in *input) Read(p []byte) (int, error) {
	if len(p) > in.lim.Burst() {
		p = p[:in.lim.Burst()]
	}
	n, err := in.r.Read(p)
	if n > 0 {
		in.last.Store(time.Now().UnixNano())
		// Past the cap, the next read waits: the bytes are kept, not dropped.
		if werr := in.lim.WaitN(in.ctx, n); werr != nil && err == nil {
			err = io.EOF
		}
	}
	return n, err
}

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
