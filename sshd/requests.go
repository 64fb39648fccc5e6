package sshd

import (
	"fmt"
	"sync"

	"github.com/charmbracelet/ssh"
	gossh "golang.org/x/crypto/ssh"
)

// maxChannels is how many session channels one connection may hold open,
// as sshd's MaxSessions: each costs the server memory before it runs anything.
const maxChannels = 10

// sessionChannel is the session channel of charmbracelet/ssh with its
// requests filtered first (see filterRequests), at most maxChannels at once
// on a connection.
func sessionChannel(srv *ssh.Server, conn *gossh.ServerConn, ch gossh.NewChannel, ctx ssh.Context) {
	if cc, ok := ctx.Value(connKey{}).(*countedConn); ok {
		if cc.channels.Add(1) > maxChannels {
			cc.channels.Add(-1)
			_ = ch.Reject(gossh.ResourceShortage, fmt.Sprintf("keyden ssh takes at most %d sessions on one connection", maxChannels))
			return
		}
		defer cc.channels.Add(-1)
	}
	ssh.DefaultSessionHandler(srv, conn, filteredChannel{ch}, ctx)
}

// noForwarding refuses every channel but a session (ssh -L, -W, -D) with
// a reason ssh shows: "channel 2: open failed: administratively
// prohibited: keyden ssh forwards no ports …" rather than charmbracelet's
// "unknown channel type: unsupported channel type".
func noForwarding(_ *ssh.Server, _ *gossh.ServerConn, ch gossh.NewChannel, _ ssh.Context) {
	_ = ch.Reject(gossh.Prohibited, "keyden ssh forwards no ports: it runs the app and its commands only")
}

type filteredChannel struct{ gossh.NewChannel }

func (c filteredChannel) Accept() (gossh.Channel, <-chan *gossh.Request, error) {
	ch, reqs, err := c.NewChannel.Accept()
	if err != nil {
		return ch, reqs, err
	}
	return ch, filterRequests(reqs), nil
}

// clientEnv are the client's variables a session takes: they choose the
// colours, and nothing else the client sends reaches the app.
var clientEnv = map[string]bool{"TERM": true, "NO_COLOR": true, "COLORTERM": true}

// maxEnv is how many variables a session may set: clientEnv, a few times.
const maxEnv = 8

// filterRequests refuses (replies false to) agent forwarding, which
// charmbracelet/ssh would accept though no agent is ever opened, and any
// environment variable but clientEnv's, so a client can neither believe an
// agent is forwarded nor grow a session's memory with variables.
func filterRequests(in <-chan *gossh.Request) <-chan *gossh.Request {
	out := make(chan *gossh.Request)
	go func() {
		defer close(out)
		env := 0
		for req := range in {
			switch req.Type {
			case "auth-agent-req@openssh.com":
				_ = req.Reply(false, nil)
				continue
			case "env":
				var kv struct{ Key, Value string }
				if gossh.Unmarshal(req.Payload, &kv) != nil || !clientEnv[kv.Key] || env >= maxEnv {
					_ = req.Reply(false, nil)
					continue
				}
				env++
			}
			out <- req
		}
	}()
	return out
}

// window is a terminal size as the app takes it: an unknown (0) size is
// the usual 80×24, and sizes past any real screen are cut to one, so a
// client cannot make the server draw frames of 100000 columns.
func window(w, h int) (int, int) {
	if w <= 0 || h <= 0 {
		return 80, 24
	}
	return min(w, 1000), min(h, 500)
}

// latestSize keeps only the newest of the window changes a client sends,
// so a flood of them costs one layout per frame the app can take, not
// one per change.
type latestSize struct {
	mu      sync.Mutex
	w, h    int
	changed chan struct{}
}

func newLatestSize() *latestSize { return &latestSize{changed: make(chan struct{}, 1)} }

func (l *latestSize) set(w, h int) {
	l.mu.Lock()
	l.w, l.h = window(w, h)
	l.mu.Unlock()
	select {
	case l.changed <- struct{}{}:
	default:
	}
}

func (l *latestSize) get() (int, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w, l.h
}
