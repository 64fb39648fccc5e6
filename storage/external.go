package storage

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync/atomic"
)

// The seam for a backend kept outside this package: etcd lives in
// storage/etcdstore, so a keyden that works on a file links no etcd client
// (its package initialisation alone cost every command about 3 ms).

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

// KV is one transaction over a store's buckets; Bucket is one bucket.
type (
	KV     = kv
	Bucket = bucket
)

// Backend is what a store outside this package provides to the core.
type Backend interface {
	// View and Write run fn in one read or write transaction.
	View(ctx context.Context, fn func(KV) error) error
	Write(ctx context.Context, fn func(KV) error) error
	// Location names the store in messages: never a credential.
	Location() string
	// NotStore is the sentence for a location that holds something else.
	NotStore() error
	// Batch is how many keys one bulk transaction may carry.
	Batch() int
	// Vacant refuses, with its own sentence, a location already in use.
	Vacant(ctx context.Context) error
}

type external struct{ Backend }

func (e external) view(ctx context.Context, fn func(kv) error) error  { return e.View(ctx, fn) }
func (e external) write(ctx context.Context, fn func(kv) error) error { return e.Write(ctx, fn) }
func (e external) location() string                                   { return e.Location() }
func (e external) notStore() error                                    { return e.NotStore() }
func (e external) batch() int                                         { return e.Batch() }
func (e external) vacant(ctx context.Context) error                   { return e.Vacant(ctx) }

// MaxTxnOps is how many operations the etcd backend puts in one
// transaction: inside etcd's default --max-txn-ops (128).
const MaxTxnOps = 120

// Core is the store's logic over a Backend from outside this package.
type Core struct{ core }

// NewCore makes a store over be; opt gets its defaults.
func NewCore(be Backend, opt Options) (*Core, error) {
	if err := opt.defaults(); err != nil {
		return nil, err
	}
	return &Core{core{be: external{be}, opt: opt, strs: &strTable{}, seen: new(atomic.Bool)}}, nil
}

// Options are the store's options, with their defaults.
func (c *Core) Options() Options { return c.opt }

// asActor is the same store acting as actor (see As).
func (c *Core) asActor(actor, key string) Store {
	n := *c
	n.opt.Actor, n.opt.ActorKey = actor, key
	return &n
}

// Backup writes a new bbolt file (0600) holding the whole key set: the
// same format `keyden --db FILE` opens.
func (c *Core) Backup(ctx context.Context, dst string) error {
	abs, err := filepath.Abs(dst)
	if err != nil {
		return fail(ErrInvalid, "the backup path %s cannot be used: %v", dst, err)
	}
	if st, err := os.Stat(abs); err == nil {
		if !st.Mode().IsRegular() || onPseudoFS(abs) {
			return fail(ErrInvalid, "the backup path %s is not a regular file but a device, pipe or system file: give a new file path", abs)
		}
		return fail(ErrExists, "%s already exists: remove it or give a new path", abs)
	}
	tmp := abs + ".partial"
	os.Remove(tmp)
	to, err := OpenBolt(tmp, c.opt)
	if err != nil {
		return err
	}
	if _, err := Copy(ctx, c, to); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Link(tmp, abs); err != nil {
		os.Remove(tmp)
		return fail(ErrExists, "cannot place the backup at %s: %v", abs, unwrapPathErr(err))
	}
	return os.Remove(tmp)
}

// Fail is an error of kind (ErrUnavailable, ErrInvalid…) whose text is the
// sentence a user sees.
func Fail(kind error, format string, args ...any) error { return fail(kind, format, args...) }

// FailWith is Fail for an error that also is cause (a context's error).
func FailWith(kind, cause error, msg string) error {
	return &storeError{kind: kind, cause: cause, msg: msg}
}

// IsStoreError says err already is one of the store's sentences.
func IsStoreError(err error) bool {
	var se *storeError
	return errors.As(err, &se)
}

// Stopped is nil for the error a walk's fn returns to end it early.
func Stopped(err error) error { return stopped(err) }

// Uint and AddUint read and change a big-endian counter in a bucket.
func Uint(bk Bucket, key []byte) uint64                { return getUint(bk, key) }
func AddUint(bk Bucket, key []byte, delta int64) error { return bumpUint(bk, key, delta) }

// AuditBucket is the audit bucket's name, and GuardKey the meta bucket's
// generation, which every write moves: a backend with a flat key space
// puts each bucket's keys under "name/".
var (
	AuditBucket = string(bucketAudit)
	GuardKey    = string(bucketMeta) + "/" + string(metaGen)
)

// PathErr is err without the path an *fs.PathError adds.
func PathErr(err error) error { return unwrapPathErr(err) }

// WithDefaults is o with every unset option at its default.
func (o Options) WithDefaults() (Options, error) {
	err := o.defaults()
	return o, err
}
