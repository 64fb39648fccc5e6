package tui

import (
	"slices"
	"strings"
	"sync"
	"time"

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
// to filter and sort them without touching every key on each keypress:
// lower-cased search text made once, and one order per sort mode made once.
type keyset struct {
	keys []model.Key
	hay  []string // lower-cased name, channel, env, scopes, hint, creator

	mu     sync.Mutex
	orders [sortModes][]int32
}

func newKeyset(keys []model.Key) *keyset {
	ks := &keyset{keys: keys, hay: make([]string, len(keys))}
	var b strings.Builder
	for i := range keys {
		k := &keys[i]
		b.Reset()
		b.WriteString(k.Name)
		b.WriteByte('\x00')
		b.WriteString(k.Channel)
		b.WriteByte('\x00')
		b.WriteString(k.Environment)
		b.WriteByte('\x00')
		for _, s := range k.Scopes {
			b.WriteString(s)
			b.WriteByte(' ')
		}
		b.WriteByte('\x00')
		b.WriteString(k.Hint)
		b.WriteByte('\x00')
		b.WriteString(k.CreatedBy)
		ks.hay[i] = strings.ToLower(b.String())
	}
	return ks
}

// order returns the keys' indexes in mode's order, computing it once.
func (ks *keyset) order(mode sortMode) []int32 {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	if o := ks.orders[mode]; o != nil {
		return o
	}
	o := make([]int32, len(ks.keys))
	for i := range o {
		o[i] = int32(i)
	}
	keys := ks.keys
	// Times sort as int64 with the "absent" case mapped to the far end.
	const far = int64(1) << 62
	rank := make([]int64, len(keys))
	for i := range keys {
		switch mode {
		case sortLastUsed:
			if t := keys[i].LastUsedAt; t.IsZero() {
				rank[i] = far
			} else {
				rank[i] = -t.UnixNano()
			}
		case sortCreated:
			rank[i] = -keys[i].CreatedAt.UnixNano()
		case sortExpiry:
			if t := keys[i].ExpiresAt; t.IsZero() {
				rank[i] = far
			} else {
				rank[i] = t.UnixNano()
			}
		}
	}
	if mode == sortName {
		slices.SortStableFunc(o, func(a, b int32) int {
			if c := strings.Compare(ks.hay[a][:strings.IndexByte(ks.hay[a], 0)], ks.hay[b][:strings.IndexByte(ks.hay[b], 0)]); c != 0 {
				return c
			}
			return strings.Compare(keys[a].ID, keys[b].ID)
		})
	} else {
		slices.SortStableFunc(o, func(a, b int32) int {
			switch {
			case rank[a] < rank[b]:
				return -1
			case rank[a] > rank[b]:
				return 1
			}
			return strings.Compare(keys[a].ID, keys[b].ID)
		})
	}
	ks.orders[mode] = o
	return o
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

// sameBut says whether q only extends p's text, so filtering p's result
// again gives q's: the cheap path for typing.
func (q query) narrows(p query) bool {
	return q.env == p.env && q.channel == p.channel && q.quick == p.quick && q.sort == p.sort &&
		strings.HasPrefix(strings.ToLower(q.text), strings.ToLower(p.text))
}

// filter returns the indexes of the keys matching q, in q's sort order,
// looking only at within when it is given (a previous, wider result).
func (ks *keyset) filter(q query, within []int32, now time.Time) []int32 {
	src := within
	if src == nil {
		src = ks.order(q.sort)
	}
	words := q.words()
	if q.env == "" && q.channel == "" && len(words) == 0 && q.quick == quickNone {
		return src
	}
	out := make([]int32, 0, min(len(src), 1024))
	for _, i := range src {
		k := &ks.keys[i]
		if (q.env != "" && k.Environment != q.env) || (q.channel != "" && k.Channel != q.channel) {
			continue
		}
		if q.quick != quickNone && !matchQuick(q.quick, k, now) {
			continue
		}
		ok := true
		for _, w := range words {
			if !strings.Contains(ks.hay[i], w) {
				ok = false
				break
			}
		}
		if ok {
			out = append(out, i)
		}
	}
	return out
}

func matchQuick(q quickFilter, k *model.Key, now time.Time) bool {
	switch q {
	case quickStale:
		return !k.LastUsedAt.IsZero() && now.Sub(k.LastUsedAt) >= model.StaleAfter
	case quickNeverUsed:
		return k.LastUsedAt.IsZero()
	case quickExpiring:
		return !k.ExpiresAt.IsZero() && k.ExpiresAt.Sub(now) <= model.ExpiringWithin
	}
	return true
}
