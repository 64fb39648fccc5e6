package cli

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"testing"
	"time"

	"keyden/format"
	"keyden/model"
	"keyden/storage"
)

// streamStore holds more keys than one part of a stream (two parts and
// some), with names of every width, creation times that tie, and more
// audit events than a part.
func streamStore(t *testing.T) (string, *storage.Bolt) {
	t.Helper()
	db := newDB(t)
	st, err := storage.OpenBolt(db, storage.Options{Actor: Actor(), Now: func() time.Time { return bulkNow }})
	if err != nil {
		t.Fatal(err)
	}
	names := []string{"a", "web checkout", "ärger über alles", "日本語のキー", "a much longer name for the width of the column"}
	var seeds []storage.KeySeed
	for i := 0; i < 2*2048+37; i++ {
		seeds = append(seeds, storage.KeySeed{CreateRequest: storage.CreateRequest{Name: fmt.Sprintf("%s %d", names[i%len(names)], i),
			Channel: "default", Environment: []string{"dev", "staging", "prod"}[i%3]},
			CreatedAt: bulkNow.Add(-time.Duration(i%50) * time.Hour), CreatedBy: []string{Actor(), "alice\x07", "bob"}[i%3]})
	}
	if _, err := st.CreateKeys(context.Background(), seeds); err != nil {
		t.Fatal(err)
	}
	return db, st
}

// TestListOutputIsTheWholeListings: streamed, `list` and `list --json`
// print what a listing built whole prints (ListKeys, through tabwriter),
// byte for byte, across parts.
func TestListOutputIsTheWholeListings(t *testing.T) {
	db, st := streamStore(t)
	for _, filter := range [][]string{nil, {"--env", "prod"}, {"--filter", "日本語 -by:bob"}} {
		keys, err := st.ListKeys(context.Background(), storage.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		r := runAt(t, db, "", false, append([]string{"list"}, filter...)...)
		rj := runAt(t, db, "", false, append([]string{"list", "--json"}, filter...)...)
		if r.code != 0 || rj.code != 0 {
			t.Fatalf("list %q: %d %q %q", filter, r.code, r.stderr, rj.stderr)
		}
		// The expected listing, as the old code made it.
		var kept []model.Key
		for _, k := range keys {
			switch {
			case len(filter) == 2 && filter[0] == "--env" && k.Environment != "prod":
			case len(filter) == 2 && filter[0] == "--filter" && (!bytes.Contains([]byte(k.Name), []byte("日本語")) || k.CreatedBy == "bob"):
			default:
				kept = append(kept, k)
			}
		}
		var want bytes.Buffer
		table(&want, "ID\tNAME\tCHANNEL\tENV\tHINT\tCREATED\tLAST USED\tCREATED BY\tSTATUS", func(tw io.Writer) {
			for i := range kept {
				k := &kept[i]
				status := string(k.Health(bulkNow))
				if status == "" {
					status = "ok"
				}
				printf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Name, k.Channel, k.Environment,
					k.Hint, format.Date(k.CreatedAt), format.Ago(k.LastUsedAt, bulkNow), k.CreatedBy, status)
			}
		})
		if r.stdout != want.String() {
			t.Errorf("list %q differs from the whole listing's table (%d and %d bytes)", filter, len(r.stdout), want.Len())
		}
		wantJSON := []byte("[")
		for i := range kept {
			if i > 0 {
				wantJSON = append(wantJSON, ',')
			}
			wantJSON = kept[i].AppendJSON(append(wantJSON, '\n'))
		}
		wantJSON = append(wantJSON, "\n]\n"...)
		if rj.stdout != string(wantJSON) {
			t.Errorf("list --json %q differs from the whole listing's JSON", filter)
		}
	}
	if r := runAt(t, db, "", false, "list", "--json", "--filter", "by:nobody"); r.stdout != "[\n]\n" {
		t.Errorf("an empty listing's JSON: %q", r.stdout)
	}
}

// TestAuditJSONIsTheWholeLogs: streamed, audit --json prints what
// printing the whole log printed, with each filter, across parts.
func TestAuditJSONIsTheWholeLogs(t *testing.T) {
	db, st := streamStore(t)
	keys, _ := st.ListKeys(context.Background(), storage.Filter{})
	for _, c := range []struct {
		args []string
		f    storage.AuditFilter
	}{
		{nil, storage.AuditFilter{}},
		{[]string{"--limit", "5000"}, storage.AuditFilter{Limit: 5000}},
		{[]string{"--key", keys[7].ID}, storage.AuditFilter{KeyID: keys[7].ID}},
		{[]string{"--since", "1h"}, storage.AuditFilter{Since: bulkNow.Add(-time.Hour)}},
		// A date, or a time, as well as a duration.
		{[]string{"--since", bulkNow.Add(-time.Hour).UTC().Format(time.RFC3339)}, storage.AuditFilter{Since: bulkNow.Add(-time.Hour).Truncate(time.Second)}},
		{[]string{"--since", bulkNow.UTC().Format("2006-01-02")}, storage.AuditFilter{Since: bulkNow.UTC().Truncate(24 * time.Hour)}},
	} {
		evs, err := st.Audit(context.Background(), c.f)
		if err != nil {
			t.Fatal(err)
		}
		var want bytes.Buffer
		p := &printer{w: &want, json: true}
		if err := p.print(evs, nil); err != nil {
			t.Fatal(err)
		}
		r := runAt(t, db, "", false, append([]string{"audit", "--json"}, c.args...)...)
		if r.code != 0 || r.stdout != want.String() {
			t.Errorf("audit --json %q: exit %d, %d bytes, want %d: %q", c.args, r.code, len(r.stdout), want.Len(), r.stderr)
		}
	}
	if r := runAt(t, db, "", false, "audit", "--json", "--key", "k0000000"); r.code != 1 || r.stdout != "" {
		t.Errorf("audit --json of an unknown key: %d %q", r.code, r.stdout)
	}
}
