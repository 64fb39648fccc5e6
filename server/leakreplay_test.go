package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"keyden/internal/etcdtest"
	"keyden/internal/testutil"
	"keyden/storage"
	"keyden/storage/etcdstore"
)

// A signed report sent again, after an admin enabled the key on purpose,
// gets the same answer and changes nothing: no disable, no event, one
// line in the log. A new report naming the key still disables it. On a
// file and on etcd.
func TestReplayedLeakReportChangesNothing(t *testing.T) {
	t.Run("file", func(t *testing.T) {
		st, err := storage.OpenBolt(filepath.Join(t.TempDir(), "k.db"), storage.Options{Actor: "alice"})
		if err != nil {
			t.Fatal(err)
		}
		replayChangesNothing(t, st)
	})
	t.Run("etcd", func(t *testing.T) {
		if testing.Short() {
			t.Skip("etcd in -short")
		}
		ms := etcdtest.Start(t, 1, t.TempDir(), false)
		t.Cleanup(ms[0].Stop)
		cfg, err := storage.ParseEtcdURL(etcdtest.URL(ms, "/replay"), nil)
		if err != nil {
			t.Fatal(err)
		}
		st, err := etcdstore.Open(cfg, storage.Options{Actor: "alice"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		replayChangesNothing(t, st)
	})
}

// leakReporter is a leak reporter (gh-1) and the keys serve takes its
// reports with.
func leakReporter(t testing.TB) (*testutil.Reporter, LeakReportKeys) {
	t.Helper()
	gh := testutil.NewReporter(t, "gh-1")
	keys, err := ParseLeakReportKeys(testutil.KeysJSON(t, gh))
	if err != nil {
		t.Fatal(err)
	}
	return gh, keys
}

// leakPoster serves /leaks on st and posts reports signed by gh to it.
func leakPoster(t *testing.T, st storage.Feed) (post func(body string) (int, string), logs *testutil.SyncBuffer) {
	gh, keys := leakReporter(t)
	logs = &testutil.SyncBuffer{}
	srv := New(st, Options{LeakReportKeys: keys, Log: log.New(logs, "", 0)})
	if err := srv.Load(ctx); err != nil {
		t.Fatal(err)
	}
	hs := serveHTTP(t, srv)
	t.Cleanup(hs.Close)
	return func(body string) (int, string) {
		req, _ := http.NewRequest("POST", hs.URL+"/leaks", strings.NewReader(body))
		req.Header.Set(HeaderKeyID, "gh-1")
		req.Header.Set(HeaderSignature, gh.Sign(t, []byte(body)))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		b.ReadFrom(resp.Body)
		return resp.StatusCode, b.String()
	}, logs
}

func leakReport(secret, url string) string {
	return fmt.Sprintf(`[{"token":%q,"type":"keyden_api_key","url":%q,"source":"content"},{"token":"not a key","type":"keyden_api_key","url":"","source":"content"}]`, secret, url)
}

func replayChangesNothing(t *testing.T, st storage.Store) {
	live, err := st.CreateKey(ctx, storage.CreateRequest{Name: "live", Channel: "default", Environment: "prod"})
	if err != nil {
		t.Fatal(err)
	}
	post, logs := leakPoster(t, st)
	events := func() int {
		evs, err := st.Audit(ctx, storage.AuditFilter{KeyID: live.Key.ID})
		if err != nil {
			t.Fatal(err)
		}
		return len(evs)
	}
	report := leakReport(live.Secret, "https://github.com/o/r/blob/abc/app.env")
	code, first := post(report)
	if k, _ := st.GetKey(ctx, live.Key.ID); code != 200 || !k.Disabled || !strings.Contains(first, "true_positive") {
		t.Fatalf("first report: %d %s, disabled %v", code, first, k.Disabled)
	}
	// The admin looked, found the leak harmless, and enabled the key.
	if _, err := st.SetDisabled(ctx, live.Key.ID, false); err != nil {
		t.Fatal(err)
	}
	n := events()
	code, again := post(report)
	if code != 200 || again != first {
		t.Errorf("the report again: %d %s, want the first answer %s", code, again, first)
	}
	if k, _ := st.GetKey(ctx, live.Key.ID); k.Disabled || events() != n {
		t.Errorf("the report again: disabled %v, %d events (want %d)", k.Disabled, events(), n)
	}
	if c := strings.Count(logs.String(), "was sent again"); c != 1 {
		t.Errorf("%d log lines about the replay, want 1:\n%s", c, logs)
	}
	// A new report of the same key (found elsewhere) is a new leak.
	code, _ = post(leakReport(live.Secret, "https://gist.github.com/x"))
	if k, _ := st.GetKey(ctx, live.Key.ID); code != 200 || !k.Disabled || events() != n+2 {
		t.Errorf("a new report: %d, disabled %v, %d events (want %d)", code, k.Disabled, events(), n+2)
	}
}

// failingLeaks is a store whose first leak recorded fails.
type failingLeaks struct {
	*storage.Bolt
	failed atomic.Bool
}

func (f *failingLeaks) RecordLeak(c context.Context, l storage.Leak, resp storage.LeakResponse) (storage.LeakOutcome, error) {
	if !f.failed.Swap(true) {
		return storage.LeakOutcome{}, errors.New("the store is unreachable")
	}
	return f.Bolt.RecordLeak(c, l, resp)
}

// A report answered 503 (the store failed) is not remembered: sent again,
// it is applied.
func TestLeakReportRetriedAfterAFailureApplies(t *testing.T) {
	st, err := storage.OpenBolt(filepath.Join(t.TempDir(), "k.db"), storage.Options{Actor: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	live, err := st.CreateKey(ctx, storage.CreateRequest{Name: "live", Channel: "default", Environment: "prod"})
	if err != nil {
		t.Fatal(err)
	}
	post, _ := leakPoster(t, &failingLeaks{Bolt: st})
	report := leakReport(live.Secret, "https://github.com/o/r/blob/abc/app.env")
	if code, body := post(report); code != http.StatusServiceUnavailable {
		t.Fatalf("with the store failing: %d %s", code, body)
	}
	if k, _ := st.GetKey(ctx, live.Key.ID); k.Disabled {
		t.Fatal("a failed report disabled the key")
	}
	if code, body := post(report); code != 200 || !strings.Contains(body, "true_positive") {
		t.Fatalf("sent again: %d %s", code, body)
	}
	if k, _ := st.GetKey(ctx, live.Key.ID); !k.Disabled {
		t.Error("the report sent again after a 503 did not disable the key")
	}
}
