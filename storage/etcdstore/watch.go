package etcdstore

import (
	"context"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"keyden/storage"
)

// WatchChanges signals, without polling, whenever the change feed (the
// audit log) moves: an etcd watch on its prefix. A watch that ends (no
// leader, a lost connection) is re-created from the revision after the last
// one it saw, so no commit falls between two watches, and a signal is sent
// once the new watch is in place, so the read it causes misses nothing. The
// watch requires a leader: on a member cut off from its quorum it is
// cancelled rather than silently waiting. Signals coalesce; the channel
// closes when ctx ends.
func (e *Etcd) WatchChanges(ctx context.Context) <-chan storage.WatchSignal {
	out := make(chan storage.WatchSignal, 1)
	// Only this goroutine sends, so a full channel is merged into, never lost.
	send := func(s storage.WatchSignal) {
		for {
			select {
			case out <- s:
				return
			default:
			}
			select {
			case old := <-out:
				s.Reload = s.Reload || old.Reload
				s.Rev = max(s.Rev, old.Rev)
			default:
			}
		}
	}
	go func() {
		defer close(out)
		var next, seen int64 // next: where a new watch starts (0: now)
		pause := watchRetryMin
		for ctx.Err() == nil {
			s := e.eb.current()
			cli := s.cli
			wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
			opts := []clientv3.OpOption{clientv3.WithPrefix(), clientv3.WithCreatedNotify()}
			if next > 0 {
				opts = append(opts, clientv3.WithRev(next))
			}
			for resp := range cli.Watch(wctx, e.eb.prefix+storage.AuditBucket+"/", opts...) {
				if resp.CompactRevision > 0 {
					// What happened between next and the compaction is gone
					// from etcd's history: resume at the compaction, reload.
					next = resp.CompactRevision
					send(storage.WatchSignal{Reload: true, Rev: seen})
					break
				}
				if resp.Err() != nil {
					break
				}
				if resp.Created {
					if next == 0 {
						next = resp.Header.Revision + 1
					}
					pause = watchRetryMin
				}
				// A catching-up watch's header may run ahead of the events
				// it has sent so far: only events move next.
				if n := len(resp.Events); n > 0 {
					next = resp.Events[n-1].Kv.ModRevision + 1
					seen = max(seen, next-1)
				}
				send(storage.WatchSignal{Watching: true, Rev: seen})
			}
			cancel()
			e.eb.renew(s) // a watch refused for a stale login
			send(storage.WatchSignal{Rev: seen})
			select {
			case <-ctx.Done():
			case <-time.After(pause):
			}
			pause = min(2*pause, watchRetryMax)
		}
	}()
	return out
}

// A watch that cannot be re-created is tried again after watchRetryMin,
// doubling up to watchRetryMax.
const (
	watchRetryMin = 50 * time.Millisecond
	watchRetryMax = 250 * time.Millisecond // a failed attempt costs etcd next to nothing
)
