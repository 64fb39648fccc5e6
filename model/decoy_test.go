package model

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestDecoyFlagSurvivesTheCodec(t *testing.T) {
	now := time.Date(2026, 11, 29, 9, 0, 0, 0, time.UTC)
	for _, k := range []Key{{ID: "a", Decoy: true, Disabled: true, CreatedAt: now}, {ID: "b", Decoy: true, UseCount: 2, LastUsedAt: now, CreatedAt: now}} {
		var got Key
		if err := DecodeKey(k.ID, EncodeKey(nil, &k), &got); err != nil || got.Decoy != k.Decoy || got.Disabled != k.Disabled {
			t.Fatalf("%+v → %+v %v", k, got, err)
		}
	}
	var want strings.Builder
	enc := json.NewEncoder(&want)
	enc.SetEscapeHTML(false)
	enc.Encode((&Key{ID: "a", Decoy: true, CreatedAt: now}).View())
	if got := string((&Key{ID: "a", Decoy: true, CreatedAt: now}).AppendJSON(nil)); got != strings.TrimSpace(want.String()) || !strings.Contains(got, `"decoy":true`) {
		t.Errorf("AppendJSON %s, want %s", got, want.String())
	}
	k := Key{Decoy: true, CreatedAt: now}
	if k.Health(now) != HealthDecoy || k.Tripped() {
		t.Errorf("unused decoy: %s", k.Health(now))
	}
	k.UseCount, k.Disabled = 1, true
	if k.Health(now) != HealthTripped {
		t.Errorf("used decoy: %s, want tripped before disabled", k.Health(now))
	}
}
