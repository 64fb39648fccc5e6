package model

import (
	"encoding/binary"
	"encoding/json"
)

// An audit event is stored in a compact binary form (an event is kept for
// ever, and a store has one for every key it ever made): version 1 is
//
//	u8 1, varint time (unix ns), str actor,
//	uvarint action (its place in eventActions, or 0 then str action),
//	str key id, key name, channel, environment, detail, actor key,
//	client IP, user agent
//
// where str is uvarint length then bytes, and trailing empty strings are
// left out. The sequence number is the event's key in the store. Events
// written before it are JSON objects, told apart by their first byte.
const eventV1 = 1

// eventActions are the actions stored as a number: their place here, from
// 1. The list only grows at its end (a number once written names its
// action for ever); an action not in it is stored as text.
var eventActions = [...]string{"init", "create", "delete", "channel-add", "channel-rm", "env-add", "env-rm", "env-set",
	"rotate", "disable", "enable", "expire", "member-add", "member-rm", "member-key-add", "member-key-rm", "leak", "decoy-use"}

// EncodeEvent appends ev's stored form (without ev.Seq) to dst.
func EncodeEvent(dst []byte, ev *Event) []byte {
	dst = append(dst, eventV1)
	dst = binary.AppendVarint(dst, UnixNano(ev.Time))
	dst = appendStr(dst, ev.Actor)
	code := 0
	for i, a := range eventActions {
		if a == ev.Action {
			code = i + 1
		}
	}
	dst = binary.AppendUvarint(dst, uint64(code))
	if code == 0 {
		dst = appendStr(dst, ev.Action)
	}
	strs := ev.strings()
	n := len(strs)
	for n > 0 && *strs[n-1] == "" {
		n--
	}
	for _, s := range strs[:n] {
		dst = appendStr(dst, *s)
	}
	return dst
}

// strings are the event's string fields after its action, in their stored order.
func (ev *Event) strings() [8]*string {
	return [8]*string{&ev.KeyID, &ev.KeyName, &ev.Channel, &ev.Environment, &ev.Detail, &ev.ActorKey, &ev.ClientIP, &ev.UserAgent}
}

// DecodeEvent reads an event stored under seq, in either form.
func DecodeEvent(seq uint64, b []byte, ev *Event) error {
	*ev = Event{}
	if len(b) > 0 && b[0] == '{' {
		if err := json.Unmarshal(b, ev); err != nil {
			return ErrBadEvent
		}
		ev.Seq = seq
		return nil
	}
	if len(b) == 0 || b[0] != eventV1 {
		return ErrBadEvent
	}
	d := decoder{s: string(b), pos: 1}
	ev.Seq = seq
	ev.Time = fromUnixNano(d.varint())
	ev.Actor = d.str()
	switch code := d.uvarint(); {
	case code == 0:
		ev.Action = d.str()
	case code <= uint64(len(eventActions)):
		ev.Action = eventActions[code-1]
	default:
		d.err = true
	}
	for _, s := range ev.strings() {
		if d.pos == len(d.s) {
			break
		}
		*s = d.str()
	}
	if d.err || d.pos != len(d.s) {
		*ev = Event{}
		return ErrBadEvent
	}
	return nil
}
