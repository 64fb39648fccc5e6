package keyindex

import (
	"fmt"
	"iter"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"keyden/model"
)

// randomKeys is n random keys with ids k00000, k00001, ….
func randomKeys(r *rand.Rand, n int) []model.Key {
	var keys []model.Key
	for i := 0; i < n; i++ {
		keys = append(keys, randomKey(r, fmt.Sprintf("k%05d", i)))
	}
	return keys
}

// randomKey makes a key whose fields collide often (names, times), so ties
// in every sort are exercised.
func randomKey(r *rand.Rand, id string) model.Key {
	envs, chs := []string{"dev", "staging", "prod", "qa"}, []string{"default", "mobile", "Partner Feed"}
	k := model.Key{ID: id, Name: fmt.Sprintf("key %d", r.IntN(40)), Environment: envs[r.IntN(len(envs))],
		Channel: chs[r.IntN(len(chs))], CreatedAt: testNow.Add(-time.Duration(r.IntN(500)) * time.Hour), CreatedBy: "alice",
		Hint: fmt.Sprintf("kd_dev_%04d…abcd", r.IntN(10000))}
	if r.IntN(3) > 0 {
		k.LastUsedAt = testNow.Add(-time.Duration(r.IntN(200)) * 24 * time.Hour)
	}
	if r.IntN(4) == 0 {
		k.ExpiresAt = testNow.Add(time.Duration(r.IntN(20)-5) * 24 * time.Hour)
	}
	if r.IntN(2) == 0 {
		k.Scopes = []string{"posts:read"}
	}
	return k
}

// ids lists the keys at rows.
func ids(ks *Index, rows []int32) []string {
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = ks.Key(r).ID
	}
	return out
}

var indexQueries = []Query{
	{}, {Env: "prod"}, {Channel: "mobile"}, {Text: "key 1"}, {Text: "partner"}, {Review: Unused},
	{Review: NeverUsed}, {Review: Expiring}, {Env: "dev", Text: "read"}, {Env: "nowhere"},
}

// sameIndex says whether got shows exactly what want shows: the same keys,
// and the same rows in the same order for every query and sort.
func sameIndex(t *testing.T, step string, got, want *Index) {
	t.Helper()
	if got.Count() != want.Count() {
		t.Fatalf("%s: %d keys, want %d", step, got.Count(), want.Count())
	}
	for _, q := range indexQueries {
		for mode := range numSorts {
			q.Sort = mode
			g, w := ids(got, got.Filter(q, nil, testNow)), ids(want, want.Filter(q, nil, testNow))
			if !slices.Equal(g, w) {
				t.Fatalf("%s: query %+v:\n got %v\nwant %v", step, q, g, w)
			}
		}
	}
	ge, gc := got.Counts()
	we, wc := want.Counts()
	if fmt.Sprint(ge, gc) != fmt.Sprint(we, wc) {
		t.Fatalf("%s: counts %v %v, want %v %v", step, ge, gc, we, wc)
	}
	for k := range want.all() {
		i, ok := got.indexOf(k.ID)
		if !ok || got.gone(i) || got.Key(i).Name != k.Name || !got.Key(i).LastUsedAt.Equal(k.LastUsedAt) {
			t.Fatalf("%s: key %s not found as it is", step, k.ID)
		}
	}
}

// A chain of patches shows what a fresh load of the same records shows,
// whatever changes: uses, rule changes, creates, deletes, a key changed
// twice, a new key changed and removed again.
func TestIndexPatchMatchesAFreshLoad(t *testing.T) {
	for seed := uint64(1); seed <= 20; seed++ {
		r := rand.New(rand.NewPCG(seed, 7))
		var keys []model.Key
		for i := 0; i < 300; i++ {
			keys = append(keys, randomKey(r, fmt.Sprintf("k%05d", i*3)))
		}
		// What the store holds, in the order a patched set indexes it.
		truth := slices.Clone(keys)
		set := Build(keys)
		set.Order(ByLastUsed)
		set.Order(ByName) // two orders made before: patches must merge into them
		next := 0
		for step := 0; step < 12; step++ {
			var changed []model.Key
			var removed []string
			for c := r.IntN(15); c > 0 && len(truth) > 0; c-- {
				i := r.IntN(len(truth))
				switch r.IntN(4) {
				case 0: // used
					truth[i].LastUsedAt = testNow.Add(-time.Duration(r.IntN(100)) * time.Minute)
					truth[i].UseCount++
					changed = append(changed, truth[i])
				case 1: // a rule change
					truth[i].Name, truth[i].Environment = fmt.Sprintf("key %d", r.IntN(40)), "prod"
					changed = append(changed, truth[i])
				case 2:
					removed = append(removed, truth[i].ID)
					truth = slices.Delete(truth, i, i+1)
				case 3:
					next++
					k := randomKey(r, fmt.Sprintf("n%04d", next))
					truth = append(truth, k)
					changed = append(changed, k)
				}
			}
			// A key both changed and removed in one step is removed: keep
			// changed to keys still there, as the store's feed reports them.
			changed = slices.DeleteFunc(changed, func(k model.Key) bool { return slices.Contains(removed, k.ID) })
			for i := range changed { // the feed reports each key's current state
				j := slices.IndexFunc(truth, func(k model.Key) bool { return k.ID == changed[i].ID })
				changed[i] = truth[j]
			}
			set = set.Patch(changed, removed)
			sameIndex(t, fmt.Sprintf("seed %d step %d", seed, step), set, Build(slices.Clone(truth)))
		}
		if set.ov == nil {
			t.Fatalf("seed %d: no overlay was used", seed)
		}
	}
}

// Past its share of the keys the overlay is folded into a fresh set.
func TestIndexPatchRebuildsWhenTheOverlayGrows(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	keys := randomKeys(r, 100)
	set := Build(slices.Clone(keys))
	var changed []model.Key
	over := overlayLimit(len(keys))
	for i := 0; i < over; i++ {
		changed = append(changed, randomKey(r, fmt.Sprintf("n%05d", i)))
	}
	keys[5].Name = "renamed"
	changed = append(changed, keys[5])
	got := set.Patch(changed, []string{keys[0].ID})
	if got.byID == set.byID || got.ov != nil {
		t.Fatal("a big change was patched instead of rebuilt")
	}
	want := append(slices.Clone(keys[1:]), changed[:over]...)
	slices.SortFunc(want, func(a, b model.Key) int { return strings.Compare(a.ID, b.ID) })
	sameIndex(t, "rebuilt", got, Build(want))
}

func TestIndexFindsKeysLoadedInAnyOrder(t *testing.T) {
	keys := []model.Key{{ID: "b", Environment: "dev"}, {ID: "a", Environment: "dev"}, {ID: "c", Environment: "dev"}}
	set := Build(keys)
	for want, id := range []string{"b", "a", "c"} {
		if i, ok := set.indexOf(id); !ok || int(i) != want {
			t.Fatalf("%s at %d %v", id, i, ok)
		}
	}
	if _, ok := set.indexOf("zz"); ok {
		t.Fatal("found a key that is not there")
	}
}

// Patches share one overlay log; a set patched again after a newer one was
// made from it (never done by the app, but possible) must not disturb the
// newer one, and a set keeps showing what it showed while others grow.
func TestIndexPatchesNeverDisturbEachOther(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	keys := randomKeys(r, 200)
	base := Build(slices.Clone(keys))
	base.Order(ByLastUsed)
	keys[0].LastUsedAt = testNow
	k0 := base.Patch([]model.Key{keys[0]}, nil) // k0 has an overlay log
	if k0.log == nil {
		t.Fatal("no log")
	}
	a, b := slices.Clone(keys), slices.Clone(keys)
	a[3].Name, b[3].Name = "first branch", "second branch"
	a[4].LastUsedAt = testNow
	k1 := k0.Patch([]model.Key{a[3], a[4]}, nil)
	k1a := k1.Patch([]model.Key{randomKey(r, "n1")}, nil) // k1 stays the log's tip reader until now
	a2 := append(slices.Clone(a), *k1a.Key(int32(k1a.Size() - 1)))
	k2 := k0.Patch([]model.Key{b[3]}, []string{b[7].ID}) // forks the log
	if k2.log == k1a.log || k1.log != k1a.log {
		t.Fatal("the log was not shared along one line and forked off it")
	}
	b = slices.Delete(b, 7, 8)
	sameIndex(t, "k1", k1, Build(a))
	sameIndex(t, "k1a", k1a, Build(a2))
	sameIndex(t, "k2", k2, Build(b))
	sameIndex(t, "k0", k0, Build(keys))
}

// A verifier flushing the same keys all day fills the overlay log with old
// versions of them; the log is compacted to the current ones, the set is
// not rebuilt, and it still shows what a fresh load shows.
func TestIndexOverlayCompactsRepeatedChanges(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 5))
	keys := randomKeys(r, 100)
	set := Build(slices.Clone(keys))
	set.Order(ByLastUsed)
	family := set.byID
	for round := 0; round < 300; round++ {
		var changed []model.Key
		for j := 0; j < 10; j++ {
			keys[j].LastUsedAt = testNow.Add(-time.Duration(r.IntN(1000)) * time.Second)
			keys[j].UseCount++
			changed = append(changed, keys[j])
		}
		set = set.Patch(changed, nil)
	}
	if set.byID != family {
		t.Fatal("rebuilt instead of compacting")
	}
	if set.ovRecs.len() > overlayLimit(100) || set.ovRecs.len() < 10 {
		t.Fatalf("overlay holds %d versions", set.ovRecs.len())
	}
	sameIndex(t, "after 3,000 changes", set, Build(keys))
}

var testNow = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

// all yields every live key in index order.
func (ix *Index) all() iter.Seq[*model.Key] {
	return func(yield func(*model.Key) bool) {
		for i := range int32(ix.Size()) {
			if !ix.gone(i) && !yield(ix.Key(i)) {
				return
			}
		}
	}
}

// The set keeps each key in its compact stored form, not as a model.Key
// (about 350 bytes before its strings): a million keys must fit the TUI's
// memory goal (BENCHMARKS.md). Heap in use after a collection, per key.
func TestIndexHoldsKeysCompactly(t *testing.T) {
	const n = 20_000
	r := rand.New(rand.NewPCG(3, 3))
	keys := func() []model.Key {
		out := make([]model.Key, n)
		for i := range out {
			k := randomKey(r, fmt.Sprintf("kd_%012x", r.Uint64()>>16))
			k.Name = fmt.Sprintf("checkout-service-%06d", i)
			k.Scopes = []string{"orders:read", "payments:write"}
			k.LastUsedFrom = "10.1.2.3"
			k.UseCount = uint64(r.IntN(1e6))
			out[i] = k
		}
		slices.SortFunc(out, func(a, b model.Key) int { return strings.Compare(a.ID, b.ID) })
		return out
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	set := Build(keys())
	set.Order(ByLastUsed)
	runtime.GC()
	runtime.ReadMemStats(&after)
	per := float64(after.HeapInuse-before.HeapInuse) / n
	runtime.KeepAlive(set)
	if per > 400 {
		t.Fatalf("the set holds %.0f bytes a key, want at most 400", per)
	}
	t.Logf("%.0f bytes a key", per)
}

// A verifier flushing the same keys, many of them, every second: once the
// log is full the set keeps their current versions (the keys overlaid do
// not grow), and never rebuilds, which would hold a second whole set for
// a moment.
func TestIndexManyKeysFlushedAgainAreCompactedNotRebuilt(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	keys := randomKeys(r, 8000)
	set := Build(slices.Clone(keys))
	set.Order(ByLastUsed)
	family := set.byID
	flushed := overlayLimit(len(keys)) * 2 / 5 // under half the limit, over a third
	for round := range 6 {
		var changed []model.Key
		for j := range flushed {
			keys[j].LastUsedAt = testNow.Add(-time.Duration(r.IntN(1000)+round) * time.Second)
			keys[j].UseCount++
			changed = append(changed, keys[j])
		}
		set = set.Patch(changed, nil)
		if set.byID != family {
			t.Fatalf("round %d: rebuilt instead of compacting", round)
		}
	}
	sameIndex(t, "after six flushes", set, Build(keys))
}

// Any member may add channels, so a store may hold keys in more than
// 65,535 of them (and a crafted one in as many environments): each keeps
// its own number, so a channel filter shows that channel's keys only and
// no key is taken for gone. With 16-bit numbers, channel:c-0 also showed
// c-65536's key, c-65535 every key, and a key in the 65,536th environment
// was gone.
func TestMoreThan65535ChannelsAndEnvironments(t *testing.T) {
	const n = 1<<16 + 2
	keys := make([]model.Key, n)
	for i := range keys {
		keys[i] = model.Key{ID: fmt.Sprintf("k%07d", i), Name: "n", Environment: fmt.Sprintf("e-%d", i),
			Channel: fmt.Sprintf("c-%d", i), CreatedAt: testNow, CreatedBy: "alice"}
	}
	ix := Build(keys)
	if ix.Count() != n {
		t.Fatalf("%d keys, want %d", ix.Count(), n)
	}
	for _, i := range []int{0, 1, 1<<16 - 1, 1 << 16, n - 1} {
		for _, q := range []Query{{Channel: fmt.Sprintf("c-%d", i)}, {Env: fmt.Sprintf("e-%d", i)}} {
			got := ix.Filter(q, nil, testNow)
			if len(got) != 1 || ix.Key(got[0]).ID != keys[i].ID {
				var ids []string
				for _, j := range got[:min(len(got), 5)] {
					ids = append(ids, ix.Key(j).ID)
				}
				t.Errorf("%+v shows %d keys (%v…), want only %s", q, len(got), ids, keys[i].ID)
			}
		}
	}
	envs, chans := ix.Counts()
	if len(envs) != n || len(chans) != n {
		t.Errorf("counts of %d environments and %d channels, want %d each", len(envs), len(chans), n)
	}
}
