package etcdstore

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"keyden/model"
	"keyden/storage"
)

// session is one etcd client and whether its login went stale.
type session struct {
	cli *clientv3.Client
	// stale: the server refused to log in again because the request
	// carried the expired token. etcd 3.4 does that, and the client
	// would retry until every deadline passed; only a new client (with
	// no token) can log in again.
	stale atomic.Bool
	// loggedIn: the server took a user name and password (its auth is on).
	loggedIn atomic.Bool
}

// errLoginStale ends the client's own Authenticate→refresh loop.
var errLoginStale = status.Error(codes.Unauthenticated, "keyden: the etcd login expired")

const authenticateMethod = "/etcdserverpb.Auth/Authenticate"

// intercept sees every attempt of every call, under the client's own retries.
func (s *session) intercept(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	err := invoker(ctx, method, req, reply, cc, opts...)
	if err == nil && method == authenticateMethod {
		s.loggedIn.Store(true)
	}
	if err != nil && method == authenticateMethod && errors.Is(rpctypes.Error(err), rpctypes.ErrInvalidAuthToken) {
		s.stale.Store(true)
		return errLoginStale
	}
	return err
}

// etcdDialer makes clients with one configuration: the first, and a new
// one each time a login goes stale.
type etcdDialer struct {
	cc    clientv3.Config
	where string
	login time.Duration
	probe time.Duration
	mu    sync.Mutex // one renewal at a time
	cur   atomic.Pointer[session]
}

// loginTimeout is how long a login may take: etcd checks passwords with
// bcrypt, which is slow on a loaded server, so it gets more than a request.
func loginTimeout(opt storage.Options) time.Duration {
	return max(10*time.Second, 5*opt.Timeout)
}

func newEtcdDialer(cfg storage.EtcdConfig, opt storage.Options) (*etcdDialer, error) {
	d := &etcdDialer{where: etcdName(cfg), login: opt.LoginTimeout, probe: opt.Timeout}
	if d.login <= 0 {
		d.login = loginTimeout(opt)
	}
	// DialTimeout bounds only the login: the client dials without blocking.
	// The client's own log would print JSON warnings on a user's terminal;
	// keyden says what went wrong in its own sentence instead. A member that
	// went down is dialled again within 250 ms, not after gRPC's default
	// backoff (1 s growing to 2 min): otherwise, after a lost quorum, a
	// verifier's reads could go for seconds only to the member that stayed
	// up, waiting there, while the restarted ones could already answer.
	d.cc = clientv3.Config{Endpoints: cfg.Endpoints, DialTimeout: d.login, Username: cfg.Username, Password: cfg.Password,
		AutoSyncInterval: 30 * time.Second, DialKeepAliveTime: 10 * time.Second, Logger: zap.NewNop(),
		DialOptions: []grpc.DialOption{grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: 50 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: 250 * time.Millisecond},
			MinConnectTimeout: 20 * time.Second,
		})}}
	if !cfg.TLS {
		return d, nil
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if cfg.CACert != "" {
		pem, err := os.ReadFile(cfg.CACert)
		if err != nil {
			return nil, storage.Fail(storage.ErrInvalid, "cannot read the etcd CA certificate %s: %v", cfg.CACert, storage.PathErr(err))
		}
		tc.RootCAs = x509.NewCertPool()
		if !tc.RootCAs.AppendCertsFromPEM(pem) {
			return nil, storage.Fail(storage.ErrInvalid, "%s holds no PEM certificate: give the etcd CA in KEYDEN_ETCD_CACERT", cfg.CACert)
		}
	}
	if cfg.Cert != "" || cfg.Key != "" {
		pair, err := tls.LoadX509KeyPair(cfg.Cert, cfg.Key)
		if err != nil {
			return nil, storage.Fail(storage.ErrInvalid, "cannot load the etcd client certificate (KEYDEN_ETCD_CERT, KEYDEN_ETCD_KEY): %v", err)
		}
		tc.Certificates = []tls.Certificate{pair}
	}
	d.cc.TLS = tc
	return d, nil
}

// certUser is the common name of the client certificate, which etcd takes
// as the user name when a certificate rather than a password signs in.
func (d *etcdDialer) certUser() string {
	if d.cc.TLS == nil || len(d.cc.TLS.Certificates) == 0 || d.cc.TLS.Certificates[0].Leaf == nil {
		return ""
	}
	return d.cc.TLS.Certificates[0].Leaf.Subject.CommonName
}

// etcdName names a store in messages and logs: never a user name or
// password; etcds:// when TLS is on.
func etcdName(cfg storage.EtcdConfig) string {
	scheme := "etcd://"
	if cfg.TLS {
		scheme = "etcds://"
	}
	return scheme + hostsOf(cfg.Endpoints) + cfg.Prefix
}

// open makes a new client, after checking that some member answers like
// etcd, so a wrong address or TLS set-up fails at once with its reason.
func (d *etcdDialer) open() (*session, error) {
	pctx, cancel := context.WithTimeout(context.Background(), d.probe)
	defer cancel()
	if err := probeEtcd(pctx, d.cc.Endpoints, d.cc.TLS, d.where); err != nil {
		return nil, err
	}
	s := &session{}
	cc := d.cc
	cc.DialOptions = append(append([]grpc.DialOption(nil), cc.DialOptions...), grpc.WithChainUnaryInterceptor(s.intercept))
	cli, err := clientv3.New(cc)
	switch {
	case err == nil:
		s.cli = cli
		return s, nil
	case errors.Is(err, rpctypes.ErrAuthFailed):
		return nil, storage.Fail(storage.ErrUnavailable, "etcd at %s refused the user name or password: check KEYDEN_ETCD_USER and KEYDEN_ETCD_PASSWORD", d.where)
	case d.cc.Username != "" && isTimeout(err):
		return nil, storage.Fail(storage.ErrUnavailable, "etcd at %s is answering, but the login as %s took longer than %v: try again, or give it longer with KEYDEN_LOCK_TIMEOUT (a login may take five times it)",
			d.where, model.Quote(d.cc.Username), d.login)
	}
	return nil, etcdError(d.where, err)
}

// current is the client in use.
func (d *etcdDialer) current() *session { return d.cur.Load() }

// renew replaces s with a new client when its login went stale; it does
// nothing when s is fine or another caller has already replaced it.
func (d *etcdDialer) renew(s *session) (bool, error) {
	if !s.stale.Load() {
		return false, nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cur.Load() != s {
		return true, nil
	}
	ns, err := d.open()
	if err != nil {
		return false, err
	}
	d.cur.Store(ns)
	s.cli.Close()
	return true, nil
}

func (d *etcdDialer) close() error { return d.current().cli.Close() }

// isTimeout says whether err means a deadline passed, in any of the forms
// the client and the servers give it.
func isTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) {
		return true
	}
	if s, ok := status.FromError(err); ok {
		return s.Code() == codes.DeadlineExceeded || strings.Contains(s.Message(), "deadline exceeded")
	}
	return strings.Contains(err.Error(), "deadline exceeded")
}

// etcdError is keyden's sentence for an error from etcd: never gRPC's raw text.
func etcdError(where string, err error) error {
	if err == nil {
		return nil
	}
	if storage.IsStoreError(err) {
		return err
	}
	code, msg := codes.Unknown, err.Error()
	if s, ok := status.FromError(err); ok {
		code, msg = s.Code(), s.Message()
	}
	ee := rpctypes.Error(err)
	is := func(targets ...error) bool {
		for _, t := range targets {
			if errors.Is(ee, t) || errors.Is(err, t) {
				return true
			}
		}
		return false
	}
	switch {
	case is(errLoginStale):
		return storage.Fail(storage.ErrUnavailable, "etcd at %s refused keyden's login, which had expired, and logging in again failed: try again", where)
	case is(rpctypes.ErrAuthFailed):
		return storage.Fail(storage.ErrUnavailable, "etcd at %s refused the user name or password: check KEYDEN_ETCD_USER and KEYDEN_ETCD_PASSWORD", where)
	case is(rpctypes.ErrPermissionDenied, rpctypes.ErrUserEmpty, rpctypes.ErrInvalidAuthToken, rpctypes.ErrAuthOldRevision, rpctypes.ErrUserNotFound) ||
		code == codes.PermissionDenied || code == codes.Unauthenticated:
		return storage.Fail(storage.ErrUnavailable, "etcd at %s refused access: set KEYDEN_ETCD_USER and KEYDEN_ETCD_PASSWORD to a user whose role covers the prefix", where)
	case tlsTrouble(msg) != "":
		return storage.Fail(storage.ErrUnavailable, "etcd at %s: %s", where, tlsTrouble(msg))
	case strings.Contains(msg, "unexpected HTTP status code") || strings.Contains(msg, "unexpected content-type") || strings.Contains(msg, "malformed header"):
		return storage.Fail(storage.ErrUnavailable, "the server at %s does not answer like etcd: check the address and port (etcd's client port is usually 2379)", where)
	case is(context.Canceled) || code == codes.Canceled:
		return storage.FailWith(storage.ErrUnavailable, context.Canceled, fmt.Sprintf("the request to etcd at %s was cancelled before it was answered: run the command again", where))
	case is(rpctypes.ErrNoSpace):
		return storage.Fail(storage.ErrUnavailable, "etcd at %s is out of space (its quota alarm is set): compact and defragment it, then disarm the alarm", where)
	case is(rpctypes.ErrRequestTooLarge, rpctypes.ErrTooManyRequests, rpctypes.ErrTooManyOps) || code == codes.ResourceExhausted:
		return storage.Fail(storage.ErrUnavailable, "etcd at %s refused the request as too large or too many at once: try again, or raise etcd's --max-request-bytes", where)
	case isTimeout(err) || is(io.EOF, io.ErrUnexpectedEOF, rpctypes.ErrNoLeader, rpctypes.ErrNotCapable, rpctypes.ErrStopped, rpctypes.ErrTimeout,
		rpctypes.ErrTimeoutDueToLeaderFail, rpctypes.ErrTimeoutDueToConnectionLost, rpctypes.ErrLeaderChanged, rpctypes.ErrTimeoutWaitAppliedIndex) ||
		code == codes.Unavailable || strings.Contains(msg, "EOF"):
		return storage.Fail(storage.ErrUnavailable, "etcd at %s did not answer in time: check that a majority of its members are up", where)
	}
	msg = strings.TrimPrefix(msg, "etcdserver: ")
	return storage.Fail(storage.ErrUnavailable, "etcd at %s failed (%s): try again, and see etcd's own log if it goes on", where, model.Quote(msg))
}

// tlsTrouble names what is wrong with a TLS set-up from an error's text
// ("" when the error is not about TLS).
func tlsTrouble(msg string) string {
	switch {
	case strings.Contains(msg, "x509: certificate signed by unknown authority"):
		return "its TLS certificate is not signed by the CA keyden trusts: set KEYDEN_ETCD_CACERT to the CA that signed etcd's certificate"
	case strings.Contains(msg, "x509:"):
		return "its TLS certificate was refused (" + model.Quote(msg[strings.Index(msg, "x509:"):]) + "): check the certificate and KEYDEN_ETCD_CACERT"
	case strings.Contains(msg, "certificate required"), strings.Contains(msg, "bad certificate"):
		return "it wants a TLS client certificate that it accepts: set KEYDEN_ETCD_CERT and KEYDEN_ETCD_KEY to one signed by its CA"
	case strings.Contains(msg, "first record does not look like a TLS handshake"):
		return "it does not speak TLS: write etcd:// instead of etcds:// and leave KEYDEN_ETCD_CACERT, KEYDEN_ETCD_CERT and KEYDEN_ETCD_KEY unset"
	case strings.Contains(msg, "tls:"):
		return "the TLS handshake failed (" + model.Quote(msg[strings.Index(msg, "tls:"):]) + "): check KEYDEN_ETCD_CACERT, KEYDEN_ETCD_CERT and KEYDEN_ETCD_KEY"
	}
	return ""
}

// http2Preface opens an HTTP/2 connection, with an empty SETTINGS frame.
const http2Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + "\x00\x00\x00\x04\x00\x00\x00\x00\x00"

// probeEtcd reaches the endpoints at once, each as far as gRPC's transport
// (TCP, TLS when on, HTTP/2's opening), and returns nil as soon as one
// answers; otherwise the sentence for the most telling failure.
func probeEtcd(ctx context.Context, endpoints []string, tc *tls.Config, where string) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make(chan error, len(endpoints))
	for _, ep := range endpoints {
		go func() { errs <- probeOne(ctx, ep, tc) }()
	}
	var worst error
	for range endpoints {
		err := <-errs
		if err == nil {
			return nil
		}
		if worst == nil || (tlsTrouble(worst.Error()) == "" && tlsTrouble(err.Error()) != "") {
			worst = err
		}
	}
	msg := worst.Error()
	switch {
	case tlsTrouble(msg) != "":
		return storage.Fail(storage.ErrUnavailable, "etcd at %s: %s", where, tlsTrouble(msg))
	case errors.Is(worst, errPlainToTLS):
		return storage.Fail(storage.ErrUnavailable, "etcd at %s closed the connection when spoken to without TLS: if it takes TLS, write etcds:// and set KEYDEN_ETCD_CACERT", where)
	case errors.Is(worst, errTLSToPlain):
		return storage.Fail(storage.ErrUnavailable, "etcd at %s closed the connection in the TLS handshake: if it does not speak TLS, write etcd:// instead of etcds:// and leave KEYDEN_ETCD_CACERT, KEYDEN_ETCD_CERT and KEYDEN_ETCD_KEY unset", where)
	case errors.Is(worst, errNotEtcd):
		return storage.Fail(storage.ErrUnavailable, "the server at %s does not answer like etcd: check the address and port (etcd's client port is usually 2379)", where)
	case errors.Is(worst, syscall.ECONNREFUSED):
		return storage.Fail(storage.ErrUnavailable, "cannot reach etcd at %s: nothing listens there; check the address and that etcd is running", where)
	case isTimeout(worst):
		return storage.Fail(storage.ErrUnavailable, "cannot reach etcd at %s: no member answered within %v; check the address, the network and that etcd is running", where, probeLimit(ctx))
	}
	var ne net.Error
	if errors.As(worst, &ne) || errors.Is(worst, io.EOF) {
		return storage.Fail(storage.ErrUnavailable, "cannot reach etcd at %s (%s): check the address and that etcd is running", where, model.Quote(strings.TrimSpace(lastPart(msg))))
	}
	return storage.Fail(storage.ErrUnavailable, "cannot reach etcd at %s (%s): check the address and that etcd is running", where, model.Quote(lastPart(msg)))
}

func probeLimit(ctx context.Context) time.Duration {
	if dl, ok := ctx.Deadline(); ok {
		return time.Until(dl).Round(time.Second)
	}
	return 0
}

func lastPart(msg string) string {
	if i := strings.LastIndex(msg, ": "); i >= 0 {
		return msg[i+2:]
	}
	return msg
}

var (
	errPlainToTLS = errors.New("closed on a plain HTTP/2 opening")
	errTLSToPlain = errors.New("closed in the TLS handshake")
	errNotEtcd    = errors.New("not HTTP/2")
)

func probeOne(ctx context.Context, endpoint string, tc *tls.Config) error {
	host := endpoint[strings.Index(endpoint, "://")+3:]
	var d net.Dialer
	raw, err := d.DialContext(ctx, "tcp", host)
	if err != nil {
		return err
	}
	defer raw.Close()
	stop := context.AfterFunc(ctx, func() { raw.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	conn := raw
	if tc != nil {
		c := tc.Clone()
		c.NextProtos = []string{"h2"}
		if c.ServerName == "" {
			c.ServerName, _, _ = net.SplitHostPort(host)
		}
		tconn := tls.Client(raw, c)
		if err := tconn.HandshakeContext(ctx); err != nil {
			if err = ctxOr(ctx, err); errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) {
				return errTLSToPlain
			}
			return err
		}
		conn = tconn
	}
	if _, err := io.WriteString(conn, http2Preface); err != nil {
		return ctxOr(ctx, err)
	}
	// A server's first frame is its SETTINGS: a 9-byte header of type 4.
	var hdr [9]byte
	if _, err := io.ReadFull(bufio.NewReader(conn), hdr[:]); err != nil {
		err = ctxOr(ctx, err)
		if tc == nil && (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET)) {
			return errPlainToTLS
		}
		return err
	}
	if hdr[3] != 4 {
		if tc == nil && hdr[0] == 0x15 { // a TLS alert record
			return errPlainToTLS
		}
		return errNotEtcd
	}
	return nil
}

// ctxOr prefers the context's deadline to the I/O error it caused.
func ctxOr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}
