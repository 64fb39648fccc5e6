package sshd

import (
	"net"
	"testing"
	"time"
)

// A connection counts against its IPv4 address or its IPv6 /64: one IPv6
// host usually holds a whole /64, and counted by address it could open
// the caps' worth of connections from each of 2^64 of them.
func TestSourceOf(t *testing.T) {
	for _, tt := range []struct{ addr, want string }{
		{"203.0.113.9:51000", "203.0.113.9"},
		{"[::ffff:203.0.113.9]:51000", "203.0.113.9"},
		{"[2001:db8:1:2:3:4:5:6]:22", "2001:db8:1:2::/64"},
		{"[2001:db8:1:2:ffff::1]:22", "2001:db8:1:2::/64"},
		{"[2001:db8:1:3::1]:22", "2001:db8:1:3::/64"},
		{"[fe80::1%eth0]:22", "fe80::/64"},
		{"pipe", "pipe"},
	} {
		if got := sourceOf(fakeAddr(tt.addr)); got != tt.want {
			t.Errorf("sourceOf(%s) = %s, want %s", tt.addr, got, tt.want)
		}
	}
}

type fakeAddr string

func (a fakeAddr) Network() string { return "tcp" }
func (a fakeAddr) String() string  { return string(a) }

// When a few sources hold every place for connections not signed in, a
// member from another source still gets in: the oldest connection of the
// source holding the most gives up its place. Checked to fail before:
// four sources holding three each kept the member out until the login
// grace ended (30 s), and again as soon as they reconnected.
func TestFewSourcesCannotFillEveryPlace(t *testing.T) {
	w := newBenchWorld(t, 0, func(o *Options) {
		o.MaxSessions = 4
		o.MaxUnauthenticated = 3
		o.LoginGrace = time.Minute
	})
	var idle []net.Conn
	for src := range 4 {
		for range 3 {
			d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(2+src))}}
			c, err := d.Dial("tcp", w.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			idle = append(idle, c)
		}
	}
	// Every place is taken once the server has counted all twelve.
	for deadline := time.Now().Add(10 * time.Second); w.srv.notSignedIn() < 12; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the server counted %d connections not signed in, want 12", w.srv.notSignedIn())
		}
	}
	conn := w.dial(t)
	if _, err := conn.NewSession(); err != nil {
		t.Fatal(err)
	}
	// One of the idle ones made room; the others still wait.
	closed := 0
	for _, c := range idle {
		c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		buf := make([]byte, 512)
		for {
			if _, err := c.Read(buf); err != nil {
				if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
					closed++
				}
				break
			}
		}
	}
	if closed != 1 {
		t.Errorf("%d idle connections were closed, want 1", closed)
	}
}
