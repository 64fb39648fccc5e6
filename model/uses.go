package model

import (
	"encoding/binary"
	"math"
	"time"
)

// UseDays is how many UTC days of use a key's record keeps counts for.
const UseDays = 30

// DailyUses counts a key's uses per UTC day: Counts[UseDays-1] is Day (a
// day number, see DayOf) and Counts[0] the day UseDays-1 before it. It is
// a fixed ring: a use on a later day moves the window on and drops what
// falls out of it. The zero value holds no uses.
type DailyUses struct {
	Day    int64
	Counts [UseDays]uint32
}

// DayOf is t's UTC day: days since 1970-01-01.
func DayOf(t time.Time) int64 {
	s := t.Unix()
	d := s / 86400
	if s < 0 && s%86400 != 0 {
		d--
	}
	return d
}

// Empty says there are no uses in the window.
func (d *DailyUses) Empty() bool { return d.Counts == [UseDays]uint32{} }

// count is the uses on day, 0 outside the window.
func (d *DailyUses) count(day int64) uint32 {
	back := d.Day - day
	if back < 0 || back >= UseDays {
		return 0
	}
	return d.Counts[UseDays-1-back]
}

// window is the counts of the UseDays days ending on day, oldest first.
func (d *DailyUses) window(day int64) [UseDays]uint32 {
	var out [UseDays]uint32
	if d.Empty() {
		return out
	}
	for i := range out {
		out[i] = d.count(day - int64(UseDays-1-i))
	}
	return out
}

// Add counts n uses on at's UTC day. A day older than the window's is
// dropped; counts stop at the largest uint32.
func (d *DailyUses) Add(at time.Time, n uint64) { d.addDay(DayOf(at), n) }

func (d *DailyUses) addDay(day int64, n uint64) {
	if n == 0 {
		return
	}
	if d.Empty() {
		d.Day = day
	}
	if day > d.Day {
		d.Counts, d.Day = d.window(day), day
	}
	back := d.Day - day
	if back >= UseDays {
		return
	}
	c := &d.Counts[UseDays-1-back]
	*c = uint32(min(uint64(*c)+n, math.MaxUint32))
}

// Merge adds o's counts, day by day.
func (d *DailyUses) Merge(o DailyUses) {
	for i, c := range o.Counts {
		d.addDay(o.Day-int64(UseDays-1-i), uint64(c))
	}
}

// Sum is the uses in the window.
func (d *DailyUses) Sum() uint64 {
	var n uint64
	for _, c := range d.Counts {
		n += uint64(c)
	}
	return n
}

// Uses30d is k's uses per UTC day for the UseDays days ending on now's,
// oldest first, today last.
func (k *Key) Uses30d(now time.Time) [UseDays]uint32 {
	d := k.DailyUses()
	return d.window(DayOf(now))
}

// DailyUses is k's ring of daily use counts.
func (k *Key) DailyUses() DailyUses {
	d, _ := unpackUses(k.uses)
	return d
}

// SetDailyUses replaces k's ring of daily use counts.
func (k *Key) SetDailyUses(d DailyUses) { k.uses = packUses(d) }

// AddUses counts n uses of k on at's UTC day.
func (k *Key) AddUses(at time.Time, n uint64) {
	if n == 0 {
		return
	}
	d := k.DailyUses()
	d.Add(at, n)
	k.SetDailyUses(d)
}

// packUses is the stored form of a ring: "" when it holds no uses, else
// uvarint day, uvarint n, then the newest n counts as uvarints, oldest
// first (the older days, all zero, are left out). A key used on one day
// takes 5 bytes.
func packUses(d DailyUses) string {
	if d.Empty() {
		return ""
	}
	first := 0
	for d.Counts[first] == 0 {
		first++
	}
	b := make([]byte, 0, 16)
	b = binary.AppendUvarint(b, uint64(d.Day))
	b = binary.AppendUvarint(b, uint64(UseDays-first))
	for _, c := range d.Counts[first:] {
		b = binary.AppendUvarint(b, uint64(c))
	}
	return string(b)
}

// unpackUses reads packUses's form; ok is false for bytes it never makes.
func unpackUses(s string) (DailyUses, bool) {
	var d DailyUses
	if s == "" {
		return d, true
	}
	r := decoder{s: s}
	day, n := r.uvarint(), r.uvarint()
	if r.err || day > math.MaxInt32 || n == 0 || n > UseDays {
		return DailyUses{}, false
	}
	d.Day = int64(day)
	for i := UseDays - int(n); i < UseDays; i++ {
		c := r.uvarint()
		if c > math.MaxUint32 {
			return DailyUses{}, false
		}
		d.Counts[i] = uint32(c)
	}
	if r.err || r.pos != len(s) || d.Counts[UseDays-int(n)] == 0 {
		return DailyUses{}, false
	}
	return d, true
}
