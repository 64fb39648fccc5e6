package keyindex

import (
	"bytes"
	"cmp"
	"slices"
)

// Sort is an order of the keys. The zero Sort is the default.
type Sort int

const (
	ByLastUsed Sort = iota // most recent first, never used last
	ByCreated              // newest first
	ByName                 // A to Z, case folded
	ByExpiry               // soonest first, never expiring last
	numSorts
)

// sorts defines every order, once: its name, its direction, and the time
// column it reads (nil: the name). A key without the time (never used,
// never expiring) comes last in either direction; ties go by index (the
// store's id order at load), so an order is total and a patch can merge
// into it.
var sorts = [numSorts]struct {
	name string
	asc  bool
	col  func(*Index) []int64
}{
	ByLastUsed: {"last used", false, func(ix *Index) []int64 { return ix.used }},
	ByCreated:  {"created", false, func(ix *Index) []int64 { return ix.created }},
	ByName:     {"name", true, nil},
	ByExpiry:   {"expiry", true, func(ix *Index) []int64 { return ix.expires }},
}

func (s Sort) String() string { return sorts[s].name }

// Ascending says whether s puts the smaller value (A, the earlier time) first.
func (s Sort) Ascending() bool { return sorts[s].asc }

// Next is the sort after s, back to the first after the last.
func (s Sort) Next() Sort { return (s + 1) % numSorts }

// Sorts lists every sort, the default first.
func Sorts() []Sort {
	out := make([]Sort, numSorts)
	for s := range numSorts {
		out[s] = s
	}
	return out
}

// compare orders two keys by s, tripped decoys first: an alert stays in sight.
func (ix *Index) compare(s Sort) func(a, b int32) int {
	by := ix.compareBy(s)
	return func(a, b int32) int {
		if x, y := ix.flags[a]&rowTripped != 0, ix.flags[b]&rowTripped != 0; x != y {
			if x {
				return -1
			}
			return 1
		}
		return by(a, b)
	}
}

func (ix *Index) compareBy(s Sort) func(a, b int32) int {
	asc := sorts[s].asc
	if sorts[s].col == nil {
		return func(a, b int32) int {
			c := bytes.Compare(ix.nameOf(a), ix.nameOf(b))
			if !asc {
				c = -c
			}
			if c != 0 {
				return c
			}
			return cmp.Compare(a, b)
		}
	}
	col := sorts[s].col(ix)
	return func(a, b int32) int {
		x, y := col[a], col[b]
		switch {
		case x == y:
			return cmp.Compare(a, b)
		case x == never:
			return 1
		case y == never:
			return -1
		case (x < y) == asc:
			return -1
		}
		return 1
	}
}

// nameOf is key i's lower-cased name, the first field of its search text.
func (ix *Index) nameOf(i int32) []byte {
	h := ix.text(i)
	return h[:bytes.IndexByte(h, 0)]
}

// Order returns the keys' indexes in s's order, computing it once.
func (ix *Index) Order(s Sort) []int32 {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if o := ix.orders[s]; o != nil {
		return o
	}
	o := make([]int32, 0, ix.live)
	for i := range int32(ix.Size()) {
		if !ix.gone(i) {
			o = append(o, i)
		}
	}
	slices.SortFunc(o, ix.compare(s))
	ix.orders[s] = o
	return o
}

// HasOrder says whether s's order is ready, without computing it.
func (ix *Index) HasOrder(s Sort) bool {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	return ix.orders[s] != nil
}
