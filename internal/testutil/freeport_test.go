package testutil

import (
	"io"
	"net"
	"os"
	"strconv"
	"strings"
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

// Two test binaries running at once (go test runs packages in parallel)
// are never given the same port, across more than one block each.
func TestFreePortsOfTwoProcessesNeverMeet(t *testing.T) {
	const n = 300
	if os.Getenv("KEYDEN_TESTUTIL_PORTS") != "" {
		var ps []string
		for range n {
			ps = append(ps, strconv.Itoa(FreePort(t)))
		}
		os.Stdout.WriteString(strings.Join(ps, " ") + "\n")
		io.ReadAll(os.Stdin) // holding them until the other has its own
		return
	}
	var bins [2]*Cmd
	var outs [2]SyncBuffer
	var stdins [2]io.WriteCloser
	for i := range bins {
		bins[i] = Command(os.Args[0], "-test.run=^TestFreePortsOfTwoProcessesNeverMeet$")
		bins[i].Env = append(os.Environ(), "KEYDEN_TESTUTIL_PORTS=1")
		bins[i].Stdout, bins[i].Stderr = &outs[i], &outs[i]
		var err error
		if stdins[i], err = bins[i].StdinPipe(); err != nil {
			t.Fatal(err)
		}
		if err := bins[i].Start(); err != nil {
			t.Fatal(err)
		}
	}
	WaitFor(t, "both processes given their ports", func() bool {
		return strings.Contains(outs[0].String(), "\n") && strings.Contains(outs[1].String(), "\n")
	})
	given := map[string]int{}
	for i, b := range bins {
		stdins[i].Close()
		if err := b.Wait(); err != nil {
			t.Fatalf("process %d: %v\n%s", i, err, outs[i].String())
		}
		ports := strings.Fields(strings.SplitN(outs[i].String(), "\n", 2)[0])
		if len(ports) != n {
			t.Fatalf("process %d gave %d ports:\n%s", i, len(ports), outs[i].String())
		}
		for _, p := range ports {
			if j, ok := given[p]; ok {
				t.Fatalf("port %s given to processes %d and %d", p, j, i)
			}
			given[p] = i
		}
	}
}
