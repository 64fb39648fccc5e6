package tui

import (
	"math/bits"

	"keyden/keyindex"
	"keyden/model"
)

// marks are the rows marked for a bulk action (space, A): a bit per index
// of the key set they were made on, so marking every row of a million
// is a pass over int32s, and a patched set (same indexes) keeps them.
type marks struct {
	of   *keyindex.Index
	bits []uint64
	n    int
}

func (m *marks) has(i int32) bool {
	return m.n > 0 && int(i>>6) < len(m.bits) && m.bits[i>>6]&(1<<(i&63)) != 0
}

func (m *marks) set(of *keyindex.Index, i int32, on bool) {
	if m.of == nil || !of.SharesIndexes(m.of) {
		m.of, m.bits, m.n = of, nil, 0
	}
	m.of = of
	if need := of.Size()/64 + 1; len(m.bits) < need {
		m.bits = append(m.bits, make([]uint64, need-len(m.bits))...)
	}
	if m.has(i) == on {
		return
	}
	m.bits[i>>6] ^= 1 << (i & 63)
	if on {
		m.n++
	} else {
		m.n--
	}
}

func (m *marks) clear() { *m = marks{} }

// hasAll says whether every index in rows is marked.
func (m *marks) hasAll(rows []int32) bool {
	for _, i := range rows {
		if m.bits[i>>6]&(1<<(i&63)) == 0 {
			return false
		}
	}
	return true
}

// setAll marks (or unmarks) every index in rows, on the set the marks are
// sized for (see set): a million rows in a few milliseconds.
func (m *marks) setAll(rows []int32, on bool) {
	for _, i := range rows {
		w, bit := &m.bits[i>>6], uint64(1)<<(i&63)
		switch {
		case on && *w&bit == 0:
			*w |= bit
			m.n++
		case !on && *w&bit != 0:
			*w &^= bit
			m.n--
		}
	}
}

// each calls f with every marked index still in set, in index order.
func (m *marks) each(set *keyindex.Index, f func(i int32)) {
	for w, word := range m.bits {
		for word != 0 {
			i := int32(w*64 + bits.TrailingZeros64(word))
			word &= word - 1
			if int(i) < set.Size() && !set.Gone(i) {
				f(i)
			}
		}
	}
}

// keys are the marked keys still in set, in index order.
func (m *marks) keys(set *keyindex.Index) []*model.Key {
	var out []*model.Key
	m.each(set, func(i int32) { out = append(out, set.Key(i)) })
	return out
}

// unmark drops the marks of the keys whose ids drop says so of.
func (m *marks) unmark(drop func(id string) bool) {
	if m.of == nil {
		return
	}
	of := m.of
	m.each(of, func(i int32) {
		if drop(of.ID(i)) {
			m.set(of, i, false)
		}
	})
}

// follow carries the marks over to set: as they are when set shares
// their indexes (a patch), by id after a full reload; a key gone meanwhile
// is no longer marked. Only ids are read: no key is made.
func (m *marks) follow(set *keyindex.Index) {
	if m.n == 0 || m.of == set {
		return
	}
	if set.SharesIndexes(m.of) {
		n := 0
		m.each(set, func(int32) { n++ })
		m.of, m.n = set, n
		m.bits = m.bits[:min(len(m.bits), set.Size()/64+1)]
		return
	}
	ids := make(map[string]bool, m.n)
	m.each(m.of, func(i int32) { ids[m.of.ID(i)] = true })
	m.clear()
	for i := int32(0); int(i) < set.Size(); i++ {
		if !set.Gone(i) && ids[set.ID(i)] {
			m.set(set, i, true)
		}
	}
}
