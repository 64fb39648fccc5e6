package keyindex

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"keyden/model"
)

// storedKey is a key with times drawn to meet every edge of the review
// rules at now: exactly on a threshold, a nanosecond either side, never,
// and far enough apart (1680 to 2260) that now minus a time overflows an
// int64 of nanoseconds. It goes through the store's codec, so it is a key
// as a store can hold it.
func storedKey(t *testing.T, r *rand.Rand, id string, now time.Time) model.Key {
	t.Helper()
	near := func(at time.Time) time.Time {
		switch r.IntN(6) {
		case 0:
			return at
		case 1:
			return at.Add(-time.Nanosecond)
		case 2:
			return at.Add(time.Nanosecond)
		case 3: // within a few days
			return at.Add(time.Duration(r.Int64N(int64(10*day))) - 5*day)
		case 4: // anywhere a time can be kept
			return time.Date(1680+r.IntN(580), 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(r.Int64N(int64(365 * day))))
		}
		return time.Time{}
	}
	names := []string{"Key", "key", "KEY 2", "ärger", "Ärger", "z", "a b"}
	k := model.Key{ID: id, Name: names[r.IntN(len(names))], Environment: "dev", Channel: "default",
		CreatedAt: near(now.Add(-model.StaleAfter)), LastUsedAt: near(now.Add(-model.StaleAfter)),
		ExpiresAt: near(now.Add(model.ExpiringWithin))}
	if k.CreatedAt.IsZero() && r.IntN(4) > 0 { // a store always sets it; keep a few without
		k.CreatedAt = near(now)
	}
	var got model.Key
	if err := model.DecodeKey(k.ID, model.EncodeKey(nil, &k), &got); err != nil {
		t.Fatal(err)
	}
	return got
}

// The index's review filters read dense columns instead of calling the
// model for each of a million keys; this shows they answer exactly what
// the model's rules answer, key by key, for a random set at random
// moments, through each of the index's paths: a fresh index, the narrowing
// path, and keys patched into the overlay.
func TestReviewsAreTheModelsRules(t *testing.T) {
	rules := map[Review]func(k *model.Key, now time.Time) bool{
		AllKeys:   func(*model.Key, time.Time) bool { return true },
		Unused:    func(k *model.Key, now time.Time) bool { return k.UnusedFor(model.StaleAfter, now) },
		NeverUsed: func(k *model.Key, _ time.Time) bool { return k.NeverUsed() },
		Expiring:  func(k *model.Key, now time.Time) bool { return k.ExpiringWithin(model.ExpiringWithin, now) },
	}
	if len(rules) != int(numReviews) {
		t.Fatalf("%d rules for %d reviews", len(rules), numReviews)
	}
	for seed := uint64(1); seed <= 8; seed++ {
		r := rand.New(rand.NewPCG(seed, 11))
		now := testNow
		if seed > 1 { // any moment from 1700 to 2250, to the nanosecond
			now = time.Date(1700+r.IntN(550), 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(r.Int64N(int64(365 * day))))
		}
		var keys []model.Key
		for i := range 4000 {
			keys = append(keys, storedKey(t, r, fmt.Sprintf("k%05d", i), now))
		}
		ix := Build(slices.Clone(keys))
		// A third of the keys again with other times, into the overlay.
		var changed []model.Key
		for i := range keys {
			if r.IntN(3) == 0 {
				k := storedKey(t, r, keys[i].ID, now)
				keys[i] = k
				changed = append(changed, k)
			}
		}
		patched := ix.Patch(changed, nil)
		if patched.ov == nil {
			t.Fatal("the patch was not kept in the overlay")
		}
		for review, rule := range rules {
			for _, c := range []struct {
				name string
				ix   *Index
			}{{"fresh", Build(slices.Clone(keys))}, {"patched", patched}} {
				for _, narrowing := range []bool{false, true} {
					var within []int32
					if narrowing {
						within = c.ix.Order(ByName)
					}
					got := map[string]bool{}
					for _, i := range c.ix.Filter(Query{Review: review}, within, now) {
						got[c.ix.Key(i).ID] = true
					}
					for i := range keys {
						k := &keys[i]
						if want := rule(k, now); got[k.ID] != want {
							t.Fatalf("seed %d, %s index, narrowing %v, review %q at %v: key used %v, created %v, expires %v: index says %v, model says %v",
								seed, c.name, narrowing, review, now, k.LastUsedAt, k.CreatedAt, k.ExpiresAt, got[k.ID], want)
						}
					}
				}
			}
		}
	}
}

// The orders, stated on the records: what the index's columnar compare
// must give. Ties keep the load order.
var wantOrder = map[Sort]func(a, b *model.Key) int{
	ByLastUsed: func(a, b *model.Key) int { return timeOrder(a.LastUsedAt, b.LastUsedAt, false) },
	ByCreated:  func(a, b *model.Key) int { return timeOrder(a.CreatedAt, b.CreatedAt, false) },
	ByName: func(a, b *model.Key) int {
		return strings.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name))
	},
	ByExpiry: func(a, b *model.Key) int { return timeOrder(a.ExpiresAt, b.ExpiresAt, true) },
}

// timeOrder puts the zero time (never) last, the others in the direction asked.
func timeOrder(a, b time.Time, asc bool) int {
	switch {
	case a.IsZero() || b.IsZero():
		return cmp.Compare(boolInt(a.IsZero()), boolInt(b.IsZero()))
	case asc:
		return a.Compare(b)
	}
	return b.Compare(a)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestOrdersAreAsStated(t *testing.T) {
	if len(wantOrder) != int(numSorts) || len(Sorts()) != int(numSorts) {
		t.Fatalf("%d stated orders, %d sorts", len(wantOrder), len(Sorts()))
	}
	r := rand.New(rand.NewPCG(4, 4))
	var keys []model.Key
	for i := range 3000 {
		keys = append(keys, storedKey(t, r, fmt.Sprintf("k%05d", i), testNow))
	}
	ix := Build(slices.Clone(keys))
	for _, s := range Sorts() {
		want := slices.Clone(keys)
		slices.SortStableFunc(want, func(a, b model.Key) int { return wantOrder[s](&a, &b) })
		if g, w := ids(ix, ix.Order(s)), keyIDs(want); !slices.Equal(g, w) {
			i := 0
			for g[i] == w[i] {
				i++
			}
			t.Fatalf("sort %q: row %d is %s, want %s", s, i, g[i], w[i])
		}
		// A direction is what the order does with two different times.
		if s != ByName {
			a, b := model.Key{ExpiresAt: testNow, CreatedAt: testNow, LastUsedAt: testNow}, model.Key{}
			b.ExpiresAt, b.CreatedAt, b.LastUsedAt = testNow.Add(time.Hour), testNow.Add(time.Hour), testNow.Add(time.Hour)
			if got := wantOrder[s](&a, &b) < 0; got != s.Ascending() {
				t.Fatalf("sort %q says ascending %v", s, s.Ascending())
			}
		}
	}
}

func keyIDs(keys []model.Key) []string {
	out := make([]string, len(keys))
	for i := range keys {
		out[i] = keys[i].ID
	}
	return out
}

// The review labels carry model's thresholds.
func TestReviewLabels(t *testing.T) {
	want := []string{"", "unused 90d+", "never used", "expiring ≤7d"}
	for r, w := range want {
		if got := Review(r).String(); got != w {
			t.Errorf("review %d is %q, want %q", r, got, w)
		}
	}
	if AllKeys.Next() != Unused || Expiring.Next() != AllKeys || ByExpiry.Next() != ByLastUsed {
		t.Error("Next does not cycle")
	}
}
