package tui

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"keyden/keygen"
	"keyden/model"
	"keyden/storage"
)

// memStore is a fake Store for the goldens alone: fixed ids, hints and
// secrets (a real store picks its own, and orders ties by them), and a
// generation that moves with every change. What the app does to a store
// is tested on the real one (sampleBolt); here only what the goldens do
// works: create, rotate, add an environment, and a refused channel removal.
type memStore struct {
	mu       sync.Mutex
	keys     []model.Key
	envs     []model.Environment
	channels []model.Channel
	gen      uint64
	next     int
	now      func() time.Time
	actor    string
	members  model.Members
	events   []model.Event
}

var _ storage.Store = (*memStore)(nil)

// errFixed is the fake's answer to a change the goldens do not make.
var errFixed = errors.New("the fixed test store does not do this: test it on sampleBolt")

var testNow = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

func newMemStore() *memStore {
	return &memStore{envs: model.DefaultEnvironments(), now: func() time.Time { return testNow }, actor: "alice",
		members:  model.Members{{User: "alice", Role: model.RoleSuperAdmin}, {User: "bob", Role: model.RoleAdmin}},
		channels: []model.Channel{{Name: "default"}, {Name: "mobile-app", Description: "iOS and Android"}}}
}

// sampleStore has one key of each kind a reviewer should notice.
func sampleStore() *memStore {
	m := newMemStore()
	day := 24 * time.Hour
	add := func(name, ch, env string, created, used, expires time.Duration, scopes ...string) {
		k := model.Key{ID: fmt.Sprintf("k%07d", len(m.keys)+1), Name: name, Channel: ch, Environment: env,
			Type: model.TypeBearer, Scopes: scopes, CreatedAt: testNow.Add(-created), CreatedBy: "alice",
			Hint: fmt.Sprintf("kd_%s_%04d…abcd", map[string]string{"dev": "dev", "staging": "stg", "prod": "prod"}[env], len(m.keys)+1)}
		if used > 0 {
			k.LastUsedAt, k.UseCount, k.LastUsedFrom = testNow.Add(-used), 12, "203.0.113.7"
		}
		if expires != 0 {
			k.ExpiresAt = testNow.Add(expires)
		}
		m.keys = append(m.keys, k)
	}
	add("web checkout", "default", "prod", 40*day, 2*time.Minute, 0, "orders:*")
	add("partner feed", "mobile-app", "staging", 200*day, 120*day, 0, "feed:read")
	add("ios build", "mobile-app", "dev", 30*day, 0, 0)
	add("billing sync", "default", "prod", 60*day, 3*day, 5*day, "billing:read", "billing:write")
	add("old export", "default", "dev", 400*day, 300*day, -2*day)
	add("fresh key", "default", "staging", time.Hour, 0, 90*day)
	return m
}

func (m *memStore) Info(context.Context) (storage.Info, error) {
	return storage.Info{Location: "/tmp/keyden.db", Prefix: "kd", Format: keygen.FormatDefault, Keys: len(m.keys)}, nil
}

func (m *memStore) Generation(context.Context) (storage.Generation, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return storage.Generation{Any: m.gen, Keys: m.gen}, nil
}

func (m *memStore) CreateKey(_ context.Context, req storage.CreateRequest) (storage.Created, error) {
	if _, err := model.ValidateKeyName(req.Name); err != nil {
		return storage.Created{}, err
	}
	return m.create(req)
}

// create is CreateKey without the name check: a rotation copies the old
// key's name as it is stored, as storage does.
func (m *memStore) create(req storage.CreateRequest) (storage.Created, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.next++
	secret := "kd_prod_0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmn0gZMuH"
	k := model.Key{ID: fmt.Sprintf("knew%04d", m.next), Name: req.Name, Channel: req.Channel, Environment: req.Environment,
		Type: req.Type, Scopes: req.Scopes, AllowedIPs: req.AllowedIPs, ExpiresAt: req.ExpiresAt,
		CreatedAt: m.now(), CreatedBy: "alice", Hint: keygen.Hint(secret)}
	m.keys = append(m.keys, k)
	m.gen++
	m.events = append(m.events, model.Event{Seq: uint64(len(m.events) + 1), Time: m.now(), Actor: m.actor, Action: model.ActionCreate,
		KeyID: k.ID, KeyName: k.Name, Channel: k.Channel, Environment: k.Environment})
	return storage.Created{Key: k, Secret: secret}, nil
}

func (m *memStore) ListKeys(context.Context, storage.Filter) ([]model.Key, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]model.Key(nil), m.keys...), nil
}

func (m *memStore) GetKey(_ context.Context, id string) (model.Key, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, k := range m.keys {
		if k.ID == id {
			return k, nil
		}
	}
	return model.Key{}, storage.ErrNotFound
}

func (m *memStore) DeleteKey(context.Context, string) (model.Key, error) {
	return model.Key{}, errFixed
}

func (m *memStore) Verify(context.Context, storage.VerifyRequest) (storage.VerifyResult, error) {
	return storage.VerifyResult{}, nil
}

func (m *memStore) Environments(context.Context) ([]model.Environment, error) {
	return append([]model.Environment(nil), m.envs...), nil
}

func (m *memStore) AddEnvironment(_ context.Context, e model.Environment) (model.Environment, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if e.Tag == "" {
		e.Tag = e.Name
	}
	e.Order = len(m.envs) + 1
	m.envs = append(m.envs, e)
	m.gen++
	return e, nil
}

func (m *memStore) RemoveEnvironment(context.Context, string) error {
	return errFixed
}

func (m *memStore) SetConfirmByName(context.Context, string, bool) (model.Environment, error) {
	return model.Environment{}, errFixed
}

func (m *memStore) Channels(context.Context) ([]model.Channel, error) {
	return append([]model.Channel(nil), m.channels...), nil
}

func (m *memStore) AddChannel(context.Context, model.Channel) (model.Channel, error) {
	return model.Channel{}, errFixed
}

func (m *memStore) RemoveChannel(_ context.Context, name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, k := range m.keys {
		if k.Channel == name {
			return fmt.Errorf("the channel %s is used by keys: delete or move them first: %w", name, storage.ErrInUse)
		}
	}
	for i, c := range m.channels {
		if c.Name == name {
			m.channels = append(m.channels[:i], m.channels[i+1:]...)
			m.gen++
			return nil
		}
	}
	return storage.ErrNotFound
}

func (m *memStore) Members(context.Context) ([]model.Member, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]model.Member(nil), m.members...), nil
}

func (m *memStore) Actor() string { return m.actor }

func (m *memStore) Audit(_ context.Context, f storage.AuditFilter) ([]model.Event, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []model.Event
	for i := len(m.events) - 1; i >= 0; i-- {
		if f.KeyID == "" || m.events[i].KeyID == f.KeyID {
			out = append(out, m.events[i])
		}
	}
	return out, nil
}

func (m *memStore) find(id string) int {
	for i := range m.keys {
		if m.keys[i].ID == id {
			return i
		}
	}
	return -1
}

func (m *memStore) RotateKey(_ context.Context, req storage.RotateRequest) (storage.Rotated, error) {
	m.mu.Lock()
	i := m.find(req.ID)
	if i < 0 {
		m.mu.Unlock()
		return storage.Rotated{}, storage.ErrNotFound
	}
	old := m.keys[i]
	if err := m.members.CanChangeKey(m.actor, model.KeyRotate, &old); err != nil {
		m.mu.Unlock()
		return storage.Rotated{}, fmt.Errorf("%v: %w", err, storage.ErrForbidden)
	}
	m.mu.Unlock()
	c, err := m.create(storage.CreateRequest{Name: old.Name, Channel: old.Channel,
		Environment: old.Environment, Type: old.Type, Scopes: old.Scopes, AllowedIPs: old.AllowedIPs})
	if err != nil {
		return storage.Rotated{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	i = m.find(req.ID)
	m.keys[i].RotatedTo, m.keys[i].ExpiresAt = c.Key.ID, m.now().Add(req.Grace)
	j := m.find(c.Key.ID)
	m.keys[j].RotatedFrom = old.ID
	c.Key = m.keys[j]
	m.gen++
	return storage.Rotated{New: c, Old: m.keys[i]}, nil
}

func (m *memStore) SetDisabled(context.Context, string, bool) (model.Key, error) {
	return model.Key{}, errFixed
}

func (m *memStore) AddMember(context.Context, string, model.Role) (model.Member, error) {
	return model.Member{}, errFixed
}

func (m *memStore) RemoveMember(context.Context, string) error {
	return errFixed
}
func (m *memStore) Backup(context.Context, string) error { return nil }

// Snapshot and Updates: the memStore keeps no change feed, so any change
// asks the app for a snapshot (the real stores' feed is tested with them).
func (m *memStore) Snapshot(ctx context.Context) ([]model.Key, storage.Position, error) {
	g, err := m.Generation(ctx)
	if err != nil {
		return nil, storage.Position{}, err
	}
	keys, _ := m.ListKeys(ctx, storage.Filter{})
	return keys, storage.Position{Audit: g.Any}, nil
}

func (m *memStore) Updates(ctx context.Context, from storage.Position) (storage.Changes, error) {
	g, err := m.Generation(ctx)
	if err != nil {
		return storage.Changes{}, err
	}
	return storage.Changes{Seq: g.Any, Reset: g.Any != from.Audit}, nil
}

// The rest of storage.Store, which the app does not use.
func (m *memStore) Location() string           { return "/tmp/keyden.db" }
func (m *memStore) Init(context.Context) error { return nil }
func (m *memStore) FeedHead(ctx context.Context) (uint64, int64, error) {
	g, err := m.Generation(ctx)
	return g.Any, 0, err
}
func (m *memStore) RecordUses(context.Context, []storage.Use) error { return nil }
