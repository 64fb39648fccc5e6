package model

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

// Every field of Event survives the stored form: a field added to Event
// and not to the codec fails here.
func TestEventCodecCoversEveryField(t *testing.T) {
	var ev Event
	v := reflect.ValueOf(&ev).Elem()
	for i := range v.NumField() {
		switch f := v.Field(i); f.Kind() {
		case reflect.String:
			f.SetString(v.Type().Field(i).Name + " é\x00")
		case reflect.Uint64:
			f.SetUint(77)
		case reflect.Struct:
			f.Set(reflect.ValueOf(time.Date(2026, 11, 29, 9, 0, 0, 123, time.UTC)))
		default:
			t.Fatalf("Event.%s: a kind the codec test does not know", v.Type().Field(i).Name)
		}
	}
	var got Event
	if err := DecodeEvent(77, EncodeEvent(nil, &ev), &got); err != nil || !reflect.DeepEqual(got, ev) {
		t.Fatalf("round trip:\n got %+v\nwant %+v (%v)", got, ev, err)
	}
	// Trailing empty fields take no bytes; an event is a fraction of its JSON.
	short := Event{Time: ev.Time, Actor: "alice", Action: ActionCreate, KeyID: "k3x9aa7q", KeyName: "web checkout", Channel: "default", Environment: "prod"}
	rec := EncodeEvent(nil, &short)
	js, _ := json.Marshal(short)
	if len(rec) > 54 || DecodeEvent(1, rec, &got) != nil || !reflect.DeepEqual(got, Event{Seq: 1, Time: short.Time, Actor: "alice", Action: ActionCreate, KeyID: "k3x9aa7q", KeyName: "web checkout", Channel: "default", Environment: "prod"}) {
		t.Fatalf("%d bytes (JSON %d): %x → %+v", len(rec), len(js), rec, got)
	}
}

// Events written as JSON, before the binary form, still read.
func TestDecodeEventReadsJSON(t *testing.T) {
	raw := `{"seq":4,"time":"2026-11-20T11:00:00Z","actor":"alice","action":"delete","key_id":"k4a","key_name":"gone","channel":"default","environment":"staging"}`
	var ev Event
	if err := DecodeEvent(4, []byte(raw), &ev); err != nil {
		t.Fatal(err)
	}
	want := Event{Seq: 4, Time: time.Date(2026, 11, 20, 11, 0, 0, 0, time.UTC), Actor: "alice", Action: ActionDelete, KeyID: "k4a", KeyName: "gone", Channel: "default", Environment: "staging"}
	if !reflect.DeepEqual(ev, want) {
		t.Fatalf("got %+v", ev)
	}
}

func TestDecodeEventRefusesDamage(t *testing.T) {
	ev := Event{Time: time.Unix(5, 0), Actor: "a", Action: "create", Detail: "d"}
	rec := EncodeEvent(nil, &ev)
	var got Event
	// A cut inside a string, a newer version, bad JSON, a string running past the end.
	for _, bad := range [][]byte{rec[:len(rec)-1], rec[:1], nil, {2}, {'{'}, append(append([]byte{}, rec...), 5), {1, 0, 9, 'a'}, {1, 0, 0, 99}} {
		if DecodeEvent(1, bad, &got) == nil {
			t.Errorf("%x decoded", bad)
		}
	}
}

// An action is stored as a number, and one this keyden does not know as text.
func TestEventActions(t *testing.T) {
	for _, a := range append(eventActions[:], "bulk-move-of-the-future", "") {
		ev := Event{Action: a, KeyID: "k1"}
		var got Event
		if err := DecodeEvent(1, EncodeEvent(nil, &ev), &got); err != nil || got.Action != a {
			t.Fatalf("%q: %+v %v", a, got, err)
		}
	}
	// The numbers are for ever: the list's first entries never move.
	if eventActions[1] != ActionCreate || eventActions[16] != ActionLeak {
		t.Fatal("eventActions changed order")
	}
}

func FuzzDecodeEvent(f *testing.F) {
	ev := Event{Time: time.Unix(5, 0), Actor: "a", Action: "create", KeyID: "k1", Detail: "d"}
	f.Add(EncodeEvent(nil, &ev))
	f.Add([]byte(`{"action":"x"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var got Event
		if DecodeEvent(3, b, &got) != nil || b[0] == '{' {
			return
		}
		var again Event
		if err := DecodeEvent(3, EncodeEvent(nil, &got), &again); err != nil || !reflect.DeepEqual(again, got) {
			t.Fatalf("unstable event %x: %+v vs %+v", b, got, again)
		}
	})
}
