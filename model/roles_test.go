package model

import (
	"strings"
	"testing"
)

// The roles matrix: who may do what to whose key.
func TestRolesMatrix(t *testing.T) {
	ms := Members{{User: "root", Role: RoleSuperAdmin}, {User: "sam", Role: RoleSuperAdmin}, {User: "ann", Role: RoleAdmin}, {User: "bob", Role: RoleAdmin}}
	keyBy := func(u string) *Key { return &Key{Name: "k", CreatedBy: u} }
	actions := []KeyAction{KeyDelete, KeyRotate, KeyDisable, KeyEnable}
	tests := []struct {
		actor, owner string
		ok           bool
	}{
		{"root", "root", true}, {"root", "ann", true}, {"root", "ghost", true},
		{"sam", "root", true},
		{"ann", "ann", true}, {"ann", "bob", false}, {"ann", "root", false},
		{"bob", "ann", false},
		{"eve", "eve", false}, {"eve", "ann", false},
	}
	for _, tt := range tests {
		for _, a := range actions {
			err := ms.CanChangeKey(tt.actor, a, keyBy(tt.owner))
			if (err == nil) != tt.ok {
				t.Errorf("%s %s %s's key: %v, want ok=%v", tt.actor, a, tt.owner, err, tt.ok)
			}
			if err != nil && !strings.Contains(err.Error(), "ask") {
				t.Errorf("refusal does not say who to ask: %v", err)
			}
		}
	}
	for _, u := range []string{"root", "ann"} {
		if ms.CanCreateKey(u) != nil {
			t.Errorf("%s may not create", u)
		}
	}
	err := ms.CanCreateKey("eve")
	if err == nil || !strings.Contains(err.Error(), "root, sam") || !strings.Contains(err.Error(), "keyden member add eve --role admin") {
		t.Errorf("non-member refusal: %v", err)
	}
	if ms.CanManage("ann", "add members") == nil || ms.CanManage("root", "add members") != nil {
		t.Error("only super admins manage")
	}
	if ms.CanRemoveMember("root", "sam") != nil {
		t.Error("a super admin may remove another super admin")
	}
	solo := Members{{User: "root", Role: RoleSuperAdmin}, {User: "ann", Role: RoleAdmin}}
	if err := solo.CanRemoveMember("root", "root"); err == nil || !strings.Contains(err.Error(), "last super admin") {
		t.Errorf("last super admin removable: %v", err)
	}
	if solo.CanRemoveMember("ann", "root") == nil {
		t.Error("an admin removed a super admin")
	}
}

func TestValidateUser(t *testing.T) {
	for _, u := range []string{"alice", "svc-api", "j.doe", "user_1", "machine$"} {
		if ValidateUser(u) != nil {
			t.Errorf("%q refused", u)
		}
	}
	for _, u := range []string{"", "a b", "x;rm", strings.Repeat("a", 65), "ünï"} {
		if ValidateUser(u) == nil {
			t.Errorf("%q accepted", u)
		}
	}
}
