// keyden-fill adds N synthetic keys to a store, for measuring keyden at
// the sizes its benchmarks name (100k, 1M). Its keys are real keys: with
// --secrets it writes a sample of them to a file (0600) to verify with.
//
//	go run ./cmd/keyden-fill --db /tmp/100k.db --count 100000 --secrets /tmp/100k.keys
package main

import (
	"context"
	"flag"
	"fmt"
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
	flag.Parse()
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
	st, err := storage.OpenBolt(*db, storage.Options{Actor: actor, Timeout: time.Minute})
	if err != nil {
		fmt.Fprintln(os.Stderr, "keyden-fill:", err)
		os.Exit(1)
	}
	start := time.Now()
	kept, err := fixture.Fill(context.Background(), st, *count, *keep)
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
