package testutil

import (
	"math/rand/v2"
	"net"
	"sync"
	"testing"
)

// Ports below Linux's ephemeral range (32768-60999), which the kernel
// hands to every outgoing connection: a port picked there and closed
// until a child binds it is often taken meanwhile by one of the many
// connections the tests (and their neighbours) open.
const portLow, portHigh = 20000, 32768

var (
	portsMu sync.Mutex
	given   = map[int]bool{}
)

// FreePort is a loopback port for a server the test starts later: free
// now, outside the ephemeral range, and not given before in this process.
func FreePort(t testing.TB) int {
	t.Helper()
	portsMu.Lock()
	defer portsMu.Unlock()
	for range 1000 {
		p := portLow + rand.IntN(portHigh-portLow)
		if given[p] {
			continue
		}
		ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: p})
		if err != nil {
			continue
		}
		ln.Close()
		given[p] = true
		return p
	}
	t.Fatal("no free loopback port between 20000 and 32767")
	return 0
}
