package storage

import (
	"errors"
	"strings"
	"testing"
	"time"

	"keyden/keygen"
	"keyden/model"
)

// A leak is audited whoever finds it; disabling it follows the roles,
// unless the response is authorized (a signed report), and a key that no
// longer works is left alone.
func TestRecordLeakAuditsAndFollowsTheRoles(t *testing.T) {
	st := newAny(t, Options{Actor: "alice"})
	if _, err := st.AddMember(ctx, "bob", model.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	c := mustCreate(t, st, CreateRequest{Name: "alices"})
	bob := reopen(t, st, Options{Actor: "bob"})
	leak := Leak{Hash: keygen.HashKey(c.Secret), Where: "app.env:3", Source: "keyden scan"}

	out, err := bob.RecordLeak(ctx, leak, LeakResponse{Disable: true})
	if err != nil || !out.Found || !out.Live || out.Done != "" || !errors.Is(out.Refused, ErrForbidden) {
		t.Fatalf("bob's response to alice's key: %+v %v", out, err)
	}
	out, err = bob.RecordLeak(ctx, leak, LeakResponse{Disable: true, Authorized: true})
	if err != nil || out.Done != "disabled" || !out.Key.Disabled {
		t.Fatalf("authorized response: %+v %v", out, err)
	}
	out, err = st.RecordLeak(ctx, leak, LeakResponse{Disable: true})
	if err != nil || !out.Found || out.Live || out.Done != "" {
		t.Fatalf("a disabled key's leak: %+v %v", out, err)
	}
	if out, err := st.RecordLeak(ctx, Leak{Hash: keygen.HashKey("kd_prod_x")}, LeakResponse{Disable: true}); err != nil || out.Found {
		t.Fatalf("an unknown hash: %+v %v", out, err)
	}
	evs, err := st.Audit(ctx, AuditFilter{KeyID: c.Key.ID})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range evs {
		got = append(got, e.Action+" by "+e.Actor+": "+e.Detail)
	}
	why := "leaked: found by keyden scan at app.env:3"
	want := []string{"disable by bob: " + why, "leak by bob: " + why, "leak by bob: " + why}
	if strings.Join(got[:3], "\n") != strings.Join(want, "\n") || len(got) != 4 {
		t.Fatalf("audit\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	r := mustCreate(t, st, CreateRequest{Name: "rotated"})
	out, err = st.RecordLeak(ctx, Leak{Hash: keygen.HashKey(r.Secret), Where: "x:1", Source: "keyden scan"}, LeakResponse{Rotate: true, Grace: time.Hour})
	if err != nil || out.Done != "rotated" || out.Rotated.New.Secret == "" || out.Key.ExpiresAt.IsZero() {
		t.Fatalf("rotate: %+v %v", out, err)
	}
	m, err := st.LookupHashes(ctx, []keygen.Hash{keygen.HashKey(r.Secret), keygen.HashKey(out.Rotated.New.Secret), keygen.HashKey("nope")})
	if err != nil || len(m) != 2 || m[keygen.HashKey(r.Secret)].ID != r.Key.ID {
		t.Fatalf("lookup: %v %v", m, err)
	}
}

// Applied leak reports are remembered for 90 days, and only the newest
// leakReportsKept of them.
func TestAppliedLeakReportsAreBounded(t *testing.T) {
	now := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	st := newAny(t, Options{Actor: "alice", Now: func() time.Time { return now }})
	defer func(n int) { leakReportsKept = n }(leakReportsKept)
	leakReportsKept = 3
	sum := func(i byte) [32]byte { return [32]byte{i} }
	seen := func(i byte) bool {
		t.Helper()
		_, ok, err := st.AppliedLeakReport(ctx, sum(i))
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	for i := byte(1); i <= 4; i++ {
		if seen(i) { // as serve asks first
			t.Fatalf("report %d seen before it was applied", i)
		}
		if err := st.RememberLeakReport(ctx, sum(i), "tf"); err != nil {
			t.Fatal(err)
		}
		now = now.Add(time.Hour)
	}
	if seen(1) || !seen(2) || !seen(4) {
		t.Errorf("with 3 kept: 1 %v, 2 %v, 4 %v; want the oldest forgotten", seen(1), seen(2), seen(4))
	}
	r, _, _ := st.AppliedLeakReport(ctx, sum(4))
	if r.Labels != "tf" {
		t.Errorf("labels %q", r.Labels)
	}
	now = now.Add(leakReportsKeptFor)
	if seen(4) {
		t.Error("a report 90 days old is still remembered")
	}
}
