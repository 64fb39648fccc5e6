package format

import "strings"

// sparkLevels are a sparkline's cells: the lowest is a day with no use, so
// the baseline stays visible; any use is at least the second.
var sparkLevels = []rune("▁▂▃▄▅▆▇█")

// Sparkline draws counts (oldest first) in cells characters, each the sum
// of an equal share of the counts (cells should divide len(counts)),
// scaled to the largest.
func Sparkline(counts []uint32, cells int) string {
	if cells <= 0 || len(counts) == 0 {
		return ""
	}
	per := max(1, len(counts)/cells)
	sums := make([]uint64, 0, cells)
	var top uint64
	for i := 0; i < len(counts); i += per {
		var s uint64
		for _, c := range counts[i:min(i+per, len(counts))] {
			s += uint64(c)
		}
		sums = append(sums, s)
		top = max(top, s)
	}
	var b strings.Builder
	for _, s := range sums {
		level := 0
		if s > 0 {
			steps := uint64(len(sparkLevels) - 1)
			level = int((s*steps + top - 1) / top) // 1..steps by share of top, rounded up
		}
		b.WriteRune(sparkLevels[level])
	}
	return b.String()
}
