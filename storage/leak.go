package storage

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"sort"
	"time"

	"keyden/keygen"
	"keyden/model"
)

// Leak is a key found where it should not be: by a scan, or in a report
// from outside.
type Leak struct {
	Hash keygen.Hash
	// Where it was found: "app.env:12", "commit 1a2b3c app.env:12", a URL.
	Where string
	// Source is who found it: "keyden scan", "leak report".
	Source string
}

// LeakResponse is what to do to a live leaked key besides auditing the leak.
type LeakResponse struct {
	Disable bool
	// Rotate replaces the key; the leaked one keeps working for Grace.
	Rotate bool
	Grace  time.Duration
	// Authorized skips the store's roles: for a leak report whose
	// signature was checked, which no member sent. Only Go code sets it.
	Authorized bool
}

// LeakOutcome is what a leak found and what was done.
type LeakOutcome struct {
	// Found says the hash is a key of this store; Key is it as it now is.
	Found bool
	Key   model.Key
	// Live says the key worked when the leak was recorded.
	Live bool
	// Done is "disabled" or "rotated" when the response was carried out.
	Done    string
	Rotated Rotated
	// Refused says why the response was not carried out (roles, a key
	// already disabled); the leak is audited all the same.
	Refused error
}

// LookupHashes reads the keys whose hashes are given, in one read; hashes
// that are no key of this store are left out.
func (b *core) LookupHashes(ctx context.Context, hashes []keygen.Hash) (map[keygen.Hash]model.Key, error) {
	out := make(map[keygen.Hash]model.Key)
	err := b.view(ctx, func(tx kv) error {
		for _, h := range hashes {
			k, found, err := b.keyByHash(tx, h)
			if err != nil {
				return err
			}
			if found {
				out[h] = k
			}
		}
		return nil
	})
	return out, err
}

// RecordLeak audits a leak of a live key (action leak, with where it was
// found) and carries out the response, in one transaction. A key that is
// not in the store, or no longer works, is left as it is and not audited.
func (b *core) RecordLeak(ctx context.Context, l Leak, resp LeakResponse) (LeakOutcome, error) {
	var out LeakOutcome
	err := b.update(ctx, func(tx kv) error {
		out = LeakOutcome{}
		k, found, err := b.keyByHash(tx, l.Hash)
		if err != nil {
			return err
		}
		if !found {
			return errNoWrite
		}
		out.Found, out.Key = true, k
		if k.Disabled || k.Expired(b.now()) {
			return errNoWrite
		}
		why := "leaked: found by " + l.Source + " at " + l.Where
		if k.Decoy {
			// Found where it was planted, or further: the trap stays set.
			ev := keyEvent(model.ActionLeak, &k)
			ev.Detail = "a decoy " + why
			return b.appendEvent(tx, ev)
		}
		out.Live = true
		ev := keyEvent(model.ActionLeak, &k)
		ev.Detail = why
		if err := b.appendEvent(tx, ev); err != nil {
			return err
		}
		switch {
		case resp.Disable:
			out.Refused, err = b.leakDisable(tx, &k, why, resp.Authorized)
			if out.Refused == nil && err == nil {
				out.Done, out.Key = "disabled", k
			}
		case resp.Rotate:
			if !resp.Authorized {
				if out.Refused = b.mayChange(tx, model.KeyRotate, &k); out.Refused != nil {
					return nil
				}
			}
			var r Rotated
			r, err = b.rotate(tx, RotateRequest{ID: k.ID, Grace: resp.Grace}, why)
			if errors.Is(err, ErrExists) || errors.Is(err, ErrConflict) {
				out.Refused, err = err, nil
			} else if err == nil {
				out.Done, out.Key, out.Rotated = "rotated", r.Old, r
			}
		}
		return err
	})
	if errors.Is(err, errNoWrite) {
		err = nil
	}
	return out, err
}

// leakDisable disables k in tx, audited with why; the first result is a
// refusal by the roles, which leaves the leak's own event to commit.
func (b *core) leakDisable(tx kv, k *model.Key, why string, authorized bool) (refused, err error) {
	if !authorized {
		if err := b.mayChange(tx, model.KeyDisable, k); err != nil {
			return err, nil
		}
	}
	k.Disabled = true
	if err := b.putKey(tx, k); err != nil {
		return nil, err
	}
	ev := keyEvent(model.ActionDisable, k)
	ev.Detail = why
	return nil, b.appendEvent(tx, ev)
}

// A signed leak report is remembered by the SHA-256 of its body once it
// is applied, so the same report sent again (replayed by someone who
// kept it, or retried by the reporter after all) changes nothing: an
// admin who enabled a reported key again on purpose is not overruled by
// an old report. Reports are kept for leakReportsKeptFor, and at most
// leakReportsKept of them (the oldest go first).
const (
	leakReportsKeptFor = 90 * 24 * time.Hour
	// leakReportsDropped bounds the old reports one write drops, inside
	// an etcd transaction's operations; each write adds only one.
	leakReportsDropped = 50
)

var leakReportsKept = 10000 // a variable for tests

var leakReportPrefix = []byte("leakreport/")

// LeakReport is a leak report applied before: when, and its answer.
type LeakReport struct {
	At time.Time `json:"at"`
	// Labels is the answer per token, in order: t for a key of this
	// store (true_positive), f for anything else.
	Labels string `json:"labels"`
}

func leakReportKey(sum [32]byte) []byte {
	return hex.AppendEncode(bytes.Clone(leakReportPrefix), sum[:])
}

// AppliedLeakReport says whether the report whose body has the SHA-256
// sum was applied within leakReportsKeptFor, and how it was answered.
func (b *core) AppliedLeakReport(ctx context.Context, sum [32]byte) (LeakReport, bool, error) {
	var r LeakReport
	found := false
	err := b.view(ctx, func(tx kv) error {
		raw := tx.Bucket(bucketMeta).Get(leakReportKey(sum))
		found = raw != nil && json.Unmarshal(raw, &r) == nil && b.now().Sub(r.At) < leakReportsKeptFor
		return nil
	})
	return r, found && err == nil, err
}

// RememberLeakReport records that the report whose body has the SHA-256
// sum was applied and answered with labels, and drops reports past their
// time or beyond the count kept. Like a heartbeat it changes no key.
func (b *core) RememberLeakReport(ctx context.Context, sum [32]byte, labels string) error {
	now := b.now()
	raw, err := json.Marshal(LeakReport{At: now, Labels: labels})
	if err != nil {
		return err
	}
	return b.metaWrite(ctx, func(meta bucket) error {
		type kept struct {
			key []byte
			at  time.Time
		}
		var all []kept
		err := eachWithPrefix(meta, leakReportPrefix, func(k, v []byte) error {
			var r LeakReport
			json.Unmarshal(v, &r) // one that does not decode is the oldest
			all = append(all, kept{bytes.Clone(k), r.At})
			return nil
		})
		if err != nil {
			return err
		}
		sort.Slice(all, func(i, j int) bool { return all[i].at.Before(all[j].at) })
		dropped := 0
		for i, r := range all {
			if dropped == leakReportsDropped || (now.Sub(r.at) < leakReportsKeptFor && len(all)-i < leakReportsKept) {
				break
			}
			if err := meta.Delete(r.key); err != nil {
				return err
			}
			dropped++
		}
		return meta.Put(leakReportKey(sum), raw)
	})
}
