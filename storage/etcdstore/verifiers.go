package etcdstore

import (
	"context"
	"encoding/json"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"keyden/storage"
)

// Heartbeat writes a verifier's record as the core does (dropping day-old
// ones), then binds it to a lease of storage.VerifierTimeout, renewed at
// each beat: etcd itself removes the record of a verifier that died
// without saying so (killed, its machine gone).
func (e *Etcd) Heartbeat(ctx context.Context, v storage.Verifier) error {
	if err := e.Core.Heartbeat(ctx, v); err != nil {
		return err
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	ctx, cancel := e.eb.within(ctx)
	defer cancel()
	cli := e.eb.current().cli
	e.leaseMu.Lock()
	defer e.leaseMu.Unlock()
	if e.lease != 0 {
		if _, err := cli.KeepAliveOnce(ctx, e.lease); err != nil {
			e.lease = 0 // expired (a pause longer than its time to live) or lost: a new one
		}
	}
	if e.lease == 0 {
		g, err := cli.Grant(ctx, int64(storage.VerifierTimeout/time.Second))
		if err != nil {
			return e.eb.err(err)
		}
		e.lease = g.ID
	}
	_, err = cli.Put(ctx, e.eb.prefix+storage.VerifierKey(v.ID), string(raw), clientv3.WithLease(e.lease))
	return e.eb.err(err)
}
