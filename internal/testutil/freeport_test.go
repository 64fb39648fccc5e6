package testutil

import (
	"net"
	"strconv"
	"testing"
)

// Ports are outside the kernel's ephemeral range, never given twice, and
// free to bind when given.
func TestFreePort(t *testing.T) {
	seen := map[int]bool{}
	for range 50 {
		p := FreePort(t)
		if p < 20000 || p >= 32768 || seen[p] {
			t.Fatalf("port %d (given before: %v)", p, seen[p])
		}
		seen[p] = true
		ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		if err != nil {
			t.Fatal(err)
		}
		ln.Close()
	}
}
