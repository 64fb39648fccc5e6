package storage

import (
	"context"
	"fmt"
	"slices"

	"keyden/model"
)

// Actor is the OS user this store acts as.
func (b *core) Actor() string { return b.opt.Actor }

func members(tx kv) (model.Members, error) {
	ms, err := readAll[model.Member](tx, bucketMembers)
	return model.Members(ms), err
}

// rules are the members whose roles decide what the actor may do, read in
// the caller's transaction; an actor that came in with an SSH key (keyden
// ssh) is refused once that key is no longer its own, so a session's next
// action after member rm or member rm-key fails at once.
func (b *core) rules(tx kv) (model.Members, error) {
	ms, err := members(tx)
	if err != nil || b.opt.ActorKey == "" {
		return ms, err
	}
	if m, ok := ms.FindSSHKey(b.opt.ActorKey); !ok || m.User != b.opt.Actor {
		return nil, fail(ErrForbidden, "the SSH key %s is no longer a key of the member %s: ask %s to add it again", b.opt.ActorKey, b.opt.Actor, ms.WhoAddsKeys())
	}
	return ms, nil
}

// mayChange applies the roles to action on k inside the caller's transaction.
func (b *core) mayChange(tx kv, action model.KeyAction, k *model.Key) error {
	ms, err := b.rules(tx)
	if err != nil {
		return err
	}
	if err := ms.CanChangeKey(b.opt.Actor, action, k); err != nil {
		return fail(ErrForbidden, "%s", err)
	}
	return nil
}

func (b *core) mayManage(tx kv, what string) error {
	ms, err := b.rules(tx)
	if err != nil {
		return err
	}
	if err := ms.CanManage(b.opt.Actor, what); err != nil {
		return fail(ErrForbidden, "%s", err)
	}
	return nil
}

func (b *core) mayEditChannels(tx kv) error {
	ms, err := b.rules(tx)
	if err != nil {
		return err
	}
	if err := ms.CanEditChannels(b.opt.Actor); err != nil {
		return fail(ErrForbidden, "%s", err)
	}
	return nil
}

// Members lists the store's members.
func (b *core) Members(ctx context.Context) ([]model.Member, error) {
	var out []model.Member
	err := b.view(ctx, func(tx kv) error {
		var err error
		out, err = readAll[model.Member](tx, bucketMembers)
		return err
	})
	return out, err
}

// AddMember adds user with role, or changes the role of a member, and
// gives it keys (SSH public keys). A member that already has the role may
// be given keys alone. An SSH key belongs to one member only.
func (b *core) AddMember(ctx context.Context, user string, role model.Role, keys ...model.SSHKey) (model.Member, error) {
	if err := model.ValidateUser(user); err != nil {
		return model.Member{}, fail(ErrInvalid, "%s", err)
	}
	if _, err := model.ParseRole(string(role)); err != nil {
		return model.Member{}, fail(ErrInvalid, "%s", err)
	}
	var m model.Member
	err := b.update(ctx, func(tx kv) error {
		if err := b.mayManage(tx, "add members"); err != nil {
			return err
		}
		ms, err := members(tx)
		if err != nil {
			return err
		}
		detail := string(role)
		cur, exists := ms.Find(user)
		if exists {
			if cur.Role == role && len(keys) == 0 {
				return fail(ErrExists, "%s is already a member as %s", user, role)
			}
			if cur.Role == model.RoleSuperAdmin && role != cur.Role && len(ms.SuperAdmins()) == 1 {
				return fail(ErrForbidden, "%s is the last super admin and cannot become an admin: add another super admin first", user)
			}
			detail = fmt.Sprintf("%s (was %s)", role, cur.Role)
		}
		m = model.Member{User: user, Role: role, AddedAt: b.now(), AddedBy: b.opt.Actor}
		if exists {
			m.AddedAt, m.AddedBy, m.SSHKeys = cur.AddedAt, cur.AddedBy, cur.SSHKeys
		}
		var added []string
		for _, k := range keys {
			if owner, ok := ms.FindSSHKey(k.Fingerprint); ok && owner.User != user {
				return fail(ErrExists, "the SSH key %s already belongs to %s: one key is one member; remove it there first with `keyden member rm-key %s %s`", k.Fingerprint, owner.User, owner.User, k.Fingerprint)
			}
			if slices.ContainsFunc(m.SSHKeys, func(h model.SSHKey) bool { return h.Fingerprint == k.Fingerprint }) {
				continue
			}
			k.AddedAt, k.AddedBy = b.now(), b.opt.Actor
			m.SSHKeys = append(m.SSHKeys, k)
			added = append(added, k.Fingerprint)
		}
		if exists && cur.Role == role && len(added) == 0 {
			return fail(ErrExists, "%s already has these SSH keys", user)
		}
		if err := putJSON(tx.Bucket(bucketMembers), user, m); err != nil {
			return err
		}
		if !exists || cur.Role != role {
			if err := b.appendEvent(tx, model.Event{Action: model.ActionMemberAdd, Detail: user + " as " + detail}); err != nil {
				return err
			}
		}
		for _, fp := range added {
			if err := b.appendEvent(tx, model.Event{Action: model.ActionMemberKeyAdd, Detail: user + " " + fp}); err != nil {
				return err
			}
		}
		return nil
	})
	return m, err
}

// RemoveSSHKey takes the SSH key with fingerprint from user (super admins
// only); the member stays, known by its other keys and its OS name.
func (b *core) RemoveSSHKey(ctx context.Context, user, fingerprint string) error {
	return b.update(ctx, func(tx kv) error {
		if err := b.mayManage(tx, "remove SSH keys"); err != nil {
			return err
		}
		ms, err := members(tx)
		if err != nil {
			return err
		}
		m, ok := ms.Find(user)
		if !ok {
			return fail(ErrNotFound, "%s is not a member: see `keyden member list`", model.Quote(user))
		}
		i := slices.IndexFunc(m.SSHKeys, func(k model.SSHKey) bool { return k.Fingerprint == fingerprint })
		if i < 0 {
			return fail(ErrNotFound, "%s has no SSH key %s: see `keyden member list` for its keys", user, model.Quote(fingerprint))
		}
		m.SSHKeys = slices.Delete(m.SSHKeys, i, i+1)
		if err := putJSON(tx.Bucket(bucketMembers), user, m); err != nil {
			return err
		}
		return b.appendEvent(tx, model.Event{Action: model.ActionMemberKeyRm, Detail: user + " " + fingerprint})
	})
}

// As is st acting as actor, known by the SSH key with fingerprint key:
// the same store and backend, so keyden ssh's sessions share one
// connection and the rules see each member as itself.
func As(st Store, actor, key string) (Store, error) {
	switch s := st.(type) {
	case *Bolt:
		c := *s
		c.core.opt.Actor, c.core.opt.ActorKey = actor, key
		return &c, nil
	case interface{ asActor(actor, key string) Store }:
		return s.asActor(actor, key), nil
	}
	return nil, fmt.Errorf("storage.As: %T is not a store of this package", st)
}

// RemoveMember removes a member; the last super admin stays.
func (b *core) RemoveMember(ctx context.Context, user string) error {
	return b.update(ctx, func(tx kv) error {
		ms, err := b.rules(tx)
		if err != nil {
			return err
		}
		if err := ms.CanRemoveMember(b.opt.Actor, user); err != nil {
			kind := ErrForbidden
			if _, ok := ms.Find(user); !ok {
				kind = ErrNotFound
			}
			return fail(kind, "%s", err)
		}
		if err := tx.Bucket(bucketMembers).Delete([]byte(user)); err != nil {
			return err
		}
		return b.appendEvent(tx, model.Event{Action: model.ActionMemberRemove, Detail: user})
	})
}
