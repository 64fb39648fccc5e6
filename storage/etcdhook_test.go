package storage_test

import (
	"keyden/storage"
	"keyden/storage/etcdstore"
)

func init() {
	storage.SetOpenEtcd(func(cfg storage.EtcdConfig, opt storage.Options) (storage.Etcd, error) {
		return etcdstore.Open(cfg, opt)
	})
}
