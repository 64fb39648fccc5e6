package model

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Members is a store's member list with the questions roles answer.
type Members []Member

// Find returns user's membership.
func (ms Members) Find(user string) (Member, bool) {
	for _, m := range ms {
		if m.User == user {
			return m, true
		}
	}
	return Member{}, false
}

// SuperAdmins lists the super admins' names, sorted.
func (ms Members) SuperAdmins() []string {
	var out []string
	for _, m := range ms {
		if m.Role == RoleSuperAdmin {
			out = append(out, m.User)
		}
	}
	sort.Strings(out)
	return out
}

// whoToAsk names the people who can add a member.
func (ms Members) whoToAsk() string {
	s := ms.SuperAdmins()
	switch len(s) {
	case 0:
		return "a super admin"
	case 1:
		return "the super admin " + s[0]
	}
	return "a super admin (" + strings.Join(s, ", ") + ")"
}

// KeyAction is something done to an existing key.
type KeyAction string

const (
	KeyDelete  KeyAction = "delete"
	KeyRotate  KeyAction = "rotate"
	KeyDisable KeyAction = "disable"
	KeyEnable  KeyAction = "enable"
	KeyMove    KeyAction = "move"
)

// CanCreateKey says whether user may create keys: any member may.
func (ms Members) CanCreateKey(user string) error {
	if _, ok := ms.Find(user); !ok {
		return ms.notMember(user)
	}
	return nil
}

// CanChangeKey says whether user may do action to k: a super admin may act
// on any key, an admin only on keys it created, anyone else on none.
func (ms Members) CanChangeKey(user string, action KeyAction, k *Key) error {
	m, ok := ms.Find(user)
	if !ok {
		return ms.notMember(user)
	}
	if m.Role == RoleSuperAdmin || k.CreatedBy == user {
		return nil
	}
	ask := k.CreatedBy + " (who created it) or " + ms.whoToAsk()
	if slices.Contains(ms.SuperAdmins(), k.CreatedBy) {
		ask = k.CreatedBy + " (who created it, a super admin)"
	}
	return fmt.Errorf("%s is an admin and may %s only keys it created; %s was created by %s: ask %s",
		user, action, Quote(k.Name), k.CreatedBy, ask)
}

// CanManage says whether user may change members and environments: super admins only.
func (ms Members) CanManage(user, what string) error {
	m, ok := ms.Find(user)
	if !ok {
		return ms.notMember(user)
	}
	if m.Role != RoleSuperAdmin {
		return fmt.Errorf("only a super admin may %s; %s is an admin: ask %s", what, user, ms.whoToAsk())
	}
	return nil
}

// CanEditChannels says whether user may add or remove channels: any member.
func (ms Members) CanEditChannels(user string) error {
	if _, ok := ms.Find(user); !ok {
		return ms.notMember(user)
	}
	return nil
}

func (ms Members) notMember(user string) error {
	return fmt.Errorf("%s is not a member of this key store: ask %s to run `keyden member add %s --role admin`", user, ms.whoToAsk(), user)
}

// CanRemoveMember also keeps the last super admin in place.
func (ms Members) CanRemoveMember(actor, user string) error {
	if err := ms.CanManage(actor, "remove members"); err != nil {
		return err
	}
	m, ok := ms.Find(user)
	if !ok {
		return fmt.Errorf("%s is not a member: see `keyden member list`", Quote(user))
	}
	if m.Role == RoleSuperAdmin && len(ms.SuperAdmins()) == 1 {
		return fmt.Errorf("%s is the last super admin and cannot be removed: add another super admin first", user)
	}
	return nil
}

// ValidateUser checks an OS user name as a member name.
func ValidateUser(s string) error {
	if s == "" || len(s) > MaxUserLen {
		return fmt.Errorf("the user name %s is not valid: give an OS user name such as alice", Quote(s))
	}
	for _, r := range s {
		ok := r == '_' || r == '-' || r == '.' || r == '@' || r == '$' ||
			(r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9')
		if !ok {
			return fmt.Errorf("the user name %s is not valid: give an OS user name such as alice", Quote(s))
		}
	}
	return nil
}
