package keyindex

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"keyden/model"
)

// groupsFromRecords is the grouped review read from each key's record,
// with model's own methods: what Groups must agree with.
func groupsFromRecords(ix *Index, rows []int32, by GroupBy, now time.Time) []Group {
	at := map[string]int{}
	var out []Group
	for _, r := range rows {
		k := ix.Key(r)
		name := k.Environment
		switch by {
		case ByCreator:
			name = k.CreatedBy
		case ByChannel:
			name = k.Channel
		}
		i, ok := at[name]
		if !ok {
			i = len(out)
			at[name] = i
			out = append(out, Group{Name: name})
		}
		g := &out[i]
		g.Keys++
		if k.NeverUsed() {
			g.Never++
		}
		if k.UnusedFor(model.StaleAfter, now) {
			g.Stale++
		}
		if k.ExpiringWithin(model.ExpiringWithin, now) {
			g.Expiring++
		}
		if k.LastUsedAt.After(g.LastUsed) {
			g.LastUsed = k.LastUsedAt
		}
	}
	return out
}

// groupKey makes a key whose times often sit exactly on the review
// thresholds, or are zero.
func groupKey(r *rand.Rand, id string) model.Key {
	k := randomKey(r, id)
	k.CreatedBy = fmt.Sprintf("admin%d", r.IntN(7))
	at := func() time.Time {
		switch r.IntN(6) {
		case 0:
			return time.Time{}
		case 1:
			return testNow.Add(-model.StaleAfter)
		case 2:
			return testNow.Add(model.ExpiringWithin)
		case 3:
			return testNow.Add(-model.StaleAfter + time.Nanosecond)
		case 4:
			return testNow.Add(model.ExpiringWithin + time.Nanosecond)
		}
		return testNow.Add(time.Duration(r.IntN(400)-200) * 24 * time.Hour)
	}
	k.CreatedAt, k.LastUsedAt, k.ExpiresAt = at(), at(), at()
	if k.LastUsedAt.After(testNow) {
		k.LastUsedAt = time.Time{}
	}
	return k
}

// TestGroupsFromColumnsMatchTheRecords: the counts and last use of every
// group, by creator, channel and environment, over random keys, patches
// and subsets, are those read from the records with model's methods.
func TestGroupsFromColumnsMatchTheRecords(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 42))
	sorted := func(gs []Group) []Group {
		gs = slices.Clone(gs)
		slices.SortFunc(gs, func(a, b Group) int { return cmp.Compare(a.Name, b.Name) })
		return gs
	}
	for round := range 30 {
		var keys []model.Key
		for i := range 1 + r.IntN(300) {
			keys = append(keys, groupKey(r, fmt.Sprintf("k%05d", i)))
		}
		ix := Build(keys)
		for range r.IntN(3) {
			var changed []model.Key
			var removed []string
			for range r.IntN(40) {
				id := fmt.Sprintf("k%05d", r.IntN(len(keys)+20))
				if r.IntN(4) == 0 {
					removed = append(removed, id)
				} else {
					changed = append(changed, groupKey(r, id))
				}
			}
			ix = ix.Patch(changed, removed)
		}
		var rows []int32
		for _, i := range ix.Order(ByLastUsed) {
			if r.IntN(3) > 0 {
				rows = append(rows, i)
			}
		}
		for _, by := range []GroupBy{ByCreator, ByChannel, ByEnv} {
			got, want := sorted(ix.Groups(rows, by, testNow)), sorted(groupsFromRecords(ix, rows, by, testNow))
			if !slices.EqualFunc(got, want, func(a, b Group) bool {
				return a.Name == b.Name && a.Keys == b.Keys && a.Never == b.Never && a.Stale == b.Stale &&
					a.Expiring == b.Expiring && a.LastUsed.Equal(b.LastUsed)
			}) {
				t.Fatalf("round %d, by %d:\n got %+v\nwant %+v", round, by, got, want)
			}
		}
	}
}
