package server

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	fill "keyden/internal/fixture"
	"keyden/storage"
)

func loaded(b *testing.B, n int) (*Server, *storage.Bolt, []string) {
	b.Helper()
	st, secrets, err := fill.OpenFilled(ctx, filepath.Join(os.TempDir(), fmt.Sprintf("keyden-bench-%d.db", n)), n, 1000)
	if err != nil {
		b.Fatal(err)
	}
	s := New(st, Options{})
	if err := s.Load(ctx); err != nil {
		b.Fatal(err)
	}
	return s, st, secrets
}

// A full load of n keys: ns/op is the load's time; heap-bytes/key is the
// heap in use after GC with the table loaded, less before, per key;
// alloc-bytes/key what the load allocated in all (garbage included).
func BenchmarkLoad(b *testing.B) {
	for _, n := range []int{100_000, 1_000_000} {
		b.Run(fmt.Sprintf("keys=%d", n), func(b *testing.B) {
			_, st, _ := loaded(b, n)
			var keep *Server
			var before, after runtime.MemStats
			for b.Loop() {
				b.StopTimer()
				keep = nil
				runtime.GC()
				runtime.ReadMemStats(&before)
				b.StartTimer()
				keep = New(st, Options{})
				if err := keep.Load(ctx); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				runtime.GC()
				runtime.ReadMemStats(&after)
				b.StartTimer()
			}
			if keep.Keys() != n {
				b.Fatalf("%d keys loaded, want %d", keep.Keys(), n)
			}
			b.ReportMetric(float64(after.HeapInuse-before.HeapInuse)/float64(n), "heap-bytes/key")
			b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/float64(n), "alloc-bytes/key")
		})
	}
}

// One check from memory: parse, SHA-256, table lookup, rules, count the use.
func BenchmarkVerifyInMemory(b *testing.B) {
	for _, n := range []int{100_000, 1_000_000} {
		b.Run(fmt.Sprintf("keys=%d", n), func(b *testing.B) {
			s, _, secrets := loaded(b, n)
			b.ReportAllocs()
			// CPU time of this thread as well as the wall time: on a shared
			// machine the wall time counts waiting for a core.
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			i, cpu0 := 0, threadCPU()
			for b.Loop() {
				if r := s.Verify(Request{Secret: secrets[i%len(secrets)]}); !r.OK {
					b.Fatal(r.Reason)
				}
				i++
			}
			b.ReportMetric(float64(threadCPU()-cpu0)/float64(b.N), "cpu-ns/op")
		})
	}
}

// threadCPU is the CPU time the calling OS thread has used.
func threadCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(1 /* RUSAGE_THREAD */, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// The forward-auth handler alone, as nginx calls it through a trusted
// proxy (no network): what serve adds to a check per request.
func BenchmarkHandler(b *testing.B) {
	_, st, secrets := loaded(b, 100_000)
	s := New(st, Options{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}})
	if err := s.Load(ctx); err != nil {
		b.Fatal(err)
	}
	h := s.Handler()
	c := requestCtx("/verify/prod", "127.0.0.1:40000")
	c.Request.Header.Set("X-Forwarded-For", "203.0.113.7")
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		c.Request.Header.Set("Authorization", "Bearer "+secrets[i%len(secrets)])
		c.Response.Reset()
		h(c)
		i++
	}
}

// Checks on every core at once, as under load.
func BenchmarkVerifyInMemoryParallel(b *testing.B) {
	s, _, secrets := loaded(b, 1_000_000)
	var next atomic.Uint64
	b.ReportAllocs()
	b.ResetTimer() // the load above is setup, not checks
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := next.Add(1)
			if r := s.Verify(Request{Secret: secrets[i%uint64(len(secrets))]}); !r.OK {
				b.Fatal(r.Reason)
			}
		}
	})
}

// Taking in 2,000 changes at 1M keys while checks go on: the longest any
// check took while a Sync ran, and otherwise (the store being filled, GC),
// is reported; Sync's own time is ns/op.
func BenchmarkSyncWhileVerifying(b *testing.B) {
	_, shared, secrets := loaded(b, 1_000_000)
	// Work on a copy: the shared bench store must keep exactly 1M keys.
	path := filepath.Join(b.TempDir(), "copy.db")
	if err := shared.Backup(ctx, path); err != nil {
		b.Fatal(err)
	}
	st, _ := storage.OpenBolt(path, storage.Options{Actor: "bench", Timeout: time.Minute})
	s := New(st, Options{})
	if err := s.Load(ctx); err != nil {
		b.Fatal(err)
	}
	var stop, syncing atomic.Bool
	var worst, worstIdle atomic.Int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; !stop.Load(); i++ {
			during := syncing.Load()
			t := time.Now()
			s.Verify(Request{Secret: secrets[i%len(secrets)]})
			d := int64(time.Since(t))
			w := &worstIdle
			if during {
				w = &worst
			}
			if d > w.Load() {
				w.Store(d)
			}
		}
	}()
	for b.Loop() {
		b.StopTimer()
		if _, err := fill.Fill(ctx, st, 2000, 0); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		syncing.Store(true)
		if err := s.Sync(ctx); err != nil {
			b.Fatal(err)
		}
		syncing.Store(false)
	}
	stop.Store(true)
	wg.Wait()
	b.ReportMetric(float64(worst.Load())/1000, "max-check-µs-during-sync")
	b.ReportMetric(float64(worstIdle.Load())/1000, "max-check-µs-otherwise")
}
