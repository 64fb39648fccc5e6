package tui

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"keyden/internal/fixture"
	"keyden/keyindex"
	"keyden/storage"
)

func benchApp(b *testing.B, n int) (*App, storage.Store) {
	b.Helper()
	st, _, err := fixture.OpenFilled(context.Background(), filepath.Join(os.TempDir(), fmt.Sprintf("keyden-bench-%d.db", n)), n, 1000)
	if err != nil {
		b.Fatal(err)
	}
	return New(Options{Store: st, Location: st.Path(), Actor: "bench"}), st
}

// load runs the app's start-up load as the program would, synchronously.
func load(b *testing.B, a *App) {
	a.Update(tea.WindowSizeMsg{Width: 120, Height: 40})
	msg := a.loadCmd(true)()
	if lm, ok := msg.(loadedMsg); ok && lm.err != nil {
		b.Fatal(lm.err)
	}
	a.Update(msg)
}

// From a new app to its first frame with the keys in it: open the store,
// read and decode every key, index them, sort by last used, draw.
func BenchmarkFirstFrame(b *testing.B) {
	for _, n := range benchSizes() {
		b.Run(fmt.Sprintf("keys=%d", n), func(b *testing.B) {
			benchApp(b, n) // build the store outside the timing
			var a *App
			defer cpuPerOp(b)()
			for b.Loop() {
				a, _ = benchApp(b, n)
				load(b, a)
				if a.View() == "" || len(a.keys.rows) != n {
					b.Fatal("no frame")
				}
			}
			// What the loaded app holds, and what the process asked of the OS.
			var ms runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&ms)
			b.ReportMetric(float64(ms.HeapAlloc)/(1<<20), "MiB-live")
			b.ReportMetric(float64(ms.Sys)/(1<<20), "MiB-sys")
			runtime.KeepAlive(a)
		})
	}
}

// The key set's memory: what the TUI's load of every key keeps (the set
// with its default order, heap in use after a collection, per key) and
// allocates on the way. A regression in the set's layout shows here.
func BenchmarkKeySet(b *testing.B) {
	ctx := context.Background()
	for _, n := range benchSizes() {
		b.Run(fmt.Sprintf("keys=%d", n), func(b *testing.B) {
			_, st := benchApp(b, n)
			var keep *keyindex.Index
			var before, after runtime.MemStats
			for b.Loop() {
				b.StopTimer()
				keep = nil
				runtime.GC()
				runtime.ReadMemStats(&before)
				b.StartTimer()
				set, _, err := readKeys(ctx, st)
				if err != nil {
					b.Fatal(err)
				}
				set.Order(keyindex.Query{}.Sort)
				keep = set
				b.StopTimer()
				runtime.GC()
				runtime.ReadMemStats(&after)
				b.StartTimer()
			}
			if keep.Count() != n {
				b.Fatalf("%d keys, want %d", keep.Count(), n)
			}
			b.ReportMetric(float64(after.HeapInuse-before.HeapInuse)/float64(n), "heap-bytes/key")
			b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/float64(n), "alloc-bytes/key")
		})
	}
}

// One keystroke on the UI loop: Update plus the frame it leads to. For a
// filter character on a large set, Update starts the filter off the loop;
// keyindex's BenchmarkFilter measures that pass.
func BenchmarkKeystroke(b *testing.B) {
	for _, n := range benchSizes() {
		a, _ := benchApp(b, n)
		load(b, a)
		// Make every sort order exist, as after the first press of s.
		for _, s := range keyindex.Sorts() {
			a.keys.set.Order(s)
		}
		// press handles a key and, for a large set, the filter it started,
		// then draws: keystroke to the final table.
		press := func(k tea.KeyMsg) {
			_, cmd := a.Update(k)
			deliver(a, cmd)
			_ = a.View()
		}
		runes := func(s string) tea.KeyMsg { return tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(s)} }
		cases := []struct {
			name string
			key  tea.KeyMsg
		}{
			{"down", tea.KeyMsg{Type: tea.KeyDown}},
			{"pgdown", tea.KeyMsg{Type: tea.KeyPgDown}},
			{"bottom", runes("G")},
			{"sort", runes("s")},
			{"env-tab", tea.KeyMsg{Type: tea.KeyTab}},
		}
		for _, c := range cases {
			b.Run(fmt.Sprintf("keys=%d/%s", n, c.name), func(b *testing.B) {
				defer cpuPerOp(b)()
				for b.Loop() {
					press(c.key)
				}
			})
		}
		// The review keys, each from the full table and back: r (the
		// review's query on the filter line), g (group by creator, then
		// channel, environment, off), A (mark every row shown, then none).
		reset := func() {
			a.keys.marks.clear()
			a.keys.group, a.keys.groups = groupOff, nil
			a.keys.setText("")
			a.keys.tab, a.keys.q.Env, a.keys.q.Channel = 0, "", ""
			a.keys.q.Sort = keyindex.ByLastUsed
			deliver(a, a.keys.refilter(true))
		}
		for _, c := range []struct {
			name string
			keys []tea.KeyMsg
		}{
			{"review-r", []tea.KeyMsg{runes("r")}},
			{"group-g", []tea.KeyMsg{runes("g")}},
			{"mark-all-A", []tea.KeyMsg{runes("A")}},
			{"mark-space", []tea.KeyMsg{runes(" ")}},
		} {
			b.Run(fmt.Sprintf("keys=%d/%s", n, c.name), func(b *testing.B) {
				reset()
				stop := cpuPerOp(b)
				for b.Loop() {
					for _, k := range c.keys {
						press(k)
					}
				}
				stop()
				b.StopTimer()
				reset()
			})
		}
		// g on the UI loop alone: above 20k rows the groups are counted in a Cmd.
		b.Run(fmt.Sprintf("keys=%d/group-g-ui", n), func(b *testing.B) {
			reset()
			stop := cpuPerOp(b)
			for b.Loop() {
				a.Update(runes("g"))
				_ = a.View()
			}
			stop()
			b.StopTimer()
			reset()
		})
		b.Run(fmt.Sprintf("keys=%d/filter-char-ui", n), func(b *testing.B) {
			a.keys.q = keyindex.Query{}
			a.keys.refilter(true)
			a.Update(runes("/"))
			for b.Loop() {
				_, _ = a.Update(runes("x"))
				_ = a.View()
				a.Update(tea.KeyMsg{Type: tea.KeyBackspace})
			}
		})
	}
}

// deliver runs cmd and feeds the filter results it yields back, as the
// program would (timers are not started by key handling).
func deliver(a *App, cmd tea.Cmd) {
	if cmd == nil {
		return
	}
	switch msg := cmd().(type) {
	case tea.BatchMsg:
		for _, c := range msg {
			deliver(a, c)
		}
	case filteredMsg:
		deliver(a, func() tea.Cmd { _, c := a.Update(msg); return c }())
	case groupedMsg:
		a.Update(msg)
	}
}

// Following the store while a verifier flushes last-used news for 1,000
// keys: "uses" is that alone; "patch" adds a shell's churn (a key created,
// the previous one deleted), as the app takes both in; "full" is a whole
// re-read of the same, for contrast. Each includes the refilter and the
// frame; the writes are not timed.
func BenchmarkFollow(b *testing.B) {
	for _, n := range benchSizes() {
		a, st := benchApp(b, n)
		load(b, a)
		ctx := context.Background()
		// The store's creator is its super admin, whoever filled it.
		in, err := st.Info(ctx)
		if err != nil {
			b.Fatal(err)
		}
		owner, err := storage.OpenBolt(in.Location, storage.Options{Actor: in.CreatedBy})
		if err != nil {
			b.Fatal(err)
		}
		last := ""
		// churn creates a key and deletes the previous one, so the shared
		// bench store keeps its size.
		churn := func() {
			c, err := owner.CreateKey(ctx, storage.CreateRequest{Name: "followed", Channel: "default", Environment: "dev"})
			if err != nil {
				b.Fatal(err)
			}
			if last != "" {
				if _, err := owner.DeleteKey(ctx, last); err != nil {
					b.Fatal(err)
				}
			}
			last = c.Key.ID
		}
		for _, c := range []struct {
			name        string
			full, churn bool
		}{{"uses", false, false}, {"patch", false, true}, {"full", true, true}} {
			b.Run(fmt.Sprintf("keys=%d/%s", n, c.name), func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					b.StopTimer()
					uses := make([]storage.Use, 1000)
					for j := range uses {
						uses[j] = storage.Use{ID: a.keys.set.Key(int32((i*1000 + j*997) % n)).ID, At: time.Now(), Count: 1}
					}
					if err := owner.RecordUses(ctx, uses); err != nil {
						b.Fatal(err)
					}
					if c.churn {
						churn()
					}
					b.StartTimer()
					msg := a.loadCmd(c.full)()
					if lm := msg.(loadedMsg); lm.err != nil {
						b.Fatal(lm.err)
					}
					_, cmd := a.Update(msg)
					deliver(a, cmd)
					_ = a.View()
				}
			})
		}
		if last != "" {
			owner.DeleteKey(ctx, last)
		}
	}
}

// benchSizes is 100k and 1M keys; -short keeps to 100k on a shared machine.
func benchSizes() []int {
	if testing.Short() {
		return []int{100_000}
	}
	return []int{100_000, 1_000_000}
}

// cpuPerOp reports the process's CPU time (user and system, every thread)
// per op when the returned func is called: on a machine shared with other
// work, wall time measures the queue for a core, CPU time the work done.
// A filter split over two cores counts twice, so it bounds the wall time
// on an idle machine from above.
func cpuPerOp(b *testing.B) func() {
	cpu := func() time.Duration {
		var ru syscall.Rusage
		syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	start := cpu()
	return func() {
		if b.N > 0 {
			b.ReportMetric(float64(cpu()-start)/float64(b.N)/1e6, "cpu-ms/op")
		}
	}
}

// Opening a key's details reads its audit events off the UI loop: a scan
// of the log's newest events, bounded by detailsEventScan, for a key in the
// middle of the store (its create event deep in the log).
func BenchmarkDetailsEvents(b *testing.B) {
	for _, n := range benchSizes() {
		b.Run(fmt.Sprintf("keys=%d", n), func(b *testing.B) {
			// A store of its own: the shared bench stores may predate the
			// audit log's current encoding, which this measures.
			st, _, err := fixture.OpenFilled(context.Background(), filepath.Join(os.TempDir(), fmt.Sprintf("keyden-details-bench-%d.db", n)), n, 10)
			if err != nil {
				b.Fatal(err)
			}
			a := New(Options{Store: st, Location: st.Path(), Actor: "bench"})
			keys, err := st.ListKeys(context.Background(), storage.Filter{})
			if err != nil {
				b.Fatal(err)
			}
			d := newDetailsView(a.sh, keys[len(keys)/2])
			for b.Loop() {
				if m := d.loadEvents()().(detailsEventsMsg); m.err != nil {
					b.Fatal(m.err)
				}
			}
		})
	}
}
