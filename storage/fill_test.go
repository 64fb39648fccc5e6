package storage

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"keyden/model"
)

type keyCreator interface {
	CreateKeys(ctx context.Context, seeds []KeySeed) ([]Created, error)
}

// fill adds n keys through CreateKeys with the mix internal/fixture makes
// (storage's own tests cannot import it: it imports storage), and returns
// up to keep secrets, spread over the run, of keys that never expire.
func fill(tb testing.TB, st keyCreator, n, keep int) []string {
	tb.Helper()
	now := time.Now().UTC()
	envs := []string{"dev", "staging", "prod"}
	every := max(1, n/max(keep, 1))
	var kept []string
	for done := 0; done < n; done += 10000 {
		var seeds []KeySeed
		for i := done; i < min(n, done+10000); i++ {
			s := KeySeed{CreateRequest: CreateRequest{Name: fmt.Sprintf("synthetic key %d", i), Channel: model.DefaultChannel,
				Environment: envs[i%len(envs)], Scopes: []string{"read:*"}}, CreatedAt: now.Add(-time.Duration(i%400) * 24 * time.Hour)}
			if i%3 == 0 {
				s.LastUsedAt, s.UseCount = now.Add(-time.Duration(i%200)*24*time.Hour), uint64(i%1000)
			}
			if i%10 == 5 {
				s.ExpiresAt = now.Add(time.Duration(i%30+1) * 24 * time.Hour)
			}
			seeds = append(seeds, s)
		}
		made, err := st.CreateKeys(ctx, seeds)
		if err != nil {
			tb.Fatal(err)
		}
		for j, c := range made {
			if (done+j)%every == 0 && c.Key.ExpiresAt.IsZero() && len(kept) < keep {
				kept = append(kept, c.Secret)
			}
		}
	}
	return kept
}

// filled is a bolt store at path of n keys, with a sample of their secrets
// beside it, reused when a previous run made them (the benchmarks of the
// other packages share the file through internal/fixture.OpenFilled).
func filled(tb testing.TB, path string, n, keep int) (*Bolt, []string) {
	tb.Helper()
	st, err := OpenBolt(path, Options{Actor: "bench", Timeout: time.Minute})
	if err != nil {
		tb.Fatal(err)
	}
	if raw, err := os.ReadFile(path + ".keys"); err == nil {
		if in, err := st.Info(ctx); err == nil && in.Keys == n {
			return st, strings.Fields(string(raw))
		}
	}
	os.Remove(path)
	kept := fill(tb, st, n, keep)
	if err := os.WriteFile(path+".keys", []byte(strings.Join(kept, "\n")), 0o600); err != nil {
		tb.Fatal(err)
	}
	return st, kept
}

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }

// CreateKeys makes keys with the history they are given, checked as
// CreateKey checks them, and their create events land in the feed.
func TestCreateKeysKeepsHistoryAndChecks(t *testing.T) {
	st := newStore(t, Options{})
	_, pos, err := st.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	made := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	cs, err := st.CreateKeys(ctx, []KeySeed{{CreateRequest: CreateRequest{Name: "old", Channel: "default", Environment: "prod"},
		CreatedAt: made, LastUsedAt: made.Add(time.Hour), UseCount: 7}})
	if err != nil || len(cs) != 1 {
		t.Fatal(cs, err)
	}
	k, err := st.GetKey(ctx, cs[0].Key.ID)
	if err != nil || !k.CreatedAt.Equal(made) || !k.LastUsedAt.Equal(made.Add(time.Hour)) || k.UseCount != 7 || k.Type != model.TypeBearer {
		t.Fatalf("%+v %v", k, err)
	}
	if res, _ := st.Verify(ctx, VerifyRequest{Secret: cs[0].Secret}); !res.OK {
		t.Fatalf("the new key: %+v", res)
	}
	ch, err := st.Updates(ctx, pos)
	if err != nil || len(ch.Keys) != 1 {
		t.Fatalf("feed: %+v %v", ch, err)
	}
	if _, err := st.CreateKeys(ctx, []KeySeed{{CreateRequest: CreateRequest{Name: "x", Channel: "nope", Environment: "prod"}}}); err == nil || err.Error() != "there is no channel \"nope\": add it with `keyden channel add nope` or pick one from `keyden channel list`" {
		t.Fatalf("unknown channel: %v", err)
	}
	if _, err := st.CreateKeys(ctx, []KeySeed{{CreateRequest: CreateRequest{Name: "", Channel: "default", Environment: "prod"}}}); err == nil {
		t.Fatal("an empty name was taken")
	}
}
