package sshd

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"sync"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"
	gossh "golang.org/x/crypto/ssh"

	"keyden/internal/fixture"
	"keyden/model"
	"keyden/storage"
	"keyden/tui"
)

// screen collects what a session draws; a test waits on it.
type screen struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	more chan struct{}
	// reply answers a terminal query as a terminal would (the server asks
	// for the background and the device attributes before the first frame).
	reply io.Writer
}

func newScreen(reply io.Writer) *screen { return &screen{more: make(chan struct{}, 1), reply: reply} }

func (s *screen) Write(p []byte) (int, error) {
	s.mu.Lock()
	s.buf.Write(p)
	s.mu.Unlock()
	if s.reply != nil {
		if bytes.Contains(p, []byte("\x1b]11;?")) {
			io.WriteString(s.reply, "\x1b]11;rgb:0000/0000/0000\x07")
		}
		if bytes.Contains(p, []byte("\x1b[c")) {
			io.WriteString(s.reply, "\x1b[?62;22c")
		}
	}
	select {
	case s.more <- struct{}{}:
	default:
	}
	return len(p), nil
}

func (s *screen) size() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Len()
}

// waitFor waits until what was drawn after offset from holds text (or, if
// text is "", anything at all).
func (s *screen) waitFor(tb testing.TB, from int, text string) {
	tb.Helper()
	deadline := time.After(30 * time.Second)
	for {
		s.mu.Lock()
		got := s.buf.Bytes()[from:]
		ok := len(got) > 0 && bytes.Contains(got, []byte(text))
		s.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-s.more:
		case <-deadline:
			tb.Fatalf("never drew %q", text)
		}
	}
}

// benchWorld is keyden ssh in-process on a copy of the 100k-key bench store,
// and a member's key to sign in with.
type benchWorld struct {
	st     storage.Store
	srv    *Server
	addr   string
	signer gossh.Signer
	// silent clients do not answer the terminal queries.
	silent bool
}

func newBenchWorld(b testing.TB, n int, tune ...func(*Options)) *benchWorld {
	ctx := context.Background()
	path := filepath.Join(b.TempDir(), "k.db")
	if n > 0 {
		shared := filepath.Join(os.TempDir(), fmt.Sprintf("keyden-bench-%d.db", n))
		if _, _, err := fixture.OpenFilled(ctx, shared, n, 1000); err != nil {
			b.Fatal(err)
		}
		// A copy: adding a member must not change the store other benchmarks share.
		raw, err := os.ReadFile(shared)
		if err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(path, raw, 0o600); err != nil {
			b.Fatal(err)
		}
	}
	st, err := storage.OpenBolt(path, storage.Options{Actor: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	signer, _ := gossh.NewSignerFromKey(priv)
	k, err := model.ParseSSHKey(string(gossh.MarshalAuthorizedKey(signer.PublicKey())))
	if err != nil {
		b.Fatal(err)
	}
	if _, err := st.AddMember(ctx, "ann", model.RoleAdmin, k); err != nil {
		b.Fatal(err)
	}
	if n == 0 {
		if _, err := st.CreateKey(ctx, storage.CreateRequest{Name: "one", Channel: "default", Environment: "dev"}); err != nil {
			b.Fatal(err)
		}
	}
	host, _, err := HostKey(filepath.Join(b.TempDir(), "host"))
	if err != nil {
		b.Fatal(err)
	}
	opt := Options{Store: st, HostKey: host, MaxSessions: 100, Getenv: func(string) string { return "" }}
	for _, f := range tune {
		f(&opt)
	}
	srv, err := New(ctx, opt)
	if err != nil {
		b.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go srv.Serve(ln)
	b.Cleanup(func() {
		c, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		srv.Shutdown(c)
		// Before the temp dir goes: the members' follower and the sessions'
		// app loads may still be reading, and a read would recreate the file.
		st.Close()
	})
	return &benchWorld{st: st, srv: srv, addr: ln.Addr().String(), signer: signer}
}

// client is one ssh connection with the app open on a 120×40 terminal.
type client struct {
	conn  *gossh.Client
	stdin io.WriteCloser
	scr   *screen
	// handshake: dial to authenticated; frame: from then to the first table.
	handshake, frame time.Duration
}

func (w *benchWorld) open(b testing.TB) *client {
	b.Helper()
	start := time.Now()
	conn, err := gossh.Dial("tcp", w.addr, &gossh.ClientConfig{User: "ann", Auth: []gossh.AuthMethod{gossh.PublicKeys(w.signer)},
		HostKeyCallback: gossh.InsecureIgnoreHostKey()})
	if err != nil {
		b.Fatal(err)
	}
	authed := time.Now()
	sess, err := conn.NewSession()
	if err != nil {
		b.Fatal(err)
	}
	stdin, _ := sess.StdinPipe()
	c := &client{conn: conn, stdin: stdin, scr: newScreen(stdin), handshake: authed.Sub(start)}
	if w.silent {
		c.scr.reply = nil
	}
	sess.Stdout = c.scr
	if err := sess.RequestPty("xterm-256color", 40, 120, gossh.TerminalModes{}); err != nil {
		b.Fatal(err)
	}
	if err := sess.Shell(); err != nil {
		b.Fatal(err)
	}
	c.scr.waitFor(b, 0, " · 1/")
	c.frame = time.Since(authed)
	return c
}

// BenchmarkSSH measures, at 100k keys: time from an authenticated
// connection to the first frame with the table, beyond the handshake;
// heap per extra open session; and a keystroke's latency to the redrawn
// frame through SSH against the same app on a pipe in the same process.
func BenchmarkSSH(b *testing.B) {
	const n = 100_000
	w := newBenchWorld(b, n)
	b.Run("first-frame", func(b *testing.B) {
		var hs, fr []time.Duration
		for b.Loop() {
			c := w.open(b)
			hs, fr = append(hs, c.handshake), append(fr, c.frame)
			c.conn.Close()
		}
		b.ReportMetric(ms(median(hs)), "handshake-ms")
		b.ReportMetric(ms(median(fr)), "frame-after-handshake-ms")
	})
	b.Run("memory-per-session", func(b *testing.B) {
		const extra = 20
		for b.Loop() {
			first := w.open(b)
			before := heap()
			var cs []*client
			for range extra {
				cs = append(cs, w.open(b))
			}
			after := heap()
			b.ReportMetric(float64(after-before)/extra/(1<<20), "MiB/session")
			b.ReportMetric(float64(before)/(1<<20), "MiB-with-one")
			for _, c := range append(cs, first) {
				c.conn.Close()
			}
		}
	})
	b.Run("keystroke", func(b *testing.B) {
		ssh := w.open(b)
		defer ssh.conn.Close()
		local := openLocal(b, w)
		var viaSSH, viaPipe []time.Duration
		for i := 0; b.Loop(); i++ {
			k := "j"
			if i%2 == 1 {
				k = "k"
			}
			viaSSH = append(viaSSH, stroke(b, ssh.scr, ssh.stdin, k))
			viaPipe = append(viaPipe, stroke(b, local.scr, local.stdin, k))
		}
		b.ReportMetric(ms(median(viaSSH)), "ssh-ms")
		b.ReportMetric(ms(median(viaPipe)), "local-ms")
	})
}

// openLocal runs the same app in-process on a pipe: no SSH in between.
func openLocal(b *testing.B, w *benchWorld) *client {
	inR, inW := io.Pipe()
	c := &client{stdin: inW, scr: newScreen(nil)}
	r := lipgloss.NewRenderer(io.Discard)
	r.SetColorProfile(termenv.ANSI256)
	st, _ := storage.As(w.st, "ann", "")
	p, _ := tui.NewSession(context.Background(), st, tui.Session{In: inR, Out: c.scr, Renderer: r, Keys: w.srv.keys,
		Location: "bench", Actor: "ann", Width: 120, Height: 40})
	go p.Run()
	p.Send(tea.WindowSizeMsg{Width: 120, Height: 40})
	b.Cleanup(func() { p.Kill(); inW.Close() })
	c.scr.waitFor(b, 0, " · 1/")
	return c
}

// stroke sends a key and times it to the first bytes of the redraw. Bubble
// Tea draws at 60 frames a second, so a keystroke waits for the next frame:
// a random pause first keeps the two programs' frame clocks from lining up
// with the strokes (otherwise the second stroke of a pair always lands just
// before its program's frame).
func stroke(b *testing.B, s *screen, in io.Writer, key string) time.Duration {
	time.Sleep(time.Duration(mrand.Int64N(int64(17 * time.Millisecond))))
	from := s.size()
	start := time.Now()
	io.WriteString(in, key)
	s.waitFor(b, from, "")
	return time.Since(start)
}

func heap() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse + m.StackInuse
}

func median(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
