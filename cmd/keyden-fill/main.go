// keyden-fill adds N keys that look like real use to a store, for
// measuring keyden at the sizes its benchmarks name (100k, 1M) and for
// reviews and screenshots: several members (a few make most keys), app,
// partner and internal channels, every environment, names of varied
// length, last uses over the past year (some never). --seed picks the mix;
// given explicitly, it also makes the ids and secrets reproducible. Its
// keys are real keys: with --secrets it writes a sample of them to a file
// (0600) to verify with.
//
//	go run ./cmd/keyden-fill --db /tmp/100k.db --count 100000 --secrets /tmp/100k.keys
package main

import (
	"context"
	"encoding/binary"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/user"
	"strings"
	"time"

	"keyden/format"
	"keyden/internal/fixture"
	"keyden/storage"
)

func main() {
	db := flag.String("db", "", "store file to fill (created if missing)")
	count := flag.Int("count", 100000, "how many keys to add")
	secrets := flag.String("secrets", "", "file to write a sample of the new keys to")
	keep := flag.Int("keep", 100, "how many keys the sample holds")
	demo := flag.Bool("demo", false, "instead: make a small realistic store for screenshots")
	seed := flag.Uint64("seed", fixture.DefaultSeed, "the mix of names, members, channels and times; given explicitly, also the ids and secrets")
	space := flag.Bool("space", false, "instead: print where the bytes of the store at --db go")
	daily := flag.Bool("daily-uses", false, "also give recently used keys 30 days of uses per day (the 30D column; about 73 bytes a key more)")
	flag.Parse()
	if *space && *db != "" {
		if err := printSpace(*db); err != nil {
			fmt.Fprintln(os.Stderr, "keyden-fill:", err)
			os.Exit(1)
		}
		return
	}
	// The OS user filling a new store becomes its super admin, as with keyden itself.
	actor := "keyden-fill"
	if u, err := user.Current(); err == nil {
		actor = u.Username
	}
	if *demo && *db != "" {
		if err := fixture.Demo(context.Background(), *db, actor); err != nil {
			fmt.Fprintln(os.Stderr, "keyden-fill:", err)
			os.Exit(1)
		}
		return
	}
	if *db == "" || *count <= 0 {
		fmt.Fprintln(os.Stderr, "keyden-fill: give --db PATH and a positive --count")
		os.Exit(2)
	}
	opt := storage.Options{Actor: actor, Timeout: time.Minute}
	flag.Visit(func(f *flag.Flag) {
		if f.Name == "seed" {
			var b [32]byte
			binary.LittleEndian.PutUint64(b[:], *seed)
			opt.Rand = rand.NewChaCha8(b)
		}
	})
	st, err := storage.OpenBolt(*db, opt)
	if err != nil {
		fmt.Fprintln(os.Stderr, "keyden-fill:", err)
		os.Exit(1)
	}
	start := time.Now()
	kept, err := fixture.FillWith(context.Background(), st, *count, *keep, *seed, *daily)
	if err != nil {
		fmt.Fprintln(os.Stderr, "keyden-fill:", err)
		os.Exit(1)
	}
	if *secrets != "" {
		if err := os.WriteFile(*secrets, []byte(strings.Join(kept, "\n")+"\n"), 0o600); err != nil {
			fmt.Fprintln(os.Stderr, "keyden-fill:", err)
			os.Exit(1)
		}
	}
	fmt.Fprintf(os.Stderr, "added %s to %s in %v\n", format.Count(*count, "key"), st.Path(), time.Since(start).Round(time.Millisecond))
}

// printSpace writes where a store file's bytes go, per key.
func printSpace(path string) error {
	st, err := storage.OpenBolt(path, storage.Options{NoCreate: true, Timeout: time.Minute})
	if err != nil {
		return err
	}
	sp, err := st.Space(context.Background())
	if err != nil {
		return err
	}
	n := float64(max(sp.Keys, 1))
	fmt.Printf("%-14s %9s %11s %12s %9s\n", "bytes a key", "entries", "data", "pages", "page fill")
	for _, b := range sp.Buckets {
		fill := "-"
		if b.Pages > 0 {
			fill = fmt.Sprintf("%.0f%%", 100*float64(b.Data)/float64(b.Pages))
		}
		fmt.Printf("%-14s %9d %11.1f %12.1f %9s\n", b.Name, b.Entries, float64(b.Data)/n, float64(b.Pages)/n, fill)
	}
	for _, r := range []struct {
		what string
		b    int64
	}{{"free pages", sp.Free}, {"unused tail", sp.Unused}, {"other pages", sp.Other}} {
		fmt.Printf("%-14s %9s %11s %12.1f\n", r.what, "", "", float64(r.b)/n)
	}
	fmt.Printf("%-14s %9d %11s %12.1f   (%d bytes)\n", "file", sp.Keys, "", float64(sp.File)/n, sp.File)
	return nil
}
