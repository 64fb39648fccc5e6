// Package keyindex is the key index: one loaded copy of the store's keys
// laid out to filter and sort a million of them within a keystroke, and
// patched, not rebuilt, as the store changes. Sort orders, their
// directions and the review filters are defined here once; the review
// thresholds are model's. The TUI's keys table reads it; the query
// language (`env:prod used:>90d`) is to live here too, for the TUI and
// `keyden list` alike.
package keyindex

import (
	"encoding/binary"
	"slices"
	"sort"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
	"unsafe"

	"keyden/model"
)

// Index holds every key as its stored record (model.EncodeKeyRefs, the
// repeated strings as numbers into a table of strings) back to back in one
// arena, the search text of every key lower-cased into a second, and
// environment, channel, creator, scopes, flags and times in dense columns
// (the scope lists and strings interned once); a model.Key is made only
// for the keys a caller asks for (Key: the rows drawn, the key opened).
// One sort order per sort is made once when first asked for. Filtering
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
	base records  // the records as loaded
	hay  entries  // the base records' search text
	byID *idIndex // finds a base record's index; shared by patches

	// The strings and scope lists the records and the scopes column
	// number: shared by every set of one family, only appended to.
	// strs and sets are this set's view of them.
	tabs *tables
	strs []string
	sets [][]string

	// The overlay: nil ov means none. ov[i] < 0: key i is base's record i;
	// else it is ovRecs's record ov[i], with its text ovHay's entry ov[i].
	// These are this set's view of log, which later patches extend.
	ov     []int32
	log    *overlayLog
	ovRecs records
	ovHay  entries
	ovIDs  map[string]int32 // index of each key added since the load

	envOf    []uint32 // index into envIDs; 0: the key is gone
	chOf     []uint32 // index into chIDs: any member may add channels, past 65,535 too
	byOf     []uint32 // index into byIDs: creators may be many
	scopesOf []uint32 // index into sets
	used     []int64  // last used, as model.UnixNano: never is 0
	created  []int64
	expires  []int64
	flags    []uint8 // rowTripped, rowDisabled, rowDecoy
	envIDs   map[string]uint32
	chIDs    map[string]uint32
	byIDs    map[string]uint32
	live     int

	mu     sync.Mutex
	orders [numSorts][]int32
}

// The flags column's bits.
const (
	rowTripped  uint8 = 1 << iota // a used decoy: first in every order
	rowDisabled                   // model.Key.Disabled
	rowDecoy                      // model.Key.Decoy
)

// entries are byte strings kept back to back in chunks, each entry its
// length (uvarint) then its bytes, found by its ref: chunk number above
// chunkBits, offset below. A chunk is made at its full length and only
// written past used, which no reader's refs reach: no entry ever moves
// or changes, so a string pointing into one stays valid, a set's view
// (a copy of the struct) may be read while a newer set appends, and
// growing copies nothing.
type entries struct {
	chunks [][]byte
	used   int // bytes written in the last chunk
	refs   []uint32
}

const (
	chunkBits = 20 // chunks of at most 1 MiB, 4,096 of them (4 GiB) at most
	chunkSize = 1 << chunkBits
)

// add appends b as the next entry.
func (e *entries) add(b []byte) {
	need := binary.MaxVarintLen32 + len(b)
	last := len(e.chunks) - 1
	if last < 0 || len(e.chunks[last])-e.used < need {
		size := 4 << 10 // small sets stay small; big ones grow to whole chunks
		if last >= 0 {
			size = min(chunkSize, 2*len(e.chunks[last]))
		}
		e.chunks = append(e.chunks, make([]byte, max(size, need)))
		e.used = 0
		last++
	}
	c := e.chunks[last]
	e.refs = append(e.refs, uint32(last)<<chunkBits|uint32(e.used))
	e.used += binary.PutUvarint(c[e.used:], uint64(len(b)))
	e.used += copy(c[e.used:], b)
}

// get is entry i, in place.
func (e *entries) get(i int) []byte {
	ref := e.refs[i]
	c := e.chunks[ref>>chunkBits][ref&(chunkSize-1):]
	n, w := binary.Uvarint(c)
	return c[w : w+int(n) : w+int(n)]
}

func (e *entries) len() int { return len(e.refs) }

// fork is e for a new writer, while another may still append to e: the
// chunks are shared, and the fork writes only in chunks of its own.
func (e *entries) fork() entries {
	f := entries{chunks: slices.Clone(e.chunks), refs: slices.Clone(e.refs)}
	if n := len(f.chunks); n > 0 {
		f.used = len(f.chunks[n-1])
	}
	return f
}

// records are encoded keys: entry i is key i's id (uvarint length, bytes)
// then its model.EncodeKeyRefs record.
type records struct{ entries }

// add appends k's record, encoded through buf (scratch space).
func (r *records) add(k *model.Key, refs model.Refs, buf *[]byte) {
	b := binary.AppendUvarint((*buf)[:0], uint64(len(k.ID)))
	b = append(b, k.ID...)
	b = model.EncodeKeyRefs(b, k, refs)
	r.entries.add(b)
	*buf = b
}

// get is record i's id and record, as strings into the chunk (no copy).
func (r *records) get(i int) (id, rec string) {
	b := r.entries.get(i)
	n, w := binary.Uvarint(b)
	b = b[w:]
	return unsafe.String(unsafe.SliceData(b), int(n)), unsafe.String(unsafe.SliceData(b[n:]), len(b)-int(n))
}

// tables are the strings (environments, channels, creators, hint
// prefixes) that records give as numbers, and the distinct scope lists,
// each kept once for a family of sets: a million keys name a few of each.
// Both only grow, so a set's view (a slice of each, taken under mu)
// never sees a later entry change.
type tables struct {
	mu     sync.Mutex
	strs   []string
	strIDs map[string]uint64
	sets   [][]string
	setIDs map[string]uint32
	buf    []byte
}

func newTables() *tables {
	return &tables{strIDs: map[string]uint64{}, sets: [][]string{nil}, setIDs: map[string]uint32{"": 0}}
}

// refs interns k's repeated strings (under t.mu), as model.Refs numbers.
func (t *tables) refs(k *model.Key) model.Refs {
	r := model.Refs{Channel: t.str(k.Channel), Environment: t.str(k.Environment), CreatedBy: t.str(k.CreatedBy)}
	if prefix, _, ok := model.HintParts(k.Hint); ok {
		r.HintPrefix = t.str(prefix)
	}
	return r
}

// str is s's table number plus one (model.Refs' numbering).
func (t *tables) str(s string) uint64 {
	if id, ok := t.strIDs[s]; ok {
		return id + 1
	}
	s = strings.Clone(s) // s may point into the store's pages
	id := uint64(len(t.strs))
	t.strs = append(t.strs, s)
	t.strIDs[s] = id
	return id + 1
}

// set is the number of k's scope list (under t.mu).
func (t *tables) set(scopes []string) uint32 {
	t.buf = t.buf[:0]
	for _, s := range scopes {
		t.buf = binary.AppendUvarint(t.buf, uint64(len(s)))
		t.buf = append(t.buf, s...)
	}
	if id, ok := t.setIDs[string(t.buf)]; ok {
		return id
	}
	own := make([]string, len(scopes))
	for i, s := range scopes {
		own[i] = strings.Clone(s)
	}
	id := uint32(len(t.sets))
	t.sets = append(t.sets, own)
	t.setIDs[string(t.buf)] = id
	return id
}

// view sets ix's view of its tables to what they hold now.
func (ix *Index) view() {
	ix.tabs.mu.Lock()
	ix.strs, ix.sets = ix.tabs.strs, ix.tabs.sets
	ix.tabs.mu.Unlock()
}

// lookup is the string of table number x, for model.DecodeKeyWith.
func (ix *Index) lookup(x uint64) (string, bool) {
	if x < uint64(len(ix.strs)) {
		return ix.strs[x], true
	}
	return "", false
}

// never is a time column's value for the zero time, as the store keeps it.
const never = 0

// A Builder makes an Index from keys added one at a time, copying what it
// keeps: a load need not hold every record decoded at once.
type Builder struct {
	ix     *Index
	sorted bool
	buf    []byte
}

// NewBuilder starts an Index of about n keys.
func NewBuilder(n int) *Builder {
	return newBuilder(n, newTables(), map[string]uint32{}, map[string]uint32{}, map[string]uint32{})
}

func newBuilder(n int, tabs *tables, envIDs, chIDs map[string]uint32, byIDs map[string]uint32) *Builder {
	ix := &Index{tabs: tabs, envOf: make([]uint32, 0, n), chOf: make([]uint32, 0, n),
		byOf: make([]uint32, 0, n), scopesOf: make([]uint32, 0, n), used: make([]int64, 0, n), created: make([]int64, 0, n),
		expires: make([]int64, 0, n), flags: make([]uint8, 0, n), envIDs: envIDs, chIDs: chIDs, byIDs: byIDs}
	ix.base.refs, ix.hay.refs = make([]uint32, 0, n), make([]uint32, 0, n)
	return &Builder{ix: ix, sorted: true}
}

// Add adds k, which the builder does not keep (nor any string of it).
func (b *Builder) Add(k *model.Key) {
	ix := b.ix
	ix.tabs.mu.Lock()
	refs, scopes := ix.tabs.refs(k), ix.tabs.set(k.Scopes)
	ix.tabs.mu.Unlock()
	ix.base.add(k, refs, &b.buf)
	b.buf = appendSearchText(b.buf[:0], k)
	ix.hay.add(b.buf)
	ix.addColumns(k, scopes)
	b.order()
}

// addRecord adds key i of p, a set of the same family, copying its record
// and text as they are.
func (b *Builder) addRecord(p *Index, i int32) {
	ix := b.ix
	r, j := p.recordOf(i)
	ix.base.entries.add(r.entries.get(j))
	ix.hay.add(p.text(i))
	ix.envOf, ix.chOf, ix.byOf = append(ix.envOf, p.envOf[i]), append(ix.chOf, p.chOf[i]), append(ix.byOf, p.byOf[i])
	ix.scopesOf, ix.flags = append(ix.scopesOf, p.scopesOf[i]), append(ix.flags, p.flags[i])
	ix.used, ix.created, ix.expires = append(ix.used, p.used[i]), append(ix.created, p.created[i]), append(ix.expires, p.expires[i])
	b.order()
}

// order notes whether the last key added came after the one before in id order.
func (b *Builder) order() {
	if n := b.ix.base.len(); n > 1 && b.sorted {
		prev, _ := b.ix.base.get(n - 2)
		last, _ := b.ix.base.get(n - 1)
		b.sorted = prev <= last
	}
}

func (ix *Index) addColumns(k *model.Key, scopes uint32) {
	ix.envOf, ix.chOf, ix.byOf = append(ix.envOf, 0), append(ix.chOf, 0), append(ix.byOf, 0)
	ix.scopesOf, ix.flags = append(ix.scopesOf, 0), append(ix.flags, 0)
	ix.used, ix.created, ix.expires = append(ix.used, 0), append(ix.created, 0), append(ix.expires, 0)
	ix.setColumns(fresh, len(ix.envOf)-1, k, scopes)
}

// Index is the set of the keys added.
func (b *Builder) Index() *Index {
	ix := b.ix
	ix.live = len(ix.envOf)
	ix.byID = &idIndex{sorted: b.sorted}
	ix.view()
	b.ix = nil
	return ix
}

// Build indexes keys, which it does not keep.
func Build(keys []model.Key) *Index {
	b := NewBuilder(len(keys))
	for i := range keys {
		b.Add(&keys[i])
	}
	return b.Index()
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

// setColumns writes key k's columns at index i, its scope list being
// number scopes. A column still shared with the older set old is copied
// at its first change, so a patch with news of last use copies only the
// last-used column.
func (ix *Index) setColumns(old *Index, i int, k *model.Key, scopes uint32) {
	cow(&ix.envOf, old.envOf, i, intern(ix.envIDs, k.Environment))
	cow(&ix.chOf, old.chOf, i, intern(ix.chIDs, k.Channel))
	cow(&ix.byOf, old.byOf, i, intern(ix.byIDs, k.CreatedBy))
	cow(&ix.scopesOf, old.scopesOf, i, scopes)
	cow(&ix.used, old.used, i, model.UnixNano(k.LastUsedAt))
	cow(&ix.created, old.created, i, model.UnixNano(k.CreatedAt))
	cow(&ix.expires, old.expires, i, model.UnixNano(k.ExpiresAt))
	var f uint8
	for _, b := range []struct {
		on  bool
		bit uint8
	}{{k.Tripped(), rowTripped}, {k.Disabled, rowDisabled}, {k.Decoy, rowDecoy}} {
		if b.on {
			f |= b.bit
		}
	}
	cow(&ix.flags, old.flags, i, f)
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

func intern(m map[string]uint32, s string) uint32 {
	if id, ok := m[s]; ok {
		return id
	}
	id := uint32(len(m) + 1)
	m[strings.Clone(s)] = id // s may point into the store's pages
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

// Key is the record at index i (as returned by Order or Filter), made
// anew: changing it changes nothing in ix.
func (ix *Index) Key(i int32) *model.Key {
	r, j := ix.recordOf(i)
	id, rec := r.get(j)
	k := new(model.Key)
	if err := model.DecodeKeyWith(id, rec, k, ix.lookup); err != nil {
		// The index encoded it: a record that does not decode is a bug.
		panic("keyindex: the record of " + model.Quote(id) + " does not decode: " + err.Error())
	}
	return k
}

// ID is the id of the key at index i, without making the key.
func (ix *Index) ID(i int32) string {
	r, j := ix.recordOf(i)
	id, _ := r.get(j)
	return id
}

// recordOf says where key i's record is.
func (ix *Index) recordOf(i int32) (*records, int) {
	if ix.ov != nil {
		if s := ix.ov[i]; s >= 0 {
			return &ix.ovRecs, int(s)
		}
	}
	return &ix.base, int(i)
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
			return ix.ovHay.get(int(s))
		}
	}
	return ix.hay.get(int(i))
}

// indexOf finds a key by id, gone or not.
func (ix *Index) indexOf(id string) (int32, bool) {
	if i, ok := ix.ovIDs[id]; ok {
		return i, true
	}
	return ix.byID.find(&ix.base, id)
}

// idIndex finds a base record by id: a binary search when the records came
// sorted by id (as both stores list them), else a map made once.
type idIndex struct {
	sorted bool
	once   sync.Once
	m      map[string]int32
}

func (x *idIndex) find(r *records, id string) (int32, bool) {
	n := r.len()
	if x.sorted {
		i := sort.Search(n, func(i int) bool { s, _ := r.get(i); return s >= id })
		if i < n {
			if s, _ := r.get(i); s == id {
				return int32(i), true
			}
		}
		return int32(i), false
	}
	x.once.Do(func() {
		x.m = make(map[string]int32, n)
		for i := range n {
			s, _ := r.get(i)
			x.m[s] = int32(i)
		}
	})
	i, ok := x.m[id]
	return i, ok
}
