package sshd

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	gossh "golang.org/x/crypto/ssh"
)

// HostKey reads the server's ed25519 host key at path, or makes one there
// (0600, in a 0700 folder if it has to make the folder) when there is
// none; made says which. A key others may read is refused: it would let
// them pass as this server.
func HostKey(path string) (signer gossh.Signer, made bool, err error) {
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		// A link to nothing would have the key made where the link's
		// owner chose (O_EXCL below refuses it, but as "file exists").
		if to, err := os.Readlink(path); err == nil {
			return nil, false, fmt.Errorf("the host key path %s is a symbolic link to %s, which does not exist: remove the link, or give the real path with --host-key", path, to)
		}
		return makeHostKey(path)
	}
	if err != nil {
		return nil, false, fmt.Errorf("the host key %s cannot be read (%v): fix its permissions, or give another with --host-key", path, errors.Unwrap(err))
	}
	// What the file is comes first: "--host-key /etc/passwd" was told to
	// run chmod 600 /etc/passwd.
	signer, err = gossh.ParsePrivateKey(raw)
	if err != nil {
		return nil, false, fmt.Errorf("%s is not an SSH private key keyden can use: give another with --host-key, or move it away to have a new one made", path)
	}
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
		return nil, false, fmt.Errorf("the host key %s may be read by others (mode %04o): run chmod 600 %s", path, fi.Mode().Perm(), path)
	}
	return signer, false, nil
}

func makeHostKey(path string) (gossh.Signer, bool, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, false, err
	}
	block, err := gossh.MarshalPrivateKey(priv, "keyden ssh host key")
	if err != nil {
		return nil, false, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, false, fmt.Errorf("the folder for the host key %s cannot be made (%v): give another path with --host-key", path, errors.Unwrap(err))
	}
	// O_EXCL: two servers starting at once do not overwrite each other's key.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, false, fmt.Errorf("the host key %s cannot be written (%v): give another path with --host-key", path, errors.Unwrap(err))
	}
	if _, err := f.Write(pem.EncodeToMemory(block)); err != nil {
		f.Close()
		os.Remove(path)
		return nil, false, err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(path)
		return nil, false, err
	}
	if err := f.Close(); err != nil {
		return nil, false, err
	}
	signer, err := gossh.NewSignerFromKey(priv)
	if err != nil {
		return nil, false, err
	}
	// The public half, for admins to put in known_hosts.
	writePub(path+".pub", gossh.MarshalAuthorizedKey(signer.PublicKey()))
	return signer, true, nil
}

// writePub writes the public key through a temporary file renamed into
// place: a link left at path is replaced, never written through (it
// truncated whatever file it named). A failure only costs the admin the
// copy of what ssh-keyscan shows.
func writePub(path string, pub []byte) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+"-*")
	if err != nil {
		return
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(pub)
	if err == nil {
		err = tmp.Chmod(0o644)
	}
	if cerr := tmp.Close(); err == nil && cerr == nil {
		os.Rename(tmp.Name(), path)
	}
}
