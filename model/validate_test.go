package model

import (
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestValidateKeyName(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"web checkout", "web checkout", true},
		{"  padded  ", "padded", true},
		{"ünïcödé ключ 鍵", "ünïcödé ключ 鍵", true},
		{strings.Repeat("a", 64), strings.Repeat("a", 64), true},
		{strings.Repeat("é", 64), strings.Repeat("é", 64), true},
		{"", "", false},
		{"   ", "", false},
		{strings.Repeat("a", 65), "", false},
		{"tab\there", "", false},
		{"bell\a", "", false},
		{"esc\x1b[31m", "", false},
		{"rtl\u202eoverride", "", false},
		{"bad\xffutf8", "", false},
	}
	for _, tt := range tests {
		got, err := ValidateKeyName(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ValidateKeyName(%q) = %q, %v; want %q ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func TestSlugsTagsPrefixesScopes(t *testing.T) {
	tests := []struct {
		name string
		fn   func(string) error
		in   string
		ok   bool
	}{
		{"channel", ValidateChannelName, "default", true},
		{"channel", ValidateChannelName, "mobile-app-2", true},
		{"channel", ValidateChannelName, "0day", true},
		{"channel", ValidateChannelName, strings.Repeat("a", 40), true},
		{"channel", ValidateChannelName, strings.Repeat("a", 41), false},
		{"channel", ValidateChannelName, "-lead", false},
		{"channel", ValidateChannelName, "Upper", false},
		{"channel", ValidateChannelName, "sp ace", false},
		{"channel", ValidateChannelName, "", false},
		{"env", ValidateEnvName, "staging", true},
		{"env", ValidateEnvName, "pre_prod", false},
		{"tag", ValidateTag, "prod", true},
		{"tag", ValidateTag, "a1", true},
		{"tag", ValidateTag, "abcdefgh", true},
		{"tag", ValidateTag, "abcdefghi", false},
		{"tag", ValidateTag, "", false},
		{"tag", ValidateTag, "st-g", false},
		{"prefix", ValidatePrefix, "kd", true},
		{"prefix", ValidatePrefix, "abcdefgh", true},
		{"prefix", ValidatePrefix, "k", false},
		{"prefix", ValidatePrefix, "k1", false},
		{"prefix", ValidatePrefix, "abcdefghi", false},
		{"scope", ValidateScope, "posts:read", true},
		{"scope", ValidateScope, "posts:*", true},
		{"scope", ValidateScope, "*", true},
		{"scope", ValidateScope, "a.b_c-d", true},
		{"scope", ValidateScope, "Posts", false},
		{"scope", ValidateScope, "posts read", false},
		{"scope", ValidateScope, "", false},
		{"scope", ValidateScope, strings.Repeat("a", 129), false},
	}
	for _, tt := range tests {
		if err := tt.fn(tt.in); (err == nil) != tt.ok {
			t.Errorf("%s(%q) = %v, want ok=%v", tt.name, tt.in, err, tt.ok)
		}
	}
}

func TestNormalizeScopes(t *testing.T) {
	got, err := NormalizeScopes([]string{"b:read", "a:write", "b:read"})
	if err != nil || strings.Join(got, ",") != "b:read,a:write" {
		t.Fatalf("got %v %v", got, err)
	}
	if _, err := NormalizeScopes(make([]string, MaxScopes+1)); err == nil {
		t.Fatal("too many scopes accepted")
	}
}

func TestParseAllowedIP(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"203.0.113.7", "203.0.113.7/32", true},
		{"10.0.0.0/8", "10.0.0.0/8", true},
		{"2001:db8::/32", "2001:db8::/32", true},
		{"2001:db8::1", "2001:db8::1/128", true},
		{"::ffff:1.2.3.4", "1.2.3.4/32", true},
		{" 192.168.1.0/24 ", "192.168.1.0/24", true},
		{"10.0.0.5/8", "", false},
		{"10.0.0.0/33", "", false},
		{"300.1.1.1", "", false},
		{"fe80::1%eth0", "", false},
		{"example.com", "", false},
		{"", "", false},
		{"::ffff:10.0.0.0/104", "", false},
	}
	for _, tt := range tests {
		p, err := ParseAllowedIP(tt.in)
		if (err == nil) != tt.ok || (tt.ok && p.String() != tt.want) {
			t.Errorf("ParseAllowedIP(%q) = %v, %v; want %s ok=%v", tt.in, p, err, tt.want, tt.ok)
		}
	}
}

func TestIPAllowed(t *testing.T) {
	allow, err := NormalizeAllowedIPs([]string{"10.0.0.0/8", "2001:db8::/32", "203.0.113.7", "203.0.113.7"})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(allow, ",") != "10.0.0.0/8,2001:db8::/32,203.0.113.7" {
		t.Fatalf("normalized %v", allow)
	}
	tests := []struct {
		ip string
		ok bool
	}{
		{"10.1.2.3", true},
		{"::ffff:10.1.2.3", true},
		{"11.0.0.1", false},
		{"2001:db8:1::5", true},
		{"2001:db9::1", false},
		{"203.0.113.7", true},
		{"203.0.113.8", false},
	}
	fenced := NewRules(&Key{AllowedIPs: allow})
	for _, tt := range tests {
		if got := fenced.ipAllowed(netip.MustParseAddr(tt.ip)); got != tt.ok {
			t.Errorf("ipAllowed(%s) = %v", tt.ip, got)
		}
	}
	if fenced.ipAllowed(netip.Addr{}) {
		t.Error("a missing client IP passed an allowlist")
	}
	open := NewRules(&Key{})
	if !open.ipAllowed(netip.Addr{}) {
		t.Error("an empty allowlist must allow anything")
	}
}

func TestParseDuration(t *testing.T) {
	day := 24 * time.Hour
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"90d", 90 * day, true},
		{"2w", 14 * day, true},
		{"1y", 365 * day, true},
		{"24h", 24 * time.Hour, true},
		{"1h30m", 90 * time.Minute, true},
		{"100y", 100 * 365 * day, true},
		{"101y", 0, false},
		{"0d", 0, false},
		{"-1h", 0, false},
		{"d", 0, false},
		{"5x", 0, false},
		{"", 0, false},
		{"99999999999999999999d", 0, false},
		{"1.5d", 0, false},
	}
	for _, tt := range tests {
		got, err := ParseDuration(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func TestParseExpiry(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Time
		ok   bool
	}{
		{"never", time.Time{}, true},
		{"", time.Time{}, true},
		{"90d", now.Add(90 * 24 * time.Hour), true},
		{"2027-01-31", time.Date(2027, 2, 1, 0, 0, 0, 0, time.UTC), true},
		{"2027-01-31T10:00:00+01:00", time.Date(2027, 1, 31, 9, 0, 0, 0, time.UTC), true},
		{"2026-11-25", time.Time{}, false},
		{"2020-01-01T00:00:00Z", time.Time{}, false},
		{"2027-02-30", time.Time{}, false},
		{"tomorrow", time.Time{}, false},
		{"3000-01-01", time.Time{}, false},
		{"1ns", time.Time{}, false},
		{"500ms", time.Time{}, false},
		{"59s", time.Time{}, false},
		{"2026-11-26T12:00:30Z", time.Time{}, false},
		{"1m", now.Add(time.Minute), true},
		{"2026-11-26T12:01:00Z", now.Add(time.Minute), true},
	}
	for _, tt := range tests {
		got, err := ParseExpiry(tt.in, now)
		if (err == nil) != tt.ok || !got.Equal(tt.want) {
			t.Errorf("ParseExpiry(%q) = %v, %v; want %v ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func TestParseKeyTypeAndRole(t *testing.T) {
	if k, err := ParseKeyType("x-api-key"); err != nil || k != TypeXAPIKey {
		t.Error(k, err)
	}
	if k, err := ParseKeyType(""); err != nil || k != TypeBearer {
		t.Error(k, err)
	}
	if _, err := ParseKeyType("basic"); err == nil {
		t.Error("basic accepted")
	}
	if _, err := ParseRole("owner"); err == nil {
		t.Error("owner accepted")
	}
}

func TestQuoteEscapes(t *testing.T) {
	if q := Quote("\x1b[2J"); strings.ContainsRune(q, 0x1b) {
		t.Fatalf("Quote left an escape: %q", q)
	}
}

// Fuzz targets for every parser of user input: none may panic, and anything
// accepted must satisfy the rule it was checked against.

func FuzzValidateKeyName(f *testing.F) {
	for _, s := range []string{"web checkout", "", " a ", "\x1b", strings.Repeat("é", 70)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ValidateKeyName(s)
		if err != nil {
			return
		}
		if got == "" || len([]rune(got)) > MaxNameLen || strings.ContainsAny(got, "\x00\x1b\n\r\t") {
			t.Fatalf("accepted %q as %q", s, got)
		}
		if again, err := ValidateKeyName(got); err != nil || again != got {
			t.Fatalf("not idempotent: %q", got)
		}
	})
}

func FuzzValidateSlugTagScope(f *testing.F) {
	for _, s := range []string{"default", "prod", "posts:*", "-x", "A", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if ValidateChannelName(s) == nil && (len(s) > 40 || strings.ToLower(s) != s || strings.ContainsAny(s, " _:")) {
			t.Fatalf("channel %q accepted", s)
		}
		if ValidateTag(s) == nil && (len(s) > 8 || len(s) == 0 || strings.Contains(s, "_")) {
			t.Fatalf("tag %q accepted", s)
		}
		if ValidatePrefix(s) == nil && (len(s) < 2 || len(s) > 8) {
			t.Fatalf("prefix %q accepted", s)
		}
		if ValidateScope(s) == nil && (s == "" || strings.ContainsAny(s, " \n/")) {
			t.Fatalf("scope %q accepted", s)
		}
	})
}

func FuzzParseAllowedIP(f *testing.F) {
	for _, s := range []string{"10.0.0.0/8", "::1", "1.2.3.4", "2001:db8::/32", "1.2.3.4/40", "::ffff:1.2.3.4/120"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParseAllowedIP(s)
		if err != nil {
			return
		}
		if !p.IsValid() || p.Masked() != p {
			t.Fatalf("accepted %q as %v", s, p)
		}
		// Its canonical text parses back to the same prefix.
		if q, err := ParseAllowedIP(p.String()); err != nil || q != p {
			t.Fatalf("%v does not round-trip: %v %v", p, q, err)
		}
	})
}

func FuzzParseDuration(f *testing.F) {
	for _, s := range []string{"90d", "1h30m", "1y", "0d", "-5m", "9999999999y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDuration(s)
		if err == nil && (d <= 0 || d > MaxLifetime) {
			t.Fatalf("ParseDuration(%q) = %v", s, d)
		}
		now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		at, err := ParseExpiry(s, now)
		if err == nil && !at.IsZero() && at.Sub(now) < MinLifetime {
			t.Fatalf("ParseExpiry(%q) = %v, less than a minute away", s, at)
		}
	})
}

func TestHealth(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	tests := []struct {
		name string
		k    Key
		want Health
	}{
		{"fresh", Key{CreatedAt: now.Add(-day)}, HealthOK},
		{"used recently", Key{CreatedAt: now.Add(-300 * day), LastUsedAt: now.Add(-89 * day)}, HealthOK},
		{"stale", Key{CreatedAt: now.Add(-300 * day), LastUsedAt: now.Add(-90 * day)}, HealthStale},
		{"never used, old", Key{CreatedAt: now.Add(-8 * day)}, HealthUnused},
		{"expiring", Key{CreatedAt: now.Add(-day), ExpiresAt: now.Add(6 * day)}, HealthExpiring},
		{"expired", Key{CreatedAt: now.Add(-day), ExpiresAt: now.Add(-time.Second)}, HealthExpired},
		{"disabled beats expired", Key{Disabled: true, ExpiresAt: now.Add(-day)}, HealthDisabled},
	}
	for _, tt := range tests {
		if got := tt.k.Health(now); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestReviewQuestions(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	usedOld := Key{CreatedAt: now.Add(-200 * day), LastUsedAt: now.Add(-100 * day)}
	usedNew := Key{CreatedAt: now.Add(-200 * day), LastUsedAt: now.Add(-day)}
	neverOld := Key{CreatedAt: now.Add(-100 * day)}
	neverNew := Key{CreatedAt: now.Add(-day)}
	tests := []struct {
		name string
		got  bool
		want bool
	}{
		{"used 100d ago is unused for 90d", usedOld.UnusedFor(90*day, now), true},
		{"used yesterday is not", usedNew.UnusedFor(90*day, now), false},
		{"never used, made 100d ago, is", neverOld.UnusedFor(90*day, now), true},
		{"never used, made yesterday, is not", neverNew.UnusedFor(90*day, now), false},
		{"never used", neverNew.NeverUsed(), true},
		{"used", usedNew.NeverUsed(), false},
		{"expires in 6d", (&Key{ExpiresAt: now.Add(6 * day)}).ExpiringWithin(7*day, now), true},
		{"expires in 8d", (&Key{ExpiresAt: now.Add(8 * day)}).ExpiringWithin(7*day, now), false},
		{"expired", (&Key{ExpiresAt: now.Add(-day)}).ExpiringWithin(7*day, now), true},
		{"never expires", (&Key{}).ExpiringWithin(7*day, now), false},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s: got %v", tt.name, tt.got)
		}
	}
}

// Names a terminal cannot lay out in line are refused at the door; wide
// East Asian text and ordinary accents (precomposed or combining) are not.
func TestNamesMustLayOutInLine(t *testing.T) {
	for in, want := range map[string]string{
		"鍵の名前 キー":                          "",
		"Tiếng Việt":                       "",
		"e\u0323\u0302 two marks":          "", // ệ spelled with two combining marks
		"क्षत्रिय":                         "",
		"zalgo z\u0301\u0302\u0303":        "stacks more than 2 combining marks",
		"Z" + strings.Repeat("\u0336", 40): "stacks more than 2 combining marks",
		"\u0301starts with a mark":         "starts with a combining mark",
		"bismillah \ufdfd":                 "holds U+FDFD, which terminals draw wider",
		"dash \u2e3b":                      "holds U+2E3B",
		"cuneiform \U0001242b":             "holds U+1242B",
		"flag \U0001f1eb\U0001f1f7":        "terminals count differently",
		"thumbs \U0001f44d\U0001f3fd":      "",
		"한국어 ก็":                           "",
		"ภาษาไทย น้ำ ก้ำ สวัสดี": "", // SARA AM after a tone mark: two marks
		"नमस्ते दुनिया सुप्रभात": "",
		"கொழும்பு":               "",
		// The attack's names: x/ansi counts one cell where tmux moved 41, 61, 30.
		"ก" + strings.Repeat("ำ", 40):          "stacks more than 2 combining marks",
		"क" + strings.Repeat("ा", 60):          "stacks more than 2 combining marks",
		"ไทย" + strings.Repeat("ำ", 3):         "stacks more than 2 combining marks",
		"ा starts":                             "starts with a combining mark",
		"fill " + strings.Repeat("\u1160", 30): "holds U+1160, which terminals draw as nothing",
		strings.Repeat("\u3164", 20):           "holds U+3164, which terminals draw as nothing",
		"a\u115fb":                             "holds U+115F",
		"half\uffa0width":                      "holds U+FFA0",
		"braille \u2800 blank":                 "holds U+2800",
		"jamo \u1100\u1161\u11a8":              "type Korean as whole syllables",
		"braille \u2813\u2811":                 "",
	} {
		_, err := ValidateKeyName(in)
		if want == "" && err != nil {
			t.Errorf("ValidateKeyName(%q): %v", in, err)
		}
		if want != "" && (err == nil || !strings.Contains(err.Error(), want)) {
			t.Errorf("ValidateKeyName(%q) = %v, want an error with %q", in, err, want)
		}
		if _, derr := ValidateDescription(in); (derr == nil) != (err == nil) {
			t.Errorf("ValidateDescription(%q) = %v, unlike the key name's %v", in, derr, err)
		}
	}
}
