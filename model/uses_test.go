package model

import (
	"testing"
	"time"
)

func day(d int) time.Time { return time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC).AddDate(0, 0, d) }

// The ring keeps 30 UTC days, oldest first, today last, moving on with
// later uses and with the clock it is read at.
func TestDailyUsesWindow(t *testing.T) {
	var k Key
	if k.Uses30d(day(0)) != [UseDays]uint32{} {
		t.Fatal("a new key has uses")
	}
	k.AddUses(day(0), 2)
	k.AddUses(day(0).Add(11*time.Hour+59*time.Minute), 1) // 23:59 UTC: same day
	k.AddUses(day(0).Add(12*time.Hour), 4)                // midnight: the next day
	k.AddUses(day(-5), 1)
	k.AddUses(day(-40), 9) // outside the window: dropped
	got := k.Uses30d(day(1))
	want := [UseDays]uint32{}
	want[29], want[28], want[23] = 4, 3, 1
	if got != want {
		t.Fatalf("Uses30d = %v, want %v", got, want)
	}
	// Read 10 days on, the window has moved: the same uses, 10 slots older.
	want = [UseDays]uint32{}
	want[19], want[18], want[13] = 4, 3, 1
	if got := k.Uses30d(day(11)); got != want {
		t.Fatalf("10 days on: %v, want %v", got, want)
	}
	// A use 40 days on drops everything older than 29 days before it.
	k.AddUses(day(41), 1)
	want = [UseDays]uint32{}
	want[29] = 1
	if got := k.Uses30d(day(41)); got != want {
		t.Fatalf("after a long pause: %v, want %v", got, want)
	}
	// A clock that went back sees only the days up to its own.
	if got := k.Uses30d(day(0)); got != [UseDays]uint32{} {
		t.Fatalf("read before the uses: %v", got)
	}
}

func TestDailyUsesMergeAndSaturate(t *testing.T) {
	var a, b DailyUses
	a.Add(day(0), 1)
	b.Add(day(2), 5)
	b.Add(day(0), 2)
	a.Merge(b)
	if a.Day != DayOf(day(2)) || a.Counts[29] != 5 || a.Counts[27] != 3 || a.Sum() != 8 {
		t.Fatalf("merged: %+v", a)
	}
	a.Add(day(2), 1<<40)
	if a.Counts[29] != 1<<32-1 {
		t.Fatalf("count did not stop at the largest uint32: %d", a.Counts[29])
	}
}

func TestDayOfIsUTC(t *testing.T) {
	east := time.FixedZone("east", 10*3600)
	if DayOf(time.Date(2026, 11, 2, 5, 0, 0, 0, east)) != DayOf(time.Date(2026, 11, 1, 20, 0, 0, 0, time.UTC)) {
		t.Fatal("DayOf follows the time's zone, not UTC")
	}
	if DayOf(time.Unix(-1, 0)) != -1 || DayOf(time.Unix(0, 0)) != 0 {
		t.Fatal("DayOf around the epoch")
	}
}

// The packed form is small for a key used on few days, and anything it
// would not make is refused.
func TestPackUses(t *testing.T) {
	var d DailyUses
	d.Add(day(0), 3)
	if p := packUses(d); len(p) != 5 {
		t.Fatalf("one day packs into %d bytes (%x)", len(p), p)
	}
	for i := range UseDays {
		d.Add(day(-i), 100000)
	}
	p := packUses(d)
	if got, ok := unpackUses(p); !ok || got != d {
		t.Fatalf("round trip: %+v %v", got, ok)
	}
	for _, bad := range []string{"\x01", "\x01\x00", "\x01\x1f" + string(make([]byte, 31)), "\x01\x01\x00", "\x01\x01\x01\x00"} {
		if _, ok := unpackUses(bad); ok {
			t.Errorf("%x unpacked", bad)
		}
	}
}
