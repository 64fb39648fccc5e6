package storage

import (
	"context"
	"encoding/json"
	"sort"

	"keyden/model"
)

func putJSON(bk bucket, key string, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return bk.Put([]byte(key), raw)
}

// readAll decodes every JSON value of a small bucket.
func readAll[T any](tx kv, name []byte) ([]T, error) {
	var out []T
	err := tx.Bucket(name).ForEach(func(k, v []byte) error {
		var t T
		if err := json.Unmarshal(v, &t); err != nil {
			return fail(ErrDamaged, "the %s entry %s is damaged: restore the store from a backup", name, model.Quote(string(k)))
		}
		out = append(out, t)
		return nil
	})
	return out, err
}

// resolveEnv finds an environment by name or by tag.
func resolveEnv(tx kv, nameOrTag string) (model.Environment, error) {
	envs, err := readAll[model.Environment](tx, bucketEnvs)
	if err != nil {
		return model.Environment{}, err
	}
	return findEnv(envs, nameOrTag)
}

// findEnv is resolveEnv over environments already read.
func findEnv(envs []model.Environment, nameOrTag string) (model.Environment, error) {
	for _, e := range envs {
		if e.Name == nameOrTag {
			return e, nil
		}
	}
	for _, e := range envs {
		if e.Tag == nameOrTag {
			return e, nil
		}
	}
	return model.Environment{}, fail(ErrNotFound, "there is no environment %s: pick one from `keyden env list` or add it with `keyden env add`", model.Quote(nameOrTag))
}

// Environments lists environments in their order.
func (b *core) Environments(ctx context.Context) ([]model.Environment, error) {
	var out []model.Environment
	err := b.view(ctx, func(tx kv) error {
		var err error
		out, err = readAll[model.Environment](tx, bucketEnvs)
		return err
	})
	sort.SliceStable(out, func(i, j int) bool { return out[i].Order < out[j].Order })
	return out, err
}

// AddEnvironment adds an environment; its name and tag must both be new.
// Order 0 puts it after the others.
func (b *core) AddEnvironment(ctx context.Context, e model.Environment) (model.Environment, error) {
	if err := model.ValidateEnvName(e.Name); err != nil {
		return e, fail(ErrInvalid, "%s", err)
	}
	if e.Tag == "" {
		e.Tag = e.Name
	}
	if err := model.ValidateTag(e.Tag); err != nil {
		return e, fail(ErrInvalid, "%s", err)
	}
	err := b.update(ctx, func(tx kv) error {
		if err := b.mayManage(tx, "add environments"); err != nil {
			return err
		}
		// Its keys would be made with the store's prefix.
		if err := storedKeyText(b.info(tx).Prefix, e); err != nil {
			return err
		}
		envs, err := readAll[model.Environment](tx, bucketEnvs)
		if err != nil {
			return err
		}
		last := 0
		for _, x := range envs {
			if x.Name == e.Name || x.Tag == e.Name {
				return fail(ErrExists, "an environment named %s already exists: choose another name", e.Name)
			}
			if x.Tag == e.Tag || x.Name == e.Tag {
				return fail(ErrExists, "the tag %s is already used by the environment %s: choose another with --tag", e.Tag, x.Name)
			}
			last = max(last, x.Order)
		}
		if e.Order == 0 {
			e.Order = last + 1
		}
		if err := putJSON(tx.Bucket(bucketEnvs), e.Name, e); err != nil {
			return err
		}
		return b.appendEvent(tx, model.Event{Action: model.ActionEnvAdd, Environment: e.Name, Detail: "tag " + e.Tag})
	})
	return e, err
}

// SetConfirmByName turns on or off, for one environment, the TUI's ask
// for a key's typed name before deleting or rotating it.
func (b *core) SetConfirmByName(ctx context.Context, name string, on bool) (model.Environment, error) {
	var env model.Environment
	err := b.update(ctx, func(tx kv) error {
		if err := b.mayManage(tx, "change environments"); err != nil {
			return err
		}
		var err error
		if env, err = resolveEnv(tx, name); err != nil {
			return err
		}
		env.ConfirmByName = on
		if err := putJSON(tx.Bucket(bucketEnvs), env.Name, env); err != nil {
			return err
		}
		detail := "confirm by name off"
		if on {
			detail = "confirm by name on"
		}
		return b.appendEvent(tx, model.Event{Action: model.ActionEnvSet, Environment: env.Name, Detail: detail})
	})
	return env, err
}

// RemoveEnvironment removes an environment no key uses.
func (b *core) RemoveEnvironment(ctx context.Context, name string) error {
	return b.update(ctx, func(tx kv) error {
		if err := b.mayManage(tx, "remove environments"); err != nil {
			return err
		}
		env, err := resolveEnv(tx, name)
		if err != nil {
			return err
		}
		n, err := b.countKeys(tx, func(k *model.Key) bool { return k.Environment == env.Name })
		if err != nil {
			return err
		}
		if n > 0 {
			// Not "move": a key's environment is part of its secret (the tag),
			// so keyden move changes only channels.
			return fail(ErrInUse, "the environment %s is used by %d %s: delete %s first (keyden delete --filter env:%s), as a key cannot change environment",
				env.Name, n, plural(n, "key", "keys"), plural(n, "it", "them"), env.Name)
		}
		if err := tx.Bucket(bucketEnvs).Delete([]byte(env.Name)); err != nil {
			return err
		}
		return b.appendEvent(tx, model.Event{Action: model.ActionEnvRemove, Environment: env.Name})
	})
}

// Channels lists channels by name.
func (b *core) Channels(ctx context.Context) ([]model.Channel, error) {
	var out []model.Channel
	err := b.view(ctx, func(tx kv) error {
		var err error
		out, err = readAll[model.Channel](tx, bucketChannels)
		return err
	})
	return out, err
}

// AddChannel adds a channel with a new name.
func (b *core) AddChannel(ctx context.Context, c model.Channel) (model.Channel, error) {
	if err := model.ValidateChannelName(c.Name); err != nil {
		return c, fail(ErrInvalid, "%s", err)
	}
	desc, err := model.ValidateDescription(c.Description)
	if err != nil {
		return c, fail(ErrInvalid, "%s", err)
	}
	c.Description = desc
	err = b.update(ctx, func(tx kv) error {
		if err := b.mayEditChannels(tx); err != nil {
			return err
		}
		bk := tx.Bucket(bucketChannels)
		if bk.Get([]byte(c.Name)) != nil {
			return fail(ErrExists, "a channel named %s already exists: choose another name", c.Name)
		}
		c.CreatedAt, c.CreatedBy = b.now(), b.opt.Actor
		if err := putJSON(bk, c.Name, c); err != nil {
			return err
		}
		return b.appendEvent(tx, model.Event{Action: model.ActionChannelAdd, Channel: c.Name})
	})
	return c, err
}

// RemoveChannel removes a channel no key uses.
func (b *core) RemoveChannel(ctx context.Context, name string) error {
	return b.update(ctx, func(tx kv) error {
		if err := b.mayEditChannels(tx); err != nil {
			return err
		}
		bk := tx.Bucket(bucketChannels)
		if bk.Get([]byte(name)) == nil {
			return fail(ErrNotFound, "there is no channel %s: see `keyden channel list`", model.Quote(name))
		}
		n, err := b.countKeys(tx, func(k *model.Key) bool { return k.Channel == name })
		if err != nil {
			return err
		}
		if n > 0 {
			return fail(ErrInUse, "the channel %s is used by %d %s: `keyden move` or delete them first", name, n, plural(n, "key", "keys"))
		}
		if err := bk.Delete([]byte(name)); err != nil {
			return err
		}
		return b.appendEvent(tx, model.Event{Action: model.ActionChannelRemove, Channel: name})
	})
}

func (b *core) countKeys(tx kv, match func(*model.Key) bool) (int, error) {
	n := 0
	var k model.Key
	lookup := b.lookup(tx)
	err := tx.Bucket(bucketKeys).ForEach(func(id, v []byte) error {
		if err := model.DecodeKeyWith(string(id), string(v), &k, lookup); err != nil {
			return fail(ErrDamaged, "the key record %s is damaged: restore the store from a backup", model.Quote(string(id)))
		}
		if match(&k) {
			n++
		}
		return nil
	})
	return n, err
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
