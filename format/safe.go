package format

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Safe makes text that did not come from keyden's own code harmless to write
// to a terminal. A store can be written by others (a shared file, an etcd
// writer, a restored backup), so a name may hold ESC, OSC 52 or a bidi
// override. Every rune unicode.IsGraphic rejects is shown as Go escapes it
// (as model.Quote does in error sentences): C0 controls, DEL and bad UTF-8
// bytes as \n, \t, \a or \x1b; C1 controls, format characters (bidi
// overrides U+202A–U+202E and U+2066–U+2069, zero widths, BOM), line
// separators, private-use and unassigned runes as \u009b, \u202e or
// \U000e0041. Backslash and quotes are left alone, so Safe(Safe(s)) ==
// Safe(s) and ordinary names show as they are.
func Safe(s string) string {
	i := 0
	for i < len(s) {
		r, n := utf8.DecodeRuneInString(s[i:])
		if !safeRune(r, n) {
			break
		}
		i += n
	}
	if i == len(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	b.WriteString(s[:i])
	for i < len(s) {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case safeRune(r, n):
			b.WriteString(s[i : i+n])
		case r == utf8.RuneError && n == 1:
			b.WriteString(`\x`)
			b.WriteString(strconv.FormatUint(uint64(s[i])>>4, 16))
			b.WriteString(strconv.FormatUint(uint64(s[i])&15, 16))
		default:
			// Go's own escape of the rune, as model.Quote writes it, without the quotes.
			q := strconv.QuoteRuneToGraphic(r)
			b.WriteString(q[1 : len(q)-1])
		}
		i += n
	}
	return b.String()
}

func safeRune(r rune, n int) bool {
	if r < utf8.RuneSelf {
		return r >= 0x20 && r < 0x7f
	}
	return !(r == utf8.RuneError && n == 1) && unicode.IsGraphic(r)
}

// Printable keeps the runes of typed text that Safe would leave as they
// are: text typed into a field is drawn back as it is, so a rune Safe
// would escape (a control, a bidi override, a zero width) must not get in.
func Printable(rs []rune) []rune {
	out := make([]rune, 0, len(rs))
	for _, r := range rs {
		if r != utf8.RuneError && safeRune(r, 1) {
			out = append(out, r)
		}
	}
	return out
}
