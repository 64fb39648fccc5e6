package storage

import (
	"sort"
	"strings"
	"testing"
	"time"

	"keyden/model"
)

func TestChangeFeedFollowsEveryRuleChange(t *testing.T) {
	clk := newClock()
	st := newAny(t, Options{Now: clk.Now})
	a := mustCreate(t, st, CreateRequest{Name: "a"})
	keys, seq, err := st.LoadKeys(ctx)
	if err != nil || len(keys) != 1 {
		t.Fatal(keys, err)
	}
	if ch, _ := st.ChangesSince(ctx, seq); ch.Seq != seq || len(ch.Keys)+len(ch.Removed) != 0 || ch.Reset {
		t.Fatalf("changes with none: %+v", ch)
	}
	b := mustCreate(t, st, CreateRequest{Name: "b"})
	st.SetDisabled(ctx, a.Key.ID, true)
	r, _ := st.RotateKey(ctx, RotateRequest{ID: b.Key.ID, Grace: time.Hour})
	c := mustCreate(t, st, CreateRequest{Name: "c"})
	st.DeleteKey(ctx, c.Key.ID)
	// A verify's last-used write is not a rule change: no event, nothing to follow.
	st.Verify(ctx, VerifyRequest{Secret: r.New.Secret})
	ch, err := st.ChangesSince(ctx, seq)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, k := range ch.Keys {
		s := k.Name
		if k.Disabled {
			s += "(disabled)"
		}
		if k.RotatedTo != "" {
			s += "(rotated)"
		}
		got = append(got, s)
	}
	sort.Strings(got)
	if strings.Join(got, ",") != "a(disabled),b,b(rotated)" || len(ch.Removed) != 1 || ch.Removed[0] != c.Key.ID {
		t.Fatalf("changes: keys %v removed %v", got, ch.Removed)
	}
	if ch2, _ := st.ChangesSince(ctx, ch.Seq); len(ch2.Keys)+len(ch2.Removed) != 0 {
		t.Fatalf("changes after catching up: %+v", ch2)
	}
	if ch3, _ := st.ChangesSince(ctx, ch.Seq+1000); !ch3.Reset {
		t.Fatal("a sequence from the future does not ask for a reset")
	}
}

func TestRecordUsesMergesLatestTimeAndAddsCounts(t *testing.T) {
	clk := newClock()
	st := newAny(t, Options{Now: clk.Now})
	k := mustCreate(t, st, CreateRequest{Name: "k"})
	gone := mustCreate(t, st, CreateRequest{Name: "gone"})
	st.DeleteKey(ctx, gone.Key.ID)
	t1, t2 := clk.Now().Add(time.Minute), clk.Now().Add(2*time.Minute)
	// Two verifiers' batches, the later one written first.
	if err := st.RecordUses(ctx, []Use{{ID: k.Key.ID, At: t2, From: "10.0.0.2", Count: 5}, {ID: gone.Key.ID, At: t2, Count: 1}}); err != nil {
		t.Fatal(err)
	}
	if err := st.RecordUses(ctx, []Use{{ID: k.Key.ID, At: t1, From: "10.0.0.1", Count: 3}}); err != nil {
		t.Fatal(err)
	}
	got, _ := st.GetKey(ctx, k.Key.ID)
	if got.UseCount != 8 || !got.LastUsedAt.Equal(t2) || got.LastUsedFrom != "10.0.0.2" {
		t.Fatalf("merged use: %+v", got)
	}
}

func TestRecordUsesLogsExpiryOnce(t *testing.T) {
	clk := newClock()
	st := newAny(t, Options{Now: clk.Now})
	k := mustCreate(t, st, CreateRequest{Name: "k", ExpiresAt: clk.Now().Add(time.Minute)})
	clk.Advance(time.Hour)
	for i := 0; i < 2; i++ {
		if err := st.RecordUses(ctx, []Use{{ID: k.Key.ID, Expired: true}}); err != nil {
			t.Fatal(err)
		}
	}
	evs, _ := st.Audit(ctx, AuditFilter{KeyID: k.Key.ID})
	n := 0
	for _, e := range evs {
		if e.Action == model.ActionExpire {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d expire events", n)
	}
}
