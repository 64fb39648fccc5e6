package etcdstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"keyden/storage"
)

// Every error etcd's client gives reaches the user as one of keyden's
// sentences: never gRPC's "rpc error: code = …" text.
func TestEtcdErrorsAreSentences(t *testing.T) {
	for _, c := range []struct {
		err  error
		want string
	}{
		{status.Error(codes.Unknown, "context deadline exceeded"), "did not answer in time"},
		{status.Error(codes.Unavailable, "error reading from server: EOF"), "did not answer in time"},
		{status.Error(codes.DeadlineExceeded, "context deadline exceeded"), "did not answer in time"},
		{fmt.Errorf("wrapped: %w", context.DeadlineExceeded), "did not answer in time"},
		{rpctypes.ErrGRPCNoLeader, "did not answer in time"},
		{rpctypes.ErrGRPCLeaderChanged, "did not answer in time"},
		{rpctypes.ErrGRPCTimeoutDueToLeaderFail, "did not answer in time"},
		{io.EOF, "did not answer in time"},
		{status.Error(codes.Canceled, "context canceled"), "cancelled"},
		{context.Canceled, "cancelled"},
		{rpctypes.ErrGRPCPermissionDenied, "refused access"},
		{status.Error(codes.Unauthenticated, "bad"), "refused access"},
		{rpctypes.ErrGRPCInvalidAuthToken, "refused access"},
		{rpctypes.ErrGRPCAuthFailed, "refused the user name or password"},
		{errLoginStale, "logging in again failed"},
		{rpctypes.ErrGRPCRequestTooLarge, "too large"},
		{rpctypes.ErrGRPCNoSpace, "out of space"},
		{status.Error(codes.Unavailable, "connection error: desc = \"transport: authentication handshake failed: tls: failed to verify certificate: x509: certificate signed by unknown authority\""), "KEYDEN_ETCD_CACERT"},
		{rpctypes.ErrGRPCCompacted, "failed (\"mvcc: required revision has been compacted\")"},
		{status.Error(codes.Internal, "something odd"), "see etcd's own log"},
		{status.Error(codes.Unavailable, "unexpected HTTP status code received from server: 502 (Bad Gateway); transport: received unexpected content-type \"text/html\""), "does not answer like etcd"},
	} {
		got := etcdError("etcd://h:2379/k", c.err)
		if !errors.Is(got, storage.ErrUnavailable) || !strings.Contains(got.Error(), c.want) || strings.Contains(got.Error(), "rpc error") ||
			strings.Contains(got.Error(), "code =") || !strings.Contains(got.Error(), "etcd://h:2379/k") {
			t.Errorf("%v\n  became %q, want a sentence with %q", c.err, got, c.want)
		}
	}
}

// slowAuth answers like etcd but never finishes a login.
type slowAuth struct{ pb.UnimplementedAuthServer }

func (*slowAuth) Authenticate(ctx context.Context, _ *pb.AuthenticateRequest) (*pb.AuthenticateResponse, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

// A login slower than its deadline is told apart from an endpoint that
// does not answer at all, and neither waits for the login deadline when
// nothing listens.
func TestEtcdSlowLoginIsNotUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer()
	pb.RegisterAuthServer(gs, &slowAuth{})
	go gs.Serve(ln)
	defer gs.Stop()
	cfg := storage.EtcdConfig{Endpoints: []string{"http://" + ln.Addr().String()}, Prefix: "/k", Username: "keyden", Password: "pw-never-shown"}
	_, err = Open(cfg, storage.Options{Actor: "alice", Timeout: time.Second, LoginTimeout: 300 * time.Millisecond})
	t.Logf("slow login: %v", err)
	if !errors.Is(err, storage.ErrUnavailable) || !strings.Contains(err.Error(), "is answering, but the login as \"keyden\" took longer than 300ms") ||
		strings.Contains(err.Error(), "pw-never-shown") {
		t.Fatalf("a slow login: %v", err)
	}

	dead, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := dead.Addr().String()
	dead.Close()
	cfg.Endpoints = []string{"http://" + addr}
	start := time.Now()
	_, err = Open(cfg, storage.Options{Actor: "alice", Timeout: time.Second, LoginTimeout: time.Hour})
	t.Logf("nothing listening: %v (%v)", err, time.Since(start))
	if !errors.Is(err, storage.ErrUnavailable) || !strings.Contains(err.Error(), "cannot reach etcd at etcd://"+addr+"/k: nothing listens there") {
		t.Fatalf("an endpoint with nothing listening: %v", err)
	}
	if time.Since(start) > time.Minute {
		t.Fatalf("an unreachable endpoint waited for the login deadline")
	}
}
