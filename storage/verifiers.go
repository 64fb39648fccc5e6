package storage

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
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

// Alive says v has written a heartbeat within VerifierTimeout of now. A
// beat more than a day ahead is no verifier's (a crafted record, or a clock
// far off), as Heartbeat drops it: else it counted as alive for ever.
func (v *Verifier) Alive(now time.Time) bool {
	d := now.Sub(v.Beat)
	return d < VerifierTimeout && d >= -forgetVerifierAfter
}

// verifierKey is where a verifier's record lives, in the meta bucket so a
// store of any age has a place for it.
var verifierPrefix = []byte("verifier/")

func verifierKey(id string) []byte { return append(bytes.Clone(verifierPrefix), id...) }

// VerifierKey is a verifier record's key under an etcd store's prefix.
func VerifierKey(id string) string { return string(bucketMeta) + "/" + string(verifierKey(id)) }

// forgetVerifierAfter is how long the record of a verifier that died
// without removing it (killed, its machine gone) is kept.
const forgetVerifierAfter = 24 * time.Hour

// Heartbeat writes v's record, and drops those silent for a day. It is not
// a change to the key set: the generations do not move, so nothing
// re-reads the store for it.
func (b *core) Heartbeat(ctx context.Context, v Verifier) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.metaWrite(ctx, func(meta bucket) error {
		var dead [][]byte
		err := eachWithPrefix(meta, verifierPrefix, func(k, val []byte) error {
			var old Verifier
			bad := json.Unmarshal(val, &old) != nil
			// A beat a day ahead is no verifier's either (a crafted record,
			// a clock far off): kept, it would count as alive for ever.
			if d := v.Beat.Sub(old.Beat); bad || d > forgetVerifierAfter || d < -forgetVerifierAfter {
				dead = append(dead, bytes.Clone(k))
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, k := range dead {
			if err := meta.Delete(k); err != nil {
				return err
			}
		}
		return meta.Put(verifierKey(v.ID), raw)
	})
}

// RemoveVerifier deletes a stopping verifier's record.
func (b *core) RemoveVerifier(ctx context.Context, id string) error {
	return b.metaWrite(ctx, func(meta bucket) error { return meta.Delete(verifierKey(id)) })
}

// metaWrite changes only records kept beside the keys in the meta bucket
// (verifiers' heartbeats, applied leak reports): not a change to the key
// set, so the generations do not move and nothing re-reads for it.
func (b *core) metaWrite(ctx context.Context, fn func(meta bucket) error) error {
	return b.be.write(ctx, func(tx kv) error {
		if err := b.checkSchema(tx); err != nil {
			return err
		}
		return fn(tx.Bucket(bucketMeta))
	})
}

// Verifiers lists the verifiers that have reported, by id; a record that
// does not decode is left out.
func (b *core) Verifiers(ctx context.Context) ([]Verifier, error) {
	var out []Verifier
	err := b.view(ctx, func(tx kv) error {
		return eachWithPrefix(tx.Bucket(bucketMeta), verifierPrefix, func(k, v []byte) error {
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

// Landing is how a revocation landed on the running verifiers.
type Landing struct {
	Live int // verifiers alive when the wait ended
	// Missing are the live ones that had not applied the change.
	Missing []Verifier
	Took    time.Duration
	// Seq is the change waited for; Now the reader's clock at the end.
	Seq uint64
	Now time.Time
}

// VerifierReader is what AwaitVerifiers reads of a store.
type VerifierReader interface {
	FeedHead(ctx context.Context) (seq uint64, rev int64, err error)
	Verifiers(ctx context.Context) ([]Verifier, error)
}

// AwaitVerifiers waits up to wait until every live verifier has applied
// the store's changes so far (a revocation just made among them), reading
// their heartbeats every 20 ms; now is the clock that judges who is alive.
func AwaitVerifiers(ctx context.Context, st VerifierReader, wait time.Duration, now func() time.Time) (Landing, error) {
	start := time.Now()
	seq, _, err := st.FeedHead(ctx)
	if err != nil {
		return Landing{}, err
	}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		vs, err := st.Verifiers(ctx)
		if err != nil {
			return Landing{}, err
		}
		l := Landing{Seq: seq, Now: now(), Took: time.Since(start)}
		for _, v := range vs {
			if !v.Alive(l.Now) {
				continue
			}
			l.Live++
			if v.Applied < seq {
				l.Missing = append(l.Missing, v)
			}
		}
		if l.Live == 0 || len(l.Missing) == 0 || l.Took >= wait {
			return l, nil
		}
		select {
		case <-ctx.Done():
			return l, ctx.Err()
		case <-tick.C:
		}
	}
}

// String says how a revocation landed, as one sentence; "" when no
// verifier runs.
func (l Landing) String() string { return l.Say("Refused by") }

// Say says how a change landed, as one sentence starting with done (such
// as "Refused by", or "In force on" for a rotation, which both refuses
// and accepts); "" when no verifier runs.
func (l Landing) Say(done string) string {
	switch {
	case l.Live == 0:
		return ""
	case len(l.Missing) == 0:
		return fmt.Sprintf("%s %d/%d %s in %s.", done, l.Live, l.Live, plural(l.Live, "verifier", "verifiers"), tookText(l.Took))
	}
	var names []string
	for _, v := range l.Missing {
		behind := l.Seq - v.Applied
		names = append(names, fmt.Sprintf("%s pid %d on %s (last heard %s ago, %d %s behind)", v.Host, v.PID, v.Listen,
			roundTook(l.Now.Sub(v.Beat)), behind, plural(int(behind), "change", "changes")))
	}
	return fmt.Sprintf("%s %d/%d verifiers after %s; not confirmed by %s: check that it runs and can reach the store (keyden verifiers).",
		done, l.Live-len(l.Missing), l.Live, tookText(l.Took), strings.Join(names, ", "))
}

func tookText(d time.Duration) string {
	if d < time.Millisecond {
		return "under 1ms"
	}
	return roundTook(d).String()
}

func roundTook(d time.Duration) time.Duration {
	if d < time.Second {
		return d.Round(time.Millisecond)
	}
	return d.Round(100 * time.Millisecond)
}
