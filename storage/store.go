// Package storage keeps keyden's key set. Store is the seam the command line,
// the TUI and serve use; Bolt keeps the set in one bbolt file, Etcd under a
// prefix of an etcd cluster, both over the same core of rules. Nothing
// outside this package touches bbolt or etcd.
package storage

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"keyden/keygen"
	"keyden/model"
)

// Store is everything keyden does with its key set: the command line, the
// TUI, serve and migrate all use it, on a file (Bolt) or on etcd (Etcd).
// Each call is one whole operation: implementations hold no lock between
// calls, and a call ends early when its context does.
type Store interface {
	// Location names the store: a file path or an etcd URL.
	Location() string
	// Init creates a new store with the options' prefix and format, and
	// refuses when one is already there.
	Init(ctx context.Context) error
	Info(ctx context.Context) (Info, error)
	// Generation says when the store last changed, so a view can tell
	// when to re-read it and how urgently.
	Generation(ctx context.Context) (Generation, error)
	Feed

	CreateKey(ctx context.Context, req CreateRequest) (Created, error)
	ListKeys(ctx context.Context, f Filter) ([]model.Key, error)
	// EachKey gives the keys ListKeys would, oldest first, one at a time
	// as they are read (see stream.go); measure sees them all first.
	EachKey(ctx context.Context, f Filter, measure, fn func(*model.Key) error) error
	GetKey(ctx context.Context, id string) (model.Key, error)
	DeleteKey(ctx context.Context, id string) (model.Key, error)
	// RotateKey makes a replacement for a key and sets the old one to
	// expire after the grace; both are linked to each other.
	RotateKey(ctx context.Context, req RotateRequest) (Rotated, error)
	// SetDisabled disables or enables a key; a disabled key is refused.
	SetDisabled(ctx context.Context, id string, disabled bool) (model.Key, error)
	// ChangeKeys disables, enables, deletes, rotates or moves many keys,
	// each audited, reporting a refusal per key (see BulkRequest).
	ChangeKeys(ctx context.Context, req BulkRequest) ([]KeyOutcome, error)
	Verify(ctx context.Context, req VerifyRequest) (VerifyResult, error)
	// LookupHashes reads the keys with these hashes (leaving out unknown ones).
	LookupHashes(ctx context.Context, hashes []keygen.Hash) (map[keygen.Hash]model.Key, error)
	// RecordLeak audits a live key's leak and disables or rotates it.
	RecordLeak(ctx context.Context, l Leak, resp LeakResponse) (LeakOutcome, error)
	// AppliedLeakReport and RememberLeakReport keep the signed leak
	// reports applied, by their body's SHA-256, so one sent again changes
	// nothing.
	AppliedLeakReport(ctx context.Context, sum [32]byte) (LeakReport, bool, error)
	RememberLeakReport(ctx context.Context, sum [32]byte, labels string) error
	// RecordDecoyUse writes the alert for a use of a decoy a verifier saw.
	RecordDecoyUse(ctx context.Context, u DecoyUse) error
	// AuditAfter reads up to limit events after seq, oldest first.
	AuditAfter(ctx context.Context, seq uint64, limit int) ([]model.Event, error)
	// Heartbeat, RemoveVerifier and Verifiers keep the running verifiers'
	// reports of the change each has applied.
	Heartbeat(ctx context.Context, v Verifier) error
	RemoveVerifier(ctx context.Context, id string) error
	Verifiers(ctx context.Context) ([]Verifier, error)

	Environments(ctx context.Context) ([]model.Environment, error)
	AddEnvironment(ctx context.Context, e model.Environment) (model.Environment, error)
	RemoveEnvironment(ctx context.Context, name string) error
	// SetConfirmByName sets whether deleting or rotating a key of the
	// environment asks for the key's typed name.
	SetConfirmByName(ctx context.Context, name string, on bool) (model.Environment, error)
	Channels(ctx context.Context) ([]model.Channel, error)
	AddChannel(ctx context.Context, c model.Channel) (model.Channel, error)
	RemoveChannel(ctx context.Context, name string) error

	Members(ctx context.Context) ([]model.Member, error)
	// AddMember adds user with role, or changes a member's role, and gives
	// it the SSH keys; keys alone may be added to a member as it is.
	AddMember(ctx context.Context, user string, role model.Role, keys ...model.SSHKey) (model.Member, error)
	RemoveMember(ctx context.Context, user string) error
	// RemoveSSHKey takes one SSH key (by fingerprint) from a member.
	RemoveSSHKey(ctx context.Context, user, fingerprint string) error
	// Actor is the OS user this store acts as.
	Actor() string
	Audit(ctx context.Context, f AuditFilter) ([]model.Event, error)
	// EachEvent gives the events Audit would, one at a time as they are read.
	EachEvent(ctx context.Context, f AuditFilter, fn func(*model.Event) error) error
	Backup(ctx context.Context, dst string) error
}

// Feed is the change feed (see Position) and the way back for last used:
// what a reader keeping keys in memory needs of a store.
type Feed interface {
	// Snapshot reads every key with the position they reflect; Updates
	// then reads only what changed after it, so a reader follows a
	// million keys without re-reading them.
	Snapshot(ctx context.Context) ([]model.Key, Position, error)
	// SnapshotEach is Snapshot a key at a time (fn must not keep the key),
	// first telling size how many there are.
	SnapshotEach(ctx context.Context, size func(int), fn func(*model.Key) error) (Position, error)
	Updates(ctx context.Context, from Position) (Changes, error)
	// FeedHead is where the feed of rules stands, in one small read.
	FeedHead(ctx context.Context) (seq uint64, rev int64, err error)
	// RecordUses writes a verifier's last-used news in batches.
	RecordUses(ctx context.Context, uses []Use) error
}

// Info describes a store.
type Info struct {
	Location  string        `json:"location"`
	Schema    int           `json:"schema"`
	Prefix    string        `json:"prefix"`
	Format    keygen.Format `json:"format"`
	CreatedAt time.Time     `json:"created_at"`
	CreatedBy string        `json:"created_by"`
	Keys      int           `json:"keys"`
}

// Generation counts a store's writes: Any moves with every write, Keys
// only with changes other than last-used news (keys, channels,
// environments, members).
type Generation struct {
	Any, Keys uint64
}

// CreateRequest is a new key's fields; the store fills in the rest.
type CreateRequest struct {
	Name        string
	Channel     string
	Environment string // name or tag
	Type        model.KeyType
	Scopes      []string
	AllowedIPs  []string
	ExpiresAt   time.Time
	// Decoy makes a key that is never valid: a use of it is refused as
	// unknown and recorded as an alert.
	Decoy bool
}

// Created is a new key and its secret, which exists nowhere else.
type Created struct {
	Key    model.Key
	Secret string
	// Grown says the key is longer than the store's format because its
	// prefix and tag left too little room for the minimum randomness.
	Grown bool
}

// Filter narrows ListKeys; empty fields match everything.
type Filter struct {
	Channel     string
	Environment string // name or tag
	// Review filters: not used for this long (counting from creation
	// when never used), never used, expiring (or expired) within this long.
	UnusedFor      time.Duration
	NeverUsed      bool
	ExpiringWithin time.Duration
	// Match, when set, must accept the key too (a query of the filter
	// language, from keyindex). It is called from one goroutine.
	Match func(*model.Key) bool
}

// match says whether k passes the filter's non-store parts.
func (f Filter) match(k *model.Key, envName string, now time.Time) bool {
	return (f.Channel == "" || k.Channel == f.Channel) && (envName == "" || k.Environment == envName) &&
		(f.UnusedFor == 0 || k.UnusedFor(f.UnusedFor, now)) && (!f.NeverUsed || k.NeverUsed()) &&
		(f.ExpiringWithin == 0 || k.ExpiringWithin(f.ExpiringWithin, now)) && (f.Match == nil || f.Match(k))
}

// RotateRequest asks for a key's replacement.
type RotateRequest struct {
	ID string
	// Grace is how long the old key keeps working (0: it stops now).
	Grace time.Duration
	// ExpiresAt, when set, is the new key's expiry; otherwise the new key
	// gets the old key's lifetime from now, or never when it had none.
	ExpiresAt time.Time
}

// Rotated is the replacement (with its secret, shown once) and the old key as it now is.
type Rotated struct {
	New Created
	Old model.Key
}

// VerifyRequest is one check of a presented key.
type VerifyRequest struct {
	Secret      string
	Environment string // name or tag; empty accepts any
	Scope       string // empty: no scope required
	ClientIP    netip.Addr
	// UserAgent and Via describe the caller, for a decoy's alert.
	UserAgent string
	Via       string
}

// VerifyResult is the outcome of a check. Key is set when the key was found.
type VerifyResult struct {
	OK     bool
	Reason model.Reason
	Detail string
	Key    model.Key
	// Unrecorded, on a success, says why last used could not be written
	// (a full disk, a store the verifier may only read).
	Unrecorded string
}

// AuditFilter narrows Audit; newest first.
type AuditFilter struct {
	KeyID string
	Since time.Time
	Limit int
	// MaxScan stops the read after this many of the newest events, matched
	// or not, so a screen's look at one key costs a bounded read (0: no bound).
	MaxScan int
}

// Error kinds. Every error a Store returns wraps one of these and reads as
// one sentence that says what to do.
var (
	ErrBusy        = errors.New("busy")
	ErrNotFound    = errors.New("not found")
	ErrExists      = errors.New("exists")
	ErrInUse       = errors.New("in use")
	ErrNotStore    = errors.New("not a keyden store")
	ErrNewerSchema = errors.New("newer schema")
	ErrInvalid     = errors.New("invalid")
	ErrUnavailable = errors.New("unavailable")
	ErrDamaged     = errors.New("damaged")
	ErrForbidden   = errors.New("forbidden")
	// ErrUnwritable: the store can be read but not written (a full disk,
	// a read-only mount, a file the user may only read).
	ErrUnwritable = errors.New("unwritable")
	// ErrConflict: the thing is in a state that does not allow the change
	// (rotating a disabled key): a refusal, not bad input.
	ErrConflict = errors.New("conflict")
)

type storeError struct {
	kind error
	msg  string
	// detail is what was found, for a damaged store.
	detail string
	// cause is the context's error, for a call that ended with it.
	cause error
}

// DamageDetail is what was found wrong in a damaged store ("" if err is
// not about damage or says nothing more).
func DamageDetail(err error) string {
	var se *storeError
	if errors.As(err, &se) && se.kind == ErrDamaged {
		return se.detail
	}
	return ""
}

func (e *storeError) Error() string { return e.msg }
func (e *storeError) Unwrap() []error {
	if e.cause == nil {
		return []error{e.kind}
	}
	return []error{e.kind, e.cause}
}

func fail(kind error, format string, args ...any) error {
	return &storeError{kind: kind, msg: fmt.Sprintf(format, args...)}
}
