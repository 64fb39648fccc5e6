package storage

import (
	"context"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"keyden/internal/etcdtest"
)

// etcd34WithAuth starts Debian's etcd 3.4 with auth on and tokens that
// expire after ttl idle seconds; keyden signs in as user "keyden" (password
// "kpw") whose role covers /ka.
func etcd34WithAuth(t *testing.T, ttl string) *etcdtest.Process {
	t.Helper()
	p := etcdtest.StartProcess(t, t.TempDir(), "--auth-token", "simple", "--auth-token-ttl", ttl)
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{p.Endpoint}, DialTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, step := range []func() error{
		func() error { _, err := cli.UserAdd(ctx, "root", "rootpw"); return err },
		func() error { _, err := cli.UserGrantRole(ctx, "root", "root"); return err },
		func() error { _, err := cli.RoleAdd(ctx, "keyden"); return err },
		func() error {
			_, err := cli.RoleGrantPermission(ctx, "keyden", "/ka", clientv3.GetPrefixRangeEnd("/ka"), clientv3.PermissionType(clientv3.PermReadWrite))
			return err
		},
		func() error { _, err := cli.UserAdd(ctx, "keyden", "kpw"); return err },
		func() error { _, err := cli.UserGrantRole(ctx, "keyden", "keyden"); return err },
		func() error { _, err := cli.AuthEnable(ctx); return err },
	} {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

func TestEtcd34TokenExpiry(t *testing.T) {
	if testing.Short() {
		t.Skip("etcd 3.4 process in -short")
	}
	p := etcd34WithAuth(t, "5")
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
	time.Sleep(7 * time.Second) // the token's TTL passes with no traffic: the scenario, not a wait
	start := time.Now()
	res, err := st.Verify(ctx, VerifyRequest{Secret: c.Secret})
	t.Logf("after expiry: %v %v in %v", res.OK, err, time.Since(start))
	if err != nil || !res.OK {
		t.Fatalf("verify after the token expired: %v %v", res, err)
	}
}
