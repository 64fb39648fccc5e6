package storage

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"keyden/keygen"
	"keyden/model"
)

// DecoyUse is one use of a decoy key, as a verifier saw it.
type DecoyUse struct {
	Hash      keygen.Hash
	At        time.Time // zero: now
	ClientIP  netip.Addr
	UserAgent string
	// Via names what it was presented to: "keyden verify", "keyden serve".
	Via string
	// Repeats, when set, make this one event of that many more uses from
	// the address in the minute after its alert (see server's alertEvery),
	// At and Via those of the last.
	Repeats int
}

// maxUserAgent bounds what an alert keeps of a caller's User-Agent.
const maxUserAgent = 256

// RecordDecoyUse writes the alert for a decoy's use that a verifier
// answered from memory; a hash that is not a decoy (deleted since) is
// left alone.
func (b *core) RecordDecoyUse(ctx context.Context, u DecoyUse) error {
	err := b.usageUpdate(ctx, func(tx kv) error {
		k, found, err := b.keyByHash(tx, u.Hash)
		if err != nil {
			return err
		}
		if !found || !k.Decoy {
			return errNoWrite
		}
		return b.decoyUsed(tx, &k, u)
	})
	if errors.Is(err, errNoWrite) {
		return nil
	}
	return err
}

// decoyUsed records an alert in tx: the decoy's last use (so the TUI shows
// it tripped) and an audit event with who used it.
func (b *core) decoyUsed(tx kv, k *model.Key, u DecoyUse) error {
	at := u.At
	if at.IsZero() {
		at = b.now()
	}
	if at.After(k.LastUsedAt) {
		k.LastUsedAt = at.UTC()
		k.LastUsedFrom = ""
		if u.ClientIP.IsValid() {
			k.LastUsedFrom = u.ClientIP.Unmap().String()
		}
	}
	k.UseCount += uint64(max(u.Repeats, 1)) // an event of repeats is those uses
	k.AddUses(at, uint64(max(u.Repeats, 1)))
	if err := b.putKey(tx, k); err != nil {
		return err
	}
	if err := journalUses(tx, []string{k.ID}); err != nil {
		return err
	}
	ev := keyEvent(model.ActionDecoyUse, k)
	ev.Detail = "a decoy was used (presented to " + cmp.Or(u.Via, "a verifier") + " at " + at.UTC().Format(time.RFC3339Nano) + "): the key has leaked, find where"
	if u.Repeats > 0 {
		times := "once"
		if u.Repeats > 1 {
			times = fmt.Sprintf("%d times", u.Repeats)
		}
		ev.Detail = fmt.Sprintf("the decoy was used %s more from this address in the minute after its alert (the last presented to %s at %s): the key has leaked, find where",
			times, cmp.Or(u.Via, "a verifier"), at.UTC().Format(time.RFC3339Nano))
	}
	if u.ClientIP.IsValid() {
		ev.ClientIP = u.ClientIP.Unmap().String()
	}
	ev.UserAgent = strings.ToValidUTF8(u.UserAgent, "?")
	if len(ev.UserAgent) > maxUserAgent {
		ev.UserAgent = strings.ToValidUTF8(ev.UserAgent[:maxUserAgent], "")
	}
	return b.appendEvent(tx, ev)
}

// AuditAfter reads up to limit events after seq, oldest first: for a
// follower of the audit log (serve's alert webhook).
func (b *core) AuditAfter(ctx context.Context, seq uint64, limit int) ([]model.Event, error) {
	var out []model.Event
	var from [8]byte
	binary.BigEndian.PutUint64(from[:], seq+1)
	err := b.view(ctx, func(tx kv) error {
		return tx.Bucket(bucketAudit).ForEachFrom(from[:], func(k, v []byte) error {
			var ev model.Event
			if err := decodeEvent(k, v, &ev); err != nil {
				return err
			}
			out = append(out, ev)
			if limit > 0 && len(out) == limit {
				return errStop
			}
			return nil
		})
	})
	return out, err
}
