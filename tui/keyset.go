package tui

import (
	"bytes"
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
type keyset struct {
	keys []model.Key

	hay     []byte   // every key's search text, back to back
	hayOff  []uint32 // key i's text is hay[hayOff[i]:hayOff[i+1]]
	envOf   []uint16 // index into envNames
	chOf    []uint16 // index into chNames
	used    []int64  // last used, unix ns; 0 never
	created []int64  // unix ns
	expires []int64  // unix ns; 0 never
	envIDs  map[string]uint16
	chIDs   map[string]uint16

	mu     sync.Mutex
	orders [sortModes][]int32
}

func newKeyset(keys []model.Key) *keyset {
	n := len(keys)
	ks := &keyset{keys: keys, hayOff: make([]uint32, n+1), envOf: make([]uint16, n), chOf: make([]uint16, n),
		used: make([]int64, n), created: make([]int64, n), expires: make([]int64, n),
		envIDs: map[string]uint16{}, chIDs: map[string]uint16{}}
	ks.hay = make([]byte, 0, n*56)
	intern := func(m map[string]uint16, s string) uint16 {
		if id, ok := m[s]; ok {
			return id
		}
		id := uint16(len(m) + 1)
		m[s] = id
		return id
	}
	sep := func() { ks.hay = append(ks.hay, 0) }
	for i := range keys {
		k := &keys[i]
		ks.hayOff[i] = uint32(len(ks.hay))
		ks.hay = appendLower(ks.hay, k.Name)
		sep()
		ks.hay = appendLower(ks.hay, k.Channel)
		sep()
		ks.hay = appendLower(ks.hay, k.Environment)
		sep()
		for _, s := range k.Scopes {
			ks.hay = appendLower(ks.hay, s)
			ks.hay = append(ks.hay, ' ')
		}
		sep()
		ks.hay = appendLower(ks.hay, k.Hint)
		sep()
		ks.hay = appendLower(ks.hay, k.CreatedBy)
		ks.envOf[i], ks.chOf[i] = intern(ks.envIDs, k.Environment), intern(ks.chIDs, k.Channel)
		ks.used[i], ks.created[i], ks.expires[i] = unixOrZero(k.LastUsedAt), unixOrZero(k.CreatedAt), unixOrZero(k.ExpiresAt)
	}
	ks.hayOff[n] = uint32(len(ks.hay))
	return ks
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

// order returns the keys' indexes in mode's order, computing it once.
func (ks *keyset) order(mode sortMode) []int32 {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	if o := ks.orders[mode]; o != nil {
		return o
	}
	keys := ks.keys
	o := make([]int32, len(keys))
	for i := range o {
		o[i] = int32(i)
	}
	// Times sort as int64 with the "absent" case mapped to the far end.
	const far = int64(1) << 62
	rank := make([]int64, len(keys))
	for i := range keys {
		switch mode {
		case sortLastUsed:
			if ks.used[i] == 0 {
				rank[i] = far
			} else {
				rank[i] = -ks.used[i]
			}
		case sortCreated:
			rank[i] = -ks.created[i]
		case sortExpiry:
			if ks.expires[i] == 0 {
				rank[i] = far
			} else {
				rank[i] = ks.expires[i]
			}
		}
	}
	// Ties keep load order (the store's id order): a stable sort on indexes
	// in ascending order needs no tie-break of its own.
	if mode == sortName {
		slices.SortStableFunc(o, func(a, b int32) int { return bytes.Compare(ks.nameOf(a), ks.nameOf(b)) })
	} else {
		slices.SortStableFunc(o, func(a, b int32) int {
			switch {
			case rank[a] < rank[b]:
				return -1
			case rank[a] > rank[b]:
				return 1
			}
			return 0
		})
	}
	ks.orders[mode] = o
	return o
}

// nameOf is key i's lower-cased name, the first field of its search text.
func (ks *keyset) nameOf(i int32) []byte {
	h := ks.hay[ks.hayOff[i]:ks.hayOff[i+1]]
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
	if (m.env != 0 && ks.envOf[i] != m.env) || (m.ch != 0 && ks.chOf[i] != m.ch) {
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
		h := ks.hay[ks.hayOff[i]:ks.hayOff[i+1]]
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
	n := len(ks.keys)
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
