package storage

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"strings"
	"testing"

	gossh "golang.org/x/crypto/ssh"

	"keyden/model"
)

func newSSHKey(t *testing.T) model.SSHKey {
	t.Helper()
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	p, err := gossh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	k, err := model.ParseSSHKey(string(gossh.MarshalAuthorizedKey(p)))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// A keyden ssh actor is refused from the first action after its SSH key
// is taken away (member rm-key) or its member removed, and a role change
// applies at its next action. Checked to fail before rules(): the
// rm-key'd actor could still create keys.
func TestSSHActorLosesItsKeyAtOnce(t *testing.T) {
	ctx := context.Background()
	root := newStore(t, Options{})
	k1, k2 := newSSHKey(t), newSSHKey(t)
	if _, err := root.AddMember(ctx, "ann", model.RoleAdmin, k1, k2); err != nil {
		t.Fatal(err)
	}
	ann, _ := As(root, "ann", k1.Fingerprint)
	if _, err := ann.CreateKey(ctx, CreateRequest{Name: "a", Channel: "default", Environment: "dev"}); err != nil {
		t.Fatal(err)
	}
	if _, err := ann.AddEnvironment(ctx, model.Environment{Name: "qa"}); !errors.Is(err, ErrForbidden) {
		t.Fatalf("an admin added an environment: %v", err)
	}
	if _, err := root.AddMember(ctx, "ann", model.RoleSuperAdmin); err != nil {
		t.Fatal(err)
	}
	if _, err := ann.AddEnvironment(ctx, model.Environment{Name: "qa"}); err != nil {
		t.Fatalf("promoted, still refused: %v", err)
	}
	if err := root.RemoveSSHKey(ctx, "ann", k1.Fingerprint); err != nil {
		t.Fatal(err)
	}
	_, err := ann.CreateKey(ctx, CreateRequest{Name: "b", Channel: "default", Environment: "dev"})
	if !errors.Is(err, ErrForbidden) || !strings.Contains(err.Error(), "is no longer a key of the member ann") {
		t.Fatalf("create after rm-key: %v", err)
	}
	// The member's other key still works; after member rm, neither does.
	ann2, _ := As(root, "ann", k2.Fingerprint)
	if _, err := ann2.CreateKey(ctx, CreateRequest{Name: "c", Channel: "default", Environment: "dev"}); err != nil {
		t.Fatal(err)
	}
	if err := root.RemoveMember(ctx, "ann"); err != nil {
		t.Fatal(err)
	}
	if _, err := ann2.CreateKey(ctx, CreateRequest{Name: "d", Channel: "default", Environment: "dev"}); !errors.Is(err, ErrForbidden) {
		t.Fatalf("create after member rm: %v", err)
	}
}
