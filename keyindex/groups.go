package keyindex

import (
	"math/bits"
	"time"

	"keyden/model"
)

// GroupBy is the field the grouped review gathers keys by.
type GroupBy int

const (
	ByCreator GroupBy = iota
	ByChannel
	ByEnv
)

// Group is what the grouped review asks of the keys that share a creator,
// channel or environment: how many, how many never used, stale
// (model.Key.UnusedFor(model.StaleAfter), never-used keys counting from
// creation) and expiring (model.Key.ExpiringWithin(model.ExpiringWithin),
// the expired included), and their last use.
type Group struct {
	Name                         string
	Keys, Never, Stale, Expiring int
	LastUsed                     time.Time
}

// InGroup is the rows (indexes of live keys) whose creator, channel or
// environment, as by says, is name, in their order: from the dense columns.
func (ix *Index) InGroup(rows []int32, by GroupBy, name string) []int32 {
	var col func(i int32) uint32
	var id uint32
	var ok bool
	switch by {
	case ByCreator:
		id, ok = ix.byIDs[name]
		col = func(i int32) uint32 { return ix.byOf[i] }
	case ByChannel:
		var c uint32
		c, ok = ix.chIDs[name]
		id, col = uint32(c), func(i int32) uint32 { return uint32(ix.chOf[i]) }
	default:
		var e uint32
		e, ok = ix.envIDs[name]
		id, col = uint32(e), func(i int32) uint32 { return uint32(ix.envOf[i]) }
	}
	var out []int32
	if !ok {
		return out
	}
	for _, i := range rows {
		if col(i) == id {
			out = append(out, i)
		}
	}
	return out
}

// Groups counts rows (indexes of live keys) by by at now, from the dense
// columns only: no record is read. The groups come in no set order.
func (ix *Index) Groups(rows []int32, by GroupBy, now time.Time) []Group {
	var ids func(i int) int
	names := map[int]string{}
	switch by {
	case ByCreator:
		ids = func(i int) int { return int(ix.byOf[i]) }
		for s, id := range ix.byIDs {
			names[int(id)] = s
		}
	case ByChannel:
		ids = func(i int) int { return int(ix.chOf[i]) }
		for s, id := range ix.chIDs {
			names[int(id)] = s
		}
	default:
		ids = func(i int) int { return int(ix.envOf[i]) }
		for s, id := range ix.envIDs {
			names[int(id)] = s
		}
	}
	t := now.UnixNano()
	unusedBy, expiresBy := satAdd(t, -int64(model.StaleAfter)), satAdd(t, int64(model.ExpiringWithin))
	type acc struct {
		keys, never, stale, expiring int
		last                         int64
	}
	per := make([]acc, len(names)+1)
	// Walk the rows in index order, as the columns lie in memory, not in
	// their sort order: sequential reads, not scattered ones.
	in := make([]uint64, ix.Size()/64+1)
	for _, r := range rows {
		in[r>>6] |= 1 << (r & 63)
	}
	for w, word := range in {
		for ; word != 0; word &= word - 1 {
			i := w*64 + bits.TrailingZeros64(word)
			a := &per[ids(i)]
			a.keys++
			used := ix.used[i]
			last := used
			if used == never {
				a.never++
				last = ix.created[i]
			}
			// A zero creation time is at least any duration ago, as in model.
			if last == never || last <= unusedBy {
				a.stale++
			}
			if e := ix.expires[i]; e != never && e <= expiresBy {
				a.expiring++
			}
			a.last = max(a.last, used)
		}
	}
	var out []Group
	for id, a := range per {
		if a.keys == 0 {
			continue
		}
		g := Group{Name: names[id], Keys: a.keys, Never: a.never, Stale: a.stale, Expiring: a.expiring}
		if a.last != never {
			g.LastUsed = time.Unix(0, a.last).UTC()
		}
		out = append(out, g)
	}
	return out
}
