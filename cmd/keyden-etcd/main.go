// keyden-etcd is the whole keyden with the etcd client linked in: keyden
// runs it in its place for an etcd:// or etcds:// store (see
// cli.EtcdHelper), and it can be run as keyden itself, on either backend.
package main

import (
	"keyden/internal/program"
	"keyden/storage"
	"keyden/storage/etcdstore"
)

func main() {
	program.Main(func(cfg storage.EtcdConfig, opt storage.Options) (storage.Store, error) {
		return etcdstore.Open(cfg, opt)
	})
}
