package storage

import (
	"errors"
	"strings"
	"testing"
	"time"

	"keyden/model"
)

func TestRotationAcrossTheGraceBoundary(t *testing.T) {
	clk := newClock()
	st := newAny(t, Options{Now: clk.Now})
	old := mustCreate(t, st, CreateRequest{Name: "web", Scopes: []string{"orders:*"}, AllowedIPs: []string{"10.0.0.0/8"},
		Type: model.TypeXAPIKey, ExpiresAt: clk.Now().Add(90 * 24 * time.Hour)})
	clk.Advance(10 * 24 * time.Hour)
	r, err := st.RotateKey(ctx, RotateRequest{ID: old.Key.ID, Grace: 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	n := r.New.Key
	if n.Name != "web" || n.Channel != old.Key.Channel || n.Environment != "prod" || n.Type != model.TypeXAPIKey ||
		strings.Join(n.Scopes, ",") != "orders:*" || strings.Join(n.AllowedIPs, ",") != "10.0.0.0/8" {
		t.Fatalf("replacement differs: %+v", n)
	}
	if n.RotatedFrom != old.Key.ID || r.Old.RotatedTo != n.ID {
		t.Fatal("keys are not linked both ways")
	}
	if want := clk.Now().Add(90 * 24 * time.Hour); !n.ExpiresAt.Equal(want) {
		t.Fatalf("new key expires %v, want the old lifetime from now %v", n.ExpiresAt, want)
	}
	if got, _ := st.GetKey(ctx, old.Key.ID); got.RotatedTo != n.ID || !got.ExpiresAt.Equal(clk.Now().Add(24*time.Hour)) {
		t.Fatalf("old key after rotation: %+v", got)
	}
	ip := mustAddr("10.1.1.1")
	verify := func(secret string) model.Reason {
		res, err := st.Verify(ctx, VerifyRequest{Secret: secret, ClientIP: ip})
		if err != nil {
			t.Fatal(err)
		}
		return res.Reason
	}
	// During the grace both work.
	clk.Advance(23*time.Hour + 59*time.Minute)
	if verify(old.Secret) != "" || verify(r.New.Secret) != "" {
		t.Fatal("a key refused during the grace")
	}
	// After it, only the new one.
	clk.Advance(2 * time.Minute)
	if got := verify(old.Secret); got != model.ReasonExpired {
		t.Fatalf("old key after the grace: %q", got)
	}
	if verify(r.New.Secret) != "" {
		t.Fatal("new key refused after the grace")
	}
	if _, err := st.RotateKey(ctx, RotateRequest{ID: old.Key.ID}); !errors.Is(err, ErrExists) {
		t.Fatalf("rotating a replaced key: %v", err)
	}
}

func TestRotateNowAndEarlierExpiryWins(t *testing.T) {
	clk := newClock()
	st := newAny(t, Options{Now: clk.Now})
	a := mustCreate(t, st, CreateRequest{Name: "a"})
	r, err := st.RotateKey(ctx, RotateRequest{ID: a.Key.ID, Grace: 0})
	if err != nil {
		t.Fatal(err)
	}
	if res, _ := st.Verify(ctx, VerifyRequest{Secret: a.Secret}); res.Reason != model.ReasonExpired {
		t.Fatalf("grace now: old key %q", res.Reason)
	}
	if !r.New.Key.ExpiresAt.IsZero() {
		t.Fatal("a never-expiring key's replacement got an expiry")
	}
	b := mustCreate(t, st, CreateRequest{Name: "b", ExpiresAt: clk.Now().Add(time.Hour)})
	r, err = st.RotateKey(ctx, RotateRequest{ID: b.Key.ID, Grace: 7 * 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if !r.Old.ExpiresAt.Equal(clk.Now().Add(time.Hour)) {
		t.Fatal("the grace extended a key past its own expiry")
	}
	if _, err := st.RotateKey(ctx, RotateRequest{ID: r.New.Key.ID, Grace: -time.Hour}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("negative grace: %v", err)
	}
}

func TestDisableAndEnable(t *testing.T) {
	st := newAny(t, Options{})
	c := mustCreate(t, st, CreateRequest{})
	if _, err := st.SetDisabled(ctx, c.Key.ID, true); err != nil {
		t.Fatal(err)
	}
	if res, _ := st.Verify(ctx, VerifyRequest{Secret: c.Secret}); res.Reason != model.ReasonDisabled {
		t.Fatalf("disabled key: %q", res.Reason)
	}
	if _, err := st.SetDisabled(ctx, c.Key.ID, true); !errors.Is(err, ErrExists) {
		t.Fatalf("disable twice: %v", err)
	}
	if _, err := st.RotateKey(ctx, RotateRequest{ID: c.Key.ID}); !errors.Is(err, ErrConflict) {
		t.Fatalf("rotating a disabled key: %v", err)
	}
	if _, err := st.SetDisabled(ctx, c.Key.ID, false); err != nil {
		t.Fatal(err)
	}
	if res, _ := st.Verify(ctx, VerifyRequest{Secret: c.Secret}); !res.OK {
		t.Fatalf("enabled key: %q", res.Reason)
	}
}

func TestExpiryIsAuditedOnceAtFirstRefusal(t *testing.T) {
	clk := newClock()
	st := newAny(t, Options{Now: clk.Now})
	c := mustCreate(t, st, CreateRequest{ExpiresAt: clk.Now().Add(time.Hour)})
	clk.Advance(2 * time.Hour)
	for i := 0; i < 3; i++ {
		if res, _ := st.Verify(ctx, VerifyRequest{Secret: c.Secret}); res.Reason != model.ReasonExpired {
			t.Fatalf("got %q", res.Reason)
		}
	}
	evs, _ := st.Audit(ctx, AuditFilter{KeyID: c.Key.ID})
	n := 0
	for _, e := range evs {
		if e.Action == model.ActionExpire {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d expire events, want 1", n)
	}
}

// The storage half of the roles matrix, with real members.
func TestRolesAtTheStore(t *testing.T) {
	first := newAny(t, Options{Actor: "root"})
	as := func(user string) testStore { return reopen(t, first, Options{Actor: user}) }
	root, ann, bob, eve := as("root"), as("ann"), as("bob"), as("eve")
	mustCreate(t, root, CreateRequest{Name: "root's"})
	if _, err := ann.CreateKey(ctx, CreateRequest{Name: "x", Channel: "default", Environment: "dev"}); !errors.Is(err, ErrForbidden) ||
		!strings.Contains(err.Error(), "ask the super admin root to run `keyden member add ann --role admin`") {
		t.Fatalf("a non-member created a key: %v", err)
	}
	for _, u := range []string{"ann", "bob"} {
		if _, err := root.AddMember(ctx, u, model.RoleAdmin); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := ann.AddMember(ctx, "eve", model.RoleAdmin); !errors.Is(err, ErrForbidden) {
		t.Fatalf("an admin added a member: %v", err)
	}
	annKey := mustCreate(t, ann, CreateRequest{Name: "ann's"})
	bobKey := mustCreate(t, bob, CreateRequest{Name: "bob's"})
	rootKey := mustCreate(t, root, CreateRequest{Name: "root's 2"})
	type op func(st testStore, id string) error
	ops := map[string]op{
		"delete":  func(st testStore, id string) error { _, err := st.DeleteKey(ctx, id); return err },
		"disable": func(st testStore, id string) error { _, err := st.SetDisabled(ctx, id, true); return err },
		"rotate": func(st testStore, id string) error {
			_, err := st.RotateKey(ctx, RotateRequest{ID: id, Grace: time.Hour})
			return err
		},
	}
	for name, o := range ops {
		for _, tt := range []struct {
			who testStore
			key string
		}{{ann, bobKey.Key.ID}, {ann, rootKey.Key.ID}, {bob, annKey.Key.ID}, {eve, annKey.Key.ID}} {
			if err := o(tt.who, tt.key); !errors.Is(err, ErrForbidden) {
				t.Errorf("%s by %s on %s: %v", name, tt.who.Actor(), tt.key, err)
			}
		}
	}
	// Each may act on its own; the super admin on anyone's.
	if _, err := ann.SetDisabled(ctx, annKey.Key.ID, true); err != nil {
		t.Fatal(err)
	}
	if _, err := ann.SetDisabled(ctx, annKey.Key.ID, false); err != nil {
		t.Fatal(err)
	}
	if _, err := ann.RotateKey(ctx, RotateRequest{ID: annKey.Key.ID, Grace: time.Hour}); err != nil {
		t.Fatal(err)
	}
	if _, err := root.DeleteKey(ctx, bobKey.Key.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.AddEnvironment(ctx, model.Environment{Name: "qa"}); !errors.Is(err, ErrForbidden) {
		t.Fatalf("an admin added an environment: %v", err)
	}
	if _, err := bob.AddChannel(ctx, model.Channel{Name: "partner"}); err != nil {
		t.Fatalf("an admin could not add a channel: %v", err)
	}
	if _, err := eve.AddChannel(ctx, model.Channel{Name: "eves"}); !errors.Is(err, ErrForbidden) {
		t.Fatalf("a non-member added a channel: %v", err)
	}
	// Verify needs no membership: services verify as their own users.
	if res, err := eve.Verify(ctx, VerifyRequest{Secret: rootKey.Secret}); err != nil || !res.OK {
		t.Fatalf("verify as a non-member: %v %v", res, err)
	}
	// The last super admin stays.
	if err := root.RemoveMember(ctx, "root"); !errors.Is(err, ErrForbidden) || !strings.Contains(err.Error(), "last super admin") {
		t.Fatalf("removed the last super admin: %v", err)
	}
	if _, err := root.AddMember(ctx, "root", model.RoleAdmin); !errors.Is(err, ErrForbidden) {
		t.Fatalf("demoted the last super admin: %v", err)
	}
	if _, err := root.AddMember(ctx, "ann", model.RoleSuperAdmin); err != nil {
		t.Fatal(err)
	}
	if err := ann.RemoveMember(ctx, "root"); err != nil {
		t.Fatalf("a second super admin could not remove the first: %v", err)
	}
	if err := ann.RemoveMember(ctx, "nobody"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("removing a non-member: %v", err)
	}
}

// Every change lands in the audit log with who made it.
func TestAuditOfEachAction(t *testing.T) {
	clk := newClock()
	st := newAny(t, Options{Actor: "root", Now: clk.Now})
	c := mustCreate(t, st, CreateRequest{Name: "k", ExpiresAt: clk.Now().Add(time.Hour)})
	st.SetDisabled(ctx, c.Key.ID, true)
	st.SetDisabled(ctx, c.Key.ID, false)
	r, err := st.RotateKey(ctx, RotateRequest{ID: c.Key.ID, Grace: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	clk.Advance(2 * time.Minute)
	st.Verify(ctx, VerifyRequest{Secret: c.Secret})
	st.DeleteKey(ctx, r.New.Key.ID)
	st.AddMember(ctx, "ann", model.RoleAdmin)
	st.RemoveMember(ctx, "ann")
	st.AddChannel(ctx, model.Channel{Name: "ch"})
	st.RemoveChannel(ctx, "ch")
	st.AddEnvironment(ctx, model.Environment{Name: "qa"})
	st.RemoveEnvironment(ctx, "qa")
	evs, err := st.Audit(ctx, AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for i := len(evs) - 1; i >= 0; i-- {
		e := evs[i]
		if e.Actor != "root" || e.Time.IsZero() {
			t.Errorf("event without actor or time: %+v", e)
		}
		got = append(got, e.Action)
	}
	want := "init create disable enable create rotate expire delete member-add member-rm channel-add channel-rm env-add env-rm"
	if strings.Join(got, " ") != want {
		t.Fatalf("audit:\n got %s\nwant %s", strings.Join(got, " "), want)
	}
}

func TestReviewFilters(t *testing.T) {
	clk := newClock()
	st := newAny(t, Options{Now: clk.Now})
	day := 24 * time.Hour
	old := mustCreate(t, st, CreateRequest{Name: "old"})
	clk.Advance(100 * day)
	mustCreate(t, st, CreateRequest{Name: "new"})
	used := mustCreate(t, st, CreateRequest{Name: "used", ExpiresAt: clk.Now().Add(5 * day)})
	st.Verify(ctx, VerifyRequest{Secret: used.Secret})
	_ = old
	names := func(f Filter) string {
		keys, err := st.ListKeys(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		var n []string
		for _, k := range keys {
			n = append(n, k.Name)
		}
		return strings.Join(n, ",")
	}
	if got := names(Filter{UnusedFor: 90 * day}); got != "old" {
		t.Errorf("unused for 90d: %s", got)
	}
	if got := names(Filter{NeverUsed: true}); !strings.Contains(got, "old") || !strings.Contains(got, "new") || strings.Contains(got, "used") {
		t.Errorf("never used: %s", got)
	}
	if got := names(Filter{ExpiringWithin: 7 * day}); got != "used" {
		t.Errorf("expiring within 7d: %s", got)
	}
}

// A key whose lifetime is under the minute (made before --expires had a
// minimum) rotates into one that lives a minute, not one dead on arrival.
func TestRotationKeepsAtLeastAMinute(t *testing.T) {
	clk := newClock()
	st := newAny(t, Options{Now: clk.Now})
	old := mustCreate(t, st, CreateRequest{Name: "brief", ExpiresAt: clk.Now().Add(time.Nanosecond)})
	r, err := st.RotateKey(ctx, RotateRequest{ID: old.Key.ID, Grace: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if want := clk.Now().Add(model.MinLifetime); !r.New.Key.ExpiresAt.Equal(want) {
		t.Fatalf("new key expires %v, want %v", r.New.Key.ExpiresAt, want)
	}
}
