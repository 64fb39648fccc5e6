package tui

import (
	"bytes"
	"cmp"
	"iter"
	"maps"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"keyden/model"
)

// sortMode is how the keys table is ordered.
type sortMode int

const (
	sortLastUsed sortMode = iota // most recent first, never-used last
	sortCreated                  // newest first
	sortName                     // A to Z
	sortExpiry                   // soonest first, never-expiring last
	sortModes
)

func (s sortMode) String() string {
	return [...]string{"last used", "created", "name", "expiry"}[s]
}

// keyset is one loaded copy of the store's keys with what the table needs
// to filter and sort a million of them within a keystroke: the search
// text of every key lower-cased into one contiguous arena, environment,
// channel and times in dense columns, and one order per sort mode, each
// made once. Filtering scans the dense data in index order (cache-friendly,
// split across cores) into a bitset, then walks the sort order through it.
//
// A keyset never changes once built, so a filter may read it off the UI
// loop. A change in the store makes a new keyset by patch: the columns
// are copied, the loaded records and their text are shared, and each
// changed or added record is appended to an overlay log that the patches
// share. Indexes keep their meaning from one patch to the next; a removed
// key's index stays, marked gone.
type keyset struct {
	base   []model.Key // the records as loaded
	hay    []byte      // the base records' search text, back to back
	hayOff []uint32    // base key i's text is hay[hayOff[i]:hayOff[i+1]]
	byID   *idIndex    // finds a base record's index; shared by patches

	// The overlay: nil ov means none. ov[i] < 0: key i is base[i]; else
	// it is ovKeys[ov[i]], with its text at ovHay[ovHayOff[ov[i]]:…].
	// These are this set's view of log, which later patches extend.
	ov       []int32
	log      *overlayLog
	ovKeys   []model.Key
	ovHay    []byte
	ovHayOff []uint32
	ovIDs    map[string]int32 // index of each key added since the load

	envOf   []uint16 // index into envIDs; 0: the key is gone
	chOf    []uint16 // index into chIDs
	used    []int64  // last used, unix ns; 0 never
	created []int64  // unix ns
	expires []int64  // unix ns; 0 never
	envIDs  map[string]uint16
	chIDs   map[string]uint16
	live    int

	mu     sync.Mutex
	orders [sortModes][]int32
}

func newKeyset(keys []model.Key) *keyset {
	n := len(keys)
	ks := &keyset{base: keys, hayOff: make([]uint32, n+1), envOf: make([]uint16, n), chOf: make([]uint16, n),
		used: make([]int64, n), created: make([]int64, n), expires: make([]int64, n),
		envIDs: map[string]uint16{}, chIDs: map[string]uint16{}, live: n, byID: newIDIndex(keys)}
	ks.hay = make([]byte, 0, n*56)
	for i := range keys {
		ks.hayOff[i] = uint32(len(ks.hay))
		ks.hay = appendSearchText(ks.hay, &keys[i])
		ks.setColumns(fresh, i, &keys[i])
	}
	ks.hayOff[n] = uint32(len(ks.hay))
	return ks
}

// appendSearchText appends what the filter matches in k, lower-cased,
// name first (sorting by name reads it back).
func appendSearchText(hay []byte, k *model.Key) []byte {
	hay = appendLower(hay, k.Name)
	hay = append(hay, 0)
	hay = appendLower(hay, k.Channel)
	hay = append(hay, 0)
	hay = appendLower(hay, k.Environment)
	hay = append(hay, 0)
	for _, s := range k.Scopes {
		hay = appendLower(hay, s)
		hay = append(hay, ' ')
	}
	hay = append(hay, 0)
	hay = appendLower(hay, k.Hint)
	hay = append(hay, 0)
	return appendLower(hay, k.CreatedBy)
}

// fresh stands for "no older set" when a new set fills its own columns.
var fresh = &keyset{}

// setColumns writes key k's columns at index i. A column still shared with
// the older set old is copied at its first change, so a patch with news of
// last use copies only the last-used column.
func (p *keyset) setColumns(old *keyset, i int, k *model.Key) {
	cow(&p.envOf, old.envOf, i, intern(p.envIDs, k.Environment))
	cow(&p.chOf, old.chOf, i, intern(p.chIDs, k.Channel))
	cow(&p.used, old.used, i, unixOrZero(k.LastUsedAt))
	cow(&p.created, old.created, i, unixOrZero(k.CreatedAt))
	cow(&p.expires, old.expires, i, unixOrZero(k.ExpiresAt))
}

// cow sets (*col)[i] = v, first copying *col if it is still old's array.
func cow[T comparable](col *[]T, old []T, i int, v T) {
	c := *col
	if c[i] == v {
		return
	}
	if len(old) > 0 && &c[0] == &old[0] {
		c = slices.Clone(c)
		*col = c
	}
	c[i] = v
}

func intern(m map[string]uint16, s string) uint16 {
	if id, ok := m[s]; ok {
		return id
	}
	id := uint16(len(m) + 1)
	m[s] = id
	return id
}

// size is the number of indexes, gone ones included; count the live keys.
func (ks *keyset) size() int  { return len(ks.envOf) }
func (ks *keyset) count() int { return ks.live }

func (ks *keyset) gone(i int32) bool { return ks.envOf[i] == 0 }

// key is the record at index i.
func (ks *keyset) key(i int32) *model.Key {
	if ks.ov != nil {
		if s := ks.ov[i]; s >= 0 {
			return &ks.ovKeys[s]
		}
	}
	return &ks.base[i]
}

// text is key i's search text.
func (ks *keyset) text(i int32) []byte {
	if ks.ov != nil {
		if s := ks.ov[i]; s >= 0 {
			return ks.ovHay[ks.ovHayOff[s]:ks.ovHayOff[s+1]]
		}
	}
	return ks.hay[ks.hayOff[i]:ks.hayOff[i+1]]
}

// all yields every live key in index order.
func (ks *keyset) all() iter.Seq[*model.Key] {
	return func(yield func(*model.Key) bool) {
		for i := range int32(ks.size()) {
			if !ks.gone(i) && !yield(ks.key(i)) {
				return
			}
		}
	}
}

// indexOf finds a key by id, gone or not.
func (ks *keyset) indexOf(id string) (int32, bool) {
	if i, ok := ks.ovIDs[id]; ok {
		return i, true
	}
	return ks.byID.find(ks.base, id)
}

// idIndex finds a base record by id: a binary search when the records came
// sorted by id (as both stores list them), else a map made once.
type idIndex struct {
	sorted bool
	once   sync.Once
	m      map[string]int32
}

func newIDIndex(keys []model.Key) *idIndex {
	return &idIndex{sorted: slices.IsSortedFunc(keys, func(a, b model.Key) int { return strings.Compare(a.ID, b.ID) })}
}

func (x *idIndex) find(keys []model.Key, id string) (int32, bool) {
	if x.sorted {
		i, ok := slices.BinarySearchFunc(keys, id, func(k model.Key, id string) int { return strings.Compare(k.ID, id) })
		return int32(i), ok
	}
	x.once.Do(func() {
		x.m = make(map[string]int32, len(keys))
		for i := range keys {
			x.m[keys[i].ID] = int32(i)
		}
	})
	i, ok := x.m[id]
	return i, ok
}

// overlayLog holds every record version patched in since a load, in
// order, with its search text. It only grows: a set sees the prefix it
// was made with, so appending for a newer set never touches what an
// older one (still being filtered, say) reads.
type overlayLog struct {
	mu   sync.Mutex
	keys []model.Key
	hay  []byte
	off  []uint32 // version v's text is hay[off[v]:off[v+1]]
}

// extend returns the log to append to after ks's view of it: the shared
// one when ks is its newest reader, else a copy of ks's view.
func (ks *keyset) extend() *overlayLog {
	l := ks.log
	if l == nil {
		return &overlayLog{off: []uint32{0}}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.keys) == len(ks.ovKeys) {
		return l
	}
	return &overlayLog{keys: slices.Clone(ks.ovKeys), hay: slices.Clone(ks.ovHay), off: slices.Clone(ks.ovHayOff)}
}

// overlayLimit is how many record versions the overlay may hold before a
// patch builds a fresh keyset from the records in memory instead: a
// quarter of the keys, and never more than 64k versions (≈ 20 MB), so a
// store verified all day does not grow the TUI.
func overlayLimit(n int) int { return min(n/4, 64<<10) + 1024 }

// patch returns a keyset with changed and removed applied.
func (ks *keyset) patch(changed []model.Key, removed []string) *keyset {
	if len(changed) == 0 && len(removed) == 0 {
		return ks
	}
	n := ks.size()
	limit := overlayLimit(n)
	switch {
	case n-ks.live > limit: // deleted keys' indexes pile up under churn
		return ks.rebuild(changed, removed)
	case len(ks.ovKeys)+len(changed) <= limit:
		return ks.patchAll(changed, removed, true, false)
	case ks.overlaid()+len(changed) <= limit/2:
		// The log is full of old versions of the same few keys (a verifier
		// flushing the same keys every second): keep only the current ones.
		return ks.patchAll(changed, removed, true, true)
	}
	return ks.rebuild(changed, removed)
}

// overlaid counts the keys whose record is in the overlay.
func (ks *keyset) overlaid() int {
	c := 0
	for _, s := range ks.ov {
		if s >= 0 {
			c++
		}
	}
	return c
}

// compacted is a new log holding only the versions ks shows; ov is
// repointed at them.
func (ks *keyset) compacted(ov []int32) *overlayLog {
	l := &overlayLog{off: []uint32{0}}
	for i, s := range ov {
		if s < 0 {
			continue
		}
		ov[i] = int32(len(l.keys))
		l.keys = append(l.keys, ks.ovKeys[s])
		l.hay = append(l.hay, ks.ovHay[ks.ovHayOff[s]:ks.ovHayOff[s+1]]...)
		l.off = append(l.off, uint32(len(l.hay)))
	}
	return l
}

// patchAll applies a patch however big; withOrders says whether to carry
// the sort orders made so far into the new set, compact whether to start
// a new overlay log with only the current versions.
func (ks *keyset) patchAll(changed []model.Key, removed []string, withOrders, compact bool) *keyset {
	n := ks.size()
	p := &keyset{base: ks.base, hay: ks.hay, hayOff: ks.hayOff, byID: ks.byID, ovIDs: maps.Clone(ks.ovIDs),
		// Columns are shared until a change writes one (see cow); clipped,
		// so an append never writes into the older set's array.
		envOf: slices.Clip(ks.envOf), chOf: slices.Clip(ks.chOf), used: slices.Clip(ks.used),
		created: slices.Clip(ks.created), expires: slices.Clip(ks.expires),
		envIDs: maps.Clone(ks.envIDs), chIDs: maps.Clone(ks.chIDs), live: ks.live}
	if p.ovIDs == nil {
		p.ovIDs = map[string]int32{}
	}
	if ks.ov != nil {
		p.ov = slices.Clone(ks.ov)
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
			cow(&p.envOf, ks.envOf, int(i), 0)
			p.live--
			touch(i)
		}
	}
	var log *overlayLog
	if compact {
		log = ks.compacted(p.ov)
	} else {
		log = ks.extend()
	}
	log.mu.Lock()
	for _, k := range changed {
		i, ok := p.indexOf(k.ID)
		switch {
		case !ok:
			i = int32(p.size())
			p.ovIDs[k.ID] = i
			p.ov = append(p.ov, -1)
			p.envOf, p.chOf = append(p.envOf, 0), append(p.chOf, 0)
			p.used, p.created, p.expires = append(p.used, 0), append(p.created, 0), append(p.expires, 0)
			p.live++
		case p.gone(i):
			p.live++
		}
		p.ov[i] = int32(len(log.keys))
		log.keys = append(log.keys, k)
		log.hay = appendSearchText(log.hay, &k)
		log.off = append(log.off, uint32(len(log.hay)))
		p.setColumns(ks, int(i), &k)
		touch(i)
		moved = append(moved, i)
	}
	p.log, p.ovKeys, p.ovHay, p.ovHayOff = log, log.keys, log.hay, log.off
	log.mu.Unlock()
	isTouched := func(i int32) bool { return touched[i>>6]&(1<<(i&63)) != 0 }
	slices.Sort(moved)
	moved = slices.Compact(moved) // a key named twice moves once
	for mode := range sortModes {
		if withOrders && ks.hasOrder(mode) {
			p.orders[mode] = p.reorder(mode, ks.order(mode), isTouched, moved)
		}
	}
	return p
}

// rebuild makes a fresh keyset of the live records with the changes
// applied, keeping the records in id order when they were loaded so.
func (ks *keyset) rebuild(changed []model.Key, removed []string) *keyset {
	p := ks.patchAll(changed, removed, false, false)
	var added []int32 // live keys added since the load, in id order
	for i := int32(len(p.base)); i < int32(p.size()); i++ {
		if !p.gone(i) {
			added = append(added, i)
		}
	}
	slices.SortFunc(added, func(a, b int32) int { return strings.Compare(p.key(a).ID, p.key(b).ID) })
	keys := make([]model.Key, 0, p.live)
	for i := range int32(len(p.base)) {
		if p.gone(i) {
			continue
		}
		// Base records are in id order when sorted: merge the added ones in.
		for p.byID.sorted && len(added) > 0 && p.key(added[0]).ID < p.base[i].ID {
			keys, added = append(keys, *p.key(added[0])), added[1:]
		}
		keys = append(keys, *p.key(i))
	}
	for _, i := range added {
		keys = append(keys, *p.key(i))
	}
	if !p.byID.sorted {
		slices.SortFunc(keys, func(a, b model.Key) int { return strings.Compare(a.ID, b.ID) })
	}
	return newKeyset(keys)
}

// reorder is old with the touched keys taken out and the moved ones (the
// changed keys still live) put back in their new places: the untouched
// keys keep their order, so each moved key's place is a binary search.
func (p *keyset) reorder(mode sortMode, old []int32, touched func(int32) bool, moved []int32) []int32 {
	cmp := p.compare(mode)
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

func unixOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// appendLower appends s lower-cased, without allocating.
func appendLower(dst []byte, s string) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			dst = append(dst, c)
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		dst = utf8.AppendRune(dst, unicode.ToLower(r))
		i += size
	}
	return dst
}

// order returns the live keys' indexes in mode's order, computing it once.
func (ks *keyset) order(mode sortMode) []int32 {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	if o := ks.orders[mode]; o != nil {
		return o
	}
	o := make([]int32, 0, ks.live)
	for i := range int32(ks.size()) {
		if !ks.gone(i) {
			o = append(o, i)
		}
	}
	slices.SortFunc(o, ks.compare(mode))
	ks.orders[mode] = o
	return o
}

// compare orders two keys for mode; ties go by index (the store's id
// order at load), so an order is total and a patch can merge into it.
func (ks *keyset) compare(mode sortMode) func(a, b int32) int {
	if mode == sortName {
		return func(a, b int32) int {
			if c := bytes.Compare(ks.nameOf(a), ks.nameOf(b)); c != 0 {
				return c
			}
			return cmp.Compare(a, b)
		}
	}
	// Times sort as int64 with the "absent" case mapped to the far end.
	const far = int64(1) << 62
	rank := func(i int32) int64 {
		switch mode {
		case sortLastUsed: // most recent first, never used last
			if ks.used[i] == 0 {
				return far
			}
			return -ks.used[i]
		case sortCreated:
			return -ks.created[i]
		}
		if ks.expires[i] == 0 {
			return far
		}
		return ks.expires[i]
	}
	return func(a, b int32) int {
		if c := cmp.Compare(rank(a), rank(b)); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	}
}

// nameOf is key i's lower-cased name, the first field of its search text.
func (ks *keyset) nameOf(i int32) []byte {
	h := ks.text(i)
	return h[:bytes.IndexByte(h, 0)]
}

// hasOrder says whether mode's order is ready without computing it.
func (ks *keyset) hasOrder(mode sortMode) bool {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	return ks.orders[mode] != nil
}

// quickFilter narrows the table to keys that need review.
type quickFilter int

const (
	quickNone quickFilter = iota
	quickStale
	quickNeverUsed
	quickExpiring
	quickFilters
)

func (q quickFilter) String() string {
	return [...]string{"", "unused 90d+", "never used", "expiring ≤7d"}[q]
}

// query is what the table shows: an environment tab, a channel, typed text,
// a quick filter and a sort.
type query struct {
	env, channel string
	text         string
	quick        quickFilter
	sort         sortMode
}

// words splits the filter text: every word must appear.
func (q query) words() []string { return strings.Fields(strings.ToLower(q.text)) }

func (q query) empty() bool {
	return q.env == "" && q.channel == "" && q.quick == quickNone && len(q.words()) == 0
}

// narrows says whether q only extends p's text, so filtering p's result
// again gives q's: the cheap path for typing.
func (q query) narrows(p query) bool {
	return q.env == p.env && q.channel == p.channel && q.quick == p.quick && q.sort == p.sort &&
		strings.HasPrefix(strings.ToLower(q.text), strings.ToLower(p.text))
}

// matcher is a query compiled against one keyset.
type matcher struct {
	ks          *keyset
	env, ch     uint16 // 0: any
	none        bool   // names a channel or env no key has
	words       [][]byte
	quick       quickFilter
	now         int64
	stale, soon int64
}

func (ks *keyset) compile(q query, now time.Time) matcher {
	m := matcher{ks: ks, quick: q.quick, now: now.UnixNano(),
		stale: int64(model.StaleAfter), soon: int64(model.ExpiringWithin)}
	if q.env != "" {
		id, ok := ks.envIDs[q.env]
		m.env, m.none = id, m.none || !ok
	}
	if q.channel != "" {
		id, ok := ks.chIDs[q.channel]
		m.ch, m.none = id, m.none || !ok
	}
	for _, w := range q.words() {
		m.words = append(m.words, []byte(w))
	}
	return m
}

func (m *matcher) match(i int) bool {
	ks := m.ks
	if e := ks.envOf[i]; e == 0 || (m.env != 0 && e != m.env) || (m.ch != 0 && ks.chOf[i] != m.ch) {
		return false
	}
	switch m.quick {
	case quickStale: // as model.Key.UnusedFor: never-used keys count from creation
		last := ks.used[i]
		if last == 0 {
			last = ks.created[i]
		}
		if m.now-last < m.stale {
			return false
		}
	case quickNeverUsed:
		if ks.used[i] != 0 {
			return false
		}
	case quickExpiring:
		if ks.expires[i] == 0 || ks.expires[i]-m.now > m.soon {
			return false
		}
	}
	if len(m.words) > 0 {
		h := ks.text(int32(i))
		for _, w := range m.words {
			if !bytes.Contains(h, w) {
				return false
			}
		}
	}
	return true
}

// filter returns the indexes of the keys matching q, in q's sort order,
// looking only at within when it is given (a previous, wider result).
func (ks *keyset) filter(q query, within []int32, now time.Time) []int32 {
	if within == nil && q.empty() {
		return ks.order(q.sort)
	}
	m := ks.compile(q, now)
	if m.none {
		return []int32{}
	}
	if within != nil {
		out := make([]int32, 0, len(within))
		for _, i := range within {
			if m.match(int(i)) {
				out = append(out, i)
			}
		}
		return out
	}
	// Pass 1: every key in index order, in parallel, into a bitset.
	n := ks.size()
	bits := make([]uint64, (n+63)/64)
	counts := make([]int, runtime.GOMAXPROCS(0))
	parts := len(counts)
	chunk := ((n+parts-1)/parts + 63) &^ 63 // whole words per worker: no shared writes
	var wg sync.WaitGroup
	for p := 0; p < parts; p++ {
		lo, hi := p*chunk, min(n, (p+1)*chunk)
		if lo >= hi {
			continue
		}
		wg.Add(1)
		go func(p, lo, hi int) {
			defer wg.Done()
			c := 0
			for i := lo; i < hi; i++ {
				if m.match(i) {
					bits[i>>6] |= 1 << (i & 63)
					c++
				}
			}
			counts[p] = c
		}(p, lo, hi)
	}
	wg.Wait()
	total := 0
	for _, c := range counts {
		total += c
	}
	// Pass 2: the sort order through the bitset.
	out := make([]int32, 0, total)
	for _, i := range ks.order(q.sort) {
		if bits[i>>6]&(1<<(i&63)) != 0 {
			out = append(out, i)
		}
	}
	return out
}
