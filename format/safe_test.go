package format

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

func TestSafe(t *testing.T) {
	for in, want := range map[string]string{
		"web checkout":                     "web checkout",
		"鍵 ключ café é":                    "鍵 ключ café é",
		`C:\path\x1b`:                      `C:\path\x1b`,
		"\x1b]52;c;cHduZWQ=\x07":           `\x1b]52;c;cHduZWQ=\a`,
		"\x1b]0;title\x07":                 `\x1b]0;title\a`,
		"\x1b[2J":                          `\x1b[2J`,
		"a\nb\tc\rd\x00e\x7f\b":            `a\nb\tc\rd\x00e\x7f\b`,
		`say "hi"`:                         `say "hi"`,
		"\u009b31m C1 CSI \u0085":          `\u009b31m C1 CSI \u0085`,
		"evil\u202egnp.exe \u2066x\u2069":  `evil\u202egnp.exe \u2066x\u2069`,
		"zero\u200bwidth\ufeff line\u2028": `zero\u200bwidth\ufeff line\u2028`,
		"tag\U000e0041 private\ue000":      `tag\U000e0041 private\ue000`,
		"bad \xff\xc3 utf8":                `bad \xff\xc3 utf8`,
		"\xc2\x9b":                         `\u009b`,
		"":                                 "",
	} {
		if got := Safe(in); got != want {
			t.Errorf("Safe(%q) = %q, want %q", in, got, want)
		}
	}
}

// The fast path hands back the caller's string: no copy for clean text.
func TestSafeCleanTextDoesNotAllocate(t *testing.T) {
	s := strings.Repeat("web checkout 鍵 ", 4)
	if n := testing.AllocsPerRun(100, func() { _ = Safe(s) }); n != 0 {
		t.Fatalf("Safe allocates %v times on clean text", n)
	}
}

func FuzzSafe(f *testing.F) {
	for _, s := range []string{"", "plain", "\x1b]52;c;eA==\x07", "\u009b2J", "\u202e", "\xff", "a\\x1b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := Safe(s)
		if !utf8.ValidString(out) {
			t.Fatalf("Safe(%q) = %q is not valid UTF-8", s, out)
		}
		for i, r := range out {
			if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || !unicode.IsGraphic(r) {
				t.Fatalf("Safe(%q) = %q holds %U at %d", s, out, r, i)
			}
		}
		if again := Safe(out); again != out {
			t.Fatalf("Safe is not stable: %q then %q", out, again)
		}
		if Safe(s) != out {
			t.Fatal("Safe is not deterministic")
		}
	})
}

func TestPrintable(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"env:prod used:>90d", "env:prod used:>90d"},
		{"\u202eevil\u202c", "evil"},
		{"a\u200bb\ufeffc", "abc"},
		{"\x1b]52;c;cHduZWQ=\a", "]52;c;cHduZWQ="},
		{"caf\u00e9 \u65e5\u672c", "caf\u00e9 \u65e5\u672c"},
		{"\u0085\u009b", ""},
	} {
		if got := string(Printable([]rune(tt.in))); got != tt.want {
			t.Errorf("Printable(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if got := string(Printable([]rune(tt.in))); Safe(got) != got {
			t.Errorf("Printable(%q) = %q, which Safe escapes", tt.in, got)
		}
	}
}
