package storage

import (
	"errors"
	"strings"
	"testing"
	"time"

	"keyden/model"
)

func TestChangeKeysAuditsEachKeyAndReportsRefusals(t *testing.T) {
	root := newAny(t, Options{Actor: "root"})
	if _, err := root.AddMember(ctx, "bob", model.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	bob := reopen(t, root, Options{Actor: "bob"})
	rootKey := mustCreate(t, root, CreateRequest{Name: "root's"})
	b1 := mustCreate(t, bob, CreateRequest{Name: "bob's 1"})
	b2 := mustCreate(t, bob, CreateRequest{Name: "bob's 2", Environment: "dev"})
	if _, err := bob.SetDisabled(ctx, b2.Key.ID, true); err != nil {
		t.Fatal(err)
	}
	before, _ := bob.Audit(ctx, AuditFilter{})
	// bob may not touch root's key, b2 is disabled already, k0000000 is no
	// key, b1 is named twice: b1 alone is disabled, the others are reported.
	out, err := bob.ChangeKeys(ctx, BulkRequest{Action: model.KeyDisable,
		IDs: []string{rootKey.Key.ID, b1.Key.ID, b2.Key.ID, "k0000000", b1.Key.ID}})
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		id  string
		err error
	}{{rootKey.Key.ID, ErrForbidden}, {b1.Key.ID, nil}, {b2.Key.ID, ErrExists}, {"k0000000", ErrNotFound}}
	if len(out) != len(want) {
		t.Fatalf("%d outcomes, want %d: %+v", len(out), len(want), out)
	}
	for i, w := range want {
		if out[i].Key.ID != w.id || (w.err == nil) != (out[i].Err == nil) || (w.err != nil && !errors.Is(out[i].Err, w.err)) {
			t.Errorf("outcome %d: %s %v, want %s %v", i, out[i].Key.ID, out[i].Err, w.id, w.err)
		}
	}
	if !strings.Contains(out[0].Err.Error(), "bob is an admin and may disable only keys it created") {
		t.Errorf("the refusal does not say why: %v", out[0].Err)
	}
	if k, _ := root.GetKey(ctx, b1.Key.ID); !k.Disabled || !out[1].Key.Disabled {
		t.Error("b1 was not disabled")
	}
	if k, _ := root.GetKey(ctx, rootKey.Key.ID); k.Disabled {
		t.Error("a refused key was disabled")
	}
	after, _ := bob.Audit(ctx, AuditFilter{})
	if len(after) != len(before)+1 || after[0].Action != model.ActionDisable || after[0].KeyID != b1.Key.ID || after[0].Actor != "bob" {
		t.Fatalf("audit after the bulk change: %+v", after[:len(after)-len(before)])
	}
}

func TestChangeKeysByFilterRotatesDeletesAndMoves(t *testing.T) {
	clk := newClock()
	st := newAny(t, Options{Now: clk.Now})
	// More keys than one etcd transaction takes.
	n := 2*BulkBatch + 3
	var prod []Created
	for i := 0; i < n; i++ {
		prod = append(prod, mustCreate(t, st, CreateRequest{Name: "p", Environment: "prod"}))
	}
	dev := mustCreate(t, st, CreateRequest{Name: "d", Environment: "dev"})
	isProd := func(k *model.Key) bool { return k.Environment == "prod" && k.RotatedTo == "" && k.RotatedFrom == "" }
	g0, _ := st.Generation(ctx)
	out, err := st.ChangeKeys(ctx, BulkRequest{Action: model.KeyRotate, Match: isProd, Grace: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != n {
		t.Fatalf("%d keys rotated, want %d", len(out), n)
	}
	for i, o := range out {
		if o.Err != nil || o.New == nil || o.Key.RotatedTo != o.New.Key.ID {
			t.Fatalf("outcome %d: %+v", i, o)
		}
		if res, err := st.Verify(ctx, VerifyRequest{Secret: o.New.Secret}); err != nil || !res.OK {
			t.Fatalf("a new key does not verify: %v %v", res.Reason, err)
		}
	}
	g1, _ := st.Generation(ctx)
	txns := 1 // a file: one transaction
	if _, ok := st.(Etcd); ok {
		txns = (n + BulkBatch - 1) / BulkBatch
	}
	if g1.Keys-g0.Keys != uint64(txns) {
		t.Errorf("%d write transactions, want %d", g1.Keys-g0.Keys, txns)
	}
	// The filter is tested again when the change is made: rotated keys no
	// longer match, so a second run changes nothing.
	if again, err := st.ChangeKeys(ctx, BulkRequest{Action: model.KeyRotate, Match: isProd}); err != nil || len(again) != 0 {
		t.Fatalf("a second rotation by the same filter: %d outcomes, %v", len(again), err)
	}

	if _, err := st.ChangeKeys(ctx, BulkRequest{Action: model.KeyMove, IDs: []string{dev.Key.ID}, Channel: "web"}); !errors.Is(err, ErrNotFound) ||
		!strings.Contains(err.Error(), "keyden channel add web") {
		t.Fatalf("a move to a missing channel: %v", err)
	}
	if _, err := st.AddChannel(ctx, model.Channel{Name: "web"}); err != nil {
		t.Fatal(err)
	}
	moved, err := st.ChangeKeys(ctx, BulkRequest{Action: model.KeyMove, Channel: "web",
		Match: func(k *model.Key) bool { return k.Environment == "dev" }})
	if err != nil || len(moved) != 1 || moved[0].Err != nil || moved[0].Key.Channel != "web" {
		t.Fatalf("move: %+v %v", moved, err)
	}
	if ev, _ := st.Audit(ctx, AuditFilter{Limit: 1}); ev[0].Action != model.ActionMove || ev[0].Channel != "web" || ev[0].Detail != "from channel default" {
		t.Fatalf("the move's event: %+v", ev[0])
	}
	if err := st.RemoveChannel(ctx, "web"); !errors.Is(err, ErrInUse) || !strings.Contains(err.Error(), "`keyden move` or delete them first") {
		t.Fatalf("removing a channel in use: %v", err)
	}

	gone, err := st.ChangeKeys(ctx, BulkRequest{Action: model.KeyDelete, IDs: []string{prod[0].Key.ID, prod[1].Key.ID}})
	if err != nil || len(gone) != 2 || gone[0].Err != nil || gone[1].Err != nil {
		t.Fatalf("delete: %+v %v", gone, err)
	}
	if res, _ := st.Verify(ctx, VerifyRequest{Secret: prod[0].Secret}); res.Reason != model.ReasonUnknown {
		t.Fatalf("a deleted key verifies as %q", res.Reason)
	}
	if in, _ := st.Info(ctx); in.Keys != 2*n+1-2 {
		t.Fatalf("%d keys after the delete, want %d", in.Keys, 2*n+1-2)
	}
	if _, err := st.ChangeKeys(ctx, BulkRequest{Action: "explode", IDs: []string{dev.Key.ID}}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("an unknown action: %v", err)
	}
}
