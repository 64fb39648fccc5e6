package storage

import (
	"cmp"
	"context"
	"encoding/binary"
	"strconv"
	"time"
	"unsafe"

	"keyden/keygen"
	"keyden/model"
)

// Info reads the store's settings and key count.
func (b *core) Info(ctx context.Context) (Info, error) {
	var in Info
	err := b.view(ctx, func(tx kv) error {
		in = b.info(tx)
		return nil
	})
	return in, err
}

func (b *core) info(tx kv) Info {
	meta := tx.Bucket(bucketMeta)
	created, _ := time.Parse(time.RFC3339Nano, string(meta.Get(metaCreatedAt)))
	f, _ := keygen.ParseFormat(string(meta.Get(metaFormat)))
	schema, _ := strconv.Atoi(string(meta.Get(metaSchema)))
	return Info{
		Location: b.be.location(), Schema: schema, Prefix: string(meta.Get(metaPrefix)),
		Format: f, CreatedAt: created, CreatedBy: string(meta.Get(metaCreatedBy)),
		Keys: int(getUint(meta, metaKeyCount)),
	}
}

// Generation reads the write counters.
func (b *core) Generation(ctx context.Context) (Generation, error) {
	var g Generation
	err := b.view(ctx, func(tx kv) error {
		meta := tx.Bucket(bucketMeta)
		g = Generation{Any: getUint(meta, metaGen), Keys: getUint(meta, metaKeysGen)}
		return nil
	})
	return g, err
}

// CreateKey validates req against the store, makes a key and commits the
// record, its hash index and its audit event in one transaction.
func (b *core) CreateKey(ctx context.Context, req CreateRequest) (Created, error) {
	out, err := b.CreateKeys(ctx, []KeySeed{{CreateRequest: req}})
	if err != nil {
		return Created{}, err
	}
	return out[0], nil
}

// KeySeed is a key for CreateKeys: its request, and the history a key
// brought in from elsewhere already has.
type KeySeed struct {
	CreateRequest
	CreatedAt  time.Time // zero: now
	CreatedBy  string    // empty: the actor
	LastUsedAt time.Time
	UseCount   uint64
	Days       model.DailyUses // uses per day, for a filled store's 30D column
}

// createBatch bounds the keys CreateKeys puts in one transaction. A
// transaction rewrites every page it touches to a new place, and the file
// must hold both copies until it commits: 10,000 new keys a transaction
// touched a fifth of a million-key file's pages, which stayed in the file,
// free, 38 bytes a key. A thousand keep that to a few bytes a key at about
// the same speed (a new key touches about one page either way).
const createBatch = 1000

// CreateKeys makes keys as CreateKey does, each checked the same way, in
// as few transactions as the backend takes: for filling a store (fixtures,
// measurements). A failure keeps the transactions already committed.
func (b *core) CreateKeys(ctx context.Context, seeds []KeySeed) ([]Created, error) {
	out := make([]Created, 0, len(seeds))
	for len(seeds) > 0 {
		chunk := append([]KeySeed(nil), seeds[:min(len(seeds), b.be.batch(), createBatch)]...)
		for i := range chunk {
			var err error
			if chunk[i].CreateRequest, err = normalizeCreate(chunk[i].CreateRequest); err != nil {
				return out, err
			}
		}
		var made []Created
		err := b.update(ctx, func(tx kv) (err error) {
			made, err = b.insertKeys(tx, chunk)
			return err
		})
		if err != nil {
			return out, err
		}
		out = append(out, made...)
		seeds = seeds[len(chunk):]
	}
	return out, nil
}

// insertKeys checks new keys against the store (environment, role,
// channel, in that order) and inserts them, in the caller's transaction.
func (b *core) insertKeys(tx kv, seeds []KeySeed) ([]Created, error) {
	envs, err := readAll[model.Environment](tx, bucketEnvs)
	if err != nil {
		return nil, err
	}
	var mayCreate error
	picked := make([]model.Environment, len(seeds))
	for i := range seeds {
		if picked[i], err = findEnv(envs, seeds[i].Environment); err != nil {
			return nil, err
		}
		if i == 0 {
			ms, err := b.rules(tx)
			if err != nil {
				return nil, err
			}
			if err := ms.CanCreateKey(b.opt.Actor); err != nil {
				mayCreate = fail(ErrForbidden, "%s", err)
			}
		}
		if mayCreate != nil {
			return nil, mayCreate
		}
		if ch := seeds[i].Channel; tx.Bucket(bucketChannels).Get([]byte(ch)) == nil {
			return nil, fail(ErrNotFound, "there is no channel %s: add it with `keyden channel add %s` or pick one from `keyden channel list`", model.Quote(ch), ch)
		}
	}
	in := b.info(tx)
	out := make([]Created, 0, len(seeds))
	for i, s := range seeds {
		c, err := b.insertKey(tx, in, picked[i], s, "")
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// normalizeCreate applies the model's rules, so every front end gets the same answers.
func normalizeCreate(req CreateRequest) (CreateRequest, error) {
	name, err := model.ValidateKeyName(req.Name)
	if err != nil {
		return req, fail(ErrInvalid, "%s", err)
	}
	req.Name = name
	if err := model.ValidateChannelName(req.Channel); err != nil {
		return req, fail(ErrInvalid, "%s", err)
	}
	if req.Environment == "" {
		return req, fail(ErrInvalid, "no environment given: pass --env, such as --env prod")
	}
	if req.Type == "" {
		req.Type = model.TypeBearer
	}
	if _, err := model.ParseKeyType(string(req.Type)); err != nil {
		return req, fail(ErrInvalid, "%s", err)
	}
	if req.Scopes, err = model.NormalizeScopes(req.Scopes); err != nil {
		return req, fail(ErrInvalid, "%s", err)
	}
	if req.AllowedIPs, err = model.NormalizeAllowedIPs(req.AllowedIPs); err != nil {
		return req, fail(ErrInvalid, "%s", err)
	}
	return req, nil
}

// storedKeyText refuses a prefix or tag that keyden's input checks would
// have refused: it was written by other means (a hand-edited file, an etcd
// writer), and a key made from it could carry escapes or never verify.
func storedKeyText(prefix string, env model.Environment) error {
	if model.ValidatePrefix(prefix) != nil {
		return fail(ErrDamaged, "the store's key prefix is not valid, so the store may have been tampered with: run `keyden check`")
	}
	if model.ValidateTag(env.Tag) != nil {
		return fail(ErrDamaged, "the tag of the environment %s is not valid, so the store may have been tampered with: run `keyden check`", model.Quote(env.Name))
	}
	return nil
}

// insertKey makes and stores a key with its create event (detail says
// why, for rotations).
func (b *core) insertKey(tx kv, in Info, env model.Environment, req KeySeed, detail string) (Created, error) {
	if err := storedKeyText(in.Prefix, env); err != nil {
		return Created{}, err
	}
	secret, hash, err := b.newSecret(tx, in, env)
	if err != nil {
		return Created{}, err
	}
	k := model.Key{
		ID: idFor(hash), Name: req.Name, Channel: req.Channel, Environment: env.Name, Type: req.Type,
		Scopes: req.Scopes, AllowedIPs: req.AllowedIPs, CreatedAt: b.now(), CreatedBy: b.opt.Actor,
		ExpiresAt: req.ExpiresAt, Hint: keygen.Hint(secret), Hash: hash,
		LastUsedAt: req.LastUsedAt, UseCount: req.UseCount, Decoy: req.Decoy,
	}
	if !req.CreatedAt.IsZero() {
		k.CreatedAt = req.CreatedAt
	}
	if !req.Days.Empty() {
		k.SetDailyUses(req.Days)
	}
	if req.CreatedBy != "" {
		k.CreatedBy = req.CreatedBy
	}
	if err := b.putKey(tx, &k); err != nil {
		return Created{}, err
	}
	if err := bumpUint(tx.Bucket(bucketMeta), metaKeyCount, 1); err != nil {
		return Created{}, err
	}
	ev := keyEvent(model.ActionCreate, &k)
	ev.Detail = detail
	if k.Decoy {
		ev.Detail = "a decoy: every use of it is an alert"
	}
	if err := b.appendEvent(tx, ev); err != nil {
		return Created{}, err
	}
	return Created{Key: k, Secret: secret, Grown: keygen.LayoutFor(in.Format, in.Prefix, env.Tag).Grown}, nil
}

// newSecret makes a secret whose id (idFor its hash) is free.
func (b *core) newSecret(tx kv, in Info, env model.Environment) (string, keygen.Hash, error) {
	// A taken id is one chance in 36^7 / keys (1 in 78,000 at a million
	// keys): make another secret. The same hash twice is 2^-256: a broken
	// random source, not bad luck, and so is finding taken ids again and
	// again. Refuse rather than alias two keys.
	broken := fail(ErrUnavailable, "the new key collided with an existing one, which means the random source is broken: do not use this machine to make keys")
	for range 20 {
		secret, err := keygen.GenerateFrom(b.opt.Rand, in.Format, in.Prefix, env.Tag)
		if err != nil {
			return "", keygen.Hash{}, fail(ErrUnavailable, "%s", err)
		}
		h := keygen.HashKey(secret)
		if _, found, err := b.keyByHash(tx, h); err != nil || found {
			return "", keygen.Hash{}, cmp.Or(err, broken)
		}
		if tx.Bucket(bucketKeys).Get([]byte(idFor(h))) == nil {
			return secret, h, nil
		}
	}
	return "", keygen.Hash{}, broken
}

// idFor is the id of the key with hash h: k and 7 base-36 digits of the
// hash's first 8 bytes. The record is stored under it, so a verify finds a
// key by its hash in one read with no index to keep (and no index entry
// of 56 bytes or more a key on disk). The id tells nothing of the secret
// that its hash does not: 36 bits of SHA-256 of at least 128 random bits.
// Keys made before schema 2 have random ids and a hash index entry.
func idFor(h keygen.Hash) string {
	const digits = "0123456789abcdefghijklmnopqrstuvwxyz"
	id := []byte("k0000000")
	v := binary.BigEndian.Uint64(h[:8])
	for i := len(id) - 1; i > 0; i-- {
		id[i] = digits[v%36]
		v /= 36
	}
	return string(id)
}

// keyByHash finds the key with hash h: under idFor(h), or through the hash
// index for a key made before schema 2. found is false when no key has it.
func (b *core) keyByHash(tx kv, h keygen.Hash) (k model.Key, found bool, err error) {
	id := idFor(h)
	if raw := tx.Bucket(bucketKeys).Get([]byte(id)); raw != nil {
		if k, err = b.decodeRecord(tx, id, raw); err != nil || k.Hash == h {
			return k, err == nil, err
		}
	}
	old := tx.Bucket(bucketHashes).Get(h[:])
	if old == nil {
		return model.Key{}, false, nil
	}
	// An entry that points nowhere, or to a key of another hash, is a
	// damaged index: no match, so a deleted key never passes for another.
	raw := tx.Bucket(bucketKeys).Get(old)
	if raw == nil {
		return model.Key{}, false, nil
	}
	if k, err = b.decodeRecord(tx, string(old), raw); err != nil || k.Hash != h {
		return model.Key{}, false, err
	}
	return k, true, nil
}

func keyEvent(action string, k *model.Key) model.Event {
	return model.Event{Action: action, KeyID: k.ID, KeyName: k.Name, Channel: k.Channel, Environment: k.Environment}
}

// ListKeys returns every key matching f, in id order.
func (b *core) ListKeys(ctx context.Context, f Filter) ([]model.Key, error) {
	var out []model.Key
	err := b.view(ctx, func(tx kv) error {
		envName, err := b.checkFilter(tx, f)
		if err != nil {
			return err
		}
		now := b.now()
		out, err = b.readKeys(tx, func(k *model.Key) bool { return f.match(k, envName, now) })
		return err
	})
	return out, err
}

// checkFilter refuses a filter naming an environment or channel the store
// lacks, and returns the environment's name (f may give its tag).
func (b *core) checkFilter(tx kv, f Filter) (envName string, err error) {
	if f.Environment != "" {
		env, err := resolveEnv(tx, f.Environment)
		if err != nil {
			return "", err
		}
		envName = env.Name
	}
	if f.Channel != "" && tx.Bucket(bucketChannels).Get([]byte(f.Channel)) == nil {
		return "", fail(ErrNotFound, "there is no channel %s: pick one from `keyden channel list` or add it with `keyden channel add`", model.Quote(f.Channel))
	}
	return envName, nil
}

// readKeys decodes every key record that keep accepts (nil: all), through
// an arena so a record's strings cost no allocation of their own.
func (b *core) readKeys(tx kv, keep func(*model.Key) bool) ([]model.Key, error) {
	out := make([]model.Key, 0, keyCountHint(tx))
	var a arena
	read := releasing(tx) // the arena copies: no string points into the map
	lookup := b.lookup(tx)
	err := tx.Bucket(bucketKeys).ForEach(func(id, v []byte) error {
		read()
		out = append(out, model.Key{})
		k := &out[len(out)-1]
		if err := model.DecodeKeyWith(a.string(id), a.string(v), k, lookup); err != nil {
			return fail(ErrDamaged, "the key record %s in %s is damaged: restore the store from a backup", model.Quote(string(id)), b.be.location())
		}
		if keep != nil && !keep(k) {
			out = out[:len(out)-1]
		}
		return nil
	})
	return out, err
}

// arena copies records out of the memory map into large chunks, so decoding
// a record costs no allocation of its own for its strings. A chunk is never
// written again once a string points into it.
type arena struct{ buf []byte }

func (a *arena) string(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if len(b) > cap(a.buf)-len(a.buf) {
		a.buf = make([]byte, 0, max(256<<10, len(b)))
	}
	start := len(a.buf)
	a.buf = append(a.buf, b...)
	return unsafe.String(&a.buf[start], len(b))
}

// GetKey reads one key by id.
func (b *core) GetKey(ctx context.Context, id string) (model.Key, error) {
	var k model.Key
	err := b.view(ctx, func(tx kv) error {
		var err error
		k, err = b.getKey(tx, id)
		return err
	})
	return k, err
}

func (b *core) getKey(tx kv, id string) (model.Key, error) {
	var k model.Key
	v := tx.Bucket(bucketKeys).Get([]byte(id))
	if v == nil {
		return k, fail(ErrNotFound, "there is no key with id %s: see `keyden list` for ids", model.Quote(id))
	}
	return b.decodeRecord(tx, id, v)
}

func (b *core) decodeRecord(tx kv, id string, raw []byte) (model.Key, error) {
	var k model.Key
	if err := b.decode(tx, id, string(raw), &k); err != nil {
		return k, fail(ErrDamaged, "the key record %s is damaged: restore the store from a backup", model.Quote(id))
	}
	return k, nil
}

// DeleteKey removes a key (and its hash index entry, if it was made before schema 2); the next verify of it fails as unknown.
func (b *core) DeleteKey(ctx context.Context, id string) (model.Key, error) {
	var k model.Key
	err := b.update(ctx, func(tx kv) error {
		var err error
		if k, err = b.getKey(tx, id); err != nil {
			return err
		}
		return b.deleteIn(tx, &k)
	})
	return k, err
}

// deleteIn deletes k, read in tx, if the actor may.
func (b *core) deleteIn(tx kv, k *model.Key) error {
	if err := b.mayChange(tx, model.KeyDelete, k); err != nil {
		return err
	}
	if err := tx.Bucket(bucketKeys).Delete([]byte(k.ID)); err != nil {
		return err
	}
	if err := tx.Bucket(bucketHashes).Delete(k.Hash[:]); err != nil {
		return err
	}
	if err := bumpUint(tx.Bucket(bucketMeta), metaKeyCount, -1); err != nil {
		return err
	}
	return b.appendEvent(tx, keyEvent(model.ActionDelete, k))
}
