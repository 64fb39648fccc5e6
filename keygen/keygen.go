// Package keygen makes and checks keyden's API keys: the format
// <prefix>_<tag>_<body>, whose body is base62 from crypto/rand ending in a
// 6-character base62 CRC-32 checksum, and the SHA-256 that is all a store keeps.
package keygen

import (
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"sync"
	"unsafe"
)

// Alphabet is base62 in the order the design fixes: digits, upper, lower.
const Alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

const (
	// ChecksumLen is the length of the base62 CRC-32 at the end of the body.
	ChecksumLen = 6
	// LengthDefault is the total length of a key in the default format.
	LengthDefault = 64
	// LengthCompact is the total length of a key in the compact format.
	LengthCompact = 40
	// MinRandomDefault base62 characters give at least 256 bits (43 × log2 62 ≈ 256.1).
	MinRandomDefault = 43
	// MinRandomCompact base62 characters give at least 128 bits (22 × log2 62 ≈ 131).
	MinRandomCompact = 22
	// MaxKeyLen bounds what the parser will even look at.
	MaxKeyLen = 256
)

// Format says how long a store's keys are.
type Format string

const (
	FormatDefault Format = "default"
	FormatCompact Format = "compact"
)

// ParseFormat reads a format name as the command line and the store spell it.
func ParseFormat(s string) (Format, error) {
	switch Format(s) {
	case FormatDefault, "":
		return FormatDefault, nil
	case FormatCompact:
		return FormatCompact, nil
	}
	return "", fmt.Errorf("unknown key format %q: use default (64 characters) or compact (40 characters)", s)
}

// Layout is how many random characters a key with this prefix and tag gets,
// and its total length. Grown says the target length was exceeded to keep
// the minimum randomness.
type Layout struct {
	Random int
	Total  int
	Grown  bool
}

// LayoutFor works out the body for a prefix and tag in a format.
func LayoutFor(f Format, prefix, tag string) Layout {
	target, min := LengthDefault, MinRandomDefault
	if f == FormatCompact {
		target, min = LengthCompact, MinRandomCompact
	}
	fixed := len(prefix) + 1 + len(tag) + 1 + ChecksumLen
	l := Layout{Random: target - fixed, Total: target}
	if l.Random < min {
		l = Layout{Random: min, Total: fixed + min, Grown: true}
	}
	return l
}

// Checksum writes the CRC-32 (IEEE) of b as 6 base62 digits, most significant first.
func Checksum(b []byte) [ChecksumLen]byte {
	var out [ChecksumLen]byte
	n := crc32.ChecksumIEEE(b)
	for i := ChecksumLen - 1; i >= 0; i-- {
		out[i] = Alphabet[n%62]
		n /= 62
	}
	return out
}

// randPool hands out random bytes from crypto/rand in blocks, so one key costs
// a copy, not a system call. The pool never leaves the process and a byte is
// used once.
type randPool struct {
	mu  sync.Mutex
	buf [4096]byte
	pos int
}

var pool = &randPool{pos: 4096}

func (p *randPool) fill(dst []byte) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	for len(dst) > 0 {
		if p.pos == len(p.buf) {
			if _, err := rand.Read(p.buf[:]); err != nil {
				return err
			}
			p.pos = 0
		}
		n := copy(dst, p.buf[p.pos:])
		clear(p.buf[p.pos : p.pos+n])
		p.pos += n
		dst = dst[n:]
	}
	return nil
}

// Generate makes a new key for prefix and tag in format f. prefix and tag
// must already be valid (see model.ValidatePrefix and model.ValidateTag).
func Generate(f Format, prefix, tag string) (string, error) {
	return GenerateFrom(nil, f, prefix, tag)
}

// GenerateFrom is Generate reading its randomness from r, or from
// crypto/rand when r is nil: a fixed r is for reproducible tests only.
func GenerateFrom(r io.Reader, f Format, prefix, tag string) (string, error) {
	l := LayoutFor(f, prefix, tag)
	key := make([]byte, 0, l.Total)
	key = append(key, prefix...)
	key = append(key, '_')
	key = append(key, tag...)
	key = append(key, '_')
	start := len(key)
	key = key[:start+l.Random]
	if err := randomBase62(r, key[start:]); err != nil {
		return "", fmt.Errorf("the system's random source failed: %w", err)
	}
	sum := Checksum(key)
	key = append(key, sum[:]...)
	return string(key), nil
}

// randomBase62 fills dst with uniform base62 characters from r (the pool
// when nil): bytes ≥ 248 are dropped so that b % 62 has no bias (248 = 4 × 62).
func randomBase62(r io.Reader, dst []byte) error {
	var raw [96]byte
	i := 0
	for i < len(dst) {
		want := len(dst) - i + 8
		if want > len(raw) {
			want = len(raw)
		}
		if err := fill(r, raw[:want]); err != nil {
			return err
		}
		for _, b := range raw[:want] {
			if b >= 248 {
				continue
			}
			dst[i] = Alphabet[b%62]
			i++
			if i == len(dst) {
				break
			}
		}
	}
	clear(raw[:])
	return nil
}

// fill reads dst from r, or from the pool when r is nil. r reads into a
// buffer of its own, so that dst stays on the caller's stack.
func fill(r io.Reader, dst []byte) error {
	if r == nil {
		return pool.fill(dst)
	}
	buf := make([]byte, len(dst))
	if _, err := io.ReadFull(r, buf); err != nil {
		return err
	}
	copy(dst, buf)
	clear(buf)
	return nil
}

// Parsed is a key split into its parts. It holds no copy of the key.
type Parsed struct {
	Prefix string
	Tag    string
	Body   string
}

// Errors a parse can give; both mean "malformed" to a verifier.
var (
	ErrShape    = errors.New("the key is not shaped like a keyden key (prefix_env_body)")
	ErrChecksum = errors.New("the key's checksum does not match (mistyped, truncated or edited)")
)

// Parse checks a key's shape and checksum without any lookup.
func Parse(key string) (Parsed, error) {
	if len(key) > MaxKeyLen {
		return Parsed{}, ErrShape
	}
	p1 := indexByte(key, '_', 0)
	if p1 < 2 || p1 > 8 {
		return Parsed{}, ErrShape
	}
	p2 := indexByte(key, '_', p1+1)
	if p2 < 0 || p2-p1-1 < 1 || p2-p1-1 > 8 {
		return Parsed{}, ErrShape
	}
	prefix, tag, body := key[:p1], key[p1+1:p2], key[p2+1:]
	for i := 0; i < len(prefix); i++ {
		if c := prefix[i]; c < 'a' || c > 'z' {
			return Parsed{}, ErrShape
		}
	}
	for i := 0; i < len(tag); i++ {
		if c := tag[i]; (c < 'a' || c > 'z') && (c < '0' || c > '9') {
			return Parsed{}, ErrShape
		}
	}
	if len(body) < MinRandomCompact+ChecksumLen {
		return Parsed{}, ErrShape
	}
	for i := 0; i < len(body); i++ {
		if !isBase62(body[i]) {
			return Parsed{}, ErrShape
		}
	}
	cut := len(key) - ChecksumLen
	sum := Checksum(bytesOf(key[:cut]))
	if string(sum[:]) != key[cut:] {
		return Parsed{}, ErrChecksum
	}
	return Parsed{Prefix: prefix, Tag: tag, Body: body}, nil
}

func indexByte(s string, c byte, from int) int {
	for i := from; i < len(s); i++ {
		if s[i] == c {
			return i
		}
	}
	return -1
}

func isBase62(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
}

// Hash is what a store keeps of a key.
type Hash [sha256.Size]byte

// HashKey is SHA-256 of the whole key string.
func HashKey(key string) Hash { return sha256.Sum256(bytesOf(key)) }

// bytesOf views s as bytes without a copy, for functions that only read
// them (CRC-32, SHA-256): a verifier does this for every request.
func bytesOf(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

// Hint is the display form: prefix_tag_ + first 4 and last 4 of the body.
func Hint(key string) string {
	p, err := Parse(key)
	if err != nil {
		return ""
	}
	b := p.Body
	return p.Prefix + "_" + p.Tag + "_" + b[:4] + "…" + b[len(b)-4:]
}
