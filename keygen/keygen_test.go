package keygen

import (
	"errors"
	"strings"
	"testing"
)

// The design's test vectors: the last 6 characters are the checksum of the rest.
var designVectors = []string{
	"kd_prod_0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmn0gZMuH",
	"kd_dev_zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz1U45RD",
	"kd_prod_a1B2c3D4e5F6g7H8i9J0kLmNoP2u2SjI",
}

func TestDesignVectors(t *testing.T) {
	for _, v := range designVectors {
		if _, err := Parse(v); err != nil {
			t.Errorf("Parse(%q) = %v, want ok", v, err)
		}
		sum := Checksum([]byte(v[:len(v)-6]))
		if got := string(sum[:]); got != v[len(v)-6:] {
			t.Errorf("Checksum(%q) = %s, want %s", v[:len(v)-6], got, v[len(v)-6:])
		}
	}
}

func TestChecksumPadding(t *testing.T) {
	// CRC-32 of "" is 0, which must be written as six zeros.
	if got := Checksum(nil); string(got[:]) != "000000" {
		t.Fatalf("Checksum(nil) = %s, want 000000", got[:])
	}
}

func TestGenerateLayout(t *testing.T) {
	tests := []struct {
		format      Format
		prefix, tag string
		total       int
		grown       bool
	}{
		{FormatDefault, "kd", "prod", 64, false},
		{FormatDefault, "kd", "dev", 64, false},
		{FormatDefault, "kd", "stg", 64, false},
		{FormatCompact, "kd", "prod", 40, false},
		{FormatCompact, "kd", "dev", 40, false},
		// 8+1+8+1+6 = 24 fixed: 40-24 = 16 random < 22, so the key grows to 46.
		{FormatCompact, "abcdefgh", "abcdefgh", 46, true},
		// 64-24 = 40 random < 43, so a default key grows to 67.
		{FormatDefault, "abcdefgh", "abcdefgh", 67, true},
	}
	for _, tt := range tests {
		k, err := Generate(tt.format, tt.prefix, tt.tag)
		if err != nil {
			t.Fatal(err)
		}
		if len(k) != tt.total {
			t.Errorf("%s %s_%s: len %d, want %d (%s)", tt.format, tt.prefix, tt.tag, len(k), tt.total, k)
		}
		if l := LayoutFor(tt.format, tt.prefix, tt.tag); l.Grown != tt.grown || l.Total != tt.total {
			t.Errorf("LayoutFor(%s,%s,%s) = %+v", tt.format, tt.prefix, tt.tag, l)
		}
		if !strings.HasPrefix(k, tt.prefix+"_"+tt.tag+"_") {
			t.Errorf("key %q lacks prefix", k)
		}
		p, err := Parse(k)
		if err != nil {
			t.Errorf("Parse(Generate()) = %v", err)
		}
		if p.Prefix != tt.prefix || p.Tag != tt.tag {
			t.Errorf("parsed %+v", p)
		}
	}
}

func TestGenerateIsRandomAndUniform(t *testing.T) {
	seen := map[string]bool{}
	var counts [256]int
	const n = 2000
	for i := 0; i < n; i++ {
		k, err := Generate(FormatDefault, "kd", "prod")
		if err != nil {
			t.Fatal(err)
		}
		if seen[k] {
			t.Fatalf("duplicate key after %d", i)
		}
		seen[k] = true
		for _, c := range []byte(k[8 : len(k)-6]) {
			counts[c]++
		}
	}
	// 50 random characters × 2000 keys over 62 symbols: ~1613 each. A symbol
	// that never or rarely appears means the mapping is broken.
	for _, c := range []byte(Alphabet) {
		if counts[c] < 1300 || counts[c] > 1950 {
			t.Errorf("symbol %q appeared %d times, want about 1613", c, counts[c])
		}
	}
}

func TestParseRefusals(t *testing.T) {
	good := designVectors[0]
	flip := []byte(good)
	flip[20] ^= 0x20 // change case of one body character
	tests := []struct {
		name string
		key  string
		want error
	}{
		{"empty", "", ErrShape},
		{"no separators", "kdprod0123456789", ErrShape},
		{"one separator", "kd_0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", ErrShape},
		{"upper prefix", "KD" + good[2:], ErrShape},
		{"short prefix", "k" + good[2:], ErrShape},
		{"long tag", "kd_abcdefghi_0123456789ABCDEFGHIJKLMNOPQRSTUV", ErrShape},
		{"empty tag", "kd__0123456789ABCDEFGHIJKLMNOPQRSTUV", ErrShape},
		{"truncated", good[:20], ErrShape},
		{"truncated by one", good[:len(good)-1], ErrChecksum},
		{"bad char in body", good[:30] + "-" + good[31:], ErrShape},
		{"newline", good + "\n", ErrShape},
		{"one char changed", string(flip), ErrChecksum},
		{"re-tagged", "kd_dev_" + good[8:], ErrChecksum},
		{"too long", "kd_prod_" + strings.Repeat("a", 300), ErrShape},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Parse(tt.key); !errors.Is(err, tt.want) {
				t.Fatalf("Parse(%q) = %v, want %v", tt.key, err, tt.want)
			}
		})
	}
}

func TestHint(t *testing.T) {
	if got, want := Hint(designVectors[0]), "kd_prod_0123…ZMuH"; got != want {
		t.Fatalf("Hint = %q, want %q", got, want)
	}
	if Hint("nonsense") != "" {
		t.Fatal("Hint of a malformed key must be empty")
	}
}

func TestHashIsSHA256(t *testing.T) {
	// sha256("abc")
	h := HashKey("abc")
	const want = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
	const hexd = "0123456789abcdef"
	var got []byte
	for _, b := range h {
		got = append(got, hexd[b>>4], hexd[b&15])
	}
	if string(got) != want {
		t.Fatalf("HashKey = %s", got)
	}
}

func FuzzParse(f *testing.F) {
	for _, v := range designVectors {
		f.Add(v)
	}
	f.Add("")
	f.Add("kd_prod_")
	f.Add("a_b_c")
	f.Add("kd_prod_0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmn0gZMu")
	f.Fuzz(func(t *testing.T, s string) {
		p, err := Parse(s)
		if err != nil {
			return
		}
		// Anything accepted must round-trip to itself and carry a valid checksum.
		if p.Prefix+"_"+p.Tag+"_"+p.Body != s {
			t.Fatalf("parts %+v do not rebuild %q", p, s)
		}
		sum := Checksum([]byte(s[:len(s)-ChecksumLen]))
		if string(sum[:]) != s[len(s)-ChecksumLen:] {
			t.Fatalf("accepted bad checksum %q", s)
		}
		if Hint(s) == "" {
			t.Fatalf("no hint for accepted key %q", s)
		}
	})
}

func BenchmarkGenerate(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Generate(FormatDefault, "kd", "prod"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParse(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(designVectors[0]); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkHashKey(b *testing.B) {
	for b.Loop() {
		HashKey(designVectors[0])
	}
}
