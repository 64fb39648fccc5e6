package model

import (
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/charmbracelet/x/ansi"
	"github.com/mattn/go-runewidth"
)

// Limits on user input. They keep a store's records small and a table readable.
const (
	MaxNameLen  = 64
	MaxScopes   = 64
	MaxScopeLen = 128
	MaxAllowIPs = 256
	MaxDescLen  = 200
	MaxUserLen  = 64
	MaxLifetime = 100 * 365 * 24 * time.Hour
	// MinLifetime keeps an expiry from making a key that is dead on arrival
	// (--expires 1ns or 500ms once did).
	MinLifetime  = time.Minute
	maxInputScan = 1024
)

// ValidateKeyName checks a key's display name: 1–64 printable characters.
// Outer spaces are trimmed; what is returned is what gets stored.
func ValidateKeyName(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", fmt.Errorf("the key name is empty: give a name such as \"web checkout\"")
	}
	if !utf8.ValidString(s) {
		return "", fmt.Errorf("the key name is not valid UTF-8: type it again")
	}
	if n := utf8.RuneCountInString(s); n > MaxNameLen {
		return "", fmt.Errorf("the key name has %d characters: shorten it to %d or fewer", n, MaxNameLen)
	}
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return "", fmt.Errorf("the key name holds a control or invisible character (%U): use printable characters only", r)
		}
	}
	if err := checkLayout("key name", s); err != nil {
		return "", err
	}
	return s, nil
}

// MaxMarks is how many marks one character may carry: enough for
// Vietnamese (ệ as e + two marks), Thai (น้ำ: a tone mark and SARA AM) and
// Devanagari clusters (a vowel sign and a nasal mark).
const MaxMarks = 2

// checkLayout refuses text whose width on a terminal is not what its
// characters say. Terminals measure in one of two ways: per grapheme
// cluster (x/ansi, go-runewidth, and the TUI) or per code point (wcwidth:
// tmux, xterm), where each spacing mark takes a cell of its own. Refused:
// a pile of marks on one character (drawn over the lines around it, or as
// many cells in a per-code-point terminal where keyden counts one), a mark
// with no character to sit on, a glyph fonts draw far wider than its cell
// (U+FDFD and the like), a character that draws nothing (Hangul fillers,
// the blank braille pattern), and text the cluster measures disagree on.
// Wide East Asian characters are fine: they take two cells either way.
func checkLayout(what, s string) error {
	marks := 0
	for i, r := range s {
		switch {
		case unicode.In(r, blank):
			return fmt.Errorf("the %s holds %U, which terminals draw as nothing: leave it out", what, r)
		case unicode.In(r, jamo):
			return fmt.Errorf("the %s holds the Hangul letter part %U, which terminals join or not as they please: type Korean as whole syllables", what, r)
		case unicode.In(r, overwide):
			return fmt.Errorf("the %s holds %U, which terminals draw wider than its place: leave it out", what, r)
		case !isMark(r):
			marks = 0
		case i == 0:
			return fmt.Errorf("the %s starts with a combining mark (%U): put it after a letter", what, r)
		default:
			if marks++; marks > MaxMarks {
				return fmt.Errorf("the %s stacks more than %d combining marks on one character: use at most %d", what, MaxMarks, MaxMarks)
			}
		}
	}
	// The cluster measures must agree with each other (two libraries, and
	// cell by cell), or a table lines up in one terminal and not another.
	if w := ansi.StringWidth(s); w != ansi.StringWidthWc(s) || w != narrow.StringWidth(s) {
		return fmt.Errorf("the %s holds characters terminals count differently (such as flags or joined emoji): leave them out", what)
	}
	return nil
}

// narrow is go-runewidth with ambiguous characters one cell wide, as
// x/ansi counts them: its default follows the locale, and what a name may
// be must not depend on who typed it.
var narrow = &runewidth.Condition{StrictEmojiNeutral: true}

// isMark says r sits on the character before it: a combining mark (Mn, Me),
// a spacing mark (Mc: a cell of its own where terminals count code points),
// or a spacing vowel written after its consonant as a letter (Thai and Lao
// SARA AM, which is one cluster with it, yet a cell of its own).
func isMark(r rune) bool {
	return unicode.In(r, unicode.Mn, unicode.Me, unicode.Mc) || r == 0x0e33 || r == 0x0eb3
}

// overwide are glyphs fonts draw several cells wide in a one-cell place:
// the Arabic ligatures ﷺ ﷻ ﷽, the two- and three-em dashes, cuneiform.
var overwide = &unicode.RangeTable{
	R16: []unicode.Range16{{Lo: 0x2e3a, Hi: 0x2e3b, Stride: 1}, {Lo: 0xfdfa, Hi: 0xfdfb, Stride: 1}, {Lo: 0xfdfd, Hi: 0xfdfd, Stride: 1}},
	R32: []unicode.Range32{{Lo: 0x12000, Hi: 0x1254f, Stride: 1}},
}

// blank are printable characters that draw nothing: a name of them looks
// empty, and one inside a name passes for a space. The combining grapheme
// joiner (U+034F), Hangul's fillers (U+115F, U+1160, U+3164, U+FFA0),
// Khmer's inherent vowels (U+17B4, U+17B5), Mongolian's variation selectors
// (U+180B–U+180F) and the blank braille pattern (U+2800).
var blank = &unicode.RangeTable{
	R16: []unicode.Range16{
		{Lo: 0x034f, Hi: 0x034f, Stride: 1}, {Lo: 0x115f, Hi: 0x1160, Stride: 1},
		{Lo: 0x17b4, Hi: 0x17b5, Stride: 1}, {Lo: 0x180b, Hi: 0x180f, Stride: 1},
		{Lo: 0x2800, Hi: 0x2800, Stride: 1}, {Lo: 0x3164, Hi: 0x3164, Stride: 1},
		{Lo: 0xffa0, Hi: 0xffa0, Stride: 1},
	},
}

// jamo are the conjoining parts of Hangul syllables: one terminal joins
// them into a syllable's two cells, another gives each its own. Korean is
// typed as whole syllables (U+AC00–U+D7A3), which every input method writes.
var jamo = &unicode.RangeTable{
	R16: []unicode.Range16{{Lo: 0x1100, Hi: 0x11ff, Stride: 1}, {Lo: 0xa960, Hi: 0xa97f, Stride: 1}, {Lo: 0xd7b0, Hi: 0xd7ff, Stride: 1}},
}

var slugRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,39}$`)

// ValidateChannelName checks a channel name: [a-z0-9][a-z0-9-]{0,39}.
func ValidateChannelName(s string) error { return validateSlug("channel", s) }

// ValidateEnvName checks an environment name with the same rule as channels.
func ValidateEnvName(s string) error { return validateSlug("environment", s) }

func validateSlug(what, s string) error {
	if s == "" {
		return fmt.Errorf("the %s name is empty: give one such as \"mobile-app\"", what)
	}
	if len(s) > 40 {
		return fmt.Errorf("the %s name is %d characters long: use at most 40", what, len(s))
	}
	if !slugRE.MatchString(s) {
		return fmt.Errorf("the %s name %s is not allowed: use lower-case letters, digits and '-', starting with a letter or digit", what, Quote(s))
	}
	return nil
}

var tagRE = regexp.MustCompile(`^[a-z0-9]{1,8}$`)

// ValidateTag checks an environment tag, which goes into every key: [a-z0-9]{1,8}.
func ValidateTag(s string) error {
	if !tagRE.MatchString(s) {
		return fmt.Errorf("the environment tag %s is not allowed: use 1 to 8 lower-case letters or digits, such as \"stg\"", Quote(s))
	}
	return nil
}

var prefixRE = regexp.MustCompile(`^[a-z]{2,8}$`)

// ValidatePrefix checks a store's key prefix: [a-z]{2,8}.
func ValidatePrefix(s string) error {
	if !prefixRE.MatchString(s) {
		return fmt.Errorf("the key prefix %s is not allowed: use 2 to 8 lower-case letters, such as \"kd\"", Quote(s))
	}
	return nil
}

var scopeRE = regexp.MustCompile(`^[a-z0-9:._*-]+$`)

// ValidateScope checks one scope: [a-z0-9:._*-]+, at most 128 characters.
func ValidateScope(s string) error {
	if len(s) > MaxScopeLen {
		return fmt.Errorf("a scope is %d characters long: use at most %d", len(s), MaxScopeLen)
	}
	if !scopeRE.MatchString(s) {
		return fmt.Errorf("the scope %s is not allowed: use lower-case letters, digits and : . _ * -, such as \"posts:read\"", Quote(s))
	}
	return nil
}

// NormalizeScopes validates scopes and drops duplicates, keeping order.
func NormalizeScopes(in []string) ([]string, error) {
	if len(in) > MaxScopes {
		return nil, fmt.Errorf("%d scopes given: a key holds at most %d", len(in), MaxScopes)
	}
	out := make([]string, 0, len(in))
	seen := map[string]bool{}
	for _, s := range in {
		s = strings.TrimSpace(s)
		if err := ValidateScope(s); err != nil {
			return nil, err
		}
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out, nil
}

// ParseAllowedIP reads an IP address or CIDR (v4 or v6) into a prefix.
// A CIDR with host bits set is refused rather than silently widened.
func ParseAllowedIP(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return netip.Prefix{}, fmt.Errorf("an allowed IP is empty: give an address such as 203.0.113.7 or a range such as 10.0.0.0/8")
	}
	if len(s) > 64 {
		return netip.Prefix{}, fmt.Errorf("%s is not an IP address or CIDR range: give one such as 203.0.113.7 or 10.0.0.0/8", Quote(s))
	}
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("%s is not a CIDR range: give one such as 10.0.0.0/8 or 2001:db8::/32", Quote(s))
		}
		if p.Addr().Is4In6() {
			return netip.Prefix{}, fmt.Errorf("%s is an IPv4-mapped range: write it as plain IPv4, such as 10.0.0.0/8", Quote(s))
		}
		if m := p.Masked(); m != p {
			return netip.Prefix{}, fmt.Errorf("%s has host bits set: did you mean %s?", Quote(s), m)
		}
		return p, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Prefix{}, fmt.Errorf("%s is not an IP address: give one such as 203.0.113.7 or 2001:db8::1", Quote(s))
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// NormalizeAllowedIPs parses a list into canonical text: single addresses
// without a /32 or /128, ranges masked, duplicates dropped.
func NormalizeAllowedIPs(in []string) ([]string, error) {
	if len(in) > MaxAllowIPs {
		return nil, fmt.Errorf("%d allowed IPs given: a key holds at most %d", len(in), MaxAllowIPs)
	}
	out := make([]string, 0, len(in))
	seen := map[string]bool{}
	for _, s := range in {
		p, err := ParseAllowedIP(s)
		if err != nil {
			return nil, err
		}
		txt := p.String()
		if p.IsSingleIP() {
			txt = p.Addr().String()
		}
		if !seen[txt] {
			seen[txt] = true
			out = append(out, txt)
		}
	}
	return out, nil
}

// ParseDuration reads durations as admins write them: 30s, 15m, 24h, 90d,
// 2w, 1y (a year is 365 days), or Go forms such as 1h30m. It must be > 0
// and at most 100 years.
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	bad := fmt.Errorf("%s is not a duration: write one such as 30m, 24h, 90d, 2w or 1y", Quote(s))
	if s == "" || len(s) > 32 {
		return 0, bad
	}
	var d time.Duration
	unit := s[len(s)-1]
	switch unit {
	case 'd', 'w', 'y':
		n, err := strconv.ParseUint(s[:len(s)-1], 10, 32)
		if err != nil {
			return 0, bad
		}
		day := 24 * time.Hour
		per := map[byte]time.Duration{'d': day, 'w': 7 * day, 'y': 365 * day}[unit]
		if n > uint64(MaxLifetime/per) {
			return 0, fmt.Errorf("%s is too long: use at most 100y", Quote(s))
		}
		d = time.Duration(n) * per
	default:
		var err error
		d, err = time.ParseDuration(s)
		if err != nil {
			return 0, bad
		}
	}
	if d <= 0 {
		return 0, fmt.Errorf("%s is not a positive duration: write one such as 24h or 90d", Quote(s))
	}
	if d > MaxLifetime {
		return 0, fmt.Errorf("%s is too long: use at most 100y", Quote(s))
	}
	return d, nil
}

// ParseExpiry reads --expires: "never" (zero time), a duration from now
// (90d), a date (2027-01-31: the key works through that day, UTC) or an
// RFC 3339 time. The result must be in the future.
func ParseExpiry(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "never" {
		return time.Time{}, nil
	}
	if len(s) > 40 {
		return time.Time{}, fmt.Errorf("the expiry is too long: write never, a duration such as 90d, or a date such as 2027-01-31")
	}
	var at time.Time
	if t, err := time.Parse("2006-01-02", s); err == nil {
		at = t.AddDate(0, 0, 1)
	} else if t, err := time.Parse(time.RFC3339, s); err == nil {
		at = t.UTC()
	} else if d, err := ParseDuration(s); err == nil {
		at = now.Add(d)
	} else if s[0] >= '0' && s[0] <= '9' && !strings.Contains(s, "-") {
		return time.Time{}, err // a duration, but a wrong one: its own message says why
	} else {
		return time.Time{}, fmt.Errorf("%s is not an expiry: write never, a duration such as 90d, or a date such as 2027-01-31", Quote(s))
	}
	if !at.After(now) {
		return time.Time{}, fmt.Errorf("the expiry %s is in the past: give a later date or a duration such as 90d", Quote(s))
	}
	if at.Sub(now) < MinLifetime {
		return time.Time{}, fmt.Errorf("the expiry %s is less than a minute away: give at least 1m, such as 30m or 90d", Quote(s))
	}
	if at.Sub(now) > MaxLifetime {
		return time.Time{}, fmt.Errorf("the expiry %s is more than 100 years away: give an earlier date", Quote(s))
	}
	return at.UTC(), nil
}

// ParseKeyType reads --type.
func ParseKeyType(s string) (KeyType, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "bearer":
		return TypeBearer, nil
	case "x-api-key", "xapikey", "api-key":
		return TypeXAPIKey, nil
	}
	return "", fmt.Errorf("the key type %s is unknown: use bearer or x-api-key", Quote(s))
}

// ParseRole reads a member role.
func ParseRole(s string) (Role, error) {
	switch Role(s) {
	case RoleAdmin, RoleSuperAdmin:
		return Role(s), nil
	}
	return "", fmt.Errorf("the role %s is unknown: use admin or super-admin", Quote(s))
}

// ValidateDescription checks a channel description: printable, ≤ 200 characters.
func ValidateDescription(s string) (string, error) {
	s = strings.TrimSpace(s)
	if utf8.RuneCountInString(s) > MaxDescLen {
		return "", fmt.Errorf("the description is longer than %d characters: shorten it", MaxDescLen)
	}
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return "", fmt.Errorf("the description holds a control or invisible character (%U): use printable characters only", r)
		}
	}
	if err := checkLayout("description", s); err != nil {
		return "", err
	}
	return s, nil
}

// Quote shows user input in a message safely: control characters escaped
// and long input cut, so an error can never smuggle terminal escapes.
func Quote(s string) string {
	if len(s) > 48 {
		s = s[:48] + "…"
	}
	return strconv.QuoteToGraphic(s)
}

// ScopeCovers says whether a key holding have may act on want: an exact
// match, "*" for everything, or a trailing "*" for everything after its
// prefix ("posts:*" covers "posts:read" and "posts:write").
func ScopeCovers(have []string, want string) bool {
	for _, h := range have {
		if h == want || h == "*" {
			return true
		}
		if n := len(h); n > 1 && h[n-1] == '*' && len(want) >= n-1 && want[:n-1] == h[:n-1] {
			return true
		}
	}
	return false
}
