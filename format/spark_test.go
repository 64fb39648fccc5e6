package format

import "testing"

func TestSparkline(t *testing.T) {
	day := func(n ...uint32) []uint32 { return n }
	for _, c := range []struct {
		counts []uint32
		cells  int
		want   string
	}{
		{make([]uint32, 30), 10, "▁▁▁▁▁▁▁▁▁▁"},
		{day(0, 0, 1, 0, 0, 0), 3, "▁█▁"}, // scaled to its own busiest share
		{day(9, 1, 0, 0, 3, 3), 3, "█▁▆"}, // sums 10, 0, 6 of 10
		{day(1, 2, 3, 4, 5, 6, 7, 8), 8, "▂▃▄▅▆▇██"},
		{day(1000000, 1), 2, "█▂"},
		{nil, 10, ""},
	} {
		if got := Sparkline(c.counts, c.cells); got != c.want {
			t.Errorf("Sparkline(%v, %d) = %q, want %q", c.counts, c.cells, got, c.want)
		}
	}
}
