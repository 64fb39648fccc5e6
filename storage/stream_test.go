package storage

import (
	"errors"
	"slices"
	"testing"
	"time"

	"keyden/model"
)

// A stream hands its records out between its reads, so a slow consumer
// (a listing piped into a pager) never holds the store from writers: a
// write made while it is being consumed lands at once, and the stream
// gives what ListKeys gives, in its order, across parts.
func TestStreamsDoNotHoldTheStore(t *testing.T) {
	clk := newClock()
	st := newStore(t, Options{Now: clk.Now})
	var seeds []KeySeed
	for i := 0; i < 2*streamPart+10; i++ {
		seeds = append(seeds, KeySeed{CreateRequest: CreateRequest{Name: "k", Channel: "default", Environment: "dev"},
			CreatedAt: clk.Now().Add(-time.Duration(i%7) * time.Minute)})
	}
	if _, err := st.CreateKeys(ctx, seeds); err != nil {
		t.Fatal(err)
	}
	writer := reopen(t, st, Options{Actor: "alice", Timeout: 200 * time.Millisecond})
	var got []model.Key
	measured := 0
	err := st.EachKey(ctx, Filter{}, func(*model.Key) error { measured++; return nil }, func(k *model.Key) error {
		if len(got) == 0 {
			if _, err := writer.CreateKey(ctx, CreateRequest{Name: "meanwhile", Channel: "default", Environment: "dev"}); err != nil {
				t.Fatalf("a write while a listing is consumed: %v", err)
			}
		}
		if k.Name != "meanwhile" { // listed or not, by where its id falls
			got = append(got, *k)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want, _ := st.ListKeys(ctx, Filter{})
	want = want[:0:0]
	all, _ := st.ListKeys(ctx, Filter{})
	for _, k := range all {
		if k.Name != "meanwhile" {
			want = append(want, k)
		}
	}
	if len(got) != len(want) || measured != len(want) {
		t.Fatalf("%d keys streamed, %d measured, want %d", len(got), measured, len(want))
	}
	for i := range got {
		if got[i].ID != want[i].ID || got[i].Name != want[i].Name || !got[i].CreatedAt.Equal(want[i].CreatedAt) {
			t.Fatalf("key %d is %s, ListKeys gives %s", i, got[i].ID, want[i].ID)
		}
	}
	n := 0
	err = st.EachEvent(ctx, AuditFilter{}, func(ev *model.Event) error {
		if n == 0 {
			if _, err := writer.CreateKey(ctx, CreateRequest{Name: "meanwhile 2", Channel: "default", Environment: "dev"}); err != nil {
				t.Fatalf("a write while the audit log is consumed: %v", err)
			}
		}
		n++
		return nil
	})
	if evs, _ := st.Audit(ctx, AuditFilter{}); err != nil || n != len(evs)-1 {
		t.Fatalf("%d events streamed, the log has %d (one written meanwhile): %v", n, len(evs), err)
	}
}

// On either backend the streams give what ListKeys and Audit give, across
// a part's end.
func TestStreamsAreListKeysAndAudit(t *testing.T) {
	st := newAny(t, Options{})
	var seeds []KeySeed
	for i := 0; i < streamPart+3; i++ {
		seeds = append(seeds, KeySeed{CreateRequest: CreateRequest{Name: "k", Channel: "default", Environment: []string{"dev", "prod"}[i%2]}})
	}
	if _, err := st.(keyCreator).CreateKeys(ctx, seeds); err != nil {
		t.Fatal(err)
	}
	for _, f := range []Filter{{}, {Environment: "prod"}, {Match: func(k *model.Key) bool { return k.ID[1] < 'm' }}} {
		want, err := st.ListKeys(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		var got, measured []string
		err = st.EachKey(ctx, f, func(k *model.Key) error { measured = append(measured, k.ID); return nil },
			func(k *model.Key) error { got = append(got, k.ID); return nil })
		if err != nil || len(got) != len(want) || !slices.Equal(got, measured) {
			t.Fatalf("EachKey: %d keys, %d measured, ListKeys %d: %v", len(got), len(measured), len(want), err)
		}
		for i := range want {
			if got[i] != want[i].ID {
				t.Fatalf("key %d: %s, ListKeys %s", i, got[i], want[i].ID)
			}
		}
	}
	if err := st.EachKey(ctx, Filter{Channel: "nope"}, nil, func(*model.Key) error { return nil }); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a filter naming no channel: %v", err)
	}
	all, err := st.Audit(ctx, AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	mid := all[len(all)/2]
	for _, f := range []AuditFilter{{}, {Limit: 7}, {Limit: streamPart + 1}, {KeyID: mid.KeyID}, {Since: mid.Time}} {
		want, _ := st.Audit(ctx, f)
		var got, seqs []uint64
		for _, ev := range want {
			seqs = append(seqs, ev.Seq)
		}
		if err := st.EachEvent(ctx, f, func(ev *model.Event) error { got = append(got, ev.Seq); return nil }); err != nil {
			t.Fatal(err)
		}
		if len(want) == 0 || !slices.Equal(got, seqs) {
			t.Fatalf("EachEvent %+v: %d events, Audit %d", f, len(got), len(want))
		}
	}
}
