package storage

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"keyden/keygen"
	"keyden/model"
)

// SchemaVersion is the layout this keyden writes and the newest it reads.
const SchemaVersion = 1

// DefaultTimeout is how long an operation waits for another keyden's lock.
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
)

// Options configure a Bolt store.
type Options struct {
	// Actor is the OS user acting; it is written into created_by and the audit log.
	Actor string
	// Timeout bounds the wait for another process's lock (DefaultTimeout if 0).
	Timeout time.Duration
	// Now is the clock (time.Now if nil); tests inject one.
	Now func() time.Time
	// Prefix and Format apply only when this open creates the store.
	Prefix string
	Format keygen.Format
	// SharedGID, when > 0 and this open creates the store, makes the file
	// 0660 and any folder it creates 2770, owned by that group, so several
	// OS users (the members) can use one store.
	SharedGID int
}

// Bolt is the embedded store: one bbolt file, opened for exactly one
// transaction per call and closed again, so any number of keyden processes
// (TUI, shells, a verifier) share it.
type Bolt struct {
	path string
	opt  Options
}

var _ Store = (*Bolt)(nil)

// OpenBolt prepares a store at path. The file is not touched until the first call.
func OpenBolt(path string, opt Options) (*Bolt, error) {
	if path == "" {
		return nil, fail(ErrInvalid, "no key store path given: pass --db PATH or set KEYDEN_DB")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fail(ErrInvalid, "the key store path %s cannot be used: %v", model.Quote(path), err)
	}
	if opt.Timeout <= 0 {
		opt.Timeout = DefaultTimeout
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Prefix == "" {
		opt.Prefix = "kd"
	}
	if opt.Format == "" {
		opt.Format = keygen.FormatDefault
	}
	if err := model.ValidatePrefix(opt.Prefix); err != nil {
		return nil, fail(ErrInvalid, "%s", err)
	}
	return &Bolt{path: abs, opt: opt}, nil
}

// Path is the store file's absolute path.
func (b *Bolt) Path() string { return b.path }

func (b *Bolt) now() time.Time { return b.opt.Now().UTC() }

// Exists says whether the store file is there.
func (b *Bolt) Exists() bool {
	_, err := os.Stat(b.path)
	return err == nil
}

// Init creates a new store with the options' prefix and format, and refuses
// when one is already there.
func (b *Bolt) Init() error {
	if b.Exists() {
		return fail(ErrExists, "a key store already exists at %s: its prefix and format are fixed; use another --db path for a new one", b.path)
	}
	return b.update(func(*bolt.Tx) error { return nil })
}

// open opens the file for one operation. A missing store is created (with
// its folder, 0700) and initialised first.
func (b *Bolt) open(readOnly bool) (*bolt.DB, error) {
	st, err := os.Stat(b.path)
	switch {
	case err == nil && st.IsDir():
		return nil, fail(ErrNotStore, "the key store path %s is a directory: give a file path such as %s", b.path, filepath.Join(b.path, "keyden.db"))
	case err == nil && st.Size() == 0:
		return nil, fail(ErrNotStore, "%s is an empty file, not a keyden store: remove it or choose another --db path", b.path)
	case errors.Is(err, fs.ErrNotExist):
		if err := b.create(); err != nil {
			return nil, err
		}
		readOnly = false
	case err != nil:
		return nil, b.osError(err)
	}
	db, err := bolt.Open(b.path, 0o600, &bolt.Options{Timeout: b.opt.Timeout, ReadOnly: readOnly})
	if err != nil {
		return nil, b.openError(err)
	}
	return db, nil
}

// create makes the folder (0700) and an initialised store file (0600).
// Two processes may race here; bbolt's lock orders them and the loser finds
// an initialised store.
func (b *Bolt) create() error {
	dir := filepath.Dir(b.path)
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fail(ErrUnavailable, "cannot create the folder %s for the key store: %v; choose another --db path", dir, unwrapPathErr(err))
		}
		if b.opt.SharedGID > 0 {
			if err := shareWithGroup(dir, 0o770|os.ModeSetgid, b.opt.SharedGID); err != nil {
				return err
			}
		}
	}
	db, err := bolt.Open(b.path, 0o600, &bolt.Options{Timeout: b.opt.Timeout})
	if errors.Is(err, fs.ErrPermission) {
		return fail(ErrUnavailable, "cannot create the key store in %s: permission denied; choose another --db path or ask the folder's owner", dir)
	}
	if err != nil {
		return b.openError(err)
	}
	defer db.Close()
	// bbolt honours the umask; the store must not be readable by others whatever it is.
	if err := os.Chmod(b.path, 0o600); err != nil {
		return b.osError(err)
	}
	if b.opt.SharedGID > 0 {
		if err := shareWithGroup(b.path, 0o660, b.opt.SharedGID); err != nil {
			return err
		}
	}
	return db.Update(b.initialise)
}

// initialise fills an empty bbolt file with a new store. It does nothing to
// a file that already has a meta bucket.
func (b *Bolt) initialise(tx *bolt.Tx) error {
	if tx.Bucket(bucketMeta) != nil {
		return nil
	}
	empty := true
	_ = tx.ForEach(func([]byte, *bolt.Bucket) error { empty = false; return nil })
	if !empty {
		return fail(ErrNotStore, "%s is a bbolt file but not a keyden store: choose another --db path", b.path)
	}
	for _, name := range allBuckets {
		if _, err := tx.CreateBucket(name); err != nil {
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
func (b *Bolt) checkSchema(tx *bolt.Tx) error {
	meta := tx.Bucket(bucketMeta)
	if meta == nil {
		return fail(ErrNotStore, "%s is a bbolt file but not a keyden store: choose another --db path", b.path)
	}
	v, err := strconv.Atoi(string(meta.Get(metaSchema)))
	if err != nil {
		return fail(ErrDamaged, "the key store %s has no readable schema version: restore it from a backup", b.path)
	}
	if v > SchemaVersion {
		return fail(ErrNewerSchema, "the key store %s was written by a newer keyden (schema %d; this one reads up to %d): upgrade keyden to use it", b.path, v, SchemaVersion)
	}
	for _, name := range allBuckets {
		if tx.Bucket(name) == nil {
			return fail(ErrDamaged, "the key store %s lacks its %s bucket: restore it from a backup", b.path, name)
		}
	}
	return nil
}

func (b *Bolt) view(fn func(*bolt.Tx) error) error {
	db, err := b.open(true)
	if err != nil {
		return err
	}
	defer db.Close()
	return db.View(func(tx *bolt.Tx) error {
		if err := b.checkSchema(tx); err != nil {
			return err
		}
		return fn(tx)
	})
}

// update runs fn in one durable write transaction and bumps both
// generations, so a change, its indexes and its audit event land together
// or not at all.
func (b *Bolt) update(fn func(*bolt.Tx) error) error { return b.write(fn, true) }

// usageUpdate is update for last-used news only: it moves Generation.Any
// but not Generation.Keys.
func (b *Bolt) usageUpdate(fn func(*bolt.Tx) error) error { return b.write(fn, false) }

func (b *Bolt) write(fn func(*bolt.Tx) error, keysChanged bool) error {
	db, err := b.open(false)
	if err != nil {
		return err
	}
	defer db.Close()
	return db.Update(func(tx *bolt.Tx) error {
		if err := b.checkSchema(tx); err != nil {
			return err
		}
		if err := fn(tx); err != nil {
			return err
		}
		meta := tx.Bucket(bucketMeta)
		if keysChanged {
			if err := bumpUint(meta, metaKeysGen, 1); err != nil {
				return err
			}
		}
		return bumpUint(meta, metaGen, 1)
	})
}

func (b *Bolt) openError(err error) error {
	switch {
	case errors.Is(err, berrors.ErrTimeout):
		return fail(ErrBusy, "the key store %s is busy (another keyden is writing); try again", b.path)
	case errors.Is(err, berrors.ErrInvalid), errors.Is(err, berrors.ErrVersionMismatch), errors.Is(err, berrors.ErrChecksum):
		return fail(ErrNotStore, "%s is not a keyden store: check --db or KEYDEN_DB", b.path)
	}
	return b.osError(err)
}

func (b *Bolt) osError(err error) error {
	if errors.Is(err, fs.ErrPermission) {
		return fail(ErrUnavailable, "permission denied on the key store %s: ask its owner for access or choose another --db path", b.path)
	}
	return fail(ErrUnavailable, "cannot open the key store %s: %v", b.path, unwrapPathErr(err))
}

func unwrapPathErr(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func bumpUint(bk *bolt.Bucket, key []byte, delta int64) error {
	var n uint64
	if v := bk.Get(key); len(v) == 8 {
		n = binary.BigEndian.Uint64(v)
	}
	n = uint64(int64(n) + delta)
	var buf [8]byte
	binary.BigEndian.PutUint64(buf[:], n)
	return bk.Put(key, buf[:])
}

func getUint(bk *bolt.Bucket, key []byte) uint64 {
	if v := bk.Get(key); len(v) == 8 {
		return binary.BigEndian.Uint64(v)
	}
	return 0
}

// newID makes a short random key id, unique in the keys bucket.
func newID(keys *bolt.Bucket) (string, error) {
	const alphabet = "0123456789abcdefghijklmnopqrstuvwxyz"
	for {
		var raw [8]byte
		if _, err := rand.Read(raw[:]); err != nil {
			return "", err
		}
		id := make([]byte, 8)
		for i, c := range raw {
			id[i] = alphabet[int(c)%len(alphabet)]
		}
		id[0] = 'k' // ids read as ids: k + 7
		if keys.Get(id) == nil {
			return string(id), nil
		}
	}
}

func shareWithGroup(path string, mode os.FileMode, gid int) error {
	if err := os.Chown(path, -1, gid); err != nil {
		return fail(ErrUnavailable, "cannot give %s to group %d: %v; you must belong to the group", path, gid, unwrapPathErr(err))
	}
	if err := os.Chmod(path, mode); err != nil {
		return fail(ErrUnavailable, "cannot set the mode of %s: %v", path, unwrapPathErr(err))
	}
	return nil
}
