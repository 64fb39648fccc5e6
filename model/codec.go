package model

import (
	"encoding/binary"
	"errors"
	"time"
)

// A stored key record is a compact binary encoding, not JSON: listing decodes
// every record, and this decodes in ~100 ns where JSON took ~1.5 µs (see
// BENCHMARKS.md). Layout, version 2 (EncodeKey; a store writes version 3, below):
//
//	u8 version, u8 flags (see flag*)
//	str name, channel, environment; str type unless flagBearer
//	uvarint s, uvarint a, s × str scopes, a × str allowed IPs
//	varint created (unix ns), str created_by
//	varint expires (unix ns), if flagExpires
//	varint last used (unix ns), str last_from, if flagUsed
//	uvarint use count, str hint, 32 bytes hash
//	str rotated_from, str rotated_to, if flagRotation
//	str daily uses (see packUses), if flagDailyUses
//	(flagDecoy adds no field)
//
// where str is uvarint length then bytes. The id is the record's key in
// the store, so it is not repeated inside.
//
// Version 3 (written by EncodeKeyRefs) is version 2 with the strings that
// repeat across a store's keys (channel, environment, created_by and the
// hint's prefix_tag_) given as a number into the store's table of strings
// where the store has one: each of them is a uvarint x, a table number
// x>>1 when x&1 is 1, else x>>1 bytes of text following; the hint's x, when
// a number, is followed by the 4 first and 4 last characters of the body
// (the "…" between them is implied). Version 1 (stores made before
// keyden 0.9) is still read:
//
//	u8 version
//	str id, name, channel, environment, type
//	uvarint s, uvarint a, s × str scopes, a × str allowed IPs
//	varint created (unix ns), str created_by
//	varint expires (unix ns, 0 none), varint last used (0 never), str last_from
//	uvarint use count, str hint, 32 bytes hash, u8 flags (bit 0 disabled, 1 expiry logged)
//	str rotated_from, str rotated_to
const (
	codecV1 = 1
	codecV2 = 2
	codecV3 = 3
)

const (
	flagDisabled byte = 1 << iota
	flagExpiryLogged
	flagBearer
	flagExpires
	flagUsed
	flagRotation
	flagDailyUses
	flagDecoy // a decoy key (see Key.Decoy); no field follows
)

// ErrBadEvent means stored bytes are not an audit event this version understands.
var ErrBadEvent = errors.New("a stored audit event is damaged or from a newer keyden")

// ErrBadRecord means stored bytes are not a key record this version understands.
var ErrBadRecord = errors.New("a stored key record is damaged or from a newer keyden")

// Refs are the table numbers EncodeKeyRefs writes for a key's repeated
// strings, each one plus one (0: the text itself is written).
type Refs struct{ Channel, Environment, CreatedBy, HintPrefix uint64 }

// HintParts splits a hint made by keygen.Hint into its prefix_tag_ and the
// 4 + 4 characters of the body; ok is false for any other hint.
func HintParts(hint string) (prefix, body string, ok bool) {
	const ell = "…"
	n := len(hint)
	if n < 8+len(ell)+1 || hint[n-4-len(ell):n-4] != ell {
		return "", "", false
	}
	return hint[:n-8-len(ell)], hint[n-8-len(ell):n-4-len(ell)] + hint[n-4:], true
}

// EncodeKey appends k's record to dst (without k.ID: the record's key), of
// version 2: for a store with no table of strings.
func EncodeKey(dst []byte, k *Key) []byte { return encodeKey(dst, k, nil) }

// EncodeKeyRefs appends k's record of version 3, with r's table numbers.
func EncodeKeyRefs(dst []byte, k *Key, r Refs) []byte { return encodeKey(dst, k, &r) }

// appendRef appends s as table number ref-1, or as text when ref is 0.
func appendRef(dst []byte, ref uint64, s string) []byte {
	if ref > 0 {
		return binary.AppendUvarint(dst, (ref-1)<<1|1)
	}
	dst = binary.AppendUvarint(dst, uint64(len(s))<<1)
	return append(dst, s...)
}

func encodeKey(dst []byte, k *Key, r *Refs) []byte {
	var flags byte
	for _, f := range []struct {
		on  bool
		bit byte
	}{{k.Disabled, flagDisabled}, {k.ExpiryLogged, flagExpiryLogged}, {k.Type == TypeBearer, flagBearer},
		{!k.ExpiresAt.IsZero(), flagExpires}, {!k.LastUsedAt.IsZero() || k.LastUsedFrom != "", flagUsed},
		{k.RotatedFrom != "" || k.RotatedTo != "", flagRotation}, {k.uses != "", flagDailyUses}, {k.Decoy, flagDecoy}} {
		if f.on {
			flags |= f.bit
		}
	}
	if r == nil {
		dst = append(dst, codecV2, flags)
		dst = appendStr(appendStr(appendStr(dst, k.Name), k.Channel), k.Environment)
	} else {
		dst = append(dst, codecV3, flags)
		dst = appendRef(appendRef(appendStr(dst, k.Name), r.Channel, k.Channel), r.Environment, k.Environment)
	}
	if flags&flagBearer == 0 {
		dst = appendStr(dst, string(k.Type))
	}
	dst = binary.AppendUvarint(dst, uint64(len(k.Scopes)))
	dst = binary.AppendUvarint(dst, uint64(len(k.AllowedIPs)))
	for _, s := range k.Scopes {
		dst = appendStr(dst, s)
	}
	for _, s := range k.AllowedIPs {
		dst = appendStr(dst, s)
	}
	dst = binary.AppendVarint(dst, UnixNano(k.CreatedAt))
	if r == nil {
		dst = appendStr(dst, k.CreatedBy)
	} else {
		dst = appendRef(dst, r.CreatedBy, k.CreatedBy)
	}
	if flags&flagExpires != 0 {
		dst = binary.AppendVarint(dst, UnixNano(k.ExpiresAt))
	}
	if flags&flagUsed != 0 {
		dst = binary.AppendVarint(dst, UnixNano(k.LastUsedAt))
		dst = appendStr(dst, k.LastUsedFrom)
	}
	dst = binary.AppendUvarint(dst, k.UseCount)
	if _, body, ok := HintParts(k.Hint); ok && r != nil && r.HintPrefix > 0 {
		dst = append(appendRef(dst, r.HintPrefix, ""), body...)
	} else if r != nil {
		dst = appendRef(dst, 0, k.Hint)
	} else {
		dst = appendStr(dst, k.Hint)
	}
	dst = append(dst, k.Hash[:]...)
	if flags&flagRotation != 0 {
		dst = appendStr(appendStr(dst, k.RotatedFrom), k.RotatedTo)
	}
	if flags&flagDailyUses != 0 {
		dst = appendStr(dst, k.uses)
	}
	return dst
}

// UnixNano is t as a key record stores it: Unix nanoseconds, 0 for the
// zero time ("never"). The key index keeps its time columns so, too.
func UnixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromUnixNano(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

func appendStr(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

// decoder reads fields from one string holding the whole record, so every
// string field is a substring of it: one allocation for all of them.
type decoder struct {
	s   string
	pos int
	err bool
}

func (d *decoder) uvarint() uint64 {
	if d.err {
		return 0
	}
	var x uint64
	var shift uint
	for i := 0; i < binary.MaxVarintLen64; i++ {
		if d.pos >= len(d.s) {
			d.err = true
			return 0
		}
		b := d.s[d.pos]
		d.pos++
		if b < 0x80 {
			if i == binary.MaxVarintLen64-1 && b > 1 {
				d.err = true
				return 0
			}
			return x | uint64(b)<<shift
		}
		x |= uint64(b&0x7f) << shift
		shift += 7
	}
	d.err = true
	return 0
}

func (d *decoder) varint() int64 {
	ux := d.uvarint()
	x := int64(ux >> 1)
	if ux&1 != 0 {
		x = ^x
	}
	return x
}

func (d *decoder) str() string {
	n := d.uvarint()
	if d.err || n > uint64(len(d.s)-d.pos) {
		d.err = true
		return ""
	}
	s := d.s[d.pos : d.pos+int(n)]
	d.pos += int(n)
	return s
}

// ref reads a string appendRef wrote, looking a number up in the
// store's table (lookup); isRef says which it was.
func (d *decoder) ref(lookup func(uint64) (string, bool)) (s string, isRef bool) {
	x := d.uvarint()
	if d.err {
		return "", false
	}
	if x&1 == 0 {
		n := x >> 1
		if n > uint64(len(d.s)-d.pos) {
			d.err = true
			return "", false
		}
		s = d.s[d.pos : d.pos+int(n)]
		d.pos += int(n)
		return s, false
	}
	if lookup != nil {
		if s, ok := lookup(x >> 1); ok {
			return s, true
		}
	}
	d.err = true
	return "", true
}

// text reads a string of a version 3 record's (ref) or an older one's (str).
func (d *decoder) text(v3 bool, lookup func(uint64) (string, bool)) string {
	if !v3 {
		return d.str()
	}
	s, _ := d.ref(lookup)
	return s
}

// lists reads two string lists whose counts come first, into one backing
// array (one allocation for both).
func (d *decoder) lists() (a, b []string) {
	na, nb := d.uvarint(), d.uvarint()
	// Each entry takes at least one byte, which bounds the counts by what is left.
	if d.err || na > uint64(len(d.s)-d.pos) || nb > uint64(len(d.s)-d.pos)-na {
		d.err = true
		return nil, nil
	}
	if na+nb == 0 {
		return nil, nil
	}
	all := make([]string, na+nb)
	for i := range all {
		all[i] = d.str()
	}
	if na > 0 {
		a = all[:na:na]
	}
	if nb > 0 {
		b = all[na:]
	}
	return a, b
}

func (d *decoder) bytes(dst []byte) {
	if d.err || len(d.s)-d.pos < len(dst) {
		d.err = true
		return
	}
	copy(dst, d.s[d.pos:])
	d.pos += len(dst)
}

// DecodeKey reads a record made by EncodeKey (or by keyden before it, of
// version 1) stored under id. Any other bytes give ErrBadRecord, never a
// panic.
func DecodeKey(id string, b []byte, k *Key) error {
	return DecodeKeyString(id, string(b), k)
}

// DecodeKeyString is DecodeKey over a string the caller will not change;
// the key's string fields are substrings of it (and id), so it allocates
// only for the scope and IP lists.
func DecodeKeyString(id, s string, k *Key) error { return DecodeKeyWith(id, s, k, nil) }

// DecodeKeyWith is DecodeKeyString for a store with a table of strings:
// lookup gives the string of a table number (false: there is none).
func DecodeKeyWith(id, s string, k *Key, lookup func(uint64) (string, bool)) error {
	var err error
	switch {
	case len(s) == 0:
		err = ErrBadRecord
	case s[0] == codecV2:
		err = decodeV2(decoder{s: s, pos: 1}, k, nil, false)
		k.ID = id
	case s[0] == codecV3:
		err = decodeV2(decoder{s: s, pos: 1}, k, lookup, true)
		k.ID = id
	case s[0] == codecV1:
		err = decodeV1(decoder{s: s, pos: 1}, k)
	default:
		err = ErrBadRecord
	}
	if err != nil {
		*k = Key{}
	}
	return err
}

// decodeV2 reads a record of version 2, or of version 3 when v3.
func decodeV2(d decoder, k *Key, lookup func(uint64) (string, bool), v3 bool) error {
	var flags [1]byte
	d.bytes(flags[:])
	f := flags[0]
	k.Name = d.str()
	k.Channel = d.text(v3, lookup)
	k.Environment = d.text(v3, lookup)
	k.Type = TypeBearer
	if f&flagBearer == 0 {
		k.Type = KeyType(d.str())
	}
	k.Scopes, k.AllowedIPs = d.lists()
	k.CreatedAt = fromUnixNano(d.varint())
	k.CreatedBy = d.text(v3, lookup)
	k.ExpiresAt, k.LastUsedAt, k.LastUsedFrom = time.Time{}, time.Time{}, ""
	if f&flagExpires != 0 {
		k.ExpiresAt = fromUnixNano(d.varint())
	}
	if f&flagUsed != 0 {
		k.LastUsedAt = fromUnixNano(d.varint())
		k.LastUsedFrom = d.str()
	}
	k.UseCount = d.uvarint()
	if !v3 {
		k.Hint = d.str()
	} else if prefix, isRef := d.ref(lookup); !isRef {
		k.Hint = prefix
	} else if !d.err && len(d.s)-d.pos >= 8 {
		body := d.s[d.pos : d.pos+8]
		d.pos += 8
		k.Hint = prefix + body[:4] + "…" + body[4:]
	} else {
		d.err = true
	}
	d.bytes(k.Hash[:])
	k.RotatedFrom, k.RotatedTo, k.uses = "", "", ""
	if f&flagRotation != 0 {
		k.RotatedFrom, k.RotatedTo = d.str(), d.str()
	}
	if f&flagDailyUses != 0 {
		k.uses = d.str()
		if _, ok := unpackUses(k.uses); !ok || k.uses == "" {
			d.err = true
		}
	}
	k.Disabled = f&flagDisabled != 0
	k.ExpiryLogged = f&flagExpiryLogged != 0
	k.Decoy = f&flagDecoy != 0
	// Every bit of the flags has a meaning now, so none can be unknown.
	if d.err || d.pos != len(d.s) {
		return ErrBadRecord
	}
	return nil
}

func decodeV1(d decoder, k *Key) error {
	k.ID, k.Name, k.Channel, k.Environment = d.str(), d.str(), d.str(), d.str()
	k.Type = KeyType(d.str())
	k.Scopes, k.AllowedIPs = d.lists()
	k.CreatedAt = fromUnixNano(d.varint())
	k.CreatedBy = d.str()
	k.ExpiresAt = fromUnixNano(d.varint())
	k.LastUsedAt = fromUnixNano(d.varint())
	k.LastUsedFrom = d.str()
	k.UseCount = d.uvarint()
	k.Hint = d.str()
	d.bytes(k.Hash[:])
	var flags [1]byte
	d.bytes(flags[:])
	k.Disabled = flags[0]&1 != 0
	k.ExpiryLogged = flags[0]&2 != 0
	k.RotatedFrom = d.str()
	k.RotatedTo = d.str()
	k.uses = ""
	if d.err || d.pos != len(d.s) || flags[0]&^3 != 0 {
		return ErrBadRecord
	}
	return nil
}
