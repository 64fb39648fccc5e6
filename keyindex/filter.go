package keyindex

import (
	"fmt"
	"math"
	"runtime"
	"sync"
	"time"

	"keyden/model"
)

// Review narrows the keys to those that need an admin's look. Each is one
// of model's review questions with model's threshold; the zero Review
// shows every key.
type Review int

const (
	AllKeys   Review = iota
	Unused           // model.Key.UnusedFor(model.StaleAfter): never-used keys count from creation
	NeverUsed        // model.Key.NeverUsed
	Expiring         // model.Key.ExpiringWithin(model.ExpiringWithin), expired ones included
	numReviews
)

const day = 24 * time.Hour

func (r Review) String() string {
	switch r {
	case Unused:
		return fmt.Sprintf("unused %dd+", model.StaleAfter/day)
	case NeverUsed:
		return "never used"
	case Expiring:
		return fmt.Sprintf("expiring ≤%dd", model.ExpiringWithin/day)
	}
	return ""
}

// Next is the review after r, back to AllKeys after the last.
func (r Review) Next() Review { return (r + 1) % numReviews }

// Query is what a table shows: an environment, a channel, the filter
// line's text in the query language (see ParseQuery), a review and a
// sort. Empty Env and Channel mean any. A Text that does not parse shows
// no key; Err says why.
type Query struct {
	Env, Channel string
	Text         string
	Review       Review
	Sort         Sort
}

// terms parses the filter text; a malformed one matches nothing.
func (q Query) terms() (Terms, bool) {
	t, err := ParseQuery(q.Text)
	return t, err == nil
}

// Err is the sentence saying what is wrong with the filter text, if anything.
func (q Query) Err() error {
	_, err := ParseQuery(q.Text)
	return err
}

// Empty says whether q shows every key.
func (q Query) Empty() bool {
	t, ok := q.terms()
	return q.Env == "" && q.Channel == "" && q.Review == AllKeys && ok && t.Empty()
}

// Narrows says whether every key q matches is one p matches, so filtering
// p's result again gives q's: the cheap path for typing.
func (q Query) Narrows(p Query) bool {
	if q.Env != p.Env || q.Channel != p.Channel || q.Review != p.Review || q.Sort != p.Sort {
		return false
	}
	tq, ok := q.terms()
	tp, okp := p.terms()
	return ok && okp && tq.Implies(tp)
}

// matcher is a query compiled against one index.
type matcher struct {
	ix      *Index
	env, ch uint32 // 0: any
	none    bool   // names a channel or env no key has, or the text is malformed
	terms   *at    // nil: no terms
	review  Review
	// The review thresholds as instants, so a key's check is one compare
	// of its column (no subtraction, which could overflow where
	// time.Time.Sub saturates): unused when its last use, or creation,
	// is at or before unusedBy; expiring when it expires at or before
	// expiresBy.
	unusedBy, expiresBy int64
}

func (ix *Index) compile(q Query, now time.Time) matcher {
	t := now.UnixNano()
	m := matcher{ix: ix, review: q.Review,
		unusedBy: satAdd(t, -int64(model.StaleAfter)), expiresBy: satAdd(t, int64(model.ExpiringWithin))}
	if q.Env != "" {
		id, ok := ix.envIDs[q.Env]
		m.env, m.none = id, m.none || !ok
	}
	if q.Channel != "" {
		id, ok := ix.chIDs[q.Channel]
		m.ch, m.none = id, m.none || !ok
	}
	terms, ok := q.terms()
	m.none = m.none || !ok
	if !terms.Empty() {
		m.terms = terms.at(now)
		m.terms.bind(ix)
	}
	return m
}

// satAdd is t+d, held at the int64 limits as time.Time.Sub holds durations.
func satAdd(t, d int64) int64 {
	switch {
	case d > 0 && t > math.MaxInt64-d:
		return math.MaxInt64
	case d < 0 && t < math.MinInt64-d:
		return math.MinInt64
	}
	return t + d
}

func (m *matcher) match(i int) bool {
	ix := m.ix
	if e := ix.envOf[i]; e == 0 || (m.env != 0 && e != m.env) || (m.ch != 0 && ix.chOf[i] != m.ch) {
		return false
	}
	switch m.review {
	case Unused:
		last := ix.used[i]
		if last == never {
			last = ix.created[i]
		}
		// A zero creation time is at least any duration ago, as in model.
		if last != never && last > m.unusedBy {
			return false
		}
	case NeverUsed:
		if ix.used[i] != never {
			return false
		}
	case Expiring:
		if ix.expires[i] == never || ix.expires[i] > m.expiresBy {
			return false
		}
	}
	if m.terms != nil {
		var hay []byte
		if m.terms.readsText {
			hay = ix.text(int32(i))
		}
		f := facts{used: ix.used[i], created: ix.created[i], expires: ix.expires[i], env: ix.envOf[i], ch: ix.chOf[i],
			flags: ix.flags[i], scopes: ix.sets[ix.scopesOf[i]], ix: ix, i: int32(i)}
		return m.terms.match(&f, hay)
	}
	return true
}

// Filter returns the indexes of the keys matching q at now, in q's sort
// order, looking only at within when it is given (a previous, wider
// result: see Query.Narrows).
func (ix *Index) Filter(q Query, within []int32, now time.Time) []int32 {
	if within == nil && q.Empty() {
		return ix.Order(q.Sort)
	}
	m := ix.compile(q, now)
	if m.none {
		return []int32{}
	}
	n := ix.Size()
	// A narrowing of few rows checks just those; of many, it scans them in
	// index order, as the columns lie in memory, and in parallel: in the
	// sort order each key's columns would be a read somewhere else.
	if within != nil && len(within) < n/16 {
		out := make([]int32, 0, len(within))
		for _, i := range within {
			if m.match(int(i)) {
				out = append(out, i)
			}
		}
		return out
	}
	var in []uint64 // the rows to check: nil, all of them
	if within != nil {
		in = make([]uint64, (n+63)/64)
		for _, i := range within {
			in[i>>6] |= 1 << (i & 63)
		}
	}
	// Pass 1: every key in index order, in parallel, into a bitset.
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
				if (in == nil || in[i>>6]&(1<<(i&63)) != 0) && m.match(i) {
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
	order := within
	if order == nil {
		order = ix.Order(q.Sort)
	}
	// Pass 2: the sort order through the bitset.
	out := make([]int32, 0, total)
	for _, i := range order {
		if bits[i>>6]&(1<<(i&63)) != 0 {
			out = append(out, i)
		}
	}
	return out
}
