package server

import (
	"encoding/binary"
	"hash/maphash"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"keyden/keygen"
	"keyden/model"
	"keyden/storage"
)

// The verifier's key set, held compactly: a million keys are a few large
// pointer-free arrays the garbage collector never scans, not a million
// records of Go strings and slices. Each key is one fixed-size row; its id
// and name are bytes in a shared text buffer; its environment and channel
// one pair of names, and its scopes and allowlist one rule set, each
// shared by every key of its shard that has the same.

const shardCount = 64

// table maps key hashes to rows. It is split into shards, each with its
// own lock, so taking in a change locks one shard for a moment while every
// other lookup goes on; a full reload builds a new table aside and swaps it.
// Only the follower (under Server.followMu) changes a table, so what only it
// reads (the id index, the count) needs no lock.
type table struct {
	shards [shardCount]shard
	ids    idIndex // id → row, for changes that name a key by its id
	n      int     // keys held
	// loading: every key put is new (a full read: ids are unique in a
	// store), so put does not look for the one it replaces.
	loading bool
	// retired: a reload replaced this table (see Server.retire).
	retired atomic.Bool
}

// row is one key. Its usage field points to last-used news gathered since
// the last flush (shard.pending), so a key nobody used holds none.
type row struct {
	hash    keygen.Hash
	expires int64  // UnixNano; 0 never
	text    uint32 // the id, then the name, at shard.text[text:]
	idLen   uint16
	nameLen uint16
	set     uint32 // scopes and allowlist: shard.sets
	place   uint32 // environment and channel: shard.places
	usage   uint32 // 1 + its index in shard.pending; 0 none (under umu)
	flags   uint8
}

const (
	rowLive uint8 = 1 << iota
	rowDisabled
	rowExpiryLogged
	rowDecoy
)

// reasonDecoy is check's answer for a decoy, which Verify answers as
// unknown after queuing its alert.
const reasonDecoy model.Reason = "decoy"

// noRow marks pending news whose key left the table before a flush.
const noRow = ^uint32(0)

type shard struct {
	mu      sync.RWMutex
	rows    []row
	free    []uint32 // rows to reuse
	slots   []uint32 // open addressing by hash: 1 + row; 0 empty
	text    []byte   // ids and names; only ever appended to, see compact
	garbage int      // bytes of text no live row uses
	places  []place
	placeOf map[place]uint32
	scratch []byte // for finding a rule set
	sets    []ruleSet
	setOf   map[string]uint32 // by ruleSet.key
	freeSet []uint32

	umu     sync.Mutex // last-used news: pending and every row's usage
	pending []pending
}

// place is a key's environment and channel: few pairs, shared by many keys.
type place struct{ env, channel string }

// ruleSet is what a check reads of a key's scopes and allowlist.
type ruleSet struct {
	key     string // the scopes and allowlist as one string, to find it again
	refs    uint32 // rows using it; 0: free
	scopes  []string
	header  string // the scopes as X-Key-Scopes carries them
	allowed []netip.Prefix
	fenced  bool // the key has an allowlist (even one that no longer parses)
}

// pending is one key's last-used news since the last flush.
type pending struct {
	row     uint32 // noRow once the key left the table: then id says which
	id      string
	at      time.Time
	from    netip.Addr // invalid: no client address was known
	count   uint64
	days    model.DailyUses // count by UTC day, for news gathered across midnight
	expired bool
}

// newTable makes a table for about sizeHint keys.
func newTable(sizeHint int) *table {
	t := &table{}
	// Keys spread over the shards unevenly, by a few percent at most.
	per := sizeHint/shardCount + sizeHint/shardCount/16 + 16
	for i := range t.shards {
		s := &t.shards[i]
		s.rows = make([]row, 0, per)
		s.slots = make([]uint32, slotsFor(per))
		s.placeOf = map[place]uint32{}
		s.setOf = map[string]uint32{}
	}
	t.ids.slots = make([]uint32, slotsFor(sizeHint))
	t.ids.seed = maphash.MakeSeed()
	return t
}

// slotsFor is a power of two at least 4/3 of n, so an index stays at most
// three quarters full.
func slotsFor(n int) int {
	c := 16
	for c*3 < n*4 {
		c *= 2
	}
	return c
}

func (t *table) shardOf(h *keygen.Hash) int { return int(h[0] % shardCount) }

// home is where a hash's search begins: bytes the shard choice did not use.
func home(h *keygen.Hash) uint64 { return binary.LittleEndian.Uint64(h[8:16]) }

// find is the row holding h. Call with s.mu held.
func (s *shard) find(h *keygen.Hash) (uint32, bool) {
	mask := uint64(len(s.slots) - 1)
	for i := home(h) & mask; ; i = (i + 1) & mask {
		r := s.slots[i]
		if r == 0 {
			return 0, false
		}
		if s.rows[r-1].hash == *h {
			return r - 1, true
		}
	}
}

func (s *shard) str(off uint32, n uint16) string {
	if n == 0 {
		return ""
	}
	return unsafe.String(&s.text[off], n)
}

func (s *shard) id(r *row) string { return s.str(r.text, r.idLen) }

func (s *shard) name(r *row) string { return s.str(r.text+uint32(r.idLen), r.nameLen) }

// put adds k or replaces the key it names, copying what a check needs:
// k and its strings may be gone once it returns.
func (t *table) put(k *model.Key) {
	h := keygen.Hash(k.Hash)
	si := t.shardOf(&h)
	s := &t.shards[si]
	if !t.loading {
		if r, ok := t.ids.find(t, k.ID); ok && (r.shard != si || s.rows[r.row].hash != h) {
			t.removeAt(r) // the same id under another hash: keep one
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r, found := s.find(&h)
	if found {
		old := &s.rows[r]
		t.ids.remove(t, s.id(old)) // re-added below
		if s.id(old) != k.ID {
			// Two records with one hash (a damaged store): the last one wins.
			s.orphan(old)
		}
		s.release(old)
		t.n--
	} else {
		if len(s.free) > 0 {
			r = s.free[len(s.free)-1]
			s.free = s.free[:len(s.free)-1]
		} else {
			r = uint32(len(s.rows))
			s.rows = append(s.rows, row{})
		}
		if (t.live(si)+1)*4 > len(s.slots)*3 {
			s.grow()
		}
		s.insert(&h, r)
	}
	t.n++
	s.rows[r] = s.fill(k, s.rows[r].usage)
	t.ids.add(t, k.ID, si, r)
	if s.garbage > 4096 && s.garbage > len(s.text)/2 {
		s.compact()
	}
}

// live is how many rows shard si holds.
func (t *table) live(si int) int {
	s := &t.shards[si]
	return len(s.rows) - len(s.free)
}

// fill makes k's row, keeping usage (the news of the key it replaces).
func (s *shard) fill(k *model.Key, usage uint32) row {
	id, name := clip(k.ID), clip(k.Name)
	r := row{hash: k.Hash, expires: model.UnixNano(k.ExpiresAt), text: uint32(len(s.text)),
		idLen: uint16(len(id)), nameLen: uint16(len(name)), usage: usage, flags: rowLive,
		place: s.place(k.Environment, k.Channel), set: s.ruleSet(k)}
	s.text = append(append(s.text, id...), name...)
	if k.Disabled {
		r.flags |= rowDisabled
	}
	if k.ExpiryLogged {
		r.flags |= rowExpiryLogged
	}
	if k.Decoy {
		r.flags |= rowDecoy
	}
	return r
}

// clip keeps a string within a row's length field. Only a hand-edited
// store holds an id or name this long.
func clip(s string) string { return s[:min(len(s), 1<<16-1)] }

func (s *shard) place(env, channel string) uint32 {
	if i, ok := s.placeOf[place{env, channel}]; ok {
		return i
	}
	p := place{strings.Clone(env), strings.Clone(channel)}
	s.places = append(s.places, p)
	s.placeOf[p] = uint32(len(s.places) - 1)
	return uint32(len(s.places) - 1)
}

// ruleSet finds or makes k's rule set and counts k in it.
func (s *shard) ruleSet(k *model.Key) uint32 {
	b := s.scratch[:0]
	for _, sc := range k.Scopes {
		b = append(append(b, sc...), 0)
	}
	b = append(b, 1)
	for _, a := range k.AllowedIPs {
		b = append(append(b, a...), 0)
	}
	s.scratch = b
	i, ok := s.setOf[string(b)] // no copy for the lookup
	if !ok {
		key := string(b)
		rs := ruleSet{key: key, fenced: len(k.AllowedIPs) > 0}
		for _, sc := range k.Scopes {
			rs.scopes = append(rs.scopes, strings.Clone(sc))
		}
		// Entries that no longer parse are dropped: they were validated
		// when stored (as model.NewRules does).
		for _, a := range k.AllowedIPs {
			if p, err := model.ParseAllowedIP(a); err == nil {
				rs.allowed = append(rs.allowed, p)
			}
		}
		rs.header = headerSafe(strings.Join(rs.scopes, " "))
		if n := len(s.freeSet); n > 0 {
			i = s.freeSet[n-1]
			s.freeSet = s.freeSet[:n-1]
			s.sets[i] = rs
		} else {
			i = uint32(len(s.sets))
			s.sets = append(s.sets, rs)
		}
		s.setOf[key] = i
	}
	s.sets[i].refs++
	return i
}

// release gives up what r holds of the shard's text and rule sets.
func (s *shard) release(r *row) {
	s.garbage += int(r.idLen) + int(r.nameLen)
	rs := &s.sets[r.set]
	if rs.refs--; rs.refs == 0 {
		delete(s.setOf, rs.key)
		*rs = ruleSet{}
		s.freeSet = append(s.freeSet, r.set)
	}
}

// orphan keeps r's pending news under its id, for a row about to go.
func (s *shard) orphan(r *row) {
	s.umu.Lock()
	if r.usage != 0 {
		p := &s.pending[r.usage-1]
		p.row, p.id = noRow, strings.Clone(s.id(r))
		r.usage = 0
	}
	s.umu.Unlock()
}

// remove takes the key with id out, if the table holds it.
func (t *table) remove(id string) {
	if r, ok := t.ids.find(t, id); ok {
		t.removeAt(r)
	}
}

func (t *table) removeAt(at rowRef) {
	s := &t.shards[at.shard]
	s.mu.Lock()
	defer s.mu.Unlock()
	r := &s.rows[at.row]
	t.ids.remove(t, s.id(r))
	s.orphan(r)
	s.release(r)
	s.delete(&r.hash)
	*r = row{}
	s.free = append(s.free, at.row)
	t.n--
}

// insert puts row r in the index under h.
func (s *shard) insert(h *keygen.Hash, r uint32) {
	mask := uint64(len(s.slots) - 1)
	i := home(h) & mask
	for s.slots[i] != 0 {
		i = (i + 1) & mask
	}
	s.slots[i] = r + 1
}

// delete takes h out of the index, moving back the entries after it that
// would otherwise no longer be found (linear probing without tombstones).
func (s *shard) delete(h *keygen.Hash) {
	mask := uint64(len(s.slots) - 1)
	i := home(h) & mask
	for s.rows[s.slots[i]-1].hash != *h {
		i = (i + 1) & mask
	}
	for j := (i + 1) & mask; s.slots[j] != 0; j = (j + 1) & mask {
		k := home(&s.rows[s.slots[j]-1].hash) & mask
		// The entry at j stays unless its home is cyclically outside (i, j].
		if (j > i && (k <= i || k > j)) || (j < i && k <= i && k > j) {
			s.slots[i] = s.slots[j]
			i = j
		}
	}
	s.slots[i] = 0
}

func (s *shard) grow() {
	old := s.slots
	s.slots = make([]uint32, 2*len(old))
	for _, r := range old {
		if r != 0 {
			s.insert(&s.rows[r-1].hash, r-1)
		}
	}
}

// compact copies the live ids and names to a new text buffer. Strings
// already handed out keep pointing into the old one, which is never
// written again.
func (s *shard) compact() {
	text := make([]byte, 0, len(s.text)-s.garbage)
	for i := range s.rows {
		r := &s.rows[i]
		if r.flags&rowLive == 0 {
			continue
		}
		off := uint32(len(text))
		text = append(text, s.text[r.text:r.text+uint32(r.idLen)+uint32(r.nameLen)]...)
		r.text = off
	}
	s.text, s.garbage = text, 0
}

// Key is what the verifier tells of a key it found. Its strings are the
// table's own: read them, never change them.
type Key struct {
	ID, Name, Channel, Environment string
	Scopes                         []string
	scopesHeader                   string
}

// check finds h and applies its rules, in the design's order (the same as
// model.Rules.Check): disabled, expiry, environment, client IP, scope. A
// tag presented as env (the one in the key) names the key's own
// environment. It records the use when the key passes, and an unlogged
// expiry when it has passed.
func (t *table) check(h *keygen.Hash, tag string, req *Request, now time.Time) (_ Key, _ model.Reason, retired bool) {
	s := &t.shards[t.shardOf(h)]
	s.mu.RLock()
	defer s.mu.RUnlock()
	if t.retired.Load() {
		return Key{}, "", true
	}
	i, ok := s.find(h)
	if !ok {
		return Key{}, model.ReasonUnknown, false
	}
	r := &s.rows[i]
	if r.flags&rowDecoy != 0 {
		return Key{}, reasonDecoy, false
	}
	rs := &s.sets[r.set]
	pl := &s.places[r.place]
	k := Key{ID: s.id(r), Name: s.name(r), Channel: pl.channel, Environment: pl.env, Scopes: rs.scopes, scopesHeader: rs.header}
	env := req.Env
	if env == tag {
		env = k.Environment
	}
	var reason model.Reason
	switch {
	case r.flags&rowDisabled != 0:
		reason = model.ReasonDisabled
	case r.expires != 0 && now.UnixNano() >= r.expires:
		reason = model.ReasonExpired
		if r.flags&rowExpiryLogged == 0 {
			s.umu.Lock()
			s.pend(r, i).expired = true
			s.umu.Unlock()
		}
	case env != "" && k.Environment != env:
		reason = model.ReasonWrongEnv
	case !rs.allows(req.ClientIP):
		reason = model.ReasonIPNotAllowed
	case !rs.holds(req.Scopes):
		reason = model.ReasonScopeMissing
	default:
		s.umu.Lock()
		p := s.pend(r, i)
		if now.After(p.at) {
			p.at, p.from = now, req.ClientIP.Unmap()
		}
		p.count++
		p.days.Add(now, 1)
		s.umu.Unlock()
	}
	return k, reason, false
}

func (rs *ruleSet) holds(scopes []string) bool {
	for _, sc := range scopes {
		if !model.ScopeCovers(rs.scopes, sc) {
			return false
		}
	}
	return true
}

func (rs *ruleSet) allows(ip netip.Addr) bool {
	if !rs.fenced {
		return true
	}
	if !ip.IsValid() {
		return false
	}
	ip = ip.Unmap()
	for _, p := range rs.allowed {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// pend is row r's (index i) pending news, made if it has none. Call with
// s.mu held (read or write) and umu locked.
func (s *shard) pend(r *row, i uint32) *pending {
	if r.usage == 0 {
		s.pending = append(s.pending, pending{row: i})
		r.usage = uint32(len(s.pending))
	}
	return &s.pending[r.usage-1]
}

// takeUses removes and returns every shard's pending news.
func (t *table) takeUses(out []storage.Use) []storage.Use {
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.RLock()
		s.umu.Lock()
		for _, p := range s.pending {
			id := p.id
			if p.row != noRow {
				r := &s.rows[p.row]
				id = strings.Clone(s.id(r))
				r.usage = 0
			}
			from := ""
			if p.from.IsValid() {
				from = p.from.String()
			}
			out = append(out, storage.Use{ID: id, At: p.at, From: from, Count: p.count, Days: p.days, Expired: p.expired})
		}
		s.pending = nil
		s.umu.Unlock()
		s.mu.RUnlock()
	}
	return out
}

// rowRef names a row of a table.
type rowRef struct {
	shard int
	row   uint32
}

// idIndex finds rows by key id, by open addressing over 1 + shard<<26 |
// row; 0 is empty. Only the follower uses it.
type idIndex struct {
	seed  maphash.Seed
	slots []uint32
	n     int
}

const rowBits = 26 // rows per shard: 64M

func (x *idIndex) ref(v uint32) rowRef {
	return rowRef{int((v - 1) >> rowBits), (v - 1) & (1<<rowBits - 1)}
}

func (x *idIndex) idAt(t *table, v uint32) string {
	r := x.ref(v)
	s := &t.shards[r.shard]
	return s.id(&s.rows[r.row])
}

func (x *idIndex) home(id string) uint64 { return maphash.String(x.seed, id) }

func (x *idIndex) find(t *table, id string) (rowRef, bool) {
	if i, ok := x.slot(t, id); ok {
		return x.ref(x.slots[i]), true
	}
	return rowRef{}, false
}

// slot is where id is, or the empty slot where it would go.
func (x *idIndex) slot(t *table, id string) (uint64, bool) {
	mask := uint64(len(x.slots) - 1)
	for i := x.home(id) & mask; ; i = (i + 1) & mask {
		v := x.slots[i]
		if v == 0 {
			return i, false
		}
		if x.idAt(t, v) == id {
			return i, true
		}
	}
}

// empty is the first empty slot from id's home: where a new id goes.
func (x *idIndex) empty(id string) uint64 {
	mask := uint64(len(x.slots) - 1)
	i := x.home(id) & mask
	for x.slots[i] != 0 {
		i = (i + 1) & mask
	}
	return i
}

func (x *idIndex) add(t *table, id string, shard int, row uint32) {
	if (x.n+1)*4 > len(x.slots)*3 {
		old := x.slots
		x.slots = make([]uint32, 2*len(old))
		for _, v := range old {
			if v != 0 {
				x.slots[x.empty(x.idAt(t, v))] = v
			}
		}
	}
	var i uint64
	if t.loading {
		i = x.empty(id)
		x.n++
	} else {
		var found bool
		if i, found = x.slot(t, id); !found {
			x.n++
		}
	}
	x.slots[i] = uint32(shard)<<rowBits | row + 1
}

func (x *idIndex) remove(t *table, id string) {
	i, ok := x.slot(t, id)
	if !ok {
		return
	}
	x.n--
	mask := uint64(len(x.slots) - 1)
	for j := (i + 1) & mask; x.slots[j] != 0; j = (j + 1) & mask {
		k := x.home(x.idAt(t, x.slots[j])) & mask
		// The entry at j stays unless its home is cyclically outside (i, j].
		if (j > i && (k <= i || k > j)) || (j < i && k <= i && k > j) {
			x.slots[i] = x.slots[j]
			i = j
		}
	}
	x.slots[i] = 0
}

// has says the table holds a key with hash h.
func (t *table) has(h keygen.Hash) bool {
	s := &t.shards[t.shardOf(&h)]
	s.mu.RLock()
	defer s.mu.RUnlock()
	_, ok := s.find(&h)
	return ok
}
