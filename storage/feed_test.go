package storage

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"keyden/model"
)

func TestChangeFeedFollowsEveryRuleChange(t *testing.T) {
	clk := newClock()
	st := newAny(t, Options{Now: clk.Now})
	a := mustCreate(t, st, CreateRequest{Name: "a"})
	keys, pos, err := st.Snapshot(ctx)
	if err != nil || len(keys) != 1 {
		t.Fatal(keys, err)
	}
	pos.RulesOnly = true // as serve follows it
	seq := pos.Audit
	if ch, _ := st.Updates(ctx, pos); ch.Seq != seq || len(ch.Keys)+len(ch.Removed) != 0 || ch.Reset {
		t.Fatalf("changes with none: %+v", ch)
	}
	b := mustCreate(t, st, CreateRequest{Name: "b"})
	st.SetDisabled(ctx, a.Key.ID, true)
	r, _ := st.RotateKey(ctx, RotateRequest{ID: b.Key.ID, Grace: time.Hour})
	c := mustCreate(t, st, CreateRequest{Name: "c"})
	st.DeleteKey(ctx, c.Key.ID)
	// A verify's last-used write is not a rule change: no event, nothing to follow.
	st.Verify(ctx, VerifyRequest{Secret: r.New.Secret})
	ch, err := st.Updates(ctx, pos)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, k := range ch.Keys {
		s := k.Name
		if k.Disabled {
			s += "(disabled)"
		}
		if k.RotatedTo != "" {
			s += "(rotated)"
		}
		got = append(got, s)
	}
	sort.Strings(got)
	if strings.Join(got, ",") != "a(disabled),b,b(rotated)" || len(ch.Removed) != 1 || ch.Removed[0] != c.Key.ID {
		t.Fatalf("changes: keys %v removed %v", got, ch.Removed)
	}
	if ch2, _ := st.Updates(ctx, ch.Position()); len(ch2.Keys)+len(ch2.Removed) != 0 {
		t.Fatalf("changes after catching up: %+v", ch2)
	}
	if ch3, _ := st.Updates(ctx, Position{Audit: ch.Seq + 1000, RulesOnly: true}); !ch3.Reset {
		t.Fatal("a sequence from the future does not ask for a reset")
	}
}

func TestRecordUsesMergesLatestTimeAndAddsCounts(t *testing.T) {
	clk := newClock()
	st := newAny(t, Options{Now: clk.Now})
	k := mustCreate(t, st, CreateRequest{Name: "k"})
	gone := mustCreate(t, st, CreateRequest{Name: "gone"})
	st.DeleteKey(ctx, gone.Key.ID)
	t1, t2 := clk.Now().Add(time.Minute), clk.Now().Add(2*time.Minute)
	// Two verifiers' batches, the later one written first.
	if err := st.RecordUses(ctx, []Use{{ID: k.Key.ID, At: t2, From: "10.0.0.2", Count: 5}, {ID: gone.Key.ID, At: t2, Count: 1}}); err != nil {
		t.Fatal(err)
	}
	if err := st.RecordUses(ctx, []Use{{ID: k.Key.ID, At: t1, From: "10.0.0.1", Count: 3}}); err != nil {
		t.Fatal(err)
	}
	got, _ := st.GetKey(ctx, k.Key.ID)
	if got.UseCount != 8 || !got.LastUsedAt.Equal(t2) || got.LastUsedFrom != "10.0.0.2" {
		t.Fatalf("merged use: %+v", got)
	}
}

func TestRecordUsesLogsExpiryOnce(t *testing.T) {
	clk := newClock()
	st := newAny(t, Options{Now: clk.Now})
	k := mustCreate(t, st, CreateRequest{Name: "k", ExpiresAt: clk.Now().Add(time.Minute)})
	clk.Advance(time.Hour)
	for i := 0; i < 2; i++ {
		if err := st.RecordUses(ctx, []Use{{ID: k.Key.ID, Expired: true}}); err != nil {
			t.Fatal(err)
		}
	}
	evs, _ := st.Audit(ctx, AuditFilter{KeyID: k.Key.ID})
	n := 0
	for _, e := range evs {
		if e.Action == model.ActionExpire {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d expire events", n)
	}
}

// keyNames lists changed keys as name/count (count of uses), sorted.
func keyNames(keys []model.Key) string {
	var got []string
	for _, k := range keys {
		got = append(got, fmt.Sprintf("%s/%d", k.Name, k.UseCount))
	}
	sort.Strings(got)
	return strings.Join(got, ",")
}

func TestUpdatesFollowRulesAndUses(t *testing.T) {
	clk := newClock()
	st := newAny(t, Options{Now: clk.Now})
	a := mustCreate(t, st, CreateRequest{Name: "a"})
	b := mustCreate(t, st, CreateRequest{Name: "b"})
	c := mustCreate(t, st, CreateRequest{Name: "c"})
	keys, pos, err := st.Snapshot(ctx)
	if err != nil || len(keys) != 3 {
		t.Fatal(keys, err)
	}
	steps := []struct {
		name    string
		do      func()
		keys    string
		removed []string
	}{
		{"nothing", func() {}, "", nil},
		{"a verify", func() { st.Verify(ctx, VerifyRequest{Secret: a.Secret}) }, "a/1", nil},
		{"a refused verify writes nothing", func() { st.Verify(ctx, VerifyRequest{Secret: a.Secret, Environment: "dev"}) }, "", nil},
		{"a verifier's batch", func() {
			st.RecordUses(ctx, []Use{{ID: b.Key.ID, At: clk.Now(), Count: 3}, {ID: c.Key.ID, At: clk.Now(), Count: 1}})
		}, "b/3,c/1", nil},
		{"a use and a rule change of one key come once", func() {
			st.Verify(ctx, VerifyRequest{Secret: a.Secret})
			st.SetDisabled(ctx, a.Key.ID, true)
		}, "a/2", nil},
		{"create and delete", func() {
			mustCreate(t, st, CreateRequest{Name: "d"})
			st.DeleteKey(ctx, c.Key.ID)
		}, "d/0", []string{c.Key.ID}},
		{"a batch naming a deleted key", func() {
			st.RecordUses(ctx, []Use{{ID: c.Key.ID, At: clk.Now(), Count: 1}})
		}, "", nil},
	}
	for _, s := range steps {
		s.do()
		ch, err := st.Updates(ctx, pos)
		if err != nil || ch.Reset {
			t.Fatalf("%s: %+v %v", s.name, ch, err)
		}
		if got := keyNames(ch.Keys); got != s.keys || fmt.Sprint(ch.Removed) != fmt.Sprint(s.removed) {
			t.Fatalf("%s: keys %q removed %v; want %q %v", s.name, got, ch.Removed, s.keys, s.removed)
		}
		pos = ch.Position()
	}
	// What the updates said matches a fresh snapshot.
	snap, pos2, _ := st.Snapshot(ctx)
	if pos2 != pos || keyNames(snap) != "a/2,b/3,d/0" {
		t.Fatalf("snapshot %s at %+v, followed to %+v", keyNames(snap), pos2, pos)
	}
}

func TestUpdatesAskForASnapshotWhenTheyCannotContinue(t *testing.T) {
	st := newAny(t, Options{})
	a := mustCreate(t, st, CreateRequest{Name: "a"})
	_, pos, _ := st.Snapshot(ctx)
	for _, from := range []Position{{Audit: pos.Audit + 1, Usage: pos.Usage}, {Audit: pos.Audit, Usage: pos.Usage + 1}} {
		if ch, err := st.Updates(ctx, from); err != nil || !ch.Reset {
			t.Fatalf("from the future %+v: %+v %v", from, ch, err)
		}
	}
	// A reader away longer than the journal keeps must re-read everything.
	for i := 0; i < usageJournalLen; i++ {
		st.RecordUses(ctx, []Use{{ID: a.Key.ID, At: time.Now(), Count: 1}})
	}
	if ch, _ := st.Updates(ctx, pos); ch.Reset || keyNames(ch.Keys) != fmt.Sprintf("a/%d", usageJournalLen) {
		t.Fatalf("at the journal's edge: %+v", ch)
	}
	st.RecordUses(ctx, []Use{{ID: a.Key.ID, At: time.Now(), Count: 1}})
	if ch, _ := st.Updates(ctx, pos); !ch.Reset {
		t.Fatalf("past the journal: %+v", ch)
	}
}

// The journal keeps a bounded number of entries: a store used all day
// does not grow by its uses.
func TestUsageJournalStaysBounded(t *testing.T) {
	st := newAny(t, Options{})
	a := mustCreate(t, st, CreateRequest{Name: "a"})
	for i := 0; i < usageJournalLen+30; i++ {
		st.RecordUses(ctx, []Use{{ID: a.Key.ID, At: time.Now(), Count: 1}})
	}
	n := 0
	err := st.(interface {
		view(context.Context, func(kv) error) error
	}).view(ctx, func(tx kv) error {
		return tx.Bucket(bucketMeta).ForEach(func(k, _ []byte) error {
			if strings.HasPrefix(string(k), "uses/") {
				n++
			}
			return nil
		})
	})
	if err != nil || n != usageJournalLen {
		t.Fatalf("%d journal entries, %v", n, err)
	}
}

// FeedHead names the position Updates brings a reader to, in one small
// read: what a verifier checks each second to confirm it is current.
func TestFeedHeadIsWhereTheFeedStands(t *testing.T) {
	st := newAny(t, Options{})
	head := func() (uint64, int64) {
		t.Helper()
		seq, rev, err := st.FeedHead(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return seq, rev
	}
	c := mustCreate(t, st, CreateRequest{Name: "a"})
	seq0, rev0 := head()
	st.Verify(ctx, VerifyRequest{Secret: c.Secret}) // a use is not a change to follow
	if seq, _ := head(); seq != seq0 {
		t.Fatalf("a use moved the feed: %d → %d", seq0, seq)
	}
	st.DeleteKey(ctx, c.Key.ID)
	seq1, rev1 := head()
	ch, err := st.Updates(ctx, Position{Audit: seq0, RulesOnly: true})
	if err != nil || seq1 <= seq0 || ch.Seq != seq1 || len(ch.Removed) != 1 {
		t.Fatalf("after a delete: head %d (was %d), changes %+v %v", seq1, seq0, ch, err)
	}
	if _, isEtcd := st.(Etcd); isEtcd != (rev1 > rev0 && rev0 > 0) {
		t.Fatalf("revisions %d → %d on %T", rev0, rev1, st)
	}
}

// SnapshotEach sees the keys Snapshot reads, at the same position, after
// saying how many there are.
func TestSnapshotEachIsSnapshotAKeyAtATime(t *testing.T) {
	st := newAny(t, Options{})
	for _, n := range []string{"a", "b", "c"} {
		mustCreate(t, st, CreateRequest{Name: n, Scopes: []string{"read:" + n}})
	}
	keys, pos, err := st.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var want, got []string
	for _, k := range keys {
		want = append(want, fmt.Sprint(k.View()))
	}
	size := -1
	pos2, err := st.SnapshotEach(ctx, func(n int) { size = n }, func(k *model.Key) error {
		got = append(got, fmt.Sprint(k.View())) // a copy: k is not to be kept
		return nil
	})
	if err != nil || pos2 != pos || size != len(keys) || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("SnapshotEach: %v at %+v, size %d; Snapshot: %v at %+v", got, pos2, size, want, pos)
	}
}

// SnapshotEach and Snapshot (readKeys) let go of the file's mapped pages
// as they read: reads after each release see the same keys, all of them.
func TestSnapshotEachReadsOnAfterReleasingPages(t *testing.T) {
	st := newStore(t, Options{})
	fill(t, st, 3000, 0)
	keys, _, err := st.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func(n int) { releaseEvery = n }(releaseEvery)
	releaseEvery = 7
	i := 0
	_, err = st.SnapshotEach(ctx, nil, func(k *model.Key) error {
		if i >= len(keys) || fmt.Sprint(k.View()) != fmt.Sprint(keys[i].View()) {
			return fmt.Errorf("key %d differs after a release: %+v", i, k.View())
		}
		i++
		return nil
	})
	if err != nil || i != len(keys) {
		t.Fatalf("%d of %d keys: %v", i, len(keys), err)
	}
	again, _, err := st.Snapshot(ctx)
	if err != nil || len(again) != len(keys) {
		t.Fatalf("Snapshot with releases: %d of %d keys: %v", len(again), len(keys), err)
	}
	for i := range keys {
		if fmt.Sprint(again[i].View()) != fmt.Sprint(keys[i].View()) {
			t.Fatalf("Snapshot with releases: key %d differs: %+v", i, again[i].View())
		}
	}
}

// Updates lets go of the mapped pages every releaseScatteredEvery keys it
// reads (a flush of 100k used keys touched most of a 1M-key file's pages:
// 120 MB of a follower's peak); what it reads is the same.
func TestUpdatesReadOnAfterReleasingPages(t *testing.T) {
	st := newStore(t, Options{})
	fill(t, st, 3000, 0)
	keys, pos, err := st.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var uses []Use
	for i := 0; i < len(keys); i += 2 {
		uses = append(uses, Use{ID: keys[i].ID, At: time.Unix(1_800_000_000, 0).UTC(), From: "10.0.0.9", Count: 2})
	}
	if err := st.RecordUses(ctx, uses); err != nil {
		t.Fatal(err)
	}
	if _, err := st.DeleteKey(ctx, keys[1].ID); err != nil {
		t.Fatal(err)
	}
	read := func(every int) string {
		defer func(n int) { releaseScatteredEvery = n }(releaseScatteredEvery)
		releaseScatteredEvery = every
		ch, err := st.Updates(ctx, pos)
		if err != nil || ch.Reset {
			t.Fatal(err, ch.Reset)
		}
		views := make([]string, len(ch.Keys))
		for i := range ch.Keys {
			views[i] = fmt.Sprint(ch.Keys[i].View())
		}
		sort.Strings(views)
		return fmt.Sprint(len(ch.Keys), views, ch.Removed)
	}
	whole, released := read(1<<30), read(3)
	if whole != released {
		t.Fatalf("Updates read other keys after releasing pages:\n%.300s\nwant\n%.300s", released, whole)
	}
	if !strings.HasPrefix(whole, "1500 ") {
		t.Fatalf("read %.20s keys, want 1500", whole)
	}
}
