package etcdstore_test

import (
	"context"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"keyden/internal/etcdtest"
	"keyden/storage"
	"keyden/storage/etcdstore"
)

// On etcd a verifier's record is bound to a lease: when the lease ends (its
// process died and stopped renewing it) etcd removes the record by itself.
func TestVerifierRecordLivesOnALease(t *testing.T) {
	if testing.Short() {
		t.Skip("embedded etcd in -short")
	}
	ctx := context.Background()
	ms := etcdtest.Start(t, 1, t.TempDir(), false)
	t.Cleanup(ms[0].Stop)
	cfg, err := storage.ParseEtcdURL(etcdtest.URL(ms, "/lease"), nil)
	if err != nil {
		t.Fatal(err)
	}
	st, err := etcdstore.Open(cfg, storage.Options{Actor: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.CreateKey(ctx, storage.CreateRequest{Name: "k", Channel: "default", Environment: "dev"}); err != nil {
		t.Fatal(err)
	}
	v := storage.Verifier{ID: "web1/7/:8080", Host: "web1", PID: 7, Applied: 2, Beat: time.Now()}
	for range 2 { // the second beat renews the same lease
		if err := st.Heartbeat(ctx, v); err != nil {
			t.Fatal(err)
		}
	}
	resp, err := st.Client().Get(ctx, "/lease/"+storage.VerifierKey(v.ID))
	if err != nil || len(resp.Kvs) != 1 || resp.Kvs[0].Lease == 0 {
		t.Fatalf("the record: %+v %v", resp, err)
	}
	if vs, _ := st.Verifiers(ctx); len(vs) != 1 || vs[0].Applied != 2 {
		t.Fatalf("verifiers %+v", vs)
	}
	// The lease ends as it would after 10 s without a beat.
	if _, err := st.Client().Revoke(ctx, clientv3.LeaseID(resp.Kvs[0].Lease)); err != nil {
		t.Fatal(err)
	}
	if vs, _ := st.Verifiers(ctx); len(vs) != 0 {
		t.Fatalf("after the lease ended: %+v", vs)
	}
	// A beat after that takes a new lease.
	if err := st.Heartbeat(ctx, v); err != nil {
		t.Fatal(err)
	}
	if vs, _ := st.Verifiers(ctx); len(vs) != 1 {
		t.Fatalf("after a new beat: %+v", vs)
	}
}
