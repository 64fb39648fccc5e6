package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"keyden/internal/etcdtest"
	"keyden/internal/testutil"
)

// keyden itself links no etcd client: its package initialisation (gRPC,
// protobuf descriptors) cost every command about 3 ms of CPU. keyden-etcd
// has it.
func TestKeydenLinksNoEtcdClient(t *testing.T) {
	deps := func(pkg string) string {
		out, err := testutil.Command("go", "list", "-deps", pkg).Output()
		if err != nil {
			t.Fatalf("go list -deps %s: %v", pkg, err)
		}
		return string(out)
	}
	for _, heavy := range []string{"go.etcd.io/etcd/client/v3\n", "google.golang.org/grpc\n"} {
		if strings.Contains(deps("."), heavy) {
			t.Errorf("keyden links %s", strings.TrimSpace(heavy))
		}
	}
	if !strings.Contains(deps("./cmd/keyden-etcd"), "go.etcd.io/etcd/client/v3\n") {
		t.Error("keyden-etcd does not link the etcd client")
	}
}

// A run on an etcd store is handed to keyden-etcd beside keyden, with its
// arguments, environment and standard input: whether the location comes
// from $KEYDEN_DB, --db or migrate's --to.
func TestEtcdRunsAreHandedToKeydenEtcd(t *testing.T) {
	if testing.Short() {
		t.Skip("embedded etcd in -short")
	}
	ms := etcdtest.Start(t, 1, t.TempDir(), false)
	defer ms[0].Stop()
	loc := etcdtest.URL(ms, "/handoff")
	file := filepath.Join(t.TempDir(), "k.db")
	secret, errs, code := keyden(t, file, "", "create", "--name", "moved", "--env", "prod")
	if code != 0 {
		t.Fatal(errs)
	}
	if _, errs, code := keyden(t, file, "", "migrate", "--from", file, "--to", loc); code != 0 {
		t.Fatalf("migrate --to etcd: %s", errs)
	}
	// verify reads the key from standard input before it opens the store:
	// the hand-off comes first, so keyden-etcd reads it.
	if _, errs, code := keyden(t, loc, secret, "verify", "--env", "prod"); code != 0 {
		t.Fatalf("verify on $KEYDEN_DB=etcd://…: %s", errs)
	}
	out, errs, code := keyden(t, file, "", "--db", loc, "list", "--json")
	if code != 0 || !strings.Contains(out, `"moved"`) {
		t.Fatalf("list on --db etcd://…: %d %s %s", code, out, errs)
	}
}

// Without keyden-etcd, an etcd store is refused in one sentence that says
// how to install it; a keyden-etcd that has no etcd client (a copy of
// keyden) is refused too, not run again and again.
func TestMissingKeydenEtcdIsASentence(t *testing.T) {
	lone := filepath.Join(t.TempDir(), "keyden")
	copyFile(t, bin, lone)
	twin := filepath.Join(t.TempDir(), "keyden")
	copyFile(t, bin, twin)
	copyFile(t, bin, filepath.Join(filepath.Dir(twin), "keyden-etcd"))
	for _, c := range []struct{ exe, want string }{
		{lone, "keyden: etcd stores are opened by keyden-etcd, which is neither next to keyden nor on PATH: install both with `go install ./...` in keyden's source folder.\n"},
		{twin, "keyden: this keyden-etcd was built without the etcd client: install it again with `go install ./...` in keyden's source folder.\n"},
	} {
		start := time.Now()
		cmd := testutil.Command(c.exe, "list")
		// PATH has no keyden-etcd, even while the package test has one in /usr/bin.
		cmd.Env = []string{"KEYDEN_DB=etcd://127.0.0.1:1/x", "HOME=" + os.TempDir(), "PATH=" + t.TempDir()}
		out, errs, code := runProcess(t, cmd, "")
		if code != 1 || out != "" || errs != c.want {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want exit 1 and %q", c.exe, code, out, errs, c.want)
		}
		if time.Since(start) > 10*time.Second {
			t.Errorf("%s took %v", c.exe, time.Since(start))
		}
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o755); err != nil {
		t.Fatal(err)
	}
}

// `keyden verify` on a file store as a whole process, keyden and
// keyden-etcd taking turns, in CPU time (user + system) per run: what
// linking the etcd client costs a command that does not use it.
func BenchmarkVerifyProcessCPU(b *testing.B) {
	db, secrets := benchStore(b, 10_000)
	exes := []string{bin, filepath.Join(filepath.Dir(bin), "keyden-etcd")}
	var cpu [2]time.Duration
	n := 0
	for b.Loop() {
		for i, exe := range exes {
			cmd := testutil.Command(exe, "verify", "--ip", "127.0.0.1")
			cmd.Env = []string{"KEYDEN_DB=" + db, "HOME=" + os.TempDir(), "PATH=/usr/bin:/bin"}
			cmd.Stdin = strings.NewReader(secrets[n%len(secrets)])
			if out, err := cmd.CombinedOutput(); err != nil {
				b.Fatalf("%s verify: %v %s", exe, err, out)
			}
			cpu[i] += cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
		}
		n++
	}
	ms := func(d time.Duration) float64 { return float64(d) / float64(n) / 1e6 }
	b.ReportMetric(ms(cpu[0]), "keyden-cpu-ms/op")
	b.ReportMetric(ms(cpu[1]), "keyden-etcd-cpu-ms/op")
	b.ReportMetric(float64(cpu[1])/float64(cpu[0]), "etcd/plain")
}
