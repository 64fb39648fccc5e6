package storage

import (
	"testing"
	"time"

	"keyden/model"
)

// Verify counts each accepted check on the injected clock's UTC day;
// refusals count nothing. The ring reads oldest first, today last.
func TestVerifyCountsUsesPerDay(t *testing.T) {
	clk := newClock() // 12:00 UTC
	st := newAny(t, Options{Now: clk.Now})
	k := mustCreate(t, st, CreateRequest{Name: "k", Scopes: []string{"read"}})
	verify := func(scope string) {
		t.Helper()
		if _, err := st.Verify(ctx, VerifyRequest{Secret: k.Secret, Scope: scope}); err != nil {
			t.Fatal(err)
		}
	}
	verify("read")
	verify("read")
	verify("write") // refused: not counted
	clk.Advance(11*time.Hour + 59*time.Minute)
	verify("read") // 23:59: the same day
	clk.Advance(2 * time.Minute)
	verify("read") // the next day
	got, err := st.GetKey(ctx, k.Key.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := [model.UseDays]uint32{}
	want[28], want[29] = 3, 1
	if u := got.Uses30d(clk.Now()); u != want {
		t.Fatalf("Uses30d = %v, want %v", u, want)
	}
	if got.UseCount != 4 {
		t.Fatalf("use count %d", got.UseCount)
	}
	// Read 30 days later, the first day has left the window.
	clk.Advance(29 * 24 * time.Hour)
	want = [model.UseDays]uint32{}
	want[0] = 1
	if u := got.Uses30d(clk.Now()); u != want {
		t.Fatalf("30 days on: %v, want %v", u, want)
	}
}

// A verifier's batch adds its counts to the days they were made on: by
// At when it gives no days, by its days when it gathered across midnight.
func TestRecordUsesCountsPerDay(t *testing.T) {
	clk := newClock()
	st := newAny(t, Options{Now: clk.Now})
	k := mustCreate(t, st, CreateRequest{Name: "k"})
	yesterday := clk.Now().Add(-24 * time.Hour)
	var days model.DailyUses
	days.Add(yesterday, 2)
	days.Add(clk.Now(), 5)
	if err := st.RecordUses(ctx, []Use{{ID: k.Key.ID, At: clk.Now(), Count: 7, Days: days}}); err != nil {
		t.Fatal(err)
	}
	if err := st.RecordUses(ctx, []Use{{ID: k.Key.ID, At: clk.Now(), Count: 1}}); err != nil {
		t.Fatal(err)
	}
	got, _ := st.GetKey(ctx, k.Key.ID)
	want := [model.UseDays]uint32{}
	want[28], want[29] = 2, 6
	if u := got.Uses30d(clk.Now()); u != want || got.UseCount != 8 {
		t.Fatalf("Uses30d = %v (count %d), want %v", u, got.UseCount, want)
	}
	// The feed carries the counts to a reader following it.
	keys, _, err := st.Snapshot(ctx)
	if err != nil || len(keys) != 1 || keys[0].Uses30d(clk.Now()) != want {
		t.Fatalf("snapshot: %v %v", keys, err)
	}
}
