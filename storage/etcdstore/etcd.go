package etcdstore

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"keyden/storage"
)

// Etcd is the key set kept in etcd: the same logic as Bolt over a backend
// whose transactions read one revision and commit with compare guards.
type Etcd struct {
	*storage.Core
	eb *etcdBackend
	// lease holds this process's verifier record (see verifiers.go).
	leaseMu sync.Mutex
	lease   clientv3.LeaseID
}

var _ storage.Store = (*Etcd)(nil)

type etcdBackend struct {
	*etcdDialer
	prefix string
	opt    storage.Options
	// wrapTxn lets tests fail a write's commit before or after etcd applies it.
	wrapTxn func(clientv3.Txn) clientv3.Txn
}

// Open connects to etcd; the store under the prefix is created by the
// first transaction if it is empty. With a login that etcd checked (or a
// client certificate) the actor is the etcd user: etcd's login is the
// boundary, not the local account. A user name etcd did not check (its
// auth is off) proves nothing, so the actor stays the local one.
func Open(cfg storage.EtcdConfig, opt storage.Options) (*Etcd, error) {
	opt, err := opt.WithDefaults()
	if err != nil {
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
	eb := &etcdBackend{etcdDialer: d, prefix: cfg.Prefix + "/", opt: opt}
	c, err := storage.NewCore(eb, opt)
	if err != nil {
		return nil, err
	}
	return &Etcd{Core: c, eb: eb}, nil
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

func (b *etcdBackend) Location() string { return b.where }

func (b *etcdBackend) Batch() int { return maxTxnOps / 6 }

func (b *etcdBackend) NotStore() error {
	return storage.Fail(storage.ErrNotStore, "%s holds keys that are not a keyden store: choose another prefix", b.where)
}

// within bounds one call by the caller's context and the store's own
// timeout: twice it, room for a leader election in a cluster that just
// lost its leader. A verifier's read ends when its context does, so it can
// abandon one stuck on a cluster that has since come back.
func (b *etcdBackend) within(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, 2*b.opt.Timeout)
}

func (b *etcdBackend) Vacant(ctx context.Context) error {
	empty := false
	if err := b.View(ctx, func(tx storage.KV) error { empty = tx.Empty(); return nil }); err != nil {
		return err
	}
	if !empty {
		return storage.Fail(storage.ErrExists, "a key store already exists at %s: its prefix and format are fixed; use another location for a new one", b.where)
	}
	return nil
}

func (b *etcdBackend) err(err error) error { return etcdError(b.where, err) }

func (b *etcdBackend) View(ctx context.Context, fn func(storage.KV) error) error {
	ctx, cancel := b.within(ctx)
	defer cancel()
	tx, err := b.begin(ctx)
	if err != nil {
		return b.err(err)
	}
	err = fn(tx)
	if tx.err != nil {
		// A read that failed returned nothing, so what fn made of it
		// ("not found", "damaged") is not so: etcd's own error is.
		err = b.err(tx.err)
	}
	if err != nil {
		// fn may have kept part of what it read: the next call logs in again.
		b.renew(tx.s)
	}
	return err
}

const maxTxnOps = storage.MaxTxnOps

// txnKey, beside the buckets, holds a token each write puts in its own Txn,
// so a write whose answer was lost can be looked up (settle).
const txnKey = "txn"

// write runs fn against one revision and commits its writes only if no
// other writer committed since: the generation every write bumps is the
// guard (and txnKey, which this keyden also writes each time). A lost race
// runs fn again on the new revision. A commit whose answer is lost is
// settled: kept (done), or not and never to be (run again).
func (b *etcdBackend) Write(ctx context.Context, fn func(storage.KV) error) error {
	caller := ctx
	ctx, cancel := b.within(ctx)
	defer cancel()
	notKept := func() error {
		if errors.Is(caller.Err(), context.Canceled) {
			return storage.FailWith(storage.ErrUnavailable, caller.Err(), fmt.Sprintf("the change to etcd at %s was cancelled, and nothing was changed: run the command again", b.where))
		}
		return storage.Fail(storage.ErrUnavailable, "etcd at %s did not answer in time, and nothing was changed: check that a majority of its members are up, then try again", b.where)
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
			return storage.Fail(storage.ErrInvalid, "a change of %d writes is more than etcd takes in one transaction", len(tx.order))
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
				return storage.Fail(storage.ErrUnavailable, "etcd at %s stopped answering while saving the change, and keyden could not find out whether it was kept: see `keyden audit` before trying again", b.where)
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
			return storage.Fail(storage.ErrBusy, "the key store %s is busy (other keydens keep writing); try again", b.where)
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
	// bounded so one stuck on a dead member does not use it all up. Not
	// the caller's context: a caller that gave up (cancelled) must still be
	// told whether its change was kept.
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

func (b *etcdBackend) guardKey() string { return b.prefix + storage.GuardKey }

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

// WrapCommits wraps each write's commit from now on (nil: none), so tests
// can lose etcd's answer before or after it applies a write.
func (e *Etcd) WrapCommits(w func(clientv3.Txn) clientv3.Txn) { e.eb.wrapTxn = w }
