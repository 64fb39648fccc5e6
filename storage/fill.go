package storage

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"keyden/keygen"
	"keyden/model"
)

// FillOptions shape the synthetic keys Fill makes for measurements.
type FillOptions struct {
	// Keep is how many of the new secrets to hand back (spread over the run).
	Keep int
	// Batch is how many keys go into one transaction (10,000 if 0).
	Batch int
}

// Fill adds n synthetic keys, spread over the store's channels and
// environments with a mix of scopes, expiries and last-used times, so
// benchmarks run on a store that looks lived in. It commits in batches: it
// is a measuring tool, not the path real keys take.
func (b *core) Fill(ctx context.Context, n int, fo FillOptions) ([]string, error) {
	if fo.Batch <= 0 || fo.Batch > b.be.batch() {
		fo.Batch = b.be.batch()
	}
	every := 0
	if fo.Keep > 0 {
		every = max(1, n/fo.Keep)
	}
	var kept []string
	now := b.now()
	for done := 0; done < n; {
		todo := min(fo.Batch, n-done)
		err := b.update(func(tx kv) error {
			envs, err := readAll[model.Environment](tx, bucketEnvs)
			if err != nil {
				return err
			}
			chs, err := readAll[model.Channel](tx, bucketChannels)
			if err != nil {
				return err
			}
			in := b.info(tx)
			keys, hashes := tx.Bucket(bucketKeys), tx.Bucket(bucketHashes)
			for i := done; i < done+todo; i++ {
				env := envs[i%len(envs)]
				secret, err := keygen.Generate(in.Format, in.Prefix, env.Tag)
				if err != nil {
					return err
				}
				id, err := newID(keys)
				if err != nil {
					return err
				}
				k := model.Key{
					ID: id, Name: fmt.Sprintf("synthetic key %d", i), Channel: chs[i%len(chs)].Name,
					Environment: env.Name, Type: model.TypeBearer, Scopes: []string{"read:*"},
					CreatedAt: now.Add(-time.Duration(i%400) * 24 * time.Hour), CreatedBy: b.opt.Actor,
					Hint: keygen.Hint(secret), Hash: keygen.HashKey(secret),
				}
				if i%3 == 0 {
					k.LastUsedAt, k.UseCount = now.Add(-time.Duration(i%200)*24*time.Hour), uint64(i%1000)
				}
				if i%10 == 5 {
					k.ExpiresAt = now.Add(time.Duration(i%30+1) * 24 * time.Hour)
				}
				// bbolt keeps a Put's value until commit: each record needs its own buffer.
				if err := keys.Put([]byte(id), model.EncodeKey(nil, &k)); err != nil {
					return err
				}
				if err := hashes.Put(k.Hash[:], []byte(id)); err != nil {
					return err
				}
				// Like every change to a key, a create is in the audit log: it is the change feed.
				if err := b.appendEvent(tx, keyEvent(model.ActionCreate, &k)); err != nil {
					return err
				}
				// Kept keys never expire, so a cached bench store stays usable.
				if every > 0 && i%every == 0 && k.ExpiresAt.IsZero() && len(kept) < fo.Keep {
					kept = append(kept, secret)
				}
			}
			return bumpUint(tx.Bucket(bucketMeta), metaKeyCount, int64(todo))
		})
		if err != nil {
			return kept, err
		}
		done += todo
	}
	return kept, nil
}

// OpenFilled returns a store at path holding exactly n synthetic keys and a
// sample of their secrets (kept beside it in path+".keys", 0600), reusing
// both when a previous run made them: a 1M-key store takes a while to build.
func OpenFilled(ctx context.Context, path string, n, keep int) (*Bolt, []string, error) {
	st, err := OpenBolt(path, Options{Actor: "bench", Timeout: time.Minute})
	if err != nil {
		return nil, nil, err
	}
	keysPath := path + ".keys"
	if raw, err := os.ReadFile(keysPath); err == nil {
		if in, err := st.Info(ctx); err == nil && in.Keys == n {
			return st, strings.Fields(string(raw)), nil
		}
	}
	os.Remove(path)
	kept, err := st.Fill(ctx, n, FillOptions{Keep: keep})
	if err != nil {
		return nil, nil, err
	}
	if err := os.WriteFile(keysPath, []byte(strings.Join(kept, "\n")), 0o600); err != nil {
		return nil, nil, err
	}
	return st, kept, nil
}
