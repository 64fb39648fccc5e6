package storage

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

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
		return EtcdConfig{}, fail(ErrInvalid, "%s is not an etcd location (%s): write etcd://host:2379[,host:2379]/prefix", model.Quote(withoutPassword(s)), why)
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

// withoutPassword hides a password someone put in a location (user:pw@).
func withoutPassword(s string) string {
	scheme, rest, ok := strings.Cut(s, "://")
	hosts, path, slash := strings.Cut(rest, "/")
	at := strings.LastIndex(hosts, "@")
	user, pw, hasPw := strings.Cut(hosts[:max(at, 0)], ":")
	if !ok || at < 0 || !hasPw || pw == "" {
		return s
	}
	s = scheme + "://" + user + ":…@" + hosts[at+1:]
	if slash {
		s += "/" + path
	}
	return s
}

// Etcd is the key set kept in etcd: the same logic as Bolt over a backend
// whose transactions read one revision and commit with compare guards.
type Etcd struct {
	core
	eb *etcdBackend
}

var _ Store = (*Etcd)(nil)

type etcdBackend struct {
	*etcdDialer
	prefix string
	opt    *Options
	// wrapTxn lets tests fail a write's commit before or after etcd applies it.
	wrapTxn func(clientv3.Txn) clientv3.Txn
}

// OpenEtcd connects to etcd; the store under the prefix is created by the
// first transaction if it is empty. With a login that etcd checked (or a
// client certificate) the actor is the etcd user: etcd's login is the
// boundary, not the local account. A user name etcd did not check (its
// auth is off) proves nothing, so the actor stays the local one.
func OpenEtcd(cfg EtcdConfig, opt Options) (*Etcd, error) {
	if err := opt.defaults(); err != nil {
		return nil, err
	}
	d, err := newEtcdDialer(cfg, opt)
	if err != nil {
		return nil, err
	}
	s, err := d.open()
	if err != nil {
		return nil, err
	}
	d.cur.Store(s)
	if cfg.Username != "" && s.loggedIn.Load() {
		opt.Actor = cfg.Username
	} else if u := d.certUser(); u != "" {
		opt.Actor = u
	}
	e := &Etcd{core: core{opt: opt}}
	e.eb = &etcdBackend{etcdDialer: d, prefix: cfg.Prefix + "/", opt: &e.core.opt}
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
func (e *Etcd) Close() error { return e.eb.close() }

// Client is the etcd client in use now (a stale login replaces it), for watches.
func (e *Etcd) Client() *clientv3.Client { return e.eb.current().cli }

func (b *etcdBackend) location() string { return b.where }

func (b *etcdBackend) batch() int { return maxTxnOps / 6 }

func (b *etcdBackend) notStore() error {
	return fail(ErrNotStore, "%s holds keys that are not a keyden store: choose another prefix", b.where)
}

// within bounds one call by the caller's context and the store's own
// timeout: twice it, room for a leader election in a cluster that just
// lost its leader. A verifier's read ends when its context does, so it can
// abandon one stuck on a cluster that has since come back.
func (b *etcdBackend) within(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, 2*b.opt.Timeout)
}

func (b *etcdBackend) vacant(ctx context.Context) error {
	empty := false
	if err := b.view(ctx, func(tx kv) error { empty = tx.Empty(); return nil }); err != nil {
		return err
	}
	if !empty {
		return fail(ErrExists, "a key store already exists at %s: its prefix and format are fixed; use another location for a new one", b.where)
	}
	return nil
}

func (b *etcdBackend) err(err error) error { return etcdError(b.where, err) }

func (b *etcdBackend) view(ctx context.Context, fn func(kv) error) error {
	ctx, cancel := b.within(ctx)
	defer cancel()
	tx, err := b.begin(ctx)
	if err != nil {
		return b.err(err)
	}
	err = fn(tx)
	if err == nil {
		err = b.err(tx.err)
	}
	if err != nil {
		// fn may have kept part of what it read: the next call logs in again.
		b.renew(tx.s)
	}
	return err
}

// maxTxnOps stays inside etcd's default --max-txn-ops (128).
const maxTxnOps = 120

// txnKey, beside the buckets, holds a token each write puts in its own Txn,
// so a write whose answer was lost can be looked up (settle).
const txnKey = "txn"

// write runs fn against one revision and commits its writes only if no
// other writer committed since: the generation every write bumps is the
// guard (and txnKey, which this keyden also writes each time). A lost race
// runs fn again on the new revision. A commit whose answer is lost is
// settled: kept (done), or not and never to be (run again).
func (b *etcdBackend) write(ctx context.Context, fn func(kv) error) error {
	caller := ctx
	ctx, cancel := b.within(ctx)
	defer cancel()
	notKept := func() error {
		if errors.Is(caller.Err(), context.Canceled) {
			return &storeError{kind: ErrUnavailable, cause: caller.Err(),
				msg: fmt.Sprintf("the change to etcd at %s was cancelled, and nothing was changed: run the command again", b.where)}
		}
		return fail(ErrUnavailable, "etcd at %s did not answer in time, and nothing was changed: check that a majority of its members are up, then try again", b.where)
	}
	lost := 0 // commits settled as not kept
	for attempt := 0; ; attempt++ {
		tx, err := b.begin(ctx)
		if err != nil {
			if lost > 0 || isTimeout(err) || caller.Err() != nil {
				return notKept() // nothing of this write was sent
			}
			return b.err(err)
		}
		tx.writable = true
		err = fn(tx)
		if tx.err != nil {
			b.renew(tx.s)
			if isTimeout(tx.err) {
				return notKept()
			}
			return b.err(tx.err)
		}
		if err != nil {
			return err
		}
		if len(tx.order) == 0 {
			return nil
		}
		if len(tx.order) > maxTxnOps {
			return fail(ErrInvalid, "a change of %d writes is more than etcd takes in one transaction", len(tx.order))
		}
		ops := make([]clientv3.Op, 0, len(tx.order)+1)
		for _, k := range tx.order {
			if v := tx.writes[k]; v == nil {
				ops = append(ops, clientv3.OpDelete(k))
			} else {
				ops = append(ops, clientv3.OpPut(k, string(*v)))
			}
		}
		tok := rand.Text()
		ops = append(ops, clientv3.OpPut(b.prefix+txnKey, tok))
		txn := tx.cli.Txn(ctx)
		if b.wrapTxn != nil {
			txn = b.wrapTxn(txn)
		}
		resp, err := txn.If(clientv3.Compare(clientv3.ModRevision(b.guardKey()), "=", tx.guardRev),
			clientv3.Compare(clientv3.ModRevision(b.prefix+txnKey), "=", tx.txnRev)).Then(ops...).Commit()
		if err != nil {
			if refusedBeforeApply(err) {
				return b.err(err)
			}
			applied, serr := b.settle(tok, tx.txnRev)
			if serr != nil {
				return fail(ErrUnavailable, "etcd at %s stopped answering while saving the change, and keyden could not find out whether it was kept: see `keyden audit` before trying again", b.where)
			}
			if applied {
				return nil
			}
			lost++
			select {
			case <-ctx.Done():
				return notKept()
			case <-time.After(time.Duration(lost) * 20 * time.Millisecond): // a leader election
			}
			continue
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

// refusedBeforeApply says etcd turned a request down rather than lost it:
// nothing was applied, and trying again would be refused again.
func refusedBeforeApply(err error) bool {
	if errors.Is(err, errLoginStale) {
		return false
	}
	switch status.Code(err) {
	case codes.PermissionDenied, codes.Unauthenticated, codes.InvalidArgument, codes.ResourceExhausted, codes.FailedPrecondition:
		return true
	}
	ee := rpctypes.Error(err)
	for _, t := range []error{rpctypes.ErrPermissionDenied, rpctypes.ErrUserEmpty, rpctypes.ErrAuthFailed, rpctypes.ErrTooManyOps,
		rpctypes.ErrDuplicateKey, rpctypes.ErrRequestTooLarge, rpctypes.ErrNoSpace} {
		if errors.Is(ee, t) {
			return true
		}
	}
	return false
}

// settle finds out whether the write that put tok was applied. A fence
// (a put of txnKey if it is still as the write found it) first makes sure
// it can no longer apply; then txnKey's history says whether the first
// write after txnRev was this one.
func (b *etcdBackend) settle(tok string, txnRev int64) (bool, error) {
	// An answer is worth waiting for: longer than a request, each try
	// bounded so one stuck on a dead member does not use it all up.
	ctx, cancel := context.WithTimeout(context.Background(), 5*b.opt.Timeout)
	defer cancel()
	key := b.prefix + txnKey
	for {
		s := b.current()
		tctx, tcancel := context.WithTimeout(ctx, b.opt.Timeout)
		resp, err := s.cli.Txn(tctx).If(clientv3.Compare(clientv3.ModRevision(key), "=", txnRev)).Then(clientv3.OpPut(key, "fence "+tok)).Commit()
		if err == nil {
			defer tcancel()
			if resp.Succeeded {
				return false, nil
			}
			return firstAfter(ctx, s.cli, key, txnRev, tok)
		}
		tcancel()
		if renewed, rerr := b.renew(s); rerr != nil {
			return false, rerr
		} else if renewed {
			continue
		}
		select {
		case <-ctx.Done():
			return false, err
		case <-time.After(100 * time.Millisecond): // a leader election
		}
	}
}

// firstAfter says whether the first version of key written after rev holds tok.
func firstAfter(ctx context.Context, cli *clientv3.Client, key string, rev int64, tok string) (bool, error) {
	var first []byte
	var at []clientv3.OpOption
	for {
		resp, err := cli.Get(ctx, key, at...)
		if err != nil {
			return false, err
		}
		if len(resp.Kvs) == 0 || resp.Kvs[0].ModRevision <= rev {
			return first != nil && string(first) == tok, nil
		}
		first = resp.Kvs[0].Value
		at = []clientv3.OpOption{clientv3.WithRev(resp.Kvs[0].ModRevision - 1)}
	}
}

func (b *etcdBackend) guardKey() string { return b.prefix + string(bucketMeta) + "/" + string(metaGen) }

// begin pins a revision and reads the write guards at it. A login that
// went stale is renewed and the read tried once more. Its error is etcd's
// own (or a sentence): the caller knows what was at stake.
func (b *etcdBackend) begin(ctx context.Context) (*etcdKV, error) {
	for try := 0; ; try++ {
		s := b.current()
		resp, err := s.cli.Txn(ctx).Then(clientv3.OpGet(b.guardKey()), clientv3.OpGet(b.prefix+txnKey)).Commit()
		if err != nil {
			if renewed, rerr := b.renew(s); rerr != nil {
				return nil, rerr
			} else if renewed && try == 0 {
				continue
			}
			return nil, err
		}
		tx := &etcdKV{be: b, s: s, cli: s.cli, ctx: ctx, rev: resp.Header.Revision, writes: map[string]*[]byte{}}
		if kvs := resp.Responses[0].GetResponseRange().Kvs; len(kvs) > 0 {
			tx.guardRev = kvs[0].ModRevision
		}
		if kvs := resp.Responses[1].GetResponseRange().Kvs; len(kvs) > 0 {
			tx.txnRev = kvs[0].ModRevision
		}
		return tx, nil
	}
}

// etcdKV reads at one revision and buffers writes until commit.
type etcdKV struct {
	be       *etcdBackend
	s        *session
	cli      *clientv3.Client
	ctx      context.Context
	rev      int64
	guardRev int64
	txnRev   int64
	writable bool
	writes   map[string]*[]byte // nil value: delete
	order    []string
	err      error
}

func (t *etcdKV) revision() int64 { return t.rev }

func (t *etcdKV) Bucket(name []byte) bucket {
	return &etcdBucket{t: t, pfx: t.be.prefix + string(name) + "/"}
}
func (t *etcdKV) HasBucket([]byte) bool     { return true }
func (t *etcdKV) CreateBucket([]byte) error { return nil }

// Empty: nothing under the prefix but, perhaps, txnKey (a settled write's fence).
func (t *etcdKV) Empty() bool {
	if len(t.writes) > 0 {
		return false
	}
	resp, err := t.cli.Get(t.ctx, t.be.prefix, clientv3.WithPrefix(), clientv3.WithRev(t.rev), clientv3.WithKeysOnly(), clientv3.WithLimit(2))
	if err != nil {
		t.err = err
		return false
	}
	return resp.Count == 0 || (resp.Count == 1 && string(resp.Kvs[0].Key) == t.be.prefix+txnKey)
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
	resp, err := b.t.cli.Get(b.t.ctx, k, clientv3.WithRev(b.t.rev))
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
		resp, err := b.t.cli.Get(b.t.ctx, start, opts...)
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

// A WatchSignal tells a follower to read the change feed: something may
// have changed, or the watch came back and anything may have.
type WatchSignal struct {
	// Watching says the watch is in place: changes from now on will be
	// signalled. While it is false only reading confirms anything.
	Watching bool
	// Rev is the newest revision the watch has seen (0 before it has).
	Rev int64
	// Reload says the watch could not resume where it stopped (etcd
	// compacted that history): read every key again.
	Reload bool
}

// WatchChanges signals, without polling, whenever the change feed (the
// audit log) moves: an etcd watch on its prefix. A watch that ends (no
// leader, a lost connection) is re-created from the revision after the last
// one it saw, so no commit falls between two watches, and a signal is sent
// once the new watch is in place, so the read it causes misses nothing. The
// watch requires a leader: on a member cut off from its quorum it is
// cancelled rather than silently waiting. Signals coalesce; the channel
// closes when ctx ends.
func (e *Etcd) WatchChanges(ctx context.Context) <-chan WatchSignal {
	out := make(chan WatchSignal, 1)
	// Only this goroutine sends, so a full channel is merged into, never lost.
	send := func(s WatchSignal) {
		for {
			select {
			case out <- s:
				return
			default:
			}
			select {
			case old := <-out:
				s.Reload = s.Reload || old.Reload
				s.Rev = max(s.Rev, old.Rev)
			default:
			}
		}
	}
	go func() {
		defer close(out)
		var next, seen int64 // next: where a new watch starts (0: now)
		pause := watchRetryMin
		for ctx.Err() == nil {
			s := e.eb.current()
			cli := s.cli
			wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
			opts := []clientv3.OpOption{clientv3.WithPrefix(), clientv3.WithCreatedNotify()}
			if next > 0 {
				opts = append(opts, clientv3.WithRev(next))
			}
			for resp := range cli.Watch(wctx, e.eb.prefix+string(bucketAudit)+"/", opts...) {
				if resp.CompactRevision > 0 {
					// What happened between next and the compaction is gone
					// from etcd's history: resume at the compaction, reload.
					next = resp.CompactRevision
					send(WatchSignal{Reload: true, Rev: seen})
					break
				}
				if resp.Err() != nil {
					break
				}
				if resp.Created {
					if next == 0 {
						next = resp.Header.Revision + 1
					}
					pause = watchRetryMin
				}
				// A catching-up watch's header may run ahead of the events
				// it has sent so far: only events move next.
				if n := len(resp.Events); n > 0 {
					next = resp.Events[n-1].Kv.ModRevision + 1
					seen = max(seen, next-1)
				}
				send(WatchSignal{Watching: true, Rev: seen})
			}
			cancel()
			e.eb.renew(s) // a watch refused for a stale login
			send(WatchSignal{Rev: seen})
			select {
			case <-ctx.Done():
			case <-time.After(pause):
			}
			pause = min(2*pause, watchRetryMax)
		}
	}()
	return out
}

// A watch that cannot be re-created is tried again after watchRetryMin,
// doubling up to watchRetryMax.
const (
	watchRetryMin = 50 * time.Millisecond
	watchRetryMax = 250 * time.Millisecond // a failed attempt costs etcd next to nothing
)
