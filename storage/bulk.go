package storage

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"keyden/model"
)

// BulkRequest is one change made to many keys by ChangeKeys: the keys
// named by IDs, or every key Match accepts (both: those of IDs that Match
// still accepts).
type BulkRequest struct {
	// Action is model.KeyDisable, KeyEnable, KeyDelete, KeyRotate or KeyMove.
	Action model.KeyAction
	IDs    []string
	// Match, instead of IDs, picks the keys. It is tested again on each
	// key in the transaction that changes it: a key that no longer matches
	// (used meanwhile, say) is left alone and not reported.
	Match func(*model.Key) bool
	// Grace is how long a rotated key keeps working (0: it stops now).
	Grace time.Duration
	// Channel is where KeyMove moves the keys.
	Channel string
}

// KeyOutcome is what ChangeKeys did to one key.
type KeyOutcome struct {
	// Key is the key as it now is (as it was, for a delete), or as found
	// when refused; for an id with no key, only its ID is set.
	Key model.Key
	// New is a rotated key's replacement, with its secret (shown once).
	New *Created
	// Err is why this key was left alone (a role, a key already replaced,
	// disabled or gone): a sentence naming the key. Nil: done.
	Err error
}

// ChangeKeys makes one change to many keys. Each key is checked as the
// single-key call checks it, and a key that may not be changed (the
// actor's role, already replaced, already disabled, gone) is reported in
// its outcome while the others still go through. Each change writes its
// own audit event. On a file the whole call is one transaction (all of it
// lands, or none on a crash); etcd caps the writes of a transaction, so
// there it commits BulkBatch keys at a time, each batch whole. The error
// is for the call as a whole (a bad request, a store that cannot be
// written): with it, nothing more is changed.
func (b *core) ChangeKeys(ctx context.Context, req BulkRequest) ([]KeyOutcome, error) {
	switch req.Action {
	case model.KeyDisable, model.KeyEnable, model.KeyDelete:
	case model.KeyRotate:
		if req.Grace < 0 || req.Grace > MaxGrace {
			return nil, fail(ErrInvalid, "a grace of %v is out of range: use now, or up to 365d, such as 24h", req.Grace)
		}
	case model.KeyMove:
		if err := model.ValidateChannelName(req.Channel); err != nil {
			return nil, fail(ErrInvalid, "%s", err)
		}
	default:
		return nil, fail(ErrInvalid, "%s is not a change keyden makes to keys in bulk: use disable, enable, delete, rotate or move", model.Quote(string(req.Action)))
	}
	if req.Match == nil && req.IDs == nil {
		return nil, fail(ErrInvalid, "a bulk change needs either the keys' ids or a filter")
	}
	chunk := b.bulkBatch()
	ids := unique(req.IDs)
	scan := req.Match != nil && req.IDs == nil
	if scan && chunk < math.MaxInt {
		// The keys are picked in one read, then changed a batch at a time.
		err := b.view(ctx, func(tx kv) error {
			var err error
			ids, err = b.matchingIDs(tx, req.Match)
			return err
		})
		if err != nil {
			return nil, err
		}
	}
	if len(ids) == 0 && !(scan && chunk == math.MaxInt) {
		return nil, nil
	}
	var out []KeyOutcome
	for first := true; first || len(ids) > 0; first = false {
		n := min(len(ids), chunk)
		var done []KeyOutcome
		err := b.update(ctx, func(tx kv) error {
			done = done[:0]
			batch := ids[:n]
			if scan && chunk == math.MaxInt {
				var err error
				if batch, err = b.matchingIDs(tx, req.Match); err != nil {
					return err
				}
			}
			if req.Action == model.KeyMove && tx.Bucket(bucketChannels).Get([]byte(req.Channel)) == nil {
				return fail(ErrNotFound, "there is no channel %s: add it with `keyden channel add %s` or pick one from `keyden channel list`", model.Quote(req.Channel), req.Channel)
			}
			for _, id := range batch {
				o, err := b.changeIn(tx, id, req)
				if err != nil {
					return err
				}
				if o != nil {
					done = append(done, *o)
				}
			}
			return nil
		})
		if err != nil {
			return out, err
		}
		out = append(out, done...)
		ids = ids[n:]
	}
	return out, nil
}

// BulkBatch is how many keys one etcd transaction of ChangeKeys changes:
// etcd's default limit of 128 writes a transaction, at most 5 writes a
// key (a rotation) and the store's own counters.
const BulkBatch = (MaxTxnOps - 10) / 5

// bulkBatch is how many keys one transaction of ChangeKeys may change:
// all of them on a file.
func (b *core) bulkBatch() int {
	if _, capped := b.be.(external); capped { // etcd, the one backend outside
		return BulkBatch
	}
	return math.MaxInt
}

// unique is ids without repeats, in their first order.
func unique(ids []string) []string {
	seen := make(map[string]bool, len(ids))
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

// matchingIDs lists the ids of the keys match accepts, in id order.
func (b *core) matchingIDs(tx kv, match func(*model.Key) bool) ([]string, error) {
	var ids []string
	var k model.Key
	lookup := b.lookup(tx)
	err := tx.Bucket(bucketKeys).ForEach(func(id, v []byte) error {
		if err := model.DecodeKeyWith(string(id), string(v), &k, lookup); err != nil {
			return fail(ErrDamaged, "the key record %s in %s is damaged: restore the store from a backup", model.Quote(string(id)), b.be.location())
		}
		if match(&k) {
			ids = append(ids, string(id))
		}
		return nil
	})
	return ids, err
}

// changeIn makes req's change to the key id in tx. A refusal for this key
// is its outcome's Err; the error is one that ends the whole call. A key
// the filter no longer matches has no outcome.
func (b *core) changeIn(tx kv, id string, req BulkRequest) (*KeyOutcome, error) {
	k, err := b.getKey(tx, id)
	if errors.Is(err, ErrNotFound) {
		if req.Match != nil {
			return nil, nil
		}
		return &KeyOutcome{Key: model.Key{ID: id}, Err: err}, nil
	}
	if err != nil {
		return nil, err
	}
	if req.Match != nil && !req.Match(&k) {
		return nil, nil
	}
	o := KeyOutcome{Key: k}
	switch req.Action {
	case model.KeyDisable, model.KeyEnable:
		err = b.setDisabledIn(tx, &o.Key, req.Action == model.KeyDisable)
	case model.KeyDelete:
		err = b.deleteIn(tx, &o.Key)
	case model.KeyRotate:
		var r Rotated
		if r, err = b.rotate(tx, RotateRequest{ID: id, Grace: req.Grace}, ""); err == nil {
			o.Key, o.New = r.Old, &r.New
		}
	case model.KeyMove:
		err = b.moveIn(tx, &o.Key, req.Channel)
	}
	if refusal(err) {
		o.Key, o.Err = k, err
		return &o, nil
	}
	if err != nil {
		return nil, err
	}
	return &o, nil
}

// refusal says err is about one key (the actor's role, its state), not the store.
func refusal(err error) bool {
	return errors.Is(err, ErrForbidden) || errors.Is(err, ErrExists) || errors.Is(err, ErrConflict)
}

// moveIn moves k, read in tx, to channel (which exists), if the actor may.
func (b *core) moveIn(tx kv, k *model.Key, channel string) error {
	if err := b.mayChange(tx, model.KeyMove, k); err != nil {
		return err
	}
	if k.Channel == channel {
		return fail(ErrExists, "the key %s is already in the channel %s", model.Quote(k.Name), channel)
	}
	from := k.Channel
	k.Channel = channel
	if err := b.putKey(tx, k); err != nil {
		return err
	}
	ev := keyEvent(model.ActionMove, k)
	ev.Detail = fmt.Sprintf("from channel %s", from)
	return b.appendEvent(tx, ev)
}
