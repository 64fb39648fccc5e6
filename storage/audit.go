package storage

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"os"
	"path/filepath"

	bolt "go.etcd.io/bbolt"

	"keyden/model"
)

// appendEvent adds an audit event inside the caller's transaction, so the
// event and the change it records commit together.
func (b *Bolt) appendEvent(tx *bolt.Tx, ev model.Event) error {
	bk := tx.Bucket(bucketAudit)
	seq, err := bk.NextSequence()
	if err != nil {
		return err
	}
	ev.Seq, ev.Time, ev.Actor = seq, b.now(), b.opt.Actor
	raw, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	var k [8]byte
	binary.BigEndian.PutUint64(k[:], seq)
	return bk.Put(k[:], raw)
}

// Audit reads events newest first.
func (b *Bolt) Audit(ctx context.Context, f AuditFilter) ([]model.Event, error) {
	var out []model.Event
	err := b.view(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketAudit).Cursor()
		for k, v := c.Last(); k != nil; k, v = c.Prev() {
			var ev model.Event
			if err := json.Unmarshal(v, &ev); err != nil {
				return fail(ErrDamaged, "an audit entry is damaged: restore the store from a backup")
			}
			if !f.Since.IsZero() && ev.Time.Before(f.Since) {
				break
			}
			if f.KeyID != "" && ev.KeyID != f.KeyID {
				continue
			}
			out = append(out, ev)
			if f.Limit > 0 && len(out) == f.Limit {
				break
			}
		}
		return nil
	})
	return out, err
}

// Backup writes a consistent copy of the store to dst (0600), through a
// temporary file renamed into place, so dst is never half-written. Other
// keyden processes wait at most the copy's length for their turn.
func (b *Bolt) Backup(ctx context.Context, dst string) error {
	abs, err := filepath.Abs(dst)
	if err != nil {
		return fail(ErrInvalid, "the backup path %s cannot be used: %v", model.Quote(dst), err)
	}
	if abs == b.path {
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
	err = b.view(func(tx *bolt.Tx) error {
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
