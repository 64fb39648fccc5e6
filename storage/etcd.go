package storage

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"os"
	"sort"
	"strings"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"keyden/model"
)

// EtcdConfig says where an etcd key set lives and how to reach it.
type EtcdConfig struct {
	Endpoints []string
	Prefix    string // every key of the store lives under it
	Username  string
	Password  string
	// TLS: a CA to trust, and a client certificate and key, as etcd's own
	// clients take them (--cacert, --cert, --key).
	CACert, Cert, Key string
	TLS               bool
}

// IsEtcdURL says whether a store location names etcd rather than a file.
func IsEtcdURL(s string) bool {
	return strings.HasPrefix(s, "etcd://") || strings.HasPrefix(s, "etcds://")
}

// ParseEtcdURL reads etcd://host:2379[,host:2379…]/prefix (etcds:// for
// TLS; user@ before the hosts for a user name). Secrets never come from
// the URL: the password is in KEYDEN_ETCD_PASSWORD, certificates in
// KEYDEN_ETCD_CACERT, KEYDEN_ETCD_CERT and KEYDEN_ETCD_KEY.
func ParseEtcdURL(s string, getenv func(string) string) (EtcdConfig, error) {
	bad := func(why string) (EtcdConfig, error) {
		return EtcdConfig{}, fail(ErrInvalid, "%s is not an etcd location (%s): write etcd://host:2379[,host:2379]/prefix", model.Quote(s), why)
	}
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok || (scheme != "etcd" && scheme != "etcds") {
		return bad("it does not start etcd:// or etcds://")
	}
	hosts, path, _ := strings.Cut(rest, "/")
	cfg := EtcdConfig{TLS: scheme == "etcds", Prefix: "/" + strings.Trim(path, "/")}
	if cfg.Prefix == "/" {
		cfg.Prefix = "/keyden"
	}
	if user, h, has := strings.Cut(hosts, "@"); has {
		if strings.Contains(user, ":") {
			return bad("a password in the URL would show in process lists; set KEYDEN_ETCD_PASSWORD")
		}
		cfg.Username, hosts = user, h
	}
	if hosts == "" {
		return bad("no host")
	}
	for _, h := range strings.Split(hosts, ",") {
		if h == "" || strings.ContainsAny(h, " ?#") {
			return bad("an empty or odd host")
		}
		if !strings.Contains(h, ":") {
			h += ":2379"
		}
		if cfg.TLS {
			cfg.Endpoints = append(cfg.Endpoints, "https://"+h)
		} else {
			cfg.Endpoints = append(cfg.Endpoints, "http://"+h)
		}
	}
	if getenv != nil {
		if v := getenv("KEYDEN_ETCD_USER"); v != "" && cfg.Username == "" {
			cfg.Username = v
		}
		cfg.Password = getenv("KEYDEN_ETCD_PASSWORD")
		cfg.CACert, cfg.Cert, cfg.Key = getenv("KEYDEN_ETCD_CACERT"), getenv("KEYDEN_ETCD_CERT"), getenv("KEYDEN_ETCD_KEY")
		if cfg.CACert != "" || cfg.Cert != "" {
			cfg.TLS = true
		}
	}
	return cfg, nil
}

// Etcd is the key set kept in etcd: the same logic as Bolt over a backend
// whose transactions read one revision and commit with compare guards.
type Etcd struct {
	core
	eb *etcdBackend
}

var _ Store = (*Etcd)(nil)

type etcdBackend struct {
	cli    *clientv3.Client
	prefix string
	where  string
	opt    *Options
}

// OpenEtcd connects to etcd; the store under the prefix is created by the
// first transaction if it is empty.
func OpenEtcd(cfg EtcdConfig, opt Options) (*Etcd, error) {
	if err := opt.defaults(); err != nil {
		return nil, err
	}
	// The client's own log would print JSON warnings on a user's terminal;
	// keyden says what went wrong in its own sentence instead.
	cc := clientv3.Config{Endpoints: cfg.Endpoints, DialTimeout: opt.Timeout, Username: cfg.Username, Password: cfg.Password,
		AutoSyncInterval: 30 * time.Second, DialKeepAliveTime: 10 * time.Second, Logger: zap.NewNop()}
	if cfg.TLS {
		tc := &tls.Config{MinVersion: tls.VersionTLS12}
		if cfg.CACert != "" {
			pem, err := os.ReadFile(cfg.CACert)
			if err != nil {
				return nil, fail(ErrInvalid, "cannot read the etcd CA certificate %s: %v", cfg.CACert, unwrapPathErr(err))
			}
			tc.RootCAs = x509.NewCertPool()
			if !tc.RootCAs.AppendCertsFromPEM(pem) {
				return nil, fail(ErrInvalid, "%s holds no PEM certificate: give the etcd CA in KEYDEN_ETCD_CACERT", cfg.CACert)
			}
		}
		if cfg.Cert != "" || cfg.Key != "" {
			pair, err := tls.LoadX509KeyPair(cfg.Cert, cfg.Key)
			if err != nil {
				return nil, fail(ErrInvalid, "cannot load the etcd client certificate (KEYDEN_ETCD_CERT, KEYDEN_ETCD_KEY): %v", err)
			}
			tc.Certificates = []tls.Certificate{pair}
		}
		cc.TLS = tc
	}
	cli, err := clientv3.New(cc)
	if errors.Is(err, rpctypes.ErrAuthFailed) {
		return nil, fail(ErrUnavailable, "etcd at %s refused the user name or password: check KEYDEN_ETCD_USER and KEYDEN_ETCD_PASSWORD", strings.Join(cfg.Endpoints, ","))
	}
	if err != nil {
		return nil, fail(ErrUnavailable, "cannot reach etcd at %s: %v", strings.Join(cfg.Endpoints, ","), err)
	}
	e := &Etcd{core: core{opt: opt}}
	e.eb = &etcdBackend{cli: cli, prefix: cfg.Prefix + "/", where: "etcd://" + hostsOf(cfg.Endpoints) + cfg.Prefix, opt: &e.core.opt}
	e.core.be = e.eb
	return e, nil
}

func hostsOf(eps []string) string {
	var hs []string
	for _, ep := range eps {
		hs = append(hs, strings.TrimPrefix(strings.TrimPrefix(ep, "http://"), "https://"))
	}
	return strings.Join(hs, ",")
}

// Close ends the connection to etcd.
func (e *Etcd) Close() error { return e.eb.cli.Close() }

// Client is the etcd client, for watches.
func (e *Etcd) Client() *clientv3.Client { return e.eb.cli }

func (b *etcdBackend) location() string { return b.where }

func (b *etcdBackend) batch() int { return maxTxnOps / 6 }

func (b *etcdBackend) notStore() error {
	return fail(ErrNotStore, "%s holds keys that are not a keyden store: choose another prefix", b.where)
}

func (b *etcdBackend) ctx() (context.Context, context.CancelFunc) {
	// Room for a leader election in a cluster that just lost its leader.
	return context.WithTimeout(context.Background(), 2*b.opt.Timeout)
}

func (b *etcdBackend) err(err error) error {
	if err == nil {
		return nil
	}
	var se *storeError
	if errors.As(err, &se) {
		return err
	}
	if errors.Is(err, rpctypes.ErrPermissionDenied) || errors.Is(err, rpctypes.ErrUserEmpty) || errors.Is(err, rpctypes.ErrInvalidAuthToken) {
		return fail(ErrUnavailable, "etcd at %s refused access: set KEYDEN_ETCD_USER and KEYDEN_ETCD_PASSWORD to a user whose role covers the prefix", b.where)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return fail(ErrUnavailable, "etcd at %s did not answer in time: check that a majority of its members are up", b.where)
	}
	return fail(ErrUnavailable, "etcd at %s: %v", b.where, err)
}

func (b *etcdBackend) view(fn func(kv) error) error {
	ctx, cancel := b.ctx()
	defer cancel()
	tx, err := b.begin(ctx)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		return err
	}
	return b.err(tx.err)
}

// maxTxnOps stays inside etcd's default --max-txn-ops (128).
const maxTxnOps = 120

// write runs fn against one revision and commits its writes only if no
// other writer committed since: the generation every write bumps is the
// guard. A lost race runs fn again on the new revision.
func (b *etcdBackend) write(fn func(kv) error) error {
	ctx, cancel := b.ctx()
	defer cancel()
	for attempt := 0; ; attempt++ {
		tx, err := b.begin(ctx)
		if err != nil {
			return err
		}
		tx.writable = true
		if err := fn(tx); err != nil {
			return err
		}
		if tx.err != nil {
			return b.err(tx.err)
		}
		if len(tx.order) == 0 {
			return nil
		}
		if len(tx.order) > maxTxnOps {
			return fail(ErrInvalid, "a change of %d writes is more than etcd takes in one transaction", len(tx.order))
		}
		ops := make([]clientv3.Op, 0, len(tx.order))
		for _, k := range tx.order {
			if v := tx.writes[k]; v == nil {
				ops = append(ops, clientv3.OpDelete(k))
			} else {
				ops = append(ops, clientv3.OpPut(k, string(*v)))
			}
		}
		guard := b.prefix + string(bucketMeta) + "/" + string(metaGen)
		resp, err := b.cli.Txn(ctx).If(clientv3.Compare(clientv3.ModRevision(guard), "=", tx.guardRev)).Then(ops...).Commit()
		if err != nil {
			return b.err(err)
		}
		if resp.Succeeded {
			return nil
		}
		if attempt == 50 {
			return fail(ErrBusy, "the key store %s is busy (other keydens keep writing); try again", b.where)
		}
		time.Sleep(time.Duration(1+attempt) * time.Millisecond)
	}
}

// begin pins a revision and reads the write guard at it.
func (b *etcdBackend) begin(ctx context.Context) (*etcdKV, error) {
	guard := b.prefix + string(bucketMeta) + "/" + string(metaGen)
	resp, err := b.cli.Get(ctx, guard)
	if err != nil {
		return nil, b.err(err)
	}
	tx := &etcdKV{be: b, ctx: ctx, rev: resp.Header.Revision, writes: map[string]*[]byte{}}
	if len(resp.Kvs) > 0 {
		tx.guardRev = resp.Kvs[0].ModRevision
	}
	return tx, nil
}

// etcdKV reads at one revision and buffers writes until commit.
type etcdKV struct {
	be       *etcdBackend
	ctx      context.Context
	rev      int64
	guardRev int64
	writable bool
	writes   map[string]*[]byte // nil value: delete
	order    []string
	err      error
}

func (t *etcdKV) Bucket(name []byte) bucket {
	return &etcdBucket{t: t, pfx: t.be.prefix + string(name) + "/"}
}
func (t *etcdKV) HasBucket([]byte) bool     { return true }
func (t *etcdKV) CreateBucket([]byte) error { return nil }

func (t *etcdKV) Empty() bool {
	if len(t.writes) > 0 {
		return false
	}
	resp, err := t.be.cli.Get(t.ctx, t.be.prefix, clientv3.WithPrefix(), clientv3.WithRev(t.rev), clientv3.WithCountOnly())
	if err != nil {
		t.err = err
		return false
	}
	return resp.Count == 0
}

func (t *etcdKV) set(k string, v *[]byte) {
	if _, ok := t.writes[k]; !ok {
		t.order = append(t.order, k)
	}
	t.writes[k] = v
}

type etcdBucket struct {
	t   *etcdKV
	pfx string
}

func (b *etcdBucket) Get(key []byte) []byte {
	k := b.pfx + string(key)
	if v, ok := b.t.writes[k]; ok {
		if v == nil {
			return nil
		}
		return *v
	}
	resp, err := b.t.be.cli.Get(b.t.ctx, k, clientv3.WithRev(b.t.rev))
	if err != nil {
		b.t.err = err
		return nil
	}
	if len(resp.Kvs) == 0 {
		return nil
	}
	return resp.Kvs[0].Value
}

func (b *etcdBucket) Put(key, value []byte) error {
	if !b.t.writable {
		return fail(ErrInvalid, "a write in a read transaction")
	}
	v := append([]byte(nil), value...)
	b.t.set(b.pfx+string(key), &v)
	return nil
}

func (b *etcdBucket) Delete(key []byte) error {
	b.t.set(b.pfx+string(key), nil)
	return nil
}

const etcdPage = 2000

// walk visits the bucket's keys in order (or reverse) from from, merging
// this transaction's own writes over what etcd holds at its revision.
func (b *etcdBucket) walk(from []byte, reverse bool, fn func(k, v []byte) error) error {
	var mine []string
	for k := range b.t.writes {
		if strings.HasPrefix(k, b.pfx) && (reverse || k >= b.pfx+string(from)) {
			mine = append(mine, k)
		}
	}
	sort.Strings(mine)
	if reverse {
		for i, j := 0, len(mine)-1; i < j; i, j = i+1, j-1 {
			mine[i], mine[j] = mine[j], mine[i]
		}
	}
	emitMine := func(upTo string, inclusive bool) error {
		for len(mine) > 0 {
			k := mine[0]
			if upTo != "" && ((!reverse && (k > upTo || (k == upTo && !inclusive))) || (reverse && (k < upTo || (k == upTo && !inclusive)))) {
				return nil
			}
			mine = mine[1:]
			if v := b.t.writes[k]; v != nil {
				if err := fn([]byte(k[len(b.pfx):]), *v); err != nil {
					return err
				}
			}
		}
		return nil
	}
	end := clientv3.GetPrefixRangeEnd(b.pfx)
	start := b.pfx + string(from)
	for {
		opts := []clientv3.OpOption{clientv3.WithRange(end), clientv3.WithRev(b.t.rev), clientv3.WithLimit(etcdPage)}
		if reverse {
			opts = append(opts, clientv3.WithSort(clientv3.SortByKey, clientv3.SortDescend))
		}
		resp, err := b.t.be.cli.Get(b.t.ctx, start, opts...)
		if err != nil {
			b.t.err = err
			return b.t.be.err(err)
		}
		for _, kv := range resp.Kvs {
			k := string(kv.Key)
			if err := emitMine(k, false); err != nil {
				return stopped(err)
			}
			if _, mineToo := b.t.writes[k]; mineToo {
				if len(mine) > 0 && mine[0] == k {
					mine = mine[1:]
				}
				if v := b.t.writes[k]; v != nil {
					if err := fn(kv.Key[len(b.pfx):], *v); err != nil {
						return stopped(err)
					}
				}
				continue
			}
			if err := fn(kv.Key[len(b.pfx):], kv.Value); err != nil {
				return stopped(err)
			}
		}
		if !resp.More || len(resp.Kvs) == 0 {
			break
		}
		last := string(resp.Kvs[len(resp.Kvs)-1].Key)
		if reverse {
			end = last // the range end is exclusive
		} else {
			start = last + "\x00"
		}
	}
	return stopped(emitMine("", false))
}

func (b *etcdBucket) ForEach(fn func(k, v []byte) error) error { return b.walk(nil, false, fn) }
func (b *etcdBucket) ForEachFrom(from []byte, fn func(k, v []byte) error) error {
	return b.walk(from, false, fn)
}
func (b *etcdBucket) ForEachReverse(fn func(k, v []byte) error) error { return b.walk(nil, true, fn) }

// Sequences live beside the buckets: prefix/seq/<bucket>.
func (b *etcdBucket) seqKey() []byte {
	name := strings.TrimSuffix(strings.TrimPrefix(b.pfx, b.t.be.prefix), "/")
	return []byte(name)
}

func (b *etcdBucket) Sequence() uint64 {
	return getUint(b.t.Bucket([]byte("seq")), b.seqKey())
}

func (b *etcdBucket) NextSequence() (uint64, error) {
	seqs := b.t.Bucket([]byte("seq"))
	n := getUint(seqs, b.seqKey()) + 1
	return n, bumpUint(seqs, b.seqKey(), 1)
}

func (b *etcdBucket) SetSequence(n uint64) error {
	seqs := b.t.Bucket([]byte("seq"))
	return bumpUint(seqs, b.seqKey(), int64(n)-int64(getUint(seqs, b.seqKey())))
}

// WatchChanges signals, without polling, whenever the change feed (the
// audit log) moves: an etcd watch on its prefix. Signals coalesce; one is
// also sent when a watch has to be re-established, so the reader re-syncs
// anything it might have missed. The channel closes when ctx ends.
func (e *Etcd) WatchChanges(ctx context.Context) <-chan struct{} {
	out := make(chan struct{}, 1)
	notify := func() {
		select {
		case out <- struct{}{}:
		default:
		}
	}
	go func() {
		defer close(out)
		for ctx.Err() == nil {
			wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
			for resp := range e.eb.cli.Watch(wctx, e.eb.prefix+string(bucketAudit)+"/", clientv3.WithPrefix()) {
				if resp.Err() != nil {
					break
				}
				notify()
			}
			cancel()
			notify()
			select {
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
	return out
}
