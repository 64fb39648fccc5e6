// Package keyindex is the key index: one loaded copy of the store's keys
// laid out to filter and sort a million of them within a keystroke, and
// patched, not rebuilt, as the store changes. Sort orders, their
// directions and the review filters are defined here once; the review
// thresholds are model's. The TUI's keys table reads it; the query
// language (`env:prod used:>90d`) is to live here too, for the TUI and
// `keyden list` alike.
package keyindex

import (
	"slices"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"keyden/model"
)

// Index holds the search text of every key lower-cased into one
// contiguous arena, environment, channel and times in dense columns, and
// one order per sort, each made once when first asked for. Filtering
// scans the dense data in index order (cache-friendly, split across
// cores) into a bitset, then walks the sort order through it.
//
// An Index never changes once built, so a filter may read it off the UI
// loop. A change in the store makes a new Index by Patch: the columns
// are copied, the loaded records and their text are shared, and each
// changed or added record is appended to an overlay log that the patches
// share. Indexes (the int32 row numbers) keep their meaning from one
// patch to the next; a removed key's index stays, marked gone.
type Index struct {
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
	byOf    []uint32 // index into byIDs: creators may be many
	used    []int64  // last used, as model.UnixNano: never is 0
	created []int64
	expires []int64
	tripped []bool // a used decoy: first in every order
	envIDs  map[string]uint16
	chIDs   map[string]uint16
	byIDs   map[string]uint32
	live    int

	mu     sync.Mutex
	orders [numSorts][]int32
}

// never is a time column's value for the zero time, as the store keeps it.
const never = 0

// Build indexes keys, which it keeps (the caller must not change them).
func Build(keys []model.Key) *Index {
	n := len(keys)
	ix := &Index{base: keys, hayOff: make([]uint32, n+1), envOf: make([]uint16, n), chOf: make([]uint16, n),
		byOf: make([]uint32, n), used: make([]int64, n), created: make([]int64, n), expires: make([]int64, n), tripped: make([]bool, n),
		envIDs: map[string]uint16{}, chIDs: map[string]uint16{}, byIDs: map[string]uint32{}, live: n, byID: newIDIndex(keys)}
	ix.hay = make([]byte, 0, n*56)
	for i := range keys {
		ix.hayOff[i] = uint32(len(ix.hay))
		ix.hay = appendSearchText(ix.hay, &keys[i])
		ix.setColumns(fresh, i, &keys[i])
	}
	ix.hayOff[n] = uint32(len(ix.hay))
	return ix
}

// searchFields is how many fields appendSearchText writes, NUL-separated.
const searchFields = 6

// appendSearchText appends what the filter matches in k, lower-cased,
// name first (sorting by name reads it back) and creator last (by: reads
// it back).
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

// fresh stands for "no older set" when a new set fills its own columns.
var fresh = &Index{}

// setColumns writes key k's columns at index i. A column still shared with
// the older set old is copied at its first change, so a patch with news of
// last use copies only the last-used column.
func (ix *Index) setColumns(old *Index, i int, k *model.Key) {
	cow(&ix.envOf, old.envOf, i, intern(ix.envIDs, k.Environment))
	cow(&ix.chOf, old.chOf, i, intern(ix.chIDs, k.Channel))
	cow(&ix.byOf, old.byOf, i, intern(ix.byIDs, k.CreatedBy))
	cow(&ix.used, old.used, i, model.UnixNano(k.LastUsedAt))
	cow(&ix.created, old.created, i, model.UnixNano(k.CreatedAt))
	cow(&ix.expires, old.expires, i, model.UnixNano(k.ExpiresAt))
	cow(&ix.tripped, old.tripped, i, k.Tripped())
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

func intern[T uint16 | uint32](m map[string]T, s string) T {
	if id, ok := m[s]; ok {
		return id
	}
	id := T(len(m) + 1)
	m[s] = id
	return id
}

// Size is the number of indexes, gone ones included: every index a filter
// returns is below it.
func (ix *Index) Size() int { return len(ix.envOf) }

// Count is the number of keys.
func (ix *Index) Count() int { return ix.live }

func (ix *Index) gone(i int32) bool { return ix.envOf[i] == 0 }

// Gone says whether the key at index i was removed by a patch.
func (ix *Index) Gone(i int32) bool { return ix.gone(i) }

// Key is the record at index i (as returned by Order or Filter).
func (ix *Index) Key(i int32) *model.Key {
	if ix.ov != nil {
		if s := ix.ov[i]; s >= 0 {
			return &ix.ovKeys[s]
		}
	}
	return &ix.base[i]
}

// Lookup finds a key by id.
func (ix *Index) Lookup(id string) (*model.Key, bool) {
	i, ok := ix.indexOf(id)
	if !ok || ix.gone(i) {
		return nil, false
	}
	return ix.Key(i), true
}

// SharesIndexes says whether an index into o means the same key in ix:
// one was patched from the other, directly or not.
func (ix *Index) SharesIndexes(o *Index) bool { return o != nil && ix.byID == o.byID }

// Counts counts the keys per environment and per channel, from the dense
// columns.
func (ix *Index) Counts() (envs, channels map[string]int) {
	e, c := make([]int, len(ix.envIDs)+1), make([]int, len(ix.chIDs)+1)
	for i, id := range ix.envOf {
		if id != 0 {
			e[id]++
			c[ix.chOf[i]]++
		}
	}
	envs, channels = map[string]int{}, map[string]int{}
	for name, id := range ix.envIDs {
		if e[id] > 0 {
			envs[name] = e[id]
		}
	}
	for name, id := range ix.chIDs {
		if c[id] > 0 {
			channels[name] = c[id]
		}
	}
	return envs, channels
}

// text is key i's search text.
func (ix *Index) text(i int32) []byte {
	if ix.ov != nil {
		if s := ix.ov[i]; s >= 0 {
			return ix.ovHay[ix.ovHayOff[s]:ix.ovHayOff[s+1]]
		}
	}
	return ix.hay[ix.hayOff[i]:ix.hayOff[i+1]]
}

// indexOf finds a key by id, gone or not.
func (ix *Index) indexOf(id string) (int32, bool) {
	if i, ok := ix.ovIDs[id]; ok {
		return i, true
	}
	return ix.byID.find(ix.base, id)
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
