package storage

import (
	"testing"
	"time"
)

// Heartbeats are kept per verifier, listed, removed, and move neither
// generation (they change no key, so nothing re-reads the store for them).
func TestVerifierHeartbeats(t *testing.T) {
	st := newAny(t, Options{Actor: "alice"})
	mustCreate(t, st, CreateRequest{})
	g0, err := st.Generation(ctx)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 29, 9, 0, 0, 0, time.UTC)
	for _, v := range []Verifier{{ID: "b/2/:80", Host: "b", PID: 2, Applied: 3, Beat: now}, {ID: "a/1/:80", Host: "a", PID: 1, Applied: 1, Beat: now.Add(-time.Minute)}} {
		if err := st.Heartbeat(ctx, v); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Heartbeat(ctx, Verifier{ID: "b/2/:80", Host: "b", PID: 2, Applied: 4, Beat: now}); err != nil {
		t.Fatal(err)
	}
	vs, err := st.Verifiers(ctx)
	if err != nil || len(vs) != 2 || vs[0].ID != "a/1/:80" || vs[1].Applied != 4 {
		t.Fatalf("verifiers %+v %v", vs, err)
	}
	if vs[0].Alive(now) || !vs[1].Alive(now) {
		t.Errorf("alive: %v %v", vs[0].Alive(now), vs[1].Alive(now))
	}
	if g, _ := st.Generation(ctx); g != g0 {
		t.Errorf("generation moved: %+v → %+v", g0, g)
	}
	if err := st.RemoveVerifier(ctx, "a/1/:80"); err != nil {
		t.Fatal(err)
	}
	if vs, _ := st.Verifiers(ctx); len(vs) != 1 {
		t.Errorf("after remove: %+v", vs)
	}
	// A record silent for over a day is dropped by the next heartbeat.
	if err := st.Heartbeat(ctx, Verifier{ID: "c/3/:80", Beat: now.Add(-25 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := st.Heartbeat(ctx, Verifier{ID: "b/2/:80", Beat: now, Applied: 5}); err != nil {
		t.Fatal(err)
	}
	if vs, _ := st.Verifiers(ctx); len(vs) != 1 || vs[0].Applied != 5 {
		t.Errorf("after a day-old record: %+v", vs)
	}
	// So is one that says it beat more than a day from now (a crafted
	// record, or a clock far off): it counted as alive for ever, and every
	// delete waited for it and named it "last heard -…".
	if err := st.Heartbeat(ctx, Verifier{ID: "d/4/:80", Beat: now.Add(25 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := st.Heartbeat(ctx, Verifier{ID: "b/2/:80", Beat: now, Applied: 6}); err != nil {
		t.Fatal(err)
	}
	if vs, _ := st.Verifiers(ctx); len(vs) != 1 || vs[0].Applied != 6 {
		t.Errorf("after a record a day ahead: %+v", vs)
	}
	if rep, err := coreOf(st).Check(ctx); err != nil || len(rep.Problems) != 0 {
		t.Errorf("check after heartbeats: %+v %v", rep, err)
	}
}

// A record that says it beat more than a day from now (crafted, or left by
// a verifier with a clock far off that was killed) is not alive: only the
// next heartbeat of another verifier dropped it, so with none running
// every delete waited its full wait for it and named it "not confirmed".
func TestAVerifierBeatingADayAheadIsNotAlive(t *testing.T) {
	st := newAny(t, Options{Actor: "alice"})
	mustCreate(t, st, CreateRequest{})
	now := time.Now()
	if err := st.Heartbeat(ctx, Verifier{ID: "far/4/:80", Host: "far", PID: 4, Beat: now.Add(25 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	l, err := AwaitVerifiers(ctx, st, 200*time.Millisecond, func() time.Time { return now })
	if err != nil || l.Live != 0 {
		t.Fatalf("landing %+v %v, want no verifier alive", l, err)
	}
	// One whose clock is ahead by less is alive: its beats are its clock's.
	ahead := Verifier{Beat: now.Add(time.Hour)}
	if !ahead.Alive(now) {
		t.Error("a verifier an hour ahead is not alive")
	}
}
