package keyindex

import (
	"testing"
	"time"

	"keyden/model"
)

// A tripped decoy is first in every order, and moves there when a patch
// says it was used; a decoy nobody used sorts like any key.
func TestTrippedDecoysComeFirst(t *testing.T) {
	now := time.Date(2026, 11, 29, 9, 0, 0, 0, time.UTC)
	keys := []model.Key{
		{ID: "a", Name: "alpha", Environment: "prod", Channel: "c", CreatedAt: now.Add(-time.Hour), LastUsedAt: now.Add(-time.Minute)},
		{ID: "b", Name: "bait", Environment: "prod", Channel: "c", CreatedAt: now.Add(-48 * time.Hour), LastUsedAt: now.Add(-24 * time.Hour), UseCount: 1, Decoy: true},
		{ID: "c", Name: "cold", Environment: "prod", Channel: "c", CreatedAt: now.Add(-2 * time.Hour), Decoy: true},
	}
	ix := Build(keys)
	for _, s := range Sorts() {
		if o := ix.Order(s); ix.Key(o[0]).ID != "b" {
			t.Errorf("%v: first is %s, want the tripped decoy b", s, ix.Key(o[0]).ID)
		}
	}
	used := keys[2]
	used.UseCount, used.LastUsedAt = 1, now.Add(-30*24*time.Hour)
	p := ix.Patch([]model.Key{used}, nil)
	for _, s := range Sorts() {
		o := p.Order(s)
		if first, second, last := p.Key(o[0]).ID, p.Key(o[1]).ID, p.Key(o[2]).ID; (first != "b" && first != "c") || (second != "b" && second != "c") || last != "a" {
			t.Errorf("%v after c tripped: %s %s %s, want both decoys first", s, first, second, last)
		}
	}
	if got := p.Key(p.Order(ByLastUsed)[0]).ID; got != "b" {
		t.Errorf("tripped decoys among themselves by last use: first %s, want b", got)
	}
}
