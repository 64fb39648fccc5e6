package model

import (
	"bufio"
	"crypto/rsa"
	"fmt"
	"io"
	"strings"
	"time"

	gossh "golang.org/x/crypto/ssh"
)

// SSHKey is a member's SSH public key: who the member is over keyden ssh.
type SSHKey struct {
	// Key is the public key in authorized_keys form, without a comment.
	Key         string    `json:"key"`
	Fingerprint string    `json:"fingerprint"` // SHA256:…, as ssh-keygen -l shows it
	Comment     string    `json:"comment,omitempty"`
	AddedAt     time.Time `json:"added_at"`
	AddedBy     string    `json:"added_by"`
}

// ParseSSHKey reads one authorized_keys line ("ssh-ed25519 AAAA… alice@laptop").
// Lines with options (from=, command=…) are refused rather than taken
// without them, and so are certificates, DSA keys and RSA keys under 2048 bits.
func ParseSSHKey(line string) (SSHKey, error) {
	line = strings.TrimSpace(line)
	pk, comment, opts, rest, err := gossh.ParseAuthorizedKey([]byte(line))
	if err != nil {
		return SSHKey{}, fmt.Errorf("%s is not an SSH public key: give a line such as the one in ~/.ssh/id_ed25519.pub", Quote(abbrev(line)))
	}
	if len(opts) > 0 {
		return SSHKey{}, fmt.Errorf("the SSH key line %s has options (%s), which keyden does not apply: give the key without them", Quote(abbrev(line)), strings.Join(opts, ","))
	}
	if len(strings.TrimSpace(string(rest))) > 0 {
		return SSHKey{}, fmt.Errorf("give one SSH key per --ssh-key, not several in one line")
	}
	if err := acceptableKey(pk); err != nil {
		return SSHKey{}, err
	}
	return SSHKey{Key: strings.TrimSpace(string(gossh.MarshalAuthorizedKey(pk))), Fingerprint: gossh.FingerprintSHA256(pk),
		Comment: strings.TrimSpace(comment)}, nil
}

func acceptableKey(pk gossh.PublicKey) error {
	switch pk.Type() {
	case "ssh-dss": // gossh.KeyAlgoDSA, deprecated since x/crypto v0.58 (staticcheck SA1019)
		return fmt.Errorf("DSA SSH keys are too weak: make an ed25519 key with ssh-keygen -t ed25519")
	case gossh.KeyAlgoRSA:
		if c, ok := pk.(gossh.CryptoPublicKey); ok {
			if r, ok := c.CryptoPublicKey().(*rsa.PublicKey); ok && r.N.BitLen() < 2048 {
				return fmt.Errorf("this RSA SSH key has %d bits, under 2048: make an ed25519 key with ssh-keygen -t ed25519", r.N.BitLen())
			}
		}
	}
	if strings.Contains(pk.Type(), "-cert-") {
		return fmt.Errorf("SSH certificates are not taken as member keys: give the member's public key itself")
	}
	return nil
}

// ParseSSHKeyFile reads authorized_keys lines: blank lines and # comments
// are skipped; any other bad line is refused with its line number.
func ParseSSHKeyFile(r io.Reader, name string) ([]SSHKey, error) {
	var out []SSHKey
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, err := ParseSSHKey(line)
		if err != nil {
			return nil, fmt.Errorf("%s line %d: %w", name, n, err)
		}
		out = append(out, k)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s cannot be read: %v", name, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s holds no SSH public key: give a file of authorized_keys lines", name)
	}
	return out, nil
}

// FindSSHKey finds the member an SSH key (by fingerprint) belongs to.
func (ms Members) FindSSHKey(fingerprint string) (Member, bool) {
	for _, m := range ms {
		for _, k := range m.SSHKeys {
			if k.Fingerprint == fingerprint {
				return m, true
			}
		}
	}
	return Member{}, false
}

// WhoAddsKeys is the sentence's end that names who can add an SSH key.
func (ms Members) WhoAddsKeys() string { return ms.whoToAsk() }

func abbrev(s string) string {
	if r := []rune(s); len(r) > 40 {
		return string(r[:20]) + "…" + string(r[len(r)-12:])
	}
	return s
}
