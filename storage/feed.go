package storage

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"time"

	"keyden/model"
)

// Changes are what changed in a store after an audit sequence number: the
// change feed an in-memory verifier follows instead of re-reading every key.
type Changes struct {
	Seq     uint64      // the sequence these bring the reader up to
	Keys    []model.Key // keys created or changed (their current state)
	Removed []string    // ids of keys that are gone
	// Reset says the store's history does not continue from the reader's
	// sequence (a restored or replaced file): reload everything.
	Reset bool
}

// Use is the last-used news one verifier gathered for one key.
type Use struct {
	ID    string
	At    time.Time
	From  string
	Count uint64
	// Expired says the key was refused as expired: the store writes its
	// expire audit event if it has not yet.
	Expired bool
}

// Follower is what an in-memory verifier needs of a store: every key with
// the sequence it reflects, the changes since, and a way to write back
// last-used in batches. Both implementations provide it.
type Follower interface {
	LoadKeys(ctx context.Context) ([]model.Key, uint64, error)
	ChangesSince(ctx context.Context, seq uint64) (Changes, error)
	RecordUses(ctx context.Context, uses []Use) error
}

var _ Follower = (*Bolt)(nil)

// LoadKeys reads every key and the audit sequence they reflect, in one transaction.
func (b *core) LoadKeys(ctx context.Context) ([]model.Key, uint64, error) {
	var keys []model.Key
	var seq uint64
	err := b.view(func(tx kv) error {
		seq = tx.Bucket(bucketAudit).Sequence()
		var err error
		keys, err = b.readKeys(tx, nil)
		return err
	})
	return keys, seq, err
}

// ChangesSince reads the audit log after seq and the current state of every
// key it names. Every change to a key's rules writes an audit event in the
// same transaction, so the log is a complete feed of them.
func (b *core) ChangesSince(ctx context.Context, seq uint64) (Changes, error) {
	var ch Changes
	err := b.view(func(tx kv) error {
		audit := tx.Bucket(bucketAudit)
		ch.Seq = audit.Sequence()
		if ch.Seq < seq {
			ch.Reset = true
			return nil
		}
		if ch.Seq == seq {
			return nil
		}
		var from [8]byte
		binary.BigEndian.PutUint64(from[:], seq+1)
		seen := map[string]bool{}
		return audit.ForEachFrom(from[:], func(_, v []byte) error {
			var ev struct {
				KeyID string `json:"key_id"`
			}
			if err := json.Unmarshal(v, &ev); err != nil {
				return fail(ErrDamaged, "an audit entry is damaged: restore the store from a backup")
			}
			if ev.KeyID == "" || seen[ev.KeyID] {
				return nil
			}
			seen[ev.KeyID] = true
			raw := tx.Bucket(bucketKeys).Get([]byte(ev.KeyID))
			if raw == nil {
				ch.Removed = append(ch.Removed, ev.KeyID)
				return nil
			}
			var key model.Key
			if err := model.DecodeKey(raw, &key); err != nil {
				return fail(ErrDamaged, "the key record %s is damaged: restore the store from a backup", model.Quote(ev.KeyID))
			}
			ch.Keys = append(ch.Keys, key)
			return nil
		})
	})
	return ch, err
}

// RecordUses writes a batch of last-used news in one transaction: the
// latest time wins and counts add, so verifiers never undo each other.
func (b *core) RecordUses(ctx context.Context, uses []Use) error {
	for len(uses) > 0 {
		n := min(len(uses), b.be.batch())
		if err := b.recordUses(uses[:n]); err != nil {
			return err
		}
		uses = uses[n:]
	}
	return nil
}

func (b *core) recordUses(uses []Use) error {
	return b.usageUpdate(func(tx kv) error {
		for _, u := range uses {
			raw := tx.Bucket(bucketKeys).Get([]byte(u.ID))
			if raw == nil {
				continue // deleted meanwhile: its uses go with it
			}
			var k model.Key
			if err := model.DecodeKey(raw, &k); err != nil {
				return fail(ErrDamaged, "the key record %s is damaged: restore the store from a backup", model.Quote(u.ID))
			}
			mergeUse(&k, u)
			if u.Expired && !k.ExpiryLogged {
				k.ExpiryLogged = true
				ev := keyEvent(model.ActionExpire, &k)
				ev.Detail = "expired at " + k.ExpiresAt.UTC().Format(time.RFC3339) + "; first refusal"
				if err := b.appendEvent(tx, ev); err != nil {
					return err
				}
			}
			if err := putKey(tx, &k); err != nil {
				return err
			}
		}
		return nil
	})
}

// mergeUse folds one verifier's news into a key: latest time wins, counts add.
func mergeUse(k *model.Key, u Use) {
	if u.Count > 0 && u.At.After(k.LastUsedAt) {
		k.LastUsedAt, k.LastUsedFrom = u.At.UTC(), u.From
	}
	k.UseCount += u.Count
}
