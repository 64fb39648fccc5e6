package storage

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"keyden/keygen"
	"keyden/model"
)

// SchemaVersion is the layout this keyden writes and the newest it reads.
// Version 2 writes key records without their id and with daily use
// counts (model's record version 2). A version 1 store is read as it is
// and marked version 2 by its first write, since that write may add
// records a keyden of version 1 cannot read; records are rewritten in
// the new layout as they change. Version 3 adds the table of strings
// (strtable.go) that records of version 3 refer to.
const SchemaVersion = 3

// DefaultTimeout is how long an operation waits for another keyden's lock
// (bbolt) or for the cluster (etcd).
const DefaultTimeout = 3 * time.Second

var (
	bucketMeta     = []byte("meta")
	bucketEnvs     = []byte("environments")
	bucketChannels = []byte("channels")
	bucketKeys     = []byte("keys")
	bucketHashes   = []byte("hashes")
	bucketMembers  = []byte("members")
	bucketAudit    = []byte("audit")
	allBuckets     = [][]byte{bucketMeta, bucketEnvs, bucketChannels, bucketKeys, bucketHashes, bucketMembers, bucketAudit}

	metaSchema    = []byte("schema")
	metaPrefix    = []byte("prefix")
	metaFormat    = []byte("format")
	metaCreatedAt = []byte("created_at")
	metaCreatedBy = []byte("created_by")
	metaGen       = []byte("generation")
	metaKeysGen   = []byte("keys_generation")
	metaKeyCount  = []byte("keys")
	metaUsageSeq  = []byte("usage_seq")
)

// Options configure a store.
type Options struct {
	// Actor is the OS user acting; it is written into created_by and the audit log.
	Actor string
	// ActorKey is the fingerprint of the SSH key the actor came in with
	// (keyden ssh); the audit log records it beside the actor.
	ActorKey string
	// Timeout bounds the wait for another process's lock, or the cluster
	// (DefaultTimeout if 0).
	Timeout time.Duration
	// Now is the clock (time.Now if nil); tests inject one.
	Now func() time.Time
	// Rand is where new key ids and secrets come from (crypto/rand if nil).
	// It exists only so tests can make a store reproducible; nothing on
	// the command line or in the environment sets it.
	Rand io.Reader
	// LoginTimeout bounds an etcd login (default: the larger of 10 s and
	// five times Timeout), which a loaded server makes slow.
	LoginTimeout time.Duration
	// Prefix and Format apply only when this open creates the store.
	Prefix string
	Format keygen.Format
	// SharedGID, when > 0 and this open creates a bbolt store, makes the
	// file 0660 and any folder it creates 2770, owned by that group, so
	// several OS users (the members) can use one store.
	SharedGID int
	// MakeFolders lets the first open of a bbolt store create its missing
	// folders; otherwise a missing folder is refused (a mistyped path).
	MakeFolders bool
	// NoCreate refuses a missing bbolt store file or an unused etcd prefix
	// rather than making a store there: for commands that only read or
	// change what is there, where a missing store is a mistyped path.
	NoCreate bool
}

func (o *Options) defaults() error {
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Rand != nil {
		o.Rand = &lockedReader{r: o.Rand}
	}
	if o.Prefix == "" {
		o.Prefix = "kd"
	}
	if o.Format == "" {
		o.Format = keygen.FormatDefault
	}
	if err := model.ValidatePrefix(o.Prefix); err != nil {
		return fail(ErrInvalid, "%s", err)
	}
	return nil
}

// backend runs transactions; bbolt and etcd each provide one. A write
// transaction is atomic and durable when write returns; reads see one
// consistent moment.
type backend interface {
	view(ctx context.Context, fn func(kv) error) error
	write(ctx context.Context, fn func(kv) error) error
	location() string
	// notStore is the sentence for a store that exists but is not keyden's.
	notStore() error
	// batch is how many keys one bulk transaction may carry (etcd caps
	// the writes in a transaction).
	batch() int
	// vacant refuses, with the sentence for its kind of location, when a
	// store (or anything else) is already there.
	vacant(ctx context.Context) error
}

func (b *core) Location() string { return b.be.location() }

func (b *core) Init(ctx context.Context) error {
	if err := b.be.vacant(ctx); err != nil {
		return err
	}
	return b.update(ctx, func(kv) error { return nil })
}

// core is the store's logic, written once over a backend.
type core struct {
	be   backend
	opt  Options
	strs *strTable
	// seen: this store has been read (shared by its copies acting as
	// another member). Found empty later (an etcd prefix wiped under it),
	// it is gone, not a new store to make.
	seen *atomic.Bool
}

// gone is the refusal for a store deleted or moved away since it was read.
func gone(location string) error {
	return fail(ErrNotFound, "the key store %s is gone: it was deleted or moved away since keyden opened it; put it back, or start keyden again to make a new one", location)
}

func (b *core) base() *core { return b }

func (b *core) now() time.Time { return b.opt.Now().UTC() }

// view runs fn in one read transaction. A store that is still empty (a
// new file or prefix) is initialised first, so reading a new store works.
func (b *core) view(ctx context.Context, fn func(kv) error) error {
	err := b.be.view(ctx, func(tx kv) error {
		if tx.Empty() {
			return errEmpty
		}
		if err := b.checkSchema(tx); err != nil {
			return err
		}
		b.seen.Store(true)
		return fn(tx)
	})
	if errors.Is(err, errEmpty) {
		if err := b.update(ctx, func(kv) error { return nil }); err != nil {
			return err
		}
		return b.be.view(ctx, func(tx kv) error {
			if err := b.checkSchema(tx); err != nil {
				return err
			}
			return fn(tx)
		})
	}
	return err
}

var errEmpty = errors.New("empty store")

// update runs fn in one durable write transaction and bumps both
// generations, so a change, its indexes and its audit event land together
// or not at all.
func (b *core) update(ctx context.Context, fn func(kv) error) error { return b.write(ctx, fn, true) }

// usageUpdate is update for last-used news only: it moves Generation.Any
// but not Generation.Keys.
func (b *core) usageUpdate(ctx context.Context, fn func(kv) error) error {
	return b.write(ctx, fn, false)
}

func (b *core) write(ctx context.Context, fn func(kv) error, keysChanged bool) (err error) {
	var txs []kv // each attempt's (etcd may retry)
	defer func() { b.strs.ended(txs) }()
	defer func() {
		if err == nil {
			b.seen.Store(true) // committed: the store is there now
		}
	}()
	return b.be.write(ctx, func(tx kv) error {
		txs = append(txs, tx)
		if err := b.initialise(ctx, tx); err != nil {
			return err
		}
		if err := b.checkSchema(tx); err != nil {
			return err
		}
		meta := tx.Bucket(bucketMeta)
		if string(meta.Get(metaSchema)) != strconv.Itoa(SchemaVersion) {
			if err := meta.Put(metaSchema, []byte(strconv.Itoa(SchemaVersion))); err != nil {
				return err
			}
		}
		if err := fn(tx); err != nil {
			return err
		}
		if keysChanged {
			if err := bumpUint(meta, metaKeysGen, 1); err != nil {
				return err
			}
		}
		return bumpUint(meta, metaGen, 1)
	})
}

// initialise fills an empty store (a new file or prefix) with a new key
// set. It does nothing to a store that already has one.
func (b *core) initialise(ctx context.Context, tx kv) error {
	if tx.HasBucket(bucketMeta) && tx.Bucket(bucketMeta).Get(metaSchema) != nil {
		return nil
	}
	if !tx.Empty() {
		return b.be.notStore()
	}
	if b.seen.Load() {
		return gone(b.be.location())
	}
	// An unused etcd prefix is a store only for commands that may make
	// one (a missing file was refused when it was opened).
	if b.opt.NoCreate && b.be.vacant(ctx) == nil {
		return fail(ErrNotFound, "there is no key store at %s: run `keyden init` to make one, or check --db and KEYDEN_DB", b.be.location())
	}
	for _, name := range allBuckets {
		if err := tx.CreateBucket(name); err != nil {
			return err
		}
	}
	now := b.now()
	meta := tx.Bucket(bucketMeta)
	for k, v := range map[string]string{
		string(metaSchema): strconv.Itoa(SchemaVersion), string(metaPrefix): b.opt.Prefix,
		string(metaFormat): string(b.opt.Format), string(metaCreatedAt): now.Format(time.RFC3339Nano),
		string(metaCreatedBy): b.opt.Actor,
	} {
		if err := meta.Put([]byte(k), []byte(v)); err != nil {
			return err
		}
	}
	for _, e := range model.DefaultEnvironments() {
		if err := putJSON(tx.Bucket(bucketEnvs), e.Name, e); err != nil {
			return err
		}
	}
	ch := model.Channel{Name: model.DefaultChannel, Description: "keys with no particular channel", CreatedAt: now, CreatedBy: b.opt.Actor}
	if err := putJSON(tx.Bucket(bucketChannels), ch.Name, ch); err != nil {
		return err
	}
	m := model.Member{User: b.opt.Actor, Role: model.RoleSuperAdmin, AddedAt: now, AddedBy: b.opt.Actor}
	if err := putJSON(tx.Bucket(bucketMembers), m.User, m); err != nil {
		return err
	}
	return b.appendEvent(tx, model.Event{Action: model.ActionInit, Detail: "prefix " + b.opt.Prefix + ", format " + string(b.opt.Format)})
}

// checkSchema refuses what this keyden must not read or write.
func (b *core) checkSchema(tx kv) error {
	if !tx.HasBucket(bucketMeta) {
		return b.be.notStore()
	}
	meta := tx.Bucket(bucketMeta)
	raw := meta.Get(metaSchema)
	if raw == nil {
		return b.be.notStore()
	}
	v, err := strconv.Atoi(string(raw))
	if err != nil {
		return fail(ErrDamaged, "the key store %s has no readable schema version: restore it from a backup", b.be.location())
	}
	if v > SchemaVersion {
		return fail(ErrNewerSchema, "the key store %s was written by a newer keyden (schema %d; this one reads up to %d): upgrade keyden to use it", b.be.location(), v, SchemaVersion)
	}
	for _, name := range allBuckets {
		if !tx.HasBucket(name) {
			return fail(ErrDamaged, "the key store %s lacks its %s bucket: restore it from a backup", b.be.location(), name)
		}
	}
	return nil
}

func bumpUint(bk bucket, key []byte, delta int64) error {
	n := getUint(bk, key)
	n = uint64(int64(n) + delta)
	buf := make([]byte, 8)
	binary.BigEndian.PutUint64(buf, n)
	return bk.Put(key, buf)
}

func getUint(bk bucket, key []byte) uint64 {
	if v := bk.Get(key); len(v) == 8 {
		return binary.BigEndian.Uint64(v)
	}
	return 0
}

// lockedReader lets one test reader serve a store's concurrent writers.
type lockedReader struct {
	mu sync.Mutex
	r  io.Reader
}

func (l *lockedReader) Read(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return io.ReadFull(l.r, p)
}
