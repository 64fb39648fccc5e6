package scan

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"keyden/keygen"
)

const (
	vecDefault = "kd_prod_0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmn0gZMuH"
	vecDev     = "kd_dev_zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz1U45RD"
	vecCompact = "kd_prod_a1B2c3D4e5F6g7H8i9J0kLmNoP2u2SjI"
)

// lookalike changes a key's last character, so its checksum is wrong.
func lookalike(k string) string {
	c := byte('A')
	if k[len(k)-1] == 'A' {
		c = 'B'
	}
	return k[:len(k)-1] + string(c)
}

func collect(t *testing.T, m *Matcher, r io.Reader) []Find {
	t.Helper()
	var out []Find
	if err := m.Scan(r, func(f Find) { out = append(out, f) }); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestScanFindsKeysWithLinesAndHashes(t *testing.T) {
	text := "first line\nTOKEN=" + vecDefault + "\n\n" +
		`{"k":"` + vecCompact + `"} and ` + vecDev + "\n" +
		"near miss " + lookalike(vecDefault) + "\n" +
		"glued " + vecCompact + "XYZ\n" +
		"not ours xx_prod_" + vecDefault[8:] + "\n"
	got := collect(t, New("kd"), strings.NewReader(text))
	want := []struct {
		line  int
		key   string
		valid bool
	}{{2, vecDefault, true}, {4, vecCompact, true}, {4, vecDev, true}, {5, lookalike(vecDefault), false}, {6, vecCompact, true}}
	if len(got) != len(want) {
		t.Fatalf("finds %+v, want %d", got, len(want))
	}
	for i, w := range want {
		g := got[i]
		if g.Line != w.line || g.Valid != w.valid {
			t.Errorf("find %d: line %d valid %v, want line %d valid %v", i, g.Line, g.Valid, w.line, w.valid)
		}
		if w.valid && g.Hash != keygen.HashKey(w.key) {
			t.Errorf("find %d: hash is not the key's", i)
		}
		if w.valid && g.Hint != keygen.Hint(w.key) {
			t.Errorf("find %d: hint %q, want %q", i, g.Hint, keygen.Hint(w.key))
		}
	}
}

func TestScanNeverReportsShortOrMisshapenStrings(t *testing.T) {
	for _, s := range []string{
		"kd_prod_", "kd_prod_short", "kd__" + vecDefault[8:], "kd_toolongtag_" + vecDefault[8:],
		vecCompact[:30], "mkd_prod_" + lookalike(vecDefault)[8:], "akd_prod_" + lookalike(vecDefault)[8:],
	} {
		if got := collect(t, New("kd"), strings.NewReader(s)); len(got) != 0 {
			t.Errorf("%q: finds %+v, want none", s, got)
		}
	}
}

// A key that straddles two chunks of a stream is found, on the right line,
// whatever sizes the reader hands out.
func TestScanAcrossChunks(t *testing.T) {
	for _, pad := range []int{chunk - 10, chunk - 64, chunk, chunk + 3, 2*chunk - 30} {
		var b bytes.Buffer
		for b.Len() < pad {
			b.WriteString("filler line\n")
		}
		b.Truncate(pad)
		lines := bytes.Count(b.Bytes(), nl) + 1
		b.WriteString(vecDefault + "\nend\n")
		got := collect(t, New("kd"), iotest.HalfReader(bytes.NewReader(b.Bytes())))
		if len(got) != 1 || !got[0].Valid || got[0].Line != lines {
			t.Errorf("pad %d: finds %+v, want one valid key on line %d", pad, got, lines)
		}
	}
}

func TestDiffFindsAddedLinesOnly(t *testing.T) {
	diff := "commit 1111111111111111111111111111111111111111\n" +
		"diff --git a/app.env b/app.env\nnew file mode 100644\nindex 0000000..e69de29\n--- /dev/null\n+++ b/app.env\n" +
		"@@ -0,0 +1,3 @@\n+one\n+KEY=" + vecDefault + "\n+three\n" +
		"commit 2222222222222222222222222222222222222222\n" +
		"diff --git a/app.env b/app.env\n--- a/app.env\n+++ b/app.env\n" +
		"@@ -2 +2 @@\n-KEY=" + vecDefault + "\n+KEY=from-vault\n" +
		"@@ -10,0 +11,2 @@\n+x\n+" + vecCompact + "\n" +
		"diff --git \"a/we\\tird\" \"b/we\\tird\"\n--- \"a/we\\tird\"\n+++ \"b/we\\tird\"\n@@ -1 +1 @@\n+" + vecDev + "\n"
	var got []DiffFind
	if err := New("kd").Diff(strings.NewReader(diff), func(f DiffFind) { got = append(got, f) }); err != nil {
		t.Fatal(err)
	}
	want := []DiffFind{
		{Commit: strings.Repeat("1", 40), Path: "app.env", Find: Find{Line: 2}},
		{Commit: strings.Repeat("2", 40), Path: "app.env", Find: Find{Line: 12}},
		{Commit: strings.Repeat("2", 40), Path: "we\tird", Find: Find{Line: 1}},
	}
	if len(got) != len(want) {
		t.Fatalf("finds %+v, want %d", got, len(want))
	}
	for i, w := range want {
		if got[i].Commit != w.Commit || got[i].Path != w.Path || got[i].Line != w.Line || !got[i].Valid {
			t.Errorf("find %d: %+v, want %+v", i, got[i], w)
		}
	}
}

// BenchmarkScan is text with a key every 64 KiB: the speed of the search
// for the prefix, which is what a scan of a repository costs.
func BenchmarkScan(b *testing.B) {
	text := benchText(64 << 20)
	m := New("kd")
	b.SetBytes(int64(len(text)))
	b.ResetTimer()
	for b.Loop() {
		n := 0
		if err := m.Scan(bytes.NewReader(text), func(Find) { n++ }); err != nil || n == 0 {
			b.Fatal(n, err)
		}
	}
}

// benchText is n bytes of source-like lines with a key now and then.
func benchText(n int) []byte {
	lines := []string{
		"func (s *server) handle(w http.ResponseWriter, r *http.Request) {\n",
		"\t// the kd_ prefix alone, and keyed_values, are not keys\n",
		"\tif err := json.NewDecoder(r.Body).Decode(&req); err != nil {\n",
		"\t\treturn fmt.Errorf(\"decode: %w\", err)\n",
		"API_URL=https://api.example.com/v1/kd_prod/items?id=42\n",
	}
	var b bytes.Buffer
	for i := 0; b.Len() < n; i++ {
		if i%1000 == 999 {
			b.WriteString("TOKEN=" + vecDefault + "\n")
		}
		b.WriteString(lines[i%len(lines)])
	}
	return b.Bytes()[:n]
}
