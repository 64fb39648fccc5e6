package storage

import (
	"errors"
	"net/netip"
	"reflect"
	"testing"

	"keyden/model"
)

// A decoy verifies exactly as an unknown key would, and each use is an
// alert: an audit event with who used it, and the decoy tripped.
func TestDecoyIsRefusedAsUnknownAndAlerts(t *testing.T) {
	st := newAny(t, Options{Actor: "alice"})
	d := mustCreate(t, st, CreateRequest{Name: "bait", Decoy: true})
	if !d.Key.Decoy || d.Key.Health(d.Key.CreatedAt) != model.HealthDecoy {
		t.Fatalf("created %+v", d.Key)
	}
	unknown, err := st.Verify(ctx, VerifyRequest{Secret: "kd_prod_0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmn0gZMuH"})
	if err != nil {
		t.Fatal(err)
	}
	for _, env := range []string{"", "prod", "dev"} {
		res, err := st.Verify(ctx, VerifyRequest{Secret: d.Secret, Environment: env, ClientIP: netip.MustParseAddr("198.51.100.7"), UserAgent: "thief/2", Via: "a test"})
		if err != nil {
			t.Fatal(err)
		}
		want := unknown
		if env != "" {
			want, _ = st.Verify(ctx, VerifyRequest{Secret: "kd_prod_0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmn0gZMuH", Environment: env})
		}
		if !reflect.DeepEqual(res, want) {
			t.Errorf("env %q: decoy %+v, unknown %+v", env, res, want)
		}
	}
	evs, err := st.Audit(ctx, AuditFilter{KeyID: d.Key.ID})
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 4 || evs[0].Action != model.ActionDecoyUse || evs[0].ClientIP != "198.51.100.7" || evs[0].UserAgent != "thief/2" {
		t.Fatalf("audit %+v", evs)
	}
	k, _ := st.GetKey(ctx, d.Key.ID)
	if !k.Tripped() || k.UseCount != 3 || k.LastUsedFrom != "198.51.100.7" {
		t.Errorf("decoy after use %+v", k)
	}
	// Its 30D column counts them too (it stayed flat beside "used just now").
	if d := k.DailyUses(); d.Sum() != 3 {
		t.Errorf("decoy's uses per day %+v, want 3 in all", d)
	}
	if _, err := st.RotateKey(ctx, RotateRequest{ID: d.Key.ID}); !errors.Is(err, ErrConflict) {
		t.Errorf("rotating a decoy: %v", err)
	}
	after, err := st.AuditAfter(ctx, evs[1].Seq, 0)
	if err != nil || len(after) != 1 || after[0].Seq != evs[0].Seq {
		t.Errorf("AuditAfter: %+v %v", after, err)
	}
	if err := st.RecordDecoyUse(ctx, DecoyUse{Hash: k.Hash, Via: "keyden serve"}); err != nil {
		t.Fatal(err)
	}
	if k, _ := st.GetKey(ctx, d.Key.ID); k.UseCount != 4 {
		t.Errorf("RecordDecoyUse: %d uses", k.UseCount)
	}
	// A decoy reported as leaked stays set: audited, not disabled.
	out, err := st.RecordLeak(ctx, Leak{Hash: k.Hash, Where: "https://example.com/x", Source: "a test"}, LeakResponse{Disable: true, Authorized: true})
	if err != nil || !out.Found || out.Live || out.Done != "" {
		t.Fatalf("a decoy's leak: %+v %v", out, err)
	}
	if evs, _ := st.Audit(ctx, AuditFilter{KeyID: d.Key.ID, Limit: 1}); evs[0].Action != model.ActionLeak || out.Key.Disabled {
		t.Errorf("a decoy's leak: %+v", evs[0])
	}
	live := mustCreate(t, st, CreateRequest{Name: "live"})
	if err := st.RecordDecoyUse(ctx, DecoyUse{Hash: live.Key.Hash}); err != nil {
		t.Fatal(err)
	}
	if k, _ := st.GetKey(ctx, live.Key.ID); k.UseCount != 0 {
		t.Errorf("a live key took a decoy's alert")
	}
}
