package storage

import (
	"testing"

	"keyden/model"
)

// An environment's confirm-by-name setting is stored in its record, read
// back by the next open, and logged; an old record (no field) reads as on
// for prod only.
func TestSetConfirmByName(t *testing.T) {
	st := newStore(t, Options{})
	// As a store made before the setting existed wrote them.
	if err := st.update(ctx, func(tx kv) error {
		for _, r := range [][2]string{{"prod", `{"name":"prod","tag":"prod","order":3}`}, {"dev", `{"name":"dev","tag":"dev","order":1}`}} {
			if err := tx.Bucket(bucketEnvs).Put([]byte(r[0]), []byte(r[1])); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	byName := func() map[string]bool {
		envs, err := st.Environments(ctx)
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]bool{}
		for _, e := range envs {
			m[e.Name] = e.ConfirmByName
		}
		return m
	}
	if m := byName(); !m["prod"] || m["dev"] || m["staging"] {
		t.Fatalf("old records: %v", m)
	}
	if _, err := st.SetConfirmByName(ctx, "prod", false); err != nil {
		t.Fatal(err)
	}
	if e, err := st.SetConfirmByName(ctx, "stg", true); err != nil || e.Name != "staging" || !e.ConfirmByName {
		t.Fatalf("by tag: %+v %v", e, err)
	}
	if m := byName(); m["prod"] || !m["staging"] {
		t.Fatalf("after set: %v", m)
	}
	if _, err := st.SetConfirmByName(ctx, "nowhere", true); err == nil {
		t.Fatal("set on an unknown environment")
	}
	evs, err := st.Audit(ctx, AuditFilter{})
	if err != nil || evs[0].Action != model.ActionEnvSet || evs[0].Detail != "confirm by name on" {
		t.Fatalf("audit: %+v %v", evs[0], err)
	}
}
