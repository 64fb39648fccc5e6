package storage

import (
	"bytes"
	"context"
	"encoding/json"
	"sort"
	"time"
)

// Verifier is one running `keyden serve` as it reports itself in the
// store: which change it has applied, and when it last said so.
type Verifier struct {
	ID      string    `json:"id"` // host, process and address: unique while it runs
	Host    string    `json:"host"`
	PID     int       `json:"pid"`
	Listen  string    `json:"listen"`
	Started time.Time `json:"started"`
	// Applied is the audit sequence its table reflects: every change up
	// to it is in force there.
	Applied uint64 `json:"applied"`
	// Beat is when it last wrote this record (its clock).
	Beat time.Time `json:"beat"`
}

// VerifierTimeout is how long a verifier may go without a heartbeat
// before it counts as gone: ten of its beats.
const VerifierTimeout = 10 * time.Second

// Alive says v has written a heartbeat within VerifierTimeout of now.
func (v *Verifier) Alive(now time.Time) bool { return now.Sub(v.Beat) < VerifierTimeout }

// verifierKey is where a verifier's record lives, in the meta bucket so a
// store of any age has a place for it.
func verifierKey(id string) []byte { return []byte("verifier/" + id) }

// Heartbeat writes v's record. It is not a change to the key set: the
// generations do not move, so nothing re-reads the store for it.
func (b *core) Heartbeat(ctx context.Context, v Verifier) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.be.write(ctx, func(tx kv) error {
		if err := b.checkSchema(tx); err != nil {
			return err
		}
		return tx.Bucket(bucketMeta).Put(verifierKey(v.ID), raw)
	})
}

// RemoveVerifier deletes a stopping verifier's record.
func (b *core) RemoveVerifier(ctx context.Context, id string) error {
	return b.be.write(ctx, func(tx kv) error {
		if err := b.checkSchema(tx); err != nil {
			return err
		}
		return tx.Bucket(bucketMeta).Delete(verifierKey(id))
	})
}

// Verifiers lists the verifiers that have reported, by id; a record that
// does not decode is left out.
func (b *core) Verifiers(ctx context.Context) ([]Verifier, error) {
	var out []Verifier
	err := b.view(ctx, func(tx kv) error {
		return tx.Bucket(bucketMeta).ForEachFrom([]byte("verifier/"), func(k, v []byte) error {
			if !bytes.HasPrefix(k, []byte("verifier/")) {
				return errStop
			}
			var ver Verifier
			if json.Unmarshal(v, &ver) == nil {
				out = append(out, ver)
			}
			return nil
		})
	})
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, err
}
