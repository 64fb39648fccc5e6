package etcdtest

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// Binary is Debian's etcd-server (etcd 3.4), the version many users run
// beside the embedded 3.6; .ci/run installs it.
const Binary = "/usr/bin/etcd"

// Process is one etcd server running as its own process.
type Process struct {
	Endpoint string // host:port for clients
	args     []string
	mu       sync.Mutex
	cmd      *exec.Cmd
	exited   chan struct{}
	log      bytes.Buffer
}

// StartProcess runs a single-member etcd from Binary with its data under
// dir and the extra flags given (such as --auth-token-ttl), and waits until
// it answers /health. Without the binary the test is skipped on a
// developer's machine and fails in CI (see NeedBinary).
func StartProcess(t testing.TB, dir string, extra ...string) *Process {
	t.Helper()
	NeedBinary(t)
	peer, client := freeURL(t), freeURL(t)
	p := &Process{Endpoint: client.Host, args: append([]string{
		"--name", "p0", "--data-dir", dir,
		"--listen-client-urls", client.String(), "--advertise-client-urls", client.String(),
		"--listen-peer-urls", peer.String(), "--initial-advertise-peer-urls", peer.String(),
		"--initial-cluster", "p0=" + peer.String(), "--log-level", "error", "--unsafe-no-fsync",
	}, extra...)}
	if err := p.start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Stop)
	return p
}

func (p *Process) start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	cmd := exec.Command(Binary, p.args...)
	cmd.Stdout, cmd.Stderr = &p.log, &p.log
	if err := cmd.Start(); err != nil {
		return err
	}
	p.cmd, p.exited = cmd, make(chan struct{})
	exited := p.exited
	go func() { cmd.Wait(); close(exited) }()
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get("http://" + p.Endpoint + "/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-exited:
			return fmt.Errorf("etcd exited at start: %s", p.log.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("etcd did not answer /health within 60 s")
		}
	}
}

// Stop ends the process (SIGTERM, then SIGKILL) and waits for it.
func (p *Process) Stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
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

// URL is an etcd:// store location on this process under prefix.
func (p *Process) URL(prefix string) string { return "etcd://" + p.Endpoint + prefix }

// EnableAuth turns on etcd's auth with a root user and a user (password
// pw) whose role may read and write everything under prefix.
func (p *Process) EnableAuth(t testing.TB, user, pw, prefix string) {
	t.Helper()
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{p.Endpoint}, DialTimeout: 30 * time.Second, Logger: zap.NewNop()})
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
