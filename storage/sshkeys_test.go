package storage

import (
	"errors"
	"strings"
	"testing"

	"keyden/model"
)

const (
	annSSH = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIH4lLz8DQEQjPgZWJpAOenX7cbcd8ZsI7kdTTcax5UPU ann@laptop"
	annFP  = "SHA256:yV2LeM9i2Q1MQY2Unb51CkrF24emCiHAsCNYikxJu+w" // ssh-keygen -lf
	bobSSH = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB78VYMiDdZUHhVcCgRTu/9TZtcgynJ6RHEJztQfyGZt bob@laptop"
)

func mustSSHKey(t *testing.T, line string) model.SSHKey {
	t.Helper()
	k, err := model.ParseSSHKey(line)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// Members' SSH keys: added with the member or later, one member per key,
// removed by fingerprint, each change audited; a store acting as a member
// over SSH writes the key's fingerprint beside the actor.
func TestMemberSSHKeys(t *testing.T) {
	root := newAny(t, Options{Actor: "root"})
	ann, bob := mustSSHKey(t, annSSH), mustSSHKey(t, bobSSH)
	if ann.Fingerprint != annFP || ann.Comment != "ann@laptop" || strings.Contains(ann.Key, "laptop") {
		t.Fatalf("parsed %+v", ann)
	}
	if _, err := root.AddMember(ctx, "ann", model.RoleAdmin, ann); err != nil {
		t.Fatal(err)
	}
	if _, err := root.AddMember(ctx, "ann", model.RoleAdmin, ann); !errors.Is(err, ErrExists) {
		t.Fatalf("the same key again: %v", err)
	}
	if m, err := root.AddMember(ctx, "ann", model.RoleAdmin, bob); err != nil || len(m.SSHKeys) != 2 || m.AddedBy != "root" {
		t.Fatalf("a second key for a member as it is: %+v %v", m, err)
	}
	if _, err := root.AddMember(ctx, "bob", model.RoleAdmin, bob); !errors.Is(err, ErrExists) || !strings.Contains(err.Error(), "already belongs to ann") {
		t.Fatalf("one key for two members: %v", err)
	}
	ms, err := root.Members(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if m, ok := model.Members(ms).FindSSHKey(annFP); !ok || m.User != "ann" {
		t.Fatalf("FindSSHKey: %+v %v", m, ok)
	}
	annStore := reopen(t, root, Options{Actor: "ann"})
	if err := annStore.RemoveSSHKey(ctx, "ann", bob.Fingerprint); !errors.Is(err, ErrForbidden) {
		t.Fatalf("an admin removed a key: %v", err)
	}
	if err := root.RemoveSSHKey(ctx, "ann", bob.Fingerprint); err != nil {
		t.Fatal(err)
	}
	if err := root.RemoveSSHKey(ctx, "ann", bob.Fingerprint); !errors.Is(err, ErrNotFound) {
		t.Fatalf("removed twice: %v", err)
	}
	overSSH, err := As(root, "ann", annFP)
	if err != nil {
		t.Fatal(err)
	}
	c, err := overSSH.CreateKey(ctx, CreateRequest{Name: "over ssh", Channel: "default", Environment: "dev"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Key.CreatedBy != "ann" || root.Actor() != "root" {
		t.Fatalf("created by %q; the shared store's actor is now %q", c.Key.CreatedBy, root.Actor())
	}
	evs, err := root.Audit(ctx, AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range evs {
		got = append(got, e.Actor+"|"+e.ActorKey+"|"+e.Action+"|"+e.Detail)
	}
	want := []string{"ann|" + annFP + "|create|", "root||member-key-rm|ann " + bob.Fingerprint, "root||member-key-add|ann " + bob.Fingerprint,
		"root||member-key-add|ann " + annFP, "root||member-add|ann as admin"}
	if strings.Join(got[:5], "\n") != strings.Join(want, "\n") {
		t.Fatalf("audit:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// dsaSSH is a DSA public key (ssh-keygen -t dsa), which keyden refuses.
const dsaSSH = "ssh-dss AAAAB3NzaC1kc3MAAACBALC3+0PzhRH++BB51Vbj6HH0xGp34+xQrnncviAo/GWAaPme83n+PsM1+8VeDTnN3R90OVl6G2vMhcMLF8bry/8z5ZqkFUYmAsxkiaogsfKBEbECTuAHiAYlaJBbJskR6WYXaz6TnTEHRw5QSLzsRggtTXwZQfEXdVhv0FyFViNxAAAAFQDzhWzDEIGrq+4hzzDbNLJLADzAIwAAAIEAnE7CZZt5xAQ3U9gzoP1b450WiiNCsN25foRp0CSTjgrDf//QRaVf1NLrRqPHM0Td61IhgCu0ZS9w4lr3w3nnxTstKLYwZvipIEP+irExxh4Df/yhI02OI8xvAMa1R2MNuZnS7al/kWoo6s3SpI02cz1ugtRxRXlMSPbrAaSS5lAAAACBAKuGy+sFia19J+/t6IFVAaVd+A8aJbrSODBNLT1qd7RW5OIjop0PbqvL7y+WzvKuO/G7aw42k/auMR50yHRJYvPljAaAgL6fsmdp+9kS0lRvK97Fra1kbr5chT9cyke97lh8Y5NE1D6NuPv43FxBtiNk+7TeQhW0USZCuYFnZcwe"

func TestParseSSHKeyRefusals(t *testing.T) {
	for line, want := range map[string]string{
		"not a key":                 "is not an SSH public key",
		`from="10.0.0.1" ` + annSSH: "has options",
		annSSH + "\n" + bobSSH:      "one SSH key per",
		dsaSSH:                      "DSA SSH keys are too weak",
	} {
		if _, err := model.ParseSSHKey(line); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", line, err, want)
		}
	}
	keys, err := model.ParseSSHKeyFile(strings.NewReader("# ann\n\n"+annSSH+"\n"+bobSSH+"\n"), "keys")
	if err != nil || len(keys) != 2 {
		t.Fatalf("%d keys, %v", len(keys), err)
	}
	if _, err := model.ParseSSHKeyFile(strings.NewReader(annSSH+"\nbad line\n"), "keys"); err == nil || !strings.HasPrefix(err.Error(), "keys line 2:") {
		t.Fatalf("bad line: %v", err)
	}
}
