// Package model holds keyden's domain types and the rules for what a valid
// value is. It knows nothing of storage or screens.
package model

import (
	"encoding/json"
	"time"
)

// KeyType says how apps are told to send a key.
type KeyType string

const (
	TypeBearer  KeyType = "bearer"
	TypeXAPIKey KeyType = "x-api-key"
)

// Header is the HTTP header line an app sends the key in.
func (t KeyType) Header(key string) string {
	if t == TypeXAPIKey {
		return "x-api-key: " + key
	}
	return "Authorization: Bearer " + key
}

// Role is a member's standing in a store.
type Role string

const (
	RoleSuperAdmin Role = "super-admin"
	RoleAdmin      Role = "admin"
)

// Key is one API key as stored: never the secret, only its hash.
type Key struct {
	ID           string
	Name         string
	Channel      string
	Environment  string
	Type         KeyType
	Scopes       []string
	AllowedIPs   []string
	CreatedAt    time.Time
	CreatedBy    string
	ExpiresAt    time.Time // zero: never
	LastUsedAt   time.Time // zero: never used
	LastUsedFrom string
	UseCount     uint64
	Hint         string
	Hash         [32]byte
	Disabled     bool
	// ExpiryLogged says the audit log already holds this key's expiry
	// (written at the first refusal after it expired).
	ExpiryLogged bool
	RotatedFrom  string // the key this one replaced
	RotatedTo    string // the key that replaced this one
	// uses is the key's DailyUses as stored (packUses), "" when it has
	// none: a key in memory carries 16 bytes for it, not the whole ring.
	uses string
	// Decoy marks a key made to be found: it is never valid, and each use
	// of it is an alert (its last use and count record the latest).
	Decoy bool
}

// Tripped says k is a decoy that someone has used.
func (k *Key) Tripped() bool { return k.Decoy && (k.UseCount > 0 || !k.LastUsedAt.IsZero()) }

// Expired says whether the key's expiry has passed at now.
func (k *Key) Expired(now time.Time) bool {
	return !k.ExpiresAt.IsZero() && !now.Before(k.ExpiresAt)
}

// KeyView is the stable JSON shape of a key. It has no field for the hash
// or the secret, so neither can reach JSON output by accident.
type KeyView struct {
	ID           string     `json:"id"`
	Name         string     `json:"name"`
	Channel      string     `json:"channel"`
	Environment  string     `json:"environment"`
	Type         KeyType    `json:"type"`
	Scopes       []string   `json:"scopes"`
	AllowedIPs   []string   `json:"allowed_ips"`
	CreatedAt    time.Time  `json:"created_at"`
	CreatedBy    string     `json:"created_by"`
	ExpiresAt    *time.Time `json:"expires_at"`
	LastUsedAt   *time.Time `json:"last_used_at"`
	LastUsedFrom string     `json:"last_used_from,omitempty"`
	UseCount     uint64     `json:"use_count"`
	Hint         string     `json:"hint"`
	Disabled     bool       `json:"disabled"`
	RotatedFrom  string     `json:"rotated_from,omitempty"`
	RotatedTo    string     `json:"rotated_to,omitempty"`
	Decoy        bool       `json:"decoy,omitempty"`
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// MarshalJSON writes the documented shape; times are UTC RFC 3339, absent ones null.
func (k Key) MarshalJSON() ([]byte, error) { return k.AppendJSON(nil), nil }

// View is the key as JSON shows it.
func (k *Key) View() KeyView {
	return KeyView{
		ID: k.ID, Name: k.Name, Channel: k.Channel, Environment: k.Environment,
		Type: k.Type, Scopes: nonNil(k.Scopes), AllowedIPs: nonNil(k.AllowedIPs),
		CreatedAt: k.CreatedAt.UTC(), CreatedBy: k.CreatedBy,
		ExpiresAt: optTime(k.ExpiresAt), LastUsedAt: optTime(k.LastUsedAt),
		LastUsedFrom: k.LastUsedFrom, UseCount: k.UseCount, Hint: k.Hint,
		Disabled: k.Disabled, RotatedFrom: k.RotatedFrom, RotatedTo: k.RotatedTo, Decoy: k.Decoy,
	}
}

// Environment is a deployment stage; its Tag goes into every key made in it.
type Environment struct {
	Name  string `json:"name"`
	Tag   string `json:"tag"`
	Order int    `json:"order"`
	// ConfirmByName makes the TUI ask for a key's name, typed, before it
	// deletes or rotates a key of this environment.
	ConfirmByName bool `json:"confirm_by_name"`
}

// ConfirmByNameFor is the default of ConfirmByName for a new environment,
// and its value in a record written before the field existed: on for prod.
func ConfirmByNameFor(name string) bool { return name == "prod" }

// UnmarshalJSON reads a record without confirm_by_name (from a store made
// before it existed) with the default for its name.
func (e *Environment) UnmarshalJSON(b []byte) error {
	type plain Environment
	var r struct {
		plain
		ConfirmByName *bool `json:"confirm_by_name"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return err
	}
	*e = Environment(r.plain)
	e.ConfirmByName = ConfirmByNameFor(e.Name)
	if r.ConfirmByName != nil {
		e.ConfirmByName = *r.ConfirmByName
	}
	return nil
}

// DefaultEnvironments are what a new store starts with.
func DefaultEnvironments() []Environment {
	envs := []Environment{{Name: "dev", Tag: "dev", Order: 1}, {Name: "staging", Tag: "stg", Order: 2}, {Name: "prod", Tag: "prod", Order: 3}}
	for i := range envs {
		envs[i].ConfirmByName = ConfirmByNameFor(envs[i].Name)
	}
	return envs
}

// Channel groups keys by who uses them: an app, a partner, a client.
type Channel struct {
	Name        string    `json:"name"`
	Description string    `json:"description"`
	CreatedAt   time.Time `json:"created_at"`
	CreatedBy   string    `json:"created_by"`
}

// DefaultChannel is the channel a new store starts with.
const DefaultChannel = "default"

// Member is an OS user with a role in a store; over keyden ssh a member
// is known by one of its SSH public keys.
type Member struct {
	User    string    `json:"user"`
	Role    Role      `json:"role"`
	AddedAt time.Time `json:"added_at"`
	AddedBy string    `json:"added_by"`
	SSHKeys []SSHKey  `json:"ssh_keys,omitempty"`
}

// Event is one line of the audit log. It never holds a secret or a hash.
type Event struct {
	Seq   uint64    `json:"seq"`
	Time  time.Time `json:"time"`
	Actor string    `json:"actor"`
	// ActorKey is the fingerprint of the SSH key the actor came in with
	// over keyden ssh; empty for local use.
	ActorKey    string `json:"actor_key,omitempty"`
	Action      string `json:"action"`
	KeyID       string `json:"key_id,omitempty"`
	KeyName     string `json:"key_name,omitempty"`
	Channel     string `json:"channel,omitempty"`
	Environment string `json:"environment,omitempty"`
	Detail      string `json:"detail,omitempty"`
	// ClientIP and UserAgent are who used a decoy (ActionDecoyUse).
	ClientIP  string `json:"client_ip,omitempty"`
	UserAgent string `json:"user_agent,omitempty"`
}

// Audit actions.
const (
	ActionInit          = "init"
	ActionCreate        = "create"
	ActionDelete        = "delete"
	ActionChannelAdd    = "channel-add"
	ActionChannelRemove = "channel-rm"
	ActionEnvAdd        = "env-add"
	ActionEnvRemove     = "env-rm"
	ActionEnvSet        = "env-set"
	ActionRotate        = "rotate"
	ActionDisable       = "disable"
	ActionEnable        = "enable"
	ActionMove          = "move" // to another channel; Detail says from which
	ActionExpire        = "expire"
	ActionMemberAdd     = "member-add"
	ActionMemberRemove  = "member-rm"
	ActionMemberKeyAdd  = "member-key-add"
	ActionMemberKeyRm   = "member-key-rm"
	// ActionLeak: a live key was found where it should not be (Detail says where).
	ActionLeak = "leak"
	// ActionDecoyUse: someone presented a decoy key: an alert.
	ActionDecoyUse = "decoy-use"
)

// Health is what a reviewer should notice about a key, worst first.
type Health string

const (
	HealthOK       Health = ""
	HealthTripped  Health = "tripped" // a decoy someone has used
	HealthDecoy    Health = "decoy"   // a decoy not used yet
	HealthDisabled Health = "disabled"
	HealthExpired  Health = "expired"
	HealthExpiring Health = "expiring" // within 7 days
	HealthStale    Health = "stale"    // unused for 90 days or more
	HealthUnused   Health = "unused"   // never used, and older than a week
)

// Review thresholds for Health.
const (
	ExpiringWithin = 7 * 24 * time.Hour
	StaleAfter     = 90 * 24 * time.Hour
	UnusedAfter    = 7 * 24 * time.Hour
)

// Health says what stands out about k at now.
func (k *Key) Health(now time.Time) Health {
	switch {
	case k.Tripped():
		return HealthTripped
	case k.Decoy:
		return HealthDecoy
	case k.Disabled:
		return HealthDisabled
	case k.Expired(now):
		return HealthExpired
	case !k.ExpiresAt.IsZero() && k.ExpiresAt.Sub(now) <= ExpiringWithin:
		return HealthExpiring
	case !k.LastUsedAt.IsZero() && now.Sub(k.LastUsedAt) >= StaleAfter:
		return HealthStale
	case k.LastUsedAt.IsZero() && now.Sub(k.CreatedAt) > UnusedAfter:
		return HealthUnused
	}
	return HealthOK
}

// Review questions, shared by `keyden list` and the TUI's quick filters.

// UnusedFor says k has not been used for d: its last use, or its creation
// when it was never used, is at least d ago.
func (k *Key) UnusedFor(d time.Duration, now time.Time) bool {
	last := k.LastUsedAt
	if last.IsZero() {
		last = k.CreatedAt
	}
	return now.Sub(last) >= d
}

// NeverUsed says k has never been used.
func (k *Key) NeverUsed() bool { return k.LastUsedAt.IsZero() }

// ExpiringWithin says k expires within d of now (or already has).
func (k *Key) ExpiringWithin(d time.Duration, now time.Time) bool {
	return !k.ExpiresAt.IsZero() && k.ExpiresAt.Sub(now) <= d
}
