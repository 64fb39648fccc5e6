package storage

import (
	"testing"
	"time"

	"keyden/internal/etcdtest"
)

// etcd 3.4 with auth refuses a login that carries an expired token; the
// client used to retry it until every call timed out ("did not answer in
// time" after 6 s). keyden logs in again with a new client.
func TestEtcd34LoginSurvivesTokenExpiry(t *testing.T) {
	if testing.Short() {
		t.Skip("etcd 3.4 process in -short")
	}
	p := etcdtest.StartProcess(t, t.TempDir(), "--auth-token", "simple", "--auth-token-ttl", "5")
	p.EnableAuth(t, "keyden", "kpw", "/ka")
	cfg, err := ParseEtcdURL("etcd://keyden@"+p.Endpoint+"/ka", func(k string) string { return map[string]string{"KEYDEN_ETCD_PASSWORD": "kpw"}[k] })
	if err != nil {
		t.Fatal(err)
	}
	st, err := OpenEtcd(cfg, Options{Actor: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	c := mustCreate(t, st, CreateRequest{})
	other := mustCreate(t, st, CreateRequest{Name: "other"})
	time.Sleep(7 * time.Second) // the token's TTL passes with no traffic: the scenario itself, not a wait
	start := time.Now()
	if _, err := st.DeleteKey(ctx, other.Key.ID); err != nil {
		t.Fatalf("a write after the token expired: %v", err)
	}
	t.Logf("delete after expiry: %v", time.Since(start).Round(time.Millisecond))
	if res, err := st.Verify(ctx, VerifyRequest{Secret: c.Secret}); err != nil || !res.OK {
		t.Fatalf("verify after the token expired: %v %v", res.Reason, err)
	}
}
