package etcdtest

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"keyden/internal/testutil"
)

// Binary is Debian's etcd-server (etcd 3.4), the version many users run
// beside the embedded 3.6; .ci/run installs it.
const Binary = "/usr/bin/etcd"

// NeedBinary returns Binary, skipping the test when it is missing on a
// developer's machine and failing it in CI (CI set), where .ci/run
// installs Debian's etcd-server and a skip would hide a missing test.
func NeedBinary(t testing.TB) string {
	t.Helper()
	if _, err := os.Stat(Binary); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is missing: CI must install Debian's etcd-server (.ci/run does)", Binary)
		}
		t.Skipf("%s is missing: install Debian's etcd-server to run this test", Binary)
	}
	return Binary
}

// Proc is one member of a cluster of real etcd processes (a single etcd
// server is a cluster of one).
type Proc struct {
	t                  testing.TB
	bin, name, dir     string
	peerURL, clientURL string
	args               []string
	cmd                *testutil.Cmd
	exited             chan struct{}
}

// ProcOptions tune a cluster of real etcd processes.
type ProcOptions struct {
	// HeartbeatMs and ElectionMs are etcd's --heartbeat-interval and
	// --election-timeout (etcd's defaults, 100 and 1000, when 0). Shorter
	// ones make a lost quorum show sooner: a watch that requires a leader
	// is cancelled after three election timeouts without one.
	HeartbeatMs, ElectionMs int
	// NoFsync is etcd's --unsafe-no-fsync, for tests that crash no member.
	NoFsync bool
	Extra   []string // more flags for every member, such as --auth-token-ttl
}

// StartProcs starts n real etcd processes as one cluster on loopback, with
// free ports and data under a test temp dir, and stops them when the test
// ends. It returns once the cluster has a leader.
func StartProcs(t testing.TB, n int, opt ProcOptions) []*Proc {
	t.Helper()
	bin := NeedBinary(t)
	dir := t.TempDir()
	ps := make([]*Proc, n)
	var initial []string
	for i := range ps {
		peer, client := freeURL(t), freeURL(t)
		ps[i] = &Proc{t: t, bin: bin, name: fmt.Sprintf("p%d", i), dir: filepath.Join(dir, fmt.Sprintf("p%d", i)),
			peerURL: peer.String(), clientURL: client.String()}
		initial = append(initial, ps[i].name+"="+ps[i].peerURL)
	}
	for _, p := range ps {
		p.args = []string{"--name", p.name, "--data-dir", p.dir,
			"--listen-peer-urls", p.peerURL, "--initial-advertise-peer-urls", p.peerURL,
			"--listen-client-urls", p.clientURL, "--advertise-client-urls", p.clientURL,
			"--initial-cluster", strings.Join(initial, ","), "--initial-cluster-token", filepath.Base(dir),
			"--logger", "zap", "--log-outputs", filepath.Join(dir, p.name+".log"), "--log-level", "warn"}
		if opt.HeartbeatMs > 0 {
			p.args = append(p.args, "--heartbeat-interval", fmt.Sprint(opt.HeartbeatMs))
		}
		if opt.ElectionMs > 0 {
			p.args = append(p.args, "--election-timeout", fmt.Sprint(opt.ElectionMs))
		}
		if opt.NoFsync {
			p.args = append(p.args, "--unsafe-no-fsync")
		}
		p.args = append(p.args, opt.Extra...)
		if err := p.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(p.Stop)
	}
	for _, p := range ps {
		if err := p.WaitHealthy(60 * time.Second); err != nil {
			t.Fatal(err)
		}
	}
	return ps
}

// Start starts a stopped member with its data (or a new one for the first time).
func (p *Proc) Start() error {
	if p.cmd != nil {
		return fmt.Errorf("etcd member %s is running", p.name)
	}
	if err := os.MkdirAll(p.dir, 0o700); err != nil {
		return err
	}
	// A data dir that exists already rejoins its cluster: etcd ignores the
	// initial-cluster flags then.
	cmd := testutil.Command(p.bin, p.args...)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting etcd member %s: %w", p.name, err)
	}
	p.cmd, p.exited = cmd, make(chan struct{})
	go func(c *testutil.Cmd, done chan struct{}) { c.Wait(); close(done) }(cmd, p.exited)
	return nil
}

// Stop stops the member (SIGTERM, then SIGKILL after 10 s), keeping its data.
func (p *Proc) Stop() {
	if p.cmd == nil {
		return
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
		p.cmd.Process.Kill()
		<-p.exited
	}
	p.cmd = nil
}

// Kill ends the member with SIGKILL, as a crash would, keeping its data.
func (p *Proc) Kill() {
	if p.cmd == nil {
		return
	}
	p.cmd.Process.Kill()
	<-p.exited
	p.cmd = nil
}

// Running says whether the member's process is up.
func (p *Proc) Running() bool { return p.cmd != nil }

// Healthy says whether the member answers and knows a leader (etcd's /health).
func (p *Proc) Healthy() bool {
	c := http.Client{Timeout: time.Second}
	resp, err := c.Get(p.clientURL + "/health")
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	buf := make([]byte, 64)
	n, _ := resp.Body.Read(buf)
	return resp.StatusCode == http.StatusOK && strings.Contains(string(buf[:n]), `"true"`)
}

// WaitHealthy waits until the member answers with a leader.
func (p *Proc) WaitHealthy(limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for !p.Healthy() {
		select {
		case <-p.exited:
			log, _ := os.ReadFile(filepath.Join(filepath.Dir(p.dir), p.name+".log"))
			return fmt.Errorf("etcd member %s exited: %s", p.name, tail(string(log), 2000))
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("etcd member %s has no leader after %v", p.name, limit)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil
}

// Endpoint is host:port for clients.
func (p *Proc) Endpoint() string { return strings.TrimPrefix(p.clientURL, "http://") }

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// ProcURL is an etcd:// store location on these members under prefix.
func ProcURL(ps []*Proc, prefix string) string {
	var hs []string
	for _, p := range ps {
		hs = append(hs, p.Endpoint())
	}
	return "etcd://" + strings.Join(hs, ",") + prefix
}

// EnableAuth turns on etcd's auth with a root user and a user (password
// pw) whose role may read and write everything under prefix.
func (p *Proc) EnableAuth(t testing.TB, user, pw, prefix string) {
	t.Helper()
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{p.Endpoint()}, DialTimeout: 30 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, step := range []func() error{
		func() error { _, err := cli.UserAdd(ctx, "root", "root-"+pw); return err },
		func() error { _, err := cli.UserGrantRole(ctx, "root", "root"); return err },
		func() error { _, err := cli.RoleAdd(ctx, user); return err },
		func() error {
			_, err := cli.RoleGrantPermission(ctx, user, prefix, clientv3.GetPrefixRangeEnd(prefix), clientv3.PermissionType(clientv3.PermReadWrite))
			return err
		},
		func() error { _, err := cli.UserAdd(ctx, user, pw); return err },
		func() error { _, err := cli.UserGrantRole(ctx, user, user); return err },
		func() error { _, err := cli.AuthEnable(ctx); return err },
	} {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
}
