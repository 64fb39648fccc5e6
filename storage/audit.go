package storage

import (
	"context"
	"encoding/binary"
	"encoding/json"

	"keyden/model"
)

// appendEvent adds an audit event inside the caller's transaction, so the
// event and the change it records commit together.
func (b *core) appendEvent(tx kv, ev model.Event) error {
	bk := tx.Bucket(bucketAudit)
	seq, err := bk.NextSequence()
	if err != nil {
		return err
	}
	ev.Seq, ev.Time, ev.Actor, ev.ActorKey = seq, b.now(), b.opt.Actor, b.opt.ActorKey
	raw, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	var k [8]byte
	binary.BigEndian.PutUint64(k[:], seq)
	return bk.Put(k[:], raw)
}

// Audit reads events newest first.
func (b *core) Audit(ctx context.Context, f AuditFilter) ([]model.Event, error) {
	var out []model.Event
	err := b.view(ctx, func(tx kv) error {
		read := 0
		return tx.Bucket(bucketAudit).ForEachReverse(func(_, v []byte) error {
			if read++; f.MaxScan > 0 && read > f.MaxScan {
				return errStop
			}
			var ev model.Event
			if err := json.Unmarshal(v, &ev); err != nil {
				return fail(ErrDamaged, "an audit entry is damaged: restore the store from a backup")
			}
			if !f.Since.IsZero() && ev.Time.Before(f.Since) {
				return errStop
			}
			if f.KeyID != "" && ev.KeyID != f.KeyID {
				return nil
			}
			out = append(out, ev)
			if f.Limit > 0 && len(out) == f.Limit {
				return errStop
			}
			return nil
		})
	})
	return out, err
}
