package server

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"keyden/internal/testutil"
	"keyden/model"
	"keyden/storage"
)

// A signed report disables each live key it names, audited with its URL,
// and answers per token its SHA-256 and label; a forged or unsigned one,
// or one signed by an unknown key, changes nothing.
func TestLeakReportsDisableOnlyWhenSigned(t *testing.T) {
	st, err := storage.OpenBolt(filepath.Join(t.TempDir(), "k.db"), storage.Options{Actor: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	live, _ := st.CreateKey(ctx, storage.CreateRequest{Name: "live", Channel: "default", Environment: "prod"})
	gh, keys := leakReporter(t)
	other := testutil.NewReporter(t, "gh-2")
	srv := New(st, Options{LeakReportKeys: keys})
	if err := srv.Load(ctx); err != nil {
		t.Fatal(err)
	}
	hs := serveHTTP(t, srv)
	defer hs.Close()
	report := fmt.Sprintf(`[{"token":%q,"type":"keyden_api_key","url":"https://github.com/o/r/blob/abc/app.env","source":"content"},`+
		`{"token":"kd_prod_0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmn0gZMuH","type":"keyden_api_key","url":"https://gist.github.com/x","source":"gist"},`+
		`{"token":"not a key","type":"keyden_api_key","url":"","source":"content"}]`, live.Secret)
	post := func(body, id, sig string) (int, string) {
		req, _ := http.NewRequest("POST", hs.URL+"/leaks", strings.NewReader(body))
		req.Header.Set(HeaderKeyID, id)
		req.Header.Set(HeaderSignature, sig)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		b.ReadFrom(resp.Body)
		return resp.StatusCode, b.String()
	}
	tampered := strings.Replace(report, "app.env", "app.txt", 1)
	for name, try := range map[string][3]string{
		"unsigned":       {report, "gh-1", ""},
		"unknown key":    {report, "gh-2", other.Sign(t, []byte(report))},
		"another's sign": {report, "gh-1", other.Sign(t, []byte(report))},
		"tampered body":  {tampered, "gh-1", gh.Sign(t, []byte(report))},
		"garbage sign":   {report, "gh-1", "bm90IGEgc2lnbmF0dXJl"},
	} {
		if code, body := post(try[0], try[1], try[2]); code != http.StatusUnauthorized || strings.Contains(body, "positive") {
			t.Errorf("%s: %d %s", name, code, body)
		}
	}
	if k, _ := st.GetKey(ctx, live.Key.ID); k.Disabled {
		t.Fatal("a forged report disabled the key")
	}
	if evs, _ := st.Audit(ctx, storage.AuditFilter{KeyID: live.Key.ID}); len(evs) != 1 {
		t.Fatalf("a forged report was audited: %+v", evs)
	}

	code, body := post(report, "gh-1", gh.Sign(t, []byte(report)))
	var got []LeakVerdict
	if err := json.Unmarshal([]byte(body), &got); code != 200 || err != nil || len(got) != 3 {
		t.Fatalf("signed report: %d %s", code, body)
	}
	sum := sha256.Sum256([]byte(live.Secret))
	if got[0].TokenHash != hex.EncodeToString(sum[:]) || got[0].Label != "true_positive" || got[1].Label != "false_positive" || got[2].Label != "false_positive" {
		t.Errorf("verdicts %+v", got)
	}
	if strings.Contains(body, live.Secret) {
		t.Error("the answer holds the key")
	}
	k, _ := st.GetKey(ctx, live.Key.ID)
	evs, _ := st.Audit(ctx, storage.AuditFilter{KeyID: live.Key.ID})
	if !k.Disabled || len(evs) != 3 || evs[0].Action != model.ActionDisable || !strings.Contains(evs[0].Detail, "https://github.com/o/r/blob/abc/app.env") {
		t.Fatalf("after a signed report: disabled %v, audit %+v", k.Disabled, evs)
	}
	// Reported again: still a true positive, nothing more to do.
	if _, body := post(report, "gh-1", gh.Sign(t, []byte(report))); !strings.Contains(body, "true_positive") {
		t.Errorf("second report: %s", body)
	}
	// Without --leak-report-keys there is no /leaks.
	plain := serveHTTP(t, New(st, Options{}))
	defer plain.Close()
	resp, err := http.Post(plain.URL+"/leaks", "application/json", strings.NewReader(report))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("/leaks without keys: %d", resp.StatusCode)
	}
}
