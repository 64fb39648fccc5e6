package keyindex

import (
	"maps"
	"slices"
	"strings"
	"sync"

	"keyden/model"
)

// overlayLog holds every record version patched in since a load, in
// order, with its search text. It only grows: a set sees the prefix it
// was made with, so appending for a newer set never touches what an
// older one (still being filtered, say) reads.
type overlayLog struct {
	mu   sync.Mutex
	recs records
	hay  entries // version v's text is entry v
	buf  []byte
}

// extend returns the log to append to after ix's view of it: the shared
// one when ix is its newest reader, else a copy of ix's view.
func (ix *Index) extend() *overlayLog {
	l := ix.log
	if l == nil {
		return &overlayLog{}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.recs.len() == ix.ovRecs.len() {
		return l
	}
	return &overlayLog{recs: records{ix.ovRecs.fork()}, hay: ix.ovHay.fork()}
}

// overlayLimit is how many record versions the overlay may hold before a
// patch builds a fresh index from the records in memory instead: a
// quarter of the keys. A version costs what a loaded key does (its record
// and text, about 200 bytes), so a store verified all day grows the TUI
// by a quarter at most, where a rebuild holds a second whole set for a
// moment (at 1M keys: 250k versions, ≈ 50 MB, against ≈ 200 MB).
func overlayLimit(n int) int { return n/4 + 1024 }

// Patch returns an index with changed (records added or changed, in their
// current state) and removed (ids) applied. ix stays as it was.
func (ix *Index) Patch(changed []model.Key, removed []string) *Index {
	if len(changed) == 0 && len(removed) == 0 {
		return ix
	}
	n := ix.Size()
	limit := overlayLimit(n)
	switch {
	case n-ix.live > limit: // deleted keys' indexes pile up under churn
		return ix.rebuild(changed, removed)
	case ix.ovRecs.len()+len(changed) <= limit:
		return ix.patchAll(changed, removed, true, false)
	case ix.overlaid()+ix.notOverlaid(changed) <= limit/2:
		// The log is full of old versions of the same keys (a verifier
		// flushing the same keys every second): keep only the current ones.
		return ix.patchAll(changed, removed, true, true)
	}
	return ix.rebuild(changed, removed)
}

// notOverlaid counts the changed keys that have no version in the
// overlay yet: each adds a key to it.
func (ix *Index) notOverlaid(changed []model.Key) int {
	c := 0
	for j := range changed {
		if i, ok := ix.indexOf(changed[j].ID); !ok || ix.ov == nil || ix.ov[i] < 0 {
			c++
		}
	}
	return c
}

// overlaid counts the keys whose record is in the overlay.
func (ix *Index) overlaid() int {
	c := 0
	for _, s := range ix.ov {
		if s >= 0 {
			c++
		}
	}
	return c
}

// compacted is a new log holding only the versions ix shows; ov is
// repointed at them.
func (ix *Index) compacted(ov []int32) *overlayLog {
	l := &overlayLog{}
	for i, s := range ov {
		if s < 0 {
			continue
		}
		ov[i] = int32(l.recs.len())
		l.recs.entries.add(ix.ovRecs.entries.get(int(s)))
		l.hay.add(ix.ovHay.get(int(s)))
	}
	return l
}

// patchAll applies a patch however big; withOrders says whether to carry
// the sort orders made so far into the new set, compact whether to start
// a new overlay log with only the current versions.
func (ix *Index) patchAll(changed []model.Key, removed []string, withOrders, compact bool) *Index {
	n := ix.Size()
	p := &Index{base: ix.base, hay: ix.hay, byID: ix.byID, tabs: ix.tabs, ovIDs: maps.Clone(ix.ovIDs),
		// Columns are shared until a change writes one (see cow); clipped,
		// so an append never writes into the older set's array.
		envOf: slices.Clip(ix.envOf), chOf: slices.Clip(ix.chOf), byOf: slices.Clip(ix.byOf), scopesOf: slices.Clip(ix.scopesOf),
		used: slices.Clip(ix.used), created: slices.Clip(ix.created), expires: slices.Clip(ix.expires), flags: slices.Clip(ix.flags),
		envIDs: maps.Clone(ix.envIDs), chIDs: maps.Clone(ix.chIDs), byIDs: maps.Clone(ix.byIDs), live: ix.live}
	if p.ovIDs == nil {
		p.ovIDs = map[string]int32{}
	}
	if ix.ov != nil {
		p.ov = slices.Clone(ix.ov)
	} else {
		p.ov = make([]int32, n)
		for i := range p.ov {
			p.ov[i] = -1
		}
	}
	touched := make([]uint64, (n+len(changed)+63)/64)
	touch := func(i int32) { touched[i>>6] |= 1 << (i & 63) }
	var moved []int32
	for _, id := range removed {
		if i, ok := p.indexOf(id); ok && !p.gone(i) {
			cow(&p.envOf, ix.envOf, int(i), 0)
			p.live--
			touch(i)
		}
	}
	var log *overlayLog
	if compact {
		log = ix.compacted(p.ov)
	} else {
		log = ix.extend()
	}
	log.mu.Lock()
	for j := range changed {
		k := &changed[j]
		i, ok := p.indexOf(k.ID)
		switch {
		case !ok:
			i = int32(p.Size())
			p.ovIDs[k.ID] = i
			p.ov = append(p.ov, -1)
			p.envOf, p.chOf, p.byOf = append(p.envOf, 0), append(p.chOf, 0), append(p.byOf, 0)
			p.used, p.created, p.expires = append(p.used, 0), append(p.created, 0), append(p.expires, 0)
			p.scopesOf, p.flags = append(p.scopesOf, 0), append(p.flags, 0)
			p.live++
		case p.gone(i):
			p.live++
		}
		p.tabs.mu.Lock()
		refs, scopes := p.tabs.refs(k), p.tabs.set(k.Scopes)
		p.tabs.mu.Unlock()
		p.ov[i] = int32(log.recs.len())
		log.recs.add(k, refs, &log.buf)
		log.buf = appendSearchText(log.buf[:0], k)
		log.hay.add(log.buf)
		p.setColumns(ix, int(i), k, scopes)
		touch(i)
		moved = append(moved, i)
	}
	p.log, p.ovRecs, p.ovHay = log, log.recs, log.hay
	log.mu.Unlock()
	p.view()
	isTouched := func(i int32) bool { return touched[i>>6]&(1<<(i&63)) != 0 }
	slices.Sort(moved)
	moved = slices.Compact(moved) // a key named twice moves once
	for s := range numSorts {
		if withOrders && ix.HasOrder(s) {
			p.orders[s] = p.reorder(s, ix.Order(s), isTouched, moved)
		}
	}
	return p
}

// rebuild makes a fresh index of the live records with the changes
// applied, keeping the records in id order when they were loaded so. The
// records, their text and columns are copied as they are, not decoded.
func (ix *Index) rebuild(changed []model.Key, removed []string) *Index {
	p := ix.patchAll(changed, removed, false, false)
	var added []int32 // live keys added since the load, in id order
	for i := int32(p.base.len()); i < int32(p.Size()); i++ {
		if !p.gone(i) {
			added = append(added, i)
		}
	}
	slices.SortFunc(added, func(a, b int32) int { return strings.Compare(p.ID(a), p.ID(b)) })
	rows := make([]int32, 0, p.live)
	for i := range int32(p.base.len()) {
		if p.gone(i) {
			continue
		}
		// Base records are in id order when sorted: merge the added ones in.
		for p.byID.sorted && len(added) > 0 && p.ID(added[0]) < p.ID(i) {
			rows, added = append(rows, added[0]), added[1:]
		}
		rows = append(rows, i)
	}
	rows = append(rows, added...)
	if !p.byID.sorted {
		slices.SortFunc(rows, func(a, b int32) int { return strings.Compare(p.ID(a), p.ID(b)) })
	}
	b := newBuilder(len(rows), p.tabs, p.envIDs, p.chIDs, p.byIDs)
	for _, i := range rows {
		b.addRecord(p, i)
	}
	return b.Index()
}

// reorder is old with the touched keys taken out and the moved ones (the
// changed keys still live) put back in their new places: the untouched
// keys keep their order, so each moved key's place is a binary search.
func (p *Index) reorder(s Sort, old []int32, touched func(int32) bool, moved []int32) []int32 {
	cmp := p.compare(s)
	moved = slices.Clone(moved)
	slices.SortFunc(moved, cmp)
	kept := make([]int32, 0, len(old))
	for _, i := range old {
		if !touched(i) {
			kept = append(kept, i)
		}
	}
	out := make([]int32, 0, p.live)
	for _, m := range moved {
		at, _ := slices.BinarySearchFunc(kept, m, cmp)
		out = append(out, kept[:at]...)
		out = append(out, m)
		kept = kept[at:]
	}
	return append(out, kept...)
}
