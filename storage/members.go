package storage

import (
	"context"
	"fmt"

	"keyden/model"
)

// Actor is the OS user this store acts as.
func (b *core) Actor() string { return b.opt.Actor }

func members(tx kv) (model.Members, error) {
	ms, err := readAll[model.Member](tx, bucketMembers)
	return model.Members(ms), err
}

// mayChange applies the roles to action on k inside the caller's transaction.
func (b *core) mayChange(tx kv, action model.KeyAction, k *model.Key) error {
	ms, err := members(tx)
	if err != nil {
		return err
	}
	if err := ms.CanChangeKey(b.opt.Actor, action, k); err != nil {
		return fail(ErrForbidden, "%s", err)
	}
	return nil
}

func (b *core) mayManage(tx kv, what string) error {
	ms, err := members(tx)
	if err != nil {
		return err
	}
	if err := ms.CanManage(b.opt.Actor, what); err != nil {
		return fail(ErrForbidden, "%s", err)
	}
	return nil
}

func (b *core) mayEditChannels(tx kv) error {
	ms, err := members(tx)
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

// AddMember adds user with role, or changes the role of a member.
func (b *core) AddMember(ctx context.Context, user string, role model.Role) (model.Member, error) {
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
		if cur, ok := ms.Find(user); ok {
			if cur.Role == role {
				return fail(ErrExists, "%s is already a member as %s", user, role)
			}
			if cur.Role == model.RoleSuperAdmin && len(ms.SuperAdmins()) == 1 {
				return fail(ErrForbidden, "%s is the last super admin and cannot become an admin: add another super admin first", user)
			}
			detail = fmt.Sprintf("%s (was %s)", role, cur.Role)
		}
		m = model.Member{User: user, Role: role, AddedAt: b.now(), AddedBy: b.opt.Actor}
		if err := putJSON(tx.Bucket(bucketMembers), user, m); err != nil {
			return err
		}
		return b.appendEvent(tx, model.Event{Action: model.ActionMemberAdd, Detail: user + " as " + detail})
	})
	return m, err
}

// RemoveMember removes a member; the last super admin stays.
func (b *core) RemoveMember(ctx context.Context, user string) error {
	return b.update(ctx, func(tx kv) error {
		ms, err := members(tx)
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
