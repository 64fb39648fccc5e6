// Package sshd is keyden ssh: keyden itself is the SSH server (after
// charmbracelet/soft-serve), so an admin runs `ssh -p 2222 keys.example.com`
// and gets the terminal app, or a command, as the member whose SSH public
// key it signed in with. Only public-key authentication; no shell, no
// forwarding, no subsystem, no file path from the client reaches anything.
package sshd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/ssh"
	bm "github.com/charmbracelet/wish/bubbletea"
	"github.com/muesli/termenv"
	gossh "golang.org/x/crypto/ssh"
	"golang.org/x/term"

	"keyden/format"
	"keyden/model"
	"keyden/storage"
	"keyden/tui"
)

// Exec runs one command line over SSH (list, show, audit, create, …) on st,
// which acts as the member, with the session's streams; it returns the
// exit status. The command line provides it, so this package needs none.
// tty is the session's terminal when the client asked for one (ssh -t),
// to ask on, else nil; with it, stderr is the terminal too.
type Exec func(ctx context.Context, st storage.Store, args []string, stdin io.Reader, stdout, stderr io.Writer, tty *term.Terminal) int

// Options configure the server.
type Options struct {
	Store storage.Store
	// HostKey is the server's key; see HostKey.
	HostKey gossh.Signer
	Exec    Exec
	// MaxSessions is how many sessions may be open at once (default 50).
	MaxSessions int
	// IdleTimeout closes a session that sent no input for this long (default 15m).
	IdleTimeout time.Duration
	// InputRate caps the bytes a session may send per second (default 16 KiB):
	// more is read only as fast as that.
	InputRate int
	// AuthDelay is the delay after a source address's first failed
	// authentication; it doubles with each further failure, up to 10 s,
	// and is forgotten after 15 minutes without one (default 250 ms).
	AuthDelay time.Duration
	// Getenv is the server's environment: KEYDEN_CLIPBOARD_CLEAR and
	// KEYDEN_OSC52 apply to every session, as to the local app.
	Getenv func(string) string
	// Log gets one line per session and refusal (io.Discard if nil).
	Log io.Writer
	// LoginGrace closes a connection not signed in this long after it
	// opened, as sshd's LoginGraceTime (default 30 s).
	LoginGrace time.Duration
	// MaxUnauthenticated is how many connections one source address may
	// have open before signing in (default 10, as sshd's MaxStartups); all
	// addresses together may have 4 times as many.
	MaxUnauthenticated int
}

// maxCommand is the longest command line a session may send: every
// command keyden ssh runs fits in far less.
const maxCommand = 4096

const maxAuthDelay = 10 * time.Second

// Server is keyden ssh.
type Server struct {
	opt  Options
	clip tui.ClipboardOptions
	srv  *ssh.Server
	keys *tui.SharedKeys
	log  *log.Logger

	mu       sync.Mutex
	sessions map[*session]struct{}
	stopping bool
	failures map[string]*failure
	conns    int
	waiting  map[string][]*countedConn // connections not signed in, by source, oldest first
	started  atomic.Int64              // sessions ever started, for the log
}

type failure struct {
	n    int
	last time.Time
}

// New prepares a server on opt.Store and reads its keys once, so the first
// session draws without reading them.
func New(ctx context.Context, opt Options) (*Server, error) {
	if opt.MaxSessions <= 0 {
		opt.MaxSessions = 50
	}
	if opt.IdleTimeout <= 0 {
		opt.IdleTimeout = 15 * time.Minute
	}
	if opt.InputRate <= 0 {
		opt.InputRate = 16 << 10
	}
	if opt.AuthDelay <= 0 {
		opt.AuthDelay = 250 * time.Millisecond
	}
	if opt.Log == nil {
		opt.Log = io.Discard
	}
	if opt.LoginGrace <= 0 {
		opt.LoginGrace = 30 * time.Second
	}
	if opt.MaxUnauthenticated <= 0 {
		opt.MaxUnauthenticated = 10
	}
	clip, err := tui.ClipboardFromEnv(opt.Getenv)
	if err != nil {
		return nil, err
	}
	s := &Server{opt: opt, clip: clip, keys: tui.NewSharedKeys(opt.Store), log: log.New(opt.Log, "keyden ssh: ", log.LstdFlags),
		sessions: map[*session]struct{}{}, failures: map[string]*failure{}, waiting: map[string][]*countedConn{}}
	if err := s.keys.Load(ctx); err != nil {
		return nil, err
	}
	s.srv = &ssh.Server{
		Version:                    "keyden",
		HostSigners:                []ssh.Signer{opt.HostKey},
		Handler:                    s.handle,
		PublicKeyHandler:           s.publicKey,
		KeyboardInteractiveHandler: s.refuse,
		ConnCallback:               s.connected,
		ServerConfigCallback:       signedIn,
		// No port forwarding (nil callbacks refuse it; only session
		// channels open), no subsystem (no sftp), no agent (refused).
		SubsystemHandlers: map[string]ssh.SubsystemHandler{},
		ChannelHandlers:   map[string]ssh.ChannelHandler{"session": sessionChannel, "default": noForwarding},
	}
	return s, nil
}

// Fingerprint is the host key's, as ssh-keygen -l shows it.
func (s *Server) Fingerprint() string { return gossh.FingerprintSHA256(s.opt.HostKey.PublicKey()) }

// Serve answers connections on ln until Shutdown.
func (s *Server) Serve(ln net.Listener) error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go s.followMembers(ctx)
	err := s.srv.Serve(ln)
	if errors.Is(err, ssh.ErrServerClosed) {
		return nil
	}
	return err
}

// errStopping and errIdle end a session with a sentence for its terminal.
var (
	errStopping = &ending{"the keyden ssh server is stopping, so this session ends: connect again when it is back"}
	errIdle     = &ending{"this session sent no input for a while, so keyden ssh closed it: connect again to go on"}
)

// Shutdown tells every session that the server is stopping, ends them,
// and closes the server; connections still open when ctx ends are cut.
// It returns how many sessions were told.
func (s *Server) Shutdown(ctx context.Context) int {
	s.mu.Lock()
	s.stopping = true
	n := len(s.sessions)
	for ss := range s.sessions {
		ss.end(errStopping)
	}
	s.mu.Unlock()
	if err := s.srv.Shutdown(ctx); err != nil {
		s.srv.Close()
	}
	return n
}

// connected counts connections, refusing those past the sessions' limit
// plus a few in authentication, and those past the cap of connections not
// signed in from their source (an IPv4 address, an IPv6 /64), before any
// work is done for them. One not signed in within the login grace time is
// closed, so half-open connections cannot keep members out.
//
// When every place for connections not signed in is taken, a newcomer
// takes the place of the oldest such connection of the source holding
// the most, if that holds at least two more than the newcomer's does:
// refusing everyone instead (as a plain cap, or sshd's MaxStartups, does)
// let four sources keep every member out for as long as they reconnect.
func (s *Server) connected(ctx ssh.Context, c net.Conn) net.Conn {
	src := sourceOf(c.RemoteAddr())
	cc := &countedConn{Conn: c, src: src, ack: quickAck(c)}
	cc.signedIn = func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if !cc.authed {
			cc.authed = true
			s.unwait(cc)
		}
	}
	cc.done = func() {
		cc.grace.Stop()
		cc.signedIn()
		s.mu.Lock()
		s.conns--
		s.mu.Unlock()
	}
	s.mu.Lock()
	unauth, heaviest := 0, ""
	for a, w := range s.waiting {
		unauth += len(w)
		if len(w) > len(s.waiting[heaviest]) {
			heaviest = a
		}
	}
	var evicted *countedConn
	switch {
	case s.stopping:
		s.mu.Unlock()
		return nil
	case s.conns-unauth >= s.opt.MaxSessions+8:
		s.log.Printf("refused a connection from %s: %d connections open", src, s.conns)
		s.mu.Unlock()
		return nil
	case len(s.waiting[src]) >= s.opt.MaxUnauthenticated,
		unauth >= 4*s.opt.MaxUnauthenticated && len(s.waiting[heaviest]) < len(s.waiting[src])+2:
		s.log.Printf("refused a connection from %s: %d connections from there and %d in all are not signed in yet", src, len(s.waiting[src]), unauth)
		s.mu.Unlock()
		return nil
	case unauth >= 4*s.opt.MaxUnauthenticated:
		evicted = s.waiting[heaviest][0]
		s.unwait(evicted)
		s.log.Printf("closed a connection from %s not signed in yet, for one from %s: %d connections not signed in held every place, %d of them from %s", heaviest, src, unauth, len(s.waiting[heaviest])+1, heaviest)
	}
	s.conns++
	s.waiting[src] = append(s.waiting[src], cc)
	// Set under s.mu: whoever closes cc (its own handler, or a newcomer
	// taking its place, which finds it under s.mu) sees the timer.
	cc.grace = time.AfterFunc(s.opt.LoginGrace, func() {
		s.mu.Lock()
		late := !cc.authed
		s.mu.Unlock()
		if late {
			s.log.Printf("closed a connection from %s: not signed in within %s", src, s.opt.LoginGrace)
			cc.Close()
		}
	})
	s.mu.Unlock()
	if evicted != nil {
		evicted.Close()
	}
	ctx.SetValue(connKey{}, cc)
	return cc
}

// unwait takes a connection off its source's list of those not signed in
// (under s.mu); one already off it is left alone.
func (s *Server) unwait(cc *countedConn) {
	w := s.waiting[cc.src]
	i := slices.Index(w, cc)
	if i < 0 {
		return
	}
	if w = slices.Delete(w, i, i+1); len(w) == 0 {
		delete(s.waiting, cc.src)
	} else {
		s.waiting[cc.src] = w
	}
}

// signedIn counts a connection as signed in once a key's signature is
// verified. The public key handler is also asked when a client only
// queries whether a key would do, which anyone holding a member's public
// key can send: counted then, such connections escaped the caps on
// connections not signed in and the login grace, and kept members out.
func signedIn(ctx ssh.Context) *gossh.ServerConfig {
	return &gossh.ServerConfig{AuthLogCallback: func(_ gossh.ConnMetadata, method string, err error) {
		if c, ok := ctx.Value(connKey{}).(*countedConn); ok && method == "publickey" && err == nil {
			c.signedIn()
		}
	}}
}

type countedConn struct {
	net.Conn
	src      string // sourceOf its remote address
	once     sync.Once
	done     func()
	ack      func()
	signedIn func()
	grace    *time.Timer
	authed   bool // under Server.mu
	channels atomic.Int32
}

func (c *countedConn) Read(p []byte) (int, error) {
	c.ack()
	return c.Conn.Read(p)
}

func (c *countedConn) Close() error {
	c.once.Do(c.done)
	return c.Conn.Close()
}

// sourceOf is the source a connection counts against (model.Source),
// an IPv4 address written without its /32.
func sourceOf(a net.Addr) string {
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return a.String()
	}
	if p := model.Source(ap.Addr()); !p.Addr().Is4() {
		return p.String()
	}
	return ap.Addr().Unmap().String()
}

// Context values: the last refused key's sentence, for the
// keyboard-interactive answer that shows it to the client; the connection.
type (
	ctxKey  struct{}
	connKey struct{}
)

// publicKey accepts a member's key; an unknown one counts as a failure.
func (s *Server) publicKey(ctx ssh.Context, key ssh.PublicKey) bool {
	fp := gossh.FingerprintSHA256(key)
	ms, err := s.opt.Store.Members(ctx)
	if err != nil {
		s.log.Printf("could not read the members to check %s from %s: %s", fp, ctx.RemoteAddr(), format.Safe(err.Error()))
		return false
	}
	if _, ok := model.Members(ms).FindSSHKey(fp); ok {
		// Not signed in yet: ssh asks this before any signature too, and a
		// member's public key is no secret (see signedIn).
		return true
	}
	// Who the super admins are is for members: a stranger hears the role.
	ctx.SetValue(ctxKey{}, fmt.Sprintf("keyden: the SSH key %s is not a member's key of this key store: ask a super admin of it to run `keyden member add YOUR-NAME --ssh-key \"$(cat your-key.pub)\"`.", fp))
	s.failed(ctx, fmt.Sprintf("unknown key %s", fp))
	return false
}

// refuse is the keyboard-interactive step: it never lets anyone in, but it
// is where the client is told why its key was refused (ssh shows the
// instruction; there is no other way to say it before a session).
func (s *Server) refuse(ctx ssh.Context, ch gossh.KeyboardInteractiveChallenge) bool {
	msg, _ := ctx.Value(ctxKey{}).(string)
	if msg == "" {
		msg = "keyden: keyden ssh takes only the SSH keys of members of its key store: ask a super admin to add yours with `keyden member add YOUR-NAME --ssh-key \"$(cat your-key.pub)\"`."
	}
	_, _ = ch("", msg, nil, nil)
	s.failed(ctx, "keyboard-interactive")
	// Said once: ssh would ask again (and show it again) up to three times.
	if c, ok := ctx.Value(connKey{}).(*countedConn); ok {
		c.Close()
	}
	return false
}

// failed waits a delay that grows with the failures from the source
// address, so guessing keys or names is slow.
func (s *Server) failed(ctx ssh.Context, what string) {
	src := sourceOf(ctx.RemoteAddr())
	now := time.Now()
	s.mu.Lock()
	f := s.failures[src]
	if f == nil || now.Sub(f.last) > 15*time.Minute {
		f = &failure{}
		s.failures[src] = f
	}
	f.n++
	f.last = now
	d := s.opt.AuthDelay << min(f.n-1, 16)
	if d > maxAuthDelay || d <= 0 {
		d = maxAuthDelay
	}
	// Forget quiet addresses, so the map does not grow without end.
	for a, g := range s.failures {
		if now.Sub(g.last) > 15*time.Minute {
			delete(s.failures, a)
		}
	}
	s.mu.Unlock()
	s.log.Printf("refused %s from %s (failure %d from there; answering in %s)", format.Safe(what), src, f.n, d)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// session is one open session, for Shutdown and followMembers to tell.
type session struct {
	cancel     context.CancelCauseFunc
	member, fp string
}

func (ss *session) end(why error) { ss.cancel(why) }

// ending is why the server ended a session, a sentence for its terminal.
type ending struct{ msg string }

func (e *ending) Error() string { return e.msg }

// followMembers ends, within about a second, every session whose member
// was removed or whose SSH key was taken from it (their next action is
// refused by the store already): it looks at the feed's head four times
// a second, and reads the members when it moved.
func (s *Server) followMembers(ctx context.Context) {
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	var seen uint64
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s.mu.Lock()
		idle := len(s.sessions) == 0
		s.mu.Unlock()
		if idle { // a session checks its member itself once registered
			continue
		}
		seq, _, err := s.opt.Store.FeedHead(ctx)
		if err != nil || seq == seen {
			continue
		}
		ms, err := s.opt.Store.Members(ctx)
		if err != nil {
			continue
		}
		seen = seq
		s.mu.Lock()
		for ss := range s.sessions {
			if m, ok := model.Members(ms).FindSSHKey(ss.fp); !ok || m.User != ss.member {
				ss.end(&ending{fmt.Sprintf("the SSH key %s is no longer a key of the member %s, so this session ends: ask %s to add it again", ss.fp, ss.member, model.Members(ms).WhoAddsKeys())})
			}
		}
		s.mu.Unlock()
	}
}

// handle runs one session: the app on a terminal, or one command.
func (s *Server) handle(sess ssh.Session) {
	member, fp, err := s.member(sess)
	if err != nil {
		fmt.Fprintf(sess.Stderr(), "keyden: %s\r\n", format.Safe(format.Sentence(err.Error())))
		_ = sess.Exit(1)
		return
	}
	ctx, cancel := context.WithCancelCause(sess.Context())
	defer cancel(nil)
	ss := &session{cancel: cancel, member: member, fp: fp}
	s.mu.Lock()
	full := len(s.sessions) >= s.opt.MaxSessions
	if !s.stopping && !full {
		s.sessions[ss] = struct{}{}
	}
	stopping := s.stopping
	s.mu.Unlock()
	switch {
	case stopping:
		fmt.Fprintf(sess.Stderr(), "keyden: %s\r\n", errStopping)
		_ = sess.Exit(1)
		return
	case full:
		fmt.Fprintf(sess.Stderr(), "keyden: keyden ssh has its most sessions (%d) open: try again in a while.\r\n", s.opt.MaxSessions)
		_ = sess.Exit(1)
		return
	}
	defer func() {
		s.mu.Lock()
		delete(s.sessions, ss)
		s.mu.Unlock()
	}()
	// Read again once registered: a removal that followMembers saw before
	// this session was in its set is seen here.
	if m, _, err := s.member(sess); err != nil || m != member {
		if err == nil {
			err = errors.New("the member of this SSH key changed: connect again")
		}
		fmt.Fprintf(sess.Stderr(), "keyden: %s\r\n", format.Safe(format.Sentence(err.Error())))
		_ = sess.Exit(1)
		return
	}
	n := s.started.Add(1)
	st, err := storage.As(s.opt.Store, member, fp)
	if err != nil {
		_ = sess.Exit(1)
		return
	}
	if err := checkCommand(sess.RawCommand()); err != nil {
		fmt.Fprintf(sess.Stderr(), "keyden: %s\r\n", err)
		_ = sess.Exit(2)
		return
	}
	in := newInput(ctx, sess, s.opt.InputRate)
	go in.watchIdle(ctx, cancel, s.opt.IdleTimeout)
	args := sess.Command()
	verb := "the app"
	if len(args) > 0 {
		verb = format.Safe(args[0])
	}
	s.log.Printf("session %d: %s (%s) from %s runs %s", n, member, fp, sourceOf(sess.RemoteAddr()), verb)
	code := 0
	if len(args) > 0 {
		code = s.command(ctx, sess, st, args, in)
	} else {
		code = s.shell(ctx, sess, st, member, in)
	}
	var why *ending
	if errors.As(context.Cause(ctx), &why) {
		fmt.Fprintf(sess.Stderr(), "keyden: %s\r\n", why)
		code = 1
	}
	s.log.Printf("session %d: ended (%d)", n, code)
	_ = sess.Exit(code)
}

// checkCommand refuses a command line no keyden command has: longer than
// maxCommand, not UTF-8, or with control characters (which would reach
// error messages and the log).
func checkCommand(cmd string) error {
	switch {
	case len(cmd) > maxCommand:
		return fmt.Errorf("the command line is %d bytes long, more than keyden ssh takes (%d): send a shorter one", len(cmd), maxCommand)
	case !utf8.ValidString(cmd):
		return errors.New("the command line is not UTF-8 text: send it in UTF-8")
	case strings.ContainsFunc(cmd, func(r rune) bool { return r < 0x20 && r != '\t' || r == 0x7f || r >= 0x80 && r < 0xa0 }):
		return errors.New("the command line holds control characters: send it without them")
	}
	return nil
}

// member is who signed in: the member whose key the session's is, read
// again now (the key may have been taken away since authentication).
func (s *Server) member(sess ssh.Session) (user, fp string, err error) {
	pk := sess.PublicKey()
	if pk == nil {
		return "", "", errors.New("keyden ssh takes only members' SSH keys")
	}
	fp = gossh.FingerprintSHA256(pk)
	ms, err := s.opt.Store.Members(sess.Context())
	if err != nil {
		return "", "", err
	}
	m, ok := model.Members(ms).FindSSHKey(fp)
	if !ok {
		return "", "", fmt.Errorf("the SSH key %s is no longer a member's key of this key store: ask %s to add it again", fp, model.Members(ms).WhoAddsKeys())
	}
	return m.User, fp, nil
}

// command runs one command line. With a PTY it gets a terminal to ask on
// at the session's size, following resizes, and its messages go to that
// terminal in order with the questions, as sshd puts a command's stderr
// on its PTY.
func (s *Server) command(ctx context.Context, sess ssh.Session, st storage.Store, args []string, in *input) int {
	pty, winch, ok := sess.Pty()
	if !ok {
		return s.opt.Exec(ctx, st, args, in, sess, sess.Stderr(), nil)
	}
	tty := term.NewTerminal(struct {
		io.Reader
		io.Writer
	}{in, sess}, "")
	_ = tty.SetSize(window(pty.Window.Width, pty.Window.Height))
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case w, ok := <-winch:
				if !ok {
					return
				}
				_ = tty.SetSize(window(w.Width, w.Height))
			}
		}
	}()
	return s.opt.Exec(ctx, st, args, in, sess, sess, tty)
}

// shell runs the app on the session's terminal, at its size, with its
// TERM and colours; copies reach only that terminal.
func (s *Server) shell(ctx context.Context, sess ssh.Session, st storage.Store, member string, in *input) int {
	pty, winch, ok := sess.Pty()
	if !ok {
		fmt.Fprintf(sess.Stderr(), "keyden: the app needs a terminal: connect with ssh -t, or give a command such as `list --json`.\r\n")
		return 2
	}
	env := sess.Environ() // clientEnv's only: see filterRequests
	noColor := false
	for _, kv := range env {
		if len(kv) > 9 && kv[:9] == "NO_COLOR=" {
			noColor = true
		}
	}
	width, height := window(pty.Window.Width, pty.Window.Height)
	r := bm.MakeRenderer(querying{Session: sess, in: in})
	if noColor {
		r.SetColorProfile(termenv.Ascii)
	}
	clip := s.clip
	clip.OSC52 = clip.OSC52 && pty.Term != "dumb"
	p, done := tui.NewSession(ctx, st, tui.Session{In: in, Out: sess, Environ: env, Renderer: r, Clipboard: clip,
		Keys: s.keys, Location: s.opt.Store.Location(), Actor: member, Width: width, Height: height})
	size := newLatestSize()
	go func() {
		for {
			select {
			case <-ctx.Done():
				p.Quit()
				return
			case w, ok := <-winch:
				if !ok {
					return
				}
				size.set(w.Width, w.Height)
			}
		}
	}()
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-size.changed:
				w, h := size.get()
				p.Send(tea.WindowSizeMsg{Width: w, Height: h})
			}
		}
	}()
	_, err := p.Run()
	p.Kill()
	if note := done(); note != "" {
		fmt.Fprintf(sess.Stderr(), "%s\r\n", note)
	}
	if err != nil && ctx.Err() == nil {
		s.log.Printf("the app ended with %v", err)
		return 1
	}
	return 0
}

// notSignedIn counts the connections not signed in (for tests).
func (s *Server) notSignedIn() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, w := range s.waiting {
		n += len(w)
	}
	return n
}
