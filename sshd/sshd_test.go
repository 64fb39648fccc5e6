package sshd

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"
)

// The host key is made once (ed25519, 0600, with a .pub for known_hosts),
// then read back the same; one others may read is refused.
func TestHostKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "new", "ssh_host_ed25519_key")
	s1, made, err := HostKey(path)
	if err != nil || !made {
		t.Fatalf("made %v, %v", made, err)
	}
	if s1.PublicKey().Type() != gossh.KeyAlgoED25519 {
		t.Fatalf("a %s host key", s1.PublicKey().Type())
	}
	fi, _ := os.Stat(path)
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("host key mode %v", fi.Mode())
	}
	pub, _ := os.ReadFile(path + ".pub")
	if !bytes.Equal(pub, gossh.MarshalAuthorizedKey(s1.PublicKey())) {
		t.Fatalf("the .pub is %q", pub)
	}
	s2, made, err := HostKey(path)
	if err != nil || made || !bytes.Equal(s1.PublicKey().Marshal(), s2.PublicKey().Marshal()) {
		t.Fatalf("read back: made %v, %v", made, err)
	}
	os.Chmod(path, 0o644)
	if _, _, err := HostKey(path); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("a readable host key: %v", err)
	}
	// A readable file that is no key is not to be chmod-ed (it said to run
	// chmod 600 on /etc/passwd).
	other := filepath.Join(t.TempDir(), "passwd")
	os.WriteFile(other, []byte("root:x:0:0:root:/root:/bin/bash\n"), 0o644)
	if _, _, err := HostKey(other); err == nil || strings.Contains(err.Error(), "chmod") || !strings.Contains(err.Error(), "is not an SSH private key") {
		t.Fatalf("a readable file that is no key: %v", err)
	}
}

// The .pub made beside a new host key replaces a link left at its path,
// never writing through it: on the old code a link to a file the server's
// user may write had that file truncated to the public key, and a link to
// nothing had a file made where it pointed.
func TestHostKeyPubReplacesALink(t *testing.T) {
	dir := t.TempDir()
	victim := filepath.Join(dir, "victim")
	os.WriteFile(victim, []byte("keep me\n"), 0o600)
	nothing := filepath.Join(dir, "nothing")
	for i, target := range []string{victim, nothing} {
		path := filepath.Join(dir, fmt.Sprint("key", i))
		if err := os.Symlink(target, path+".pub"); err != nil {
			t.Fatal(err)
		}
		s, made, err := HostKey(path)
		if err != nil || !made {
			t.Fatalf("made %v, %v", made, err)
		}
		fi, err := os.Lstat(path + ".pub")
		pub, _ := os.ReadFile(path + ".pub")
		if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o644 || !bytes.Equal(pub, gossh.MarshalAuthorizedKey(s.PublicKey())) {
			t.Fatalf("the .pub is %v %q", fi.Mode(), pub)
		}
	}
	if b, _ := os.ReadFile(victim); string(b) != "keep me\n" {
		t.Errorf("the file a .pub link named was written: %q", b)
	}
	if _, err := os.Lstat(nothing); !os.IsNotExist(err) {
		t.Error("a file was made where a .pub link pointed")
	}
}

// Input past the cap is read only as fast as the cap allows; nothing is lost.
func TestInputIsCapped(t *testing.T) {
	const rate = 1000
	data := bytes.Repeat([]byte("x"), 3*rate)
	in := newInput(context.Background(), bytes.NewReader(data), rate)
	start := time.Now()
	got, err := io.ReadAll(in)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read %d bytes, %v", len(got), err)
	}
	// The first second's worth passes at once (the burst); two more take two seconds.
	if d := time.Since(start); d < 1900*time.Millisecond {
		t.Fatalf("%d bytes at %d/s took %v", len(data), rate, d)
	}
}

// The idle watch ends a session with no input, and only such a one.
func TestIdleWatch(t *testing.T) {
	const idle, every = 200 * time.Millisecond, 50 * time.Millisecond
	// A loaded machine can hold this test back for longer than idle between
	// two keys: then the typing did not happen as meant and closing was
	// right, so the round is tried again; a close while every key came
	// within idle of the one before is the failure.
	for round := 1; ; round++ {
		closedWhileTyping, late := idleRound(t, idle, every)
		if !closedWhileTyping {
			return
		}
		if !late {
			t.Fatal("closed while typing")
		}
		if round == 5 {
			t.Fatalf("in %d rounds this machine never typed a key within %v of the one before", round, idle)
		}
		t.Logf("round %d: a key came more than %v after the one before; again", round, idle)
	}
}

// idleRound types a key every `every` for half a second into an input
// watched for idle, then waits for the watch to end it. It says whether the
// watch ended it while typing, and if so whether the input took a key in
// (the time the watch reads) idle or more after the one before.
func idleRound(t *testing.T, idle, every time.Duration) (closedWhileTyping, late bool) {
	r, w := io.Pipe()
	defer w.Close()
	in := newInput(context.Background(), r, 1000)
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	go in.watchIdle(ctx, cancel, idle)
	go io.Copy(io.Discard, in)
	prev := in.last.Load()
	since := func(at int64) bool { return time.Duration(at-prev) >= idle }
	for range 10 {
		sent := time.Now().UnixNano()
		w.Write([]byte("j"))
		for deadline := time.Now().Add(10 * time.Second); in.last.Load() < sent; time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) { // the input notes a key after it reads it
				t.Fatal("the input read a key but never noted the time")
			}
		}
		at := in.last.Load()
		late = late || since(at)
		prev = at
		select {
		case <-ctx.Done():
			return true, late || since(time.Now().UnixNano())
		case <-time.After(every):
		}
	}
	<-ctx.Done()
	if context.Cause(ctx) != errIdle {
		t.Fatalf("ended by %v", context.Cause(ctx))
	}
	return false, false
}

// A terminal that never answers the background query still gets its first
// frame (after the query's one-second wait), without a keystroke, and the
// first keystroke then is not lost to the query.
func TestSilentTerminalGetsItsFirstFrame(t *testing.T) {
	w := newBenchWorld(t, 0)
	w.silent = true
	c := w.open(t)
	defer c.conn.Close()
	from := c.scr.size()
	io.WriteString(c.stdin, "n")
	c.scr.waitFor(t, from, "New key")
}
