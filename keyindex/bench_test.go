package keyindex

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"keyden/internal/fixture"
	"keyden/model"
)

// benchKeys reads the shared synthetic bench store of n keys (built on
// first use, as the TUI's benchmarks build it), as the TUI loads it.
func benchKeys(b *testing.B, n int) []model.Key {
	b.Helper()
	ctx := context.Background()
	st, _, err := fixture.OpenFilled(ctx, filepath.Join(os.TempDir(), fmt.Sprintf("keyden-bench-%d.db", n)), n, 1000)
	if err != nil {
		b.Fatal(err)
	}
	keys, _, err := st.Snapshot(ctx)
	if err != nil {
		b.Fatal(err)
	}
	return keys
}

// benchSizes is 100k and 1M keys; -short keeps to 100k on a shared machine.
func benchSizes() []int {
	if testing.Short() {
		return []int{100_000}
	}
	return []int{100_000, 1_000_000}
}

// Indexing a load: search text, columns and id lookup, no order yet.
func BenchmarkBuild(b *testing.B) {
	for _, n := range benchSizes() {
		keys := benchKeys(b, n)
		b.Run(fmt.Sprintf("keys=%d", n), func(b *testing.B) {
			for b.Loop() {
				Build(keys)
			}
		})
	}
}

// Making one sort order on a fresh index (what the first press of s costs).
func BenchmarkOrder(b *testing.B) {
	for _, n := range benchSizes() {
		keys := benchKeys(b, n)
		for _, s := range Sorts() {
			b.Run(fmt.Sprintf("keys=%d/%s", n, s), func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					b.StopTimer()
					ix := Build(keys)
					b.StartTimer()
					ix.Order(s)
				}
			})
		}
	}
}

// A filter pass to its result, as the TUI runs it off the UI loop: "char"
// is the first characters typed (every key scanned), "narrow" one more
// character (the previous result scanned), "env" an environment tab,
// "unused" the review filter.
func BenchmarkFilter(b *testing.B) {
	for _, n := range benchSizes() {
		ix := Build(benchKeys(b, n))
		for _, s := range Sorts() {
			ix.Order(s)
		}
		now := time.Now()
		wide := ix.Filter(Query{Text: "events co"}, nil, now)
		for _, c := range []struct {
			name   string
			q      Query
			within []int32
		}{
			{"char", Query{Text: "events co"}, nil},
			{"narrow", Query{Text: "events col"}, wide},
			{"env", Query{Env: "prod"}, nil},
			{"unused", Query{Review: Unused}, nil},
			{"unused-text", Query{Text: Unused.Text()}, nil},
			{"env-text", Query{Text: "env:prod channel:web"}, nil},
			{"by-text", Query{Text: "by:nobody"}, nil},
			{"status-text", Query{Text: "status:stale"}, nil},
			{"query", Query{Text: "env:prod used:>90d -status:disabled"}, nil},
		} {
			b.Run(fmt.Sprintf("keys=%d/%s", n, c.name), func(b *testing.B) {
				for b.Loop() {
					ix.Filter(c.q, c.within, now)
				}
			})
		}
	}
}

// Taking in a verifier's flush of 1,000 used keys with the default order
// made: a patch of the last-used column and a merge into the order.
func BenchmarkPatch(b *testing.B) {
	for _, n := range benchSizes() {
		ix := Build(benchKeys(b, n))
		ix.Order(ByLastUsed)
		changed := make([]model.Key, 1000)
		for j := range changed {
			changed[j] = *ix.Key(int32(j * 997 % n))
			changed[j].LastUsedAt = time.Now()
		}
		b.Run(fmt.Sprintf("keys=%d/uses", n), func(b *testing.B) {
			for b.Loop() {
				ix.Patch(changed, nil)
			}
		})
	}
}
