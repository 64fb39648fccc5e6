package testutil

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
)

// Ports below Linux's ephemeral range (32768-60999), which the kernel
// hands to every outgoing connection: a port picked there and closed
// until a child binds it is often taken meanwhile by one of the many
// connections the tests (and their neighbours) open.
const portLow, portHigh = 20000, 32768

// A test process gives ports from blocks of its own, each held with an
// flock on a file in portLocks until the process ends (however it ends:
// the kernel drops the lock), so two test binaries running at once (go
// test runs packages in parallel) never give the same port, as two random
// picks from the whole range did. The folder is the same for every test
// process on the machine, whatever its TMPDIR.
const blockSize, portLocks = 200, "/tmp/keyden-test-ports"

var (
	portsMu   sync.Mutex
	next, end int // the ports left in the newest block held
	held      []*os.File
)

// FreePort is a loopback port for a server the test starts later: free
// now, outside the ephemeral range, never given before in this process
// nor by any other test process while this one runs.
func FreePort(t testing.TB) int {
	t.Helper()
	portsMu.Lock()
	defer portsMu.Unlock()
	for {
		if next == end {
			if err := holdBlock(); err != nil {
				t.Fatal(err)
			}
		}
		p := next
		next++
		// Bindable: a program that is no test may hold it.
		ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: p})
		if err != nil {
			continue
		}
		ln.Close()
		return p
	}
}

// holdBlock takes the first block of ports no other process holds, from
// the start of the range on, and gives its ports next.
func holdBlock() error {
	if err := os.MkdirAll(portLocks, 0o777); err != nil {
		return fmt.Errorf("test ports: %w", err)
	}
	os.Chmod(portLocks, 0o777|os.ModeSticky) // other users' test runs share the blocks
	for lo := portLow; lo < portHigh; lo += blockSize {
		f, err := os.OpenFile(filepath.Join(portLocks, fmt.Sprint(lo)), os.O_RDONLY|os.O_CREATE, 0o644)
		if err != nil {
			continue
		}
		if syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) != nil {
			f.Close() // another process's, or this one's already
			continue
		}
		held = append(held, f)
		next, end = lo, min(lo+blockSize, portHigh)
		return nil
	}
	return fmt.Errorf("test ports: all %d blocks of %d ports between %d and %d are held by other test processes", (portHigh-portLow+blockSize-1)/blockSize, blockSize, portLow, portHigh-1)
}
