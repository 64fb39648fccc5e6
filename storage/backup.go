package storage

import (
	"context"
	"os"
	"path/filepath"
	"syscall"

	bolt "go.etcd.io/bbolt"

	"keyden/model"
)

// Backup writes a consistent copy of the store to dst (0600), through a
// temporary file renamed into place, so dst is never half-written. Other
// keyden processes wait at most the copy's length for their turn.
func (b *Bolt) Backup(ctx context.Context, dst string) error {
	if dst == "" {
		return fail(ErrInvalid, "the backup path is empty: give the file to write, such as keyden-backup.db")
	}
	abs, err := filepath.Abs(dst)
	if err != nil {
		return fail(ErrInvalid, "the backup path %s cannot be used: %v", model.Quote(dst), err)
	}
	if abs == b.fb.path {
		return fail(ErrInvalid, "the backup path is the store itself: give another path")
	}
	if !b.Exists() {
		return fail(ErrNotFound, "there is no key store at %s to back up: check --db or KEYDEN_DB", b.fb.path)
	}
	if err := danglingLink(abs, "the backup path"); err != nil {
		return err
	}
	if st, err := os.Stat(abs); err == nil {
		if st.IsDir() {
			return fail(ErrExists, "the backup path %s is a folder: give a file path in it, such as %s", abs, filepath.Join(abs, "keyden-backup.db"))
		}
		if !st.Mode().IsRegular() || onPseudoFS(abs) {
			return fail(ErrInvalid, "the backup path %s is not a regular file but a device, pipe or system file: give a new file path", abs)
		}
		return fail(ErrExists, "%s already exists: remove it or give a new path", abs)
	}
	tmp, err := os.CreateTemp(filepath.Dir(abs), ".keyden-backup-*")
	if err != nil {
		return backupError(abs, err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil { // whatever a default ACL would allow
		tmp.Close()
		return backupError(abs, err)
	}
	// bbolt's own consistent copy, inside one read transaction, of a
	// store that is keyden's and whole.
	err = b.fb.rawView(ctx, func(tx *bolt.Tx) error {
		if err := b.checkSchema(boltKV{tx}); err != nil {
			return err
		}
		if _, err := tx.WriteTo(tmp); err != nil {
			return backupError(abs, err)
		}
		return nil
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
		return backupError(abs, err)
	}
	// keyden's check of the copy, once the store's lock is given back (it
	// reads every record: ten times the copy's time), so damage is never
	// placed where users are told to restore from.
	cp, err := OpenBolt(tmp.Name(), Options{Actor: b.opt.Actor, Timeout: b.opt.Timeout, NoCreate: true})
	if err != nil {
		return err
	}
	if rep, err := cp.Check(ctx); err != nil || len(rep.Problems) > 0 {
		return fail(ErrDamaged, "the key store %s is damaged, so no backup was written: run `keyden check` to see what is wrong, and restore it from an earlier backup", b.fb.path)
	}
	if err := os.Link(tmp.Name(), abs); err != nil {
		return fail(ErrExists, "cannot place the backup at %s: %v", abs, unwrapPathErr(err))
	}
	return nil
}

// backupError is the sentence for a backup the file system would not take.
func backupError(path string, err error) error {
	errno := errnoOf(err)
	switch errno {
	case syscall.ENOSPC, syscall.EDQUOT:
		return fail(ErrUnwritable, "the disk for the backup %s is full: nothing was written; free some space or give a path on another disk", path)
	case syscall.EACCES, syscall.EPERM, syscall.EROFS:
		return fail(ErrUnwritable, "cannot write the backup in %s (%v): nothing was written; give a path in a folder you may write", filepath.Dir(path), errno)
	case syscall.ENOENT:
		return fail(ErrNotFound, "the folder %s for the backup does not exist: create it or give another path", filepath.Dir(path))
	case 0:
		return fail(ErrUnavailable, "cannot write the backup %s: nothing was written (%v)", path, unwrapPathErr(err))
	}
	return fail(ErrUnavailable, "cannot write the backup %s (%v): nothing was written; give a path on another disk", path, errno)
}
