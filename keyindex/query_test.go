package keyindex

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"keyden/model"
)

func TestParseQueryErrorsNameTheTerm(t *testing.T) {
	for _, c := range []struct{ q, want string }{
		{"web foo:bar", `"foo:bar" is not a filter field: use env, channel, by, scope, status, used, expires or created`},
		{"posts:read", `"posts:read" is not a filter field`},
		{"env:", `"env:" needs a value, such as env:prod`},
		{"-by:", `"-by:" needs a value, such as by:alice`},
		{"status:broken", `"status:broken" is not a status: use status:ok, disabled, expired, expiring, stale, unused, decoy, tripped`},
		{"used:90d", `"used:90d" is not a time filter: use used:<1h, used:>90d or used:never (units s m h d w y)`},
		{"used:<1x", `"used:<1x" is not a time filter`},
		{"expires:>-3d", `"expires:>-3d" is not a time filter: use expires:<7d, expires:>30d or expires:never`},
		{"created:never", `"created:never" is not a time filter: use created:<7d or created:>1y`},
		{`by:"alice`, `the quote in "by:\"alice" is not closed`},
		// Each term is tested against every key: 60,000 words that all
		// matched took 200 s of CPU on 100k keys before terms were capped.
		{strings.Repeat("a ", 65), `the query has 65 terms, more than keyden takes (64): use fewer`},
	} {
		_, err := ParseQuery(c.q)
		if err == nil || !strings.HasPrefix(err.Error(), c.want) || strings.ContainsAny(err.Error(), "\n") {
			t.Errorf("ParseQuery(%q) = %v, want %s…", c.q, err, c.want)
		}
	}
	for _, q := range []string{"", "  ", "web", `"a:b"`, "-", "ENV:prod", "Status:OK", "used:never", "expires:never",
		"used:<1h", "used:>90d", "expires:<7d", "created:>1y", "scope:posts:*", `by:"x y"`, "-env:dev", `"-dash"`,
		strings.Repeat("env:prod ", 64)} {
		if _, err := ParseQuery(q); err != nil {
			t.Errorf("ParseQuery(%q): %v", q, err)
		}
	}
}

var queryNow = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

// queryKey is the key the match table changes one field of at a time.
func queryKey() model.Key {
	return model.Key{ID: "k1", Name: "Web Checkout", Channel: "web", Environment: "prod", CreatedBy: "alice",
		Scopes: []string{"posts:read", "orders:*"}, Hint: "kd_prod_3sV9…Xy7Q",
		CreatedAt: queryNow.Add(-400 * day), LastUsedAt: queryNow.Add(-100 * day)}
}

func TestQueryMatches(t *testing.T) {
	type edit func(*model.Key)
	never := func(k *model.Key) { k.LastUsedAt = time.Time{} }
	usedAgo := func(d time.Duration) edit { return func(k *model.Key) { k.LastUsedAt = queryNow.Add(-d) } }
	createdAgo := func(d time.Duration) edit { return func(k *model.Key) { k.CreatedAt = queryNow.Add(-d) } }
	expiresIn := func(d time.Duration) edit { return func(k *model.Key) { k.ExpiresAt = queryNow.Add(d) } }
	for _, c := range []struct {
		q    string
		edit edit
		want bool
	}{
		{"", nil, true},
		{"web check", nil, true},
		{"WEB", nil, true},
		{"web nope", nil, false},
		{`"web checkout"`, nil, true},
		{`"web  checkout"`, nil, false},
		{"-web", nil, false},
		{"-nope", nil, true},
		{"env:prod", nil, true},
		{"env:dev", nil, false},
		{"env:dev env:prod", nil, true}, // the same field twice: either
		{"env:dev channel:web", nil, false},
		{"-env:prod", nil, false},
		{"env:pr*", nil, true},
		{"channel:web", nil, true},
		{"channel:we", nil, false}, // a value is whole, not a part
		{"by:alice", nil, true},
		{"by:ALICE", nil, true},
		{"by:bob", nil, false},
		{"by:bob by:alice", nil, true},
		{"by:alice", func(k *model.Key) { k.CreatedBy = "x\x00alice" }, false}, // a NUL in a stored string: the record decides
		{"by:alice", func(k *model.Key) { k.Name = "a\x00b" }, true},
		{"scope:posts:*", nil, true},
		{"scope:posts:read", nil, true},
		{"scope:posts:write", nil, false}, // the key's scopes as written
		{"scope:orders:*", nil, true},
		{"scope:*:read", nil, true},
		{"scope:*", func(k *model.Key) { k.Scopes = nil }, false},
		{"status:stale", nil, true},
		{"status:ok", nil, false},
		{"status:ok", usedAgo(time.Hour), true},
		{"status:disabled", func(k *model.Key) { k.Disabled = true }, true},
		{"status:stale", func(k *model.Key) { k.Disabled = true }, false}, // the STATUS column's one word
		{"status:expired", expiresIn(0), true},
		{"status:expiring", expiresIn(3 * day), true},
		{"status:unused", never, true},
		{"status:decoy", nil, false},
		{"-status:decoy", nil, true},
		{"used:never", nil, false},
		{"used:never", never, true},
		{"used:<1h", usedAgo(59 * time.Minute), true},
		{"used:<1h", usedAgo(time.Hour), false},
		{"used:<1h", never, false},
		{"used:>90d", usedAgo(90 * day), true},
		{"used:>90d", usedAgo(90*day - time.Nanosecond), false},
		{"used:>90d", never, true}, // never used: counts from creation, 400 days ago
		{"used:>90d", func(k *model.Key) { never(k); createdAgo(10 * day)(k) }, false},
		{"used:>1y used:<2h", usedAgo(time.Hour), true},
		{"used:>30s", usedAgo(time.Minute), true},
		{"used:>2w", usedAgo(13 * day), false},
		{"expires:<7d", nil, false},
		{"expires:<7d", expiresIn(7 * day), true},
		{"expires:<7d", expiresIn(7*day + time.Second), false},
		{"expires:<7d", expiresIn(-day), true}, // expired counts
		{"expires:>30d", nil, true},            // never expiring is beyond any time
		{"expires:>30d", expiresIn(29 * day), false},
		{"expires:never", nil, true},
		{"expires:never", expiresIn(day), false},
		{"created:>1y", nil, true},
		{"created:>1y", createdAgo(364 * day), false},
		{"created:<7d", createdAgo(6 * day), true},
		{"created:<7d", nil, false},
		{"env:prod used:>90d by:alice", nil, true},
		{"env:prod used:>90d by:bob", nil, false},
	} {
		k := queryKey()
		if c.edit != nil {
			c.edit(&k)
		}
		terms, err := ParseQuery(c.q)
		if err != nil {
			t.Fatalf("%q: %v", c.q, err)
		}
		if got := terms.Matcher(queryNow)(&k); got != c.want {
			t.Errorf("Matcher(%q) = %v, want %v", c.q, got, c.want)
		}
		ix := Build([]model.Key{k})
		if got := len(ix.Filter(Query{Text: c.q}, nil, queryNow)) == 1; got != c.want {
			t.Errorf("Filter(%q) = %v, want %v", c.q, got, c.want)
		}
	}
}

// queries are texts over randomKey's fields, for the tests that compare
// ways of answering them.
var queries = []string{"", "key", "key 1", "-key 1", "env:prod", "env:dev env:qa", "-env:prod", "channel:mobile",
	`channel:"partner feed"`, "by:alice", "by:bob", "scope:posts:*", "-scope:*", "status:ok", "status:stale status:unused",
	"status:expired", "status:expiring", "-status:ok", "used:never", "used:<30d", "used:>90d", "expires:<7d",
	"expires:>3d", "expires:never", "created:<10d", "created:>15d", "env:prod used:>90d", "kd_dev_1", "env:pr*",
	"malformed:term"}

func TestQueryOnTheIndexIsTheMatcher(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	keys := randomKeys(r, 3000)
	ix := Build(keys)
	for _, q := range queries {
		terms, err := ParseQuery(q)
		var want []string
		if err == nil {
			m := terms.Matcher(testNow)
			for i := range keys {
				if m(&keys[i]) {
					want = append(want, keys[i].ID)
				}
			}
		}
		got := ids(ix, ix.Filter(Query{Text: q, Sort: ByName}, nil, testNow))
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("%q: the index finds %d keys, the matcher %d", q, len(got), len(want))
		}
		if q == "malformed:term" && (len(got) != 0 || (Query{Text: q}).Err() == nil || (Query{Text: q}).Empty()) {
			t.Errorf("a malformed query shows keys or has no error")
		}
	}
}

func TestReviewTextIsTheReview(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	ix := Build(randomKeys(r, 2000))
	for rv := Review(1); rv < numReviews; rv++ {
		byReview := ix.Filter(Query{Review: rv}, nil, testNow)
		byText := ix.Filter(Query{Text: rv.Text()}, nil, testNow)
		if len(byReview) == 0 || !slices.Equal(byReview, byText) {
			t.Errorf("review %v: %d keys, its text %q finds %d", rv, len(byReview), rv.Text(), len(byText))
		}
	}
	if got := []string{Unused.Text(), NeverUsed.Text(), Expiring.Text()}; !slices.Equal(got, []string{"used:>90d", "used:never", "expires:<7d"}) {
		t.Errorf("review texts %q", got)
	}
}

// TestNarrowsOnlyWhenImplied: the cheap path (filtering the previous
// result) gives what a full filter gives, and is taken for typing.
func TestNarrowsOnlyWhenImplied(t *testing.T) {
	for _, c := range []struct {
		from, to string
		want     bool
	}{
		{"", "web", true},
		{"we", "web", true},
		{"web", "web env:prod", true},
		{"env:prod", "env:prod used:>90d", true},
		{"env:prod env:dev", "env:prod", true},
		{"env:prod", "env:prod env:dev", false}, // a second value widens
		{"-a", "-ab", false},                    // not containing "ab" is wider
		{"env:pro", "env:prod", false},
		{"used:<1", "used:<1h", false},
		{"web", "bad:term", false},
		{"used:>90d", "used:>90d -status:disabled", true},
	} {
		if got := (Query{Text: c.to}).Narrows(Query{Text: c.from}); got != c.want {
			t.Errorf("%q after %q: Narrows = %v, want %v", c.to, c.from, got, c.want)
		}
	}
	r := rand.New(rand.NewPCG(7, 8))
	ix := Build(randomKeys(r, 2000))
	for _, p := range queries {
		for _, q := range queries {
			qq, pq := Query{Text: q}, Query{Text: p}
			if !qq.Narrows(pq) {
				continue
			}
			within := ix.Filter(pq, nil, testNow)
			if got, want := ix.Filter(qq, within, testNow), ix.Filter(qq, nil, testNow); !slices.Equal(got, want) {
				t.Errorf("%q narrowing %q: %d keys, a full filter %d", q, p, len(got), len(want))
			}
		}
	}
}

func TestTermQuotesWhatNeedsIt(t *testing.T) {
	for _, c := range []struct{ field, value, want string }{
		{"by", "alice", "by:alice"},
		{"channel", "partner feed", `channel:"partner feed"`},
		{"scope", "posts:*", "scope:posts:*"},
		{"by", "", `by:""`},
	} {
		if got := Term(c.field, c.value); got != c.want {
			t.Errorf("Term(%q, %q) = %q, want %q", c.field, c.value, got, c.want)
		}
	}
	terms, err := ParseQuery(Term("channel", "partner feed"))
	k := model.Key{Channel: "Partner Feed"}
	if err != nil || !terms.Matcher(queryNow)(&k) {
		t.Errorf("a quoted term does not find its value: %v", err)
	}
}

func FuzzParseQuery(f *testing.F) {
	for _, q := range append(queries, `"web checkout" -"a:b"`, `by:"x y" -`, "ENV:Prod used:>1y", `"`, "-:", ":x",
		"used:<0s", "expires:>100y", "created:>101y", "scope:**", "\x00:\xff", "é:è") {
		f.Add(q)
	}
	f.Fuzz(func(t *testing.T, q string) {
		terms, err := ParseQuery(q)
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("a two-line error for %q: %v", q, err)
			}
			return
		}
		if !terms.Implies(terms) {
			t.Fatalf("%q does not imply itself", q)
		}
		// Written back, it reads as the same query.
		s := terms.String()
		again, err := ParseQuery(s)
		if err != nil {
			t.Fatalf("%q written back as %q does not parse: %v", q, s, err)
		}
		if again.String() != s || !again.Implies(terms) || !terms.Implies(again) {
			t.Fatalf("%q written back as %q reads as %q", q, s, again.String())
		}
		k := queryKey()
		terms.Matcher(queryNow)(&k)
	})
}

// status: (and used:, expires:) read the index's time columns instead of
// calling the model for each key; they answer what model.Key.Health (and
// UnusedFor, NeverUsed, ExpiringWithin) answer, at times on and a
// nanosecond either side of every threshold, with clocks from 1700 to 2250.
func TestStatusIsTheModelsHealth(t *testing.T) {
	for seed := uint64(1); seed <= 6; seed++ {
		r := rand.New(rand.NewPCG(seed, 13))
		now := testNow
		if seed > 1 {
			now = time.Date(1700+r.IntN(550), 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(r.Int64N(int64(365 * day))))
		}
		var keys []model.Key
		for i := range 3000 {
			k := storedKey(t, r, fmt.Sprintf("k%05d", i), now)
			if r.IntN(3) == 0 { // made about a week ago: the edge of unused
				k.CreatedAt = now.Add(-model.UnusedAfter + time.Duration(r.IntN(3)-1))
			}
			k.Disabled, k.Decoy = r.IntN(8) == 0, r.IntN(10) == 0
			if r.IntN(4) == 0 {
				k.UseCount = 1
			}
			keys = append(keys, k)
		}
		ix := Build(keys)
		for q, rule := range map[string]func(k *model.Key) bool{
			"used:>90d":   func(k *model.Key) bool { return k.UnusedFor(model.StaleAfter, now) },
			"used:never":  func(k *model.Key) bool { return k.NeverUsed() },
			"expires:<7d": func(k *model.Key) bool { return k.ExpiringWithin(model.ExpiringWithin, now) },
		} {
			n := 0
			for i := range keys {
				if rule(&keys[i]) {
					n++
				}
			}
			if got := len(ix.Filter(Query{Text: q}, nil, now)); got != n {
				t.Errorf("seed %d, %s: the index finds %d keys, the model %d", seed, q, got, n)
			}
		}
		for _, s := range statuses {
			var want []string
			for i := range keys {
				h := string(keys[i].Health(now))
				if s == "decoy" && keys[i].Decoy || s != "decoy" && (h == s || (h == "" && s == "ok")) { // decoy: tripped or not
					want = append(want, keys[i].ID)
				}
			}
			got := ids(ix, ix.Filter(Query{Text: "status:" + s, Sort: ByName}, nil, now))
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Errorf("seed %d, status:%s: the index finds %d keys, Health %d", seed, s, len(got), len(want))
			}
		}
	}
}

func TestUnknownName(t *testing.T) {
	envs := []model.Environment{{Name: "dev", Tag: "dev"}, {Name: "staging", Tag: "stg"}}
	chs := []model.Channel{{Name: "web"}}
	for q, want := range map[string]string{
		"env:dev channel:web":   "",
		"env:DEV":               "",
		"env:pr*":               "",
		"-env:prd":              "",
		"by:nobody words":       "",
		"env:prd":               `there is no environment "prd" in this key store: the environments are dev, staging`,
		"env:dev env:stg":       `"stg" is the tag of the environment staging: write env:staging`,
		"env:qa channel:mobile": `there is no environment "qa" in this key store: the environments are dev, staging`,
		"channel:webb":          `there is no channel "webb" in this key store: the channels are web`,
	} {
		terms, err := ParseQuery(q)
		if err != nil {
			t.Fatal(err)
		}
		if got := terms.UnknownName(envs, chs); got != want {
			t.Errorf("%q: got %q, want %q", q, got, want)
		}
	}
	// Any member may add channels: a store of thousands named each of them
	// in the sentence, one line of megabytes for a typo.
	many := make([]model.Channel, 5000)
	for i := range many {
		many[i].Name = fmt.Sprintf("ch%04d", i)
	}
	terms, _ := ParseQuery("channel:typo")
	want := `there is no channel "typo" in this key store: the channels are ch0000, ch0001, ch0002, ch0003, ch0004, ch0005, ch0006, ch0007, ch0008, ch0009 and 4990 more (see keyden channel list)`
	if got := terms.UnknownName(envs, many); got != want {
		t.Errorf("with 5000 channels: got %q", got[:min(300, len(got))])
	}
}
