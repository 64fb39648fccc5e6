package storage

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"keyden/model"
)

// Bolt is the embedded store: one bbolt file, opened for exactly one
// transaction per call and closed again, so any number of keyden processes
// (TUI, shells, a verifier) share it.
type Bolt struct {
	core
	fb *boltBackend
}

var _ Store = (*Bolt)(nil)

// boltBackend opens the file for each transaction.
type boltBackend struct {
	path string
	opt  *Options
}

// OpenBolt prepares a store at path. The file is not touched until the first call.
func OpenBolt(path string, opt Options) (*Bolt, error) {
	if path == "" {
		return nil, fail(ErrInvalid, "no key store path given: pass --db PATH or set KEYDEN_DB")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fail(ErrInvalid, "the key store path %s cannot be used: %v", model.Quote(path), err)
	}
	if err := opt.defaults(); err != nil {
		return nil, err
	}
	b := &Bolt{core: core{opt: opt}}
	b.fb = &boltBackend{path: abs, opt: &b.core.opt}
	b.core.be = b.fb
	return b, nil
}

// Path is the store file's absolute path.
func (b *Bolt) Path() string { return b.fb.path }

func (f *boltBackend) location() string { return f.path }

func (f *boltBackend) batch() int { return 10000 }

func (f *boltBackend) notStore() error {
	return fail(ErrNotStore, "%s is a bbolt file but not a keyden store: choose another --db path", f.path)
}

// Exists says whether the store file is there.
func (b *Bolt) Exists() bool {
	_, err := os.Stat(b.fb.path)
	return err == nil
}

// Init creates a new store with the options' prefix and format, and refuses
// when one is already there.
func (b *Bolt) Init() error {
	if b.Exists() {
		return fail(ErrExists, "a key store already exists at %s: its prefix and format are fixed; use another --db path for a new one", b.fb.path)
	}
	return b.update(func(kv) error { return nil })
}

func (f *boltBackend) view(fn func(kv) error) error {
	db, err := f.open(true)
	if err != nil {
		return err
	}
	defer db.Close()
	return db.View(func(tx *bolt.Tx) error { return fn(boltKV{tx}) })
}

func (f *boltBackend) write(fn func(kv) error) error {
	db, err := f.open(false)
	if err != nil {
		return err
	}
	defer db.Close()
	return db.Update(func(tx *bolt.Tx) error { return fn(boltKV{tx}) })
}

// open opens the file for one operation. A missing store is created (with
// its folder, 0700) and initialised first.
func (f *boltBackend) open(readOnly bool) (*bolt.DB, error) {
	st, err := os.Stat(f.path)
	switch {
	case err == nil && st.IsDir():
		return nil, fail(ErrNotStore, "the key store path %s is a directory: give a file path such as %s", f.path, filepath.Join(f.path, "keyden.db"))
	case err == nil && st.Size() == 0:
		return nil, fail(ErrNotStore, "%s is an empty file, not a keyden store: remove it or choose another --db path", f.path)
	case errors.Is(err, fs.ErrNotExist):
		if err := f.create(); err != nil {
			return nil, err
		}
	case err != nil:
		return nil, f.osError(err)
	}
	db, err := bolt.Open(f.path, 0o600, &bolt.Options{Timeout: f.opt.Timeout, ReadOnly: readOnly})
	if err != nil {
		return nil, f.openError(err)
	}
	return db, nil
}

// create makes the folder (0700) and an empty bbolt file (0600); the
// first write transaction makes it a keyden store. The file is made
// under a temporary name and linked into place, so a second process
// never sees a half-made (zero-byte) file, and a link that loses the race
// to another process's store leaves that store alone.
func (f *boltBackend) create() error {
	dir := filepath.Dir(f.path)
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fail(ErrUnavailable, "cannot create the folder %s for the key store: %v; choose another --db path", dir, unwrapPathErr(err))
		}
		if f.opt.SharedGID > 0 {
			if err := shareWithGroup(dir, 0o770|os.ModeSetgid, f.opt.SharedGID); err != nil {
				return err
			}
		}
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(f.path)+".new-*")
	if err != nil {
		return f.createError(dir, err)
	}
	tmp.Close()
	defer os.Remove(tmp.Name())
	if err := f.prepare(tmp.Name()); err != nil {
		return err
	}
	err = os.Link(tmp.Name(), f.path)
	if err == nil || errors.Is(err, fs.ErrExist) {
		return nil
	}
	// A file system without hard links: create in place, as bbolt would.
	return f.prepare(f.path)
}

// prepare makes path a bbolt file with the store's mode and group.
func (f *boltBackend) prepare(path string) error {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: f.opt.Timeout})
	if err != nil {
		return f.createError(filepath.Dir(path), err)
	}
	if err := db.Close(); err != nil {
		return f.osError(err)
	}
	// bbolt honours the umask; the store must not be readable by others whatever it is.
	if err := os.Chmod(path, 0o600); err != nil {
		return f.osError(err)
	}
	if f.opt.SharedGID > 0 {
		return shareWithGroup(path, 0o660, f.opt.SharedGID)
	}
	return nil
}

// createError is openError for a file being made in dir.
func (f *boltBackend) createError(dir string, err error) error {
	if errors.Is(err, fs.ErrPermission) {
		return fail(ErrUnavailable, "cannot create the key store in %s: permission denied; choose another --db path or ask the folder's owner", dir)
	}
	return f.openError(err)
}

func (f *boltBackend) openError(err error) error {
	switch {
	case errors.Is(err, berrors.ErrTimeout):
		return fail(ErrBusy, "the key store %s is busy (another keyden is writing); try again", f.path)
	case errors.Is(err, berrors.ErrInvalid), errors.Is(err, berrors.ErrVersionMismatch), errors.Is(err, berrors.ErrChecksum):
		return fail(ErrNotStore, "%s is not a keyden store: check --db or KEYDEN_DB", f.path)
	}
	return f.osError(err)
}

func (f *boltBackend) osError(err error) error {
	if errors.Is(err, fs.ErrPermission) {
		return fail(ErrUnavailable, "permission denied on the key store %s: ask its owner for access or choose another --db path", f.path)
	}
	return fail(ErrUnavailable, "cannot open the key store %s: %v", f.path, unwrapPathErr(err))
}

func unwrapPathErr(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
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

// Backup writes a consistent copy of the store to dst (0600), through a
// temporary file renamed into place, so dst is never half-written. Other
// keyden processes wait at most the copy's length for their turn.
func (b *Bolt) Backup(ctx context.Context, dst string) error {
	abs, err := filepath.Abs(dst)
	if err != nil {
		return fail(ErrInvalid, "the backup path %s cannot be used: %v", model.Quote(dst), err)
	}
	if abs == b.fb.path {
		return fail(ErrInvalid, "the backup path is the store itself: give another path")
	}
	if _, err := os.Stat(abs); err == nil {
		return fail(ErrExists, "%s already exists: remove it or give a new path", abs)
	}
	tmp, err := os.CreateTemp(filepath.Dir(abs), ".keyden-backup-*")
	if err != nil {
		return fail(ErrUnavailable, "cannot write the backup in %s: %v", filepath.Dir(abs), unwrapPathErr(err))
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fail(ErrUnavailable, "cannot write the backup: %v", err)
	}
	// bbolt's own consistent copy, inside one read transaction.
	err = b.fb.rawView(func(tx *bolt.Tx) error {
		_, err := tx.WriteTo(tmp)
		return err
	})
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		if _, ok := err.(*storeError); ok {
			return err
		}
		return fail(ErrUnavailable, "cannot write the backup %s: %v", abs, unwrapPathErr(err))
	}
	if err := os.Link(tmp.Name(), abs); err != nil {
		return fail(ErrExists, "cannot place the backup at %s: %v", abs, unwrapPathErr(err))
	}
	return nil
}

// rawView is a bbolt read transaction, for copying the file whole.
func (f *boltBackend) rawView(fn func(*bolt.Tx) error) error {
	db, err := f.open(true)
	if err != nil {
		return err
	}
	defer db.Close()
	return db.View(fn)
}

var _ = context.Background
