package storage

import (
	"context"
	"encoding/binary"

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
	var k [8]byte
	binary.BigEndian.PutUint64(k[:], seq)
	return bk.Put(k[:], model.EncodeEvent(nil, &ev))
}

// errBadEvent is the sentence for an audit entry that does not decode.
var errBadEvent = fail(ErrDamaged, "an audit entry is damaged: restore the store from a backup")

// decodeEvent reads the event stored under the key k (its sequence).
func decodeEvent(k, v []byte, ev *model.Event) error {
	if len(k) != 8 || model.DecodeEvent(binary.BigEndian.Uint64(k), v, ev) != nil {
		return errBadEvent
	}
	return nil
}

// Audit reads events newest first.
func (b *core) Audit(ctx context.Context, f AuditFilter) ([]model.Event, error) {
	var out []model.Event
	err := b.view(ctx, func(tx kv) error {
		read := 0
		return tx.Bucket(bucketAudit).ForEachReverseFrom(nil, func(k, v []byte) error {
			if read++; f.MaxScan > 0 && read > f.MaxScan {
				return errStop
			}
			var ev model.Event
			if err := decodeEvent(k, v, &ev); err != nil {
				return err
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
