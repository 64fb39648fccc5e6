package keyindex

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"keyden/model"
)

// The query language of the TUI's filter line and `keyden list --filter`:
//
//	web env:prod used:>90d by:alice -status:disabled
//
// Free words must each appear in a key's name, channel, environment,
// scopes, hint or creator (case folded); fields test one thing each. All
// terms must hold (AND), except that the same field given more than once
// matches any of its values (env:dev env:staging: either). A term with a
// leading - must not hold. Double quotes make one word of text with spaces
// or a colon ("web checkout", "a:b").

// field is what one term tests.
type field uint8

const (
	fieldWord field = iota
	fieldEnv
	fieldChannel
	fieldBy
	fieldScope
	fieldStatus
	fieldUsed
	fieldExpires
	fieldCreated
)

var fieldNames = []string{fieldWord: "", fieldEnv: "env", fieldChannel: "channel", fieldBy: "by",
	fieldScope: "scope", fieldStatus: "status", fieldUsed: "used", fieldExpires: "expires", fieldCreated: "created"}

// statuses are the values of status:, as the STATUS column shows them.
var statuses = []string{"ok", "disabled", "expired", "expiring", "stale", "unused", "decoy", "tripped"}

// term is one test. For words and the name fields, text is lower-cased
// (a glob for the name fields); for the time fields, op is '<', '>' or 'n'
// (never) and d the duration.
type term struct {
	field field
	text  string
	op    byte
	d     time.Duration
}

// group is terms of which one must hold (one field's values), or, with
// neg, one term that must not.
type group struct {
	neg   bool
	terms []term
}

// Terms is a parsed query: every group must hold. The zero Terms matches
// every key.
type Terms struct {
	groups []group
}

// Empty says whether t matches every key.
func (t Terms) Empty() bool { return len(t.groups) == 0 }

// MaxQueryTerms bounds a query: each term is tested against every key, so
// a pasted page of words (every one matching) kept a million keys busy for
// minutes. No question a person asks needs more.
const MaxQueryTerms = 64

// ParseQuery reads a query. Its error is one sentence naming the bad term
// and what it may be, to show under the filter line or on stderr.
func ParseQuery(s string) (Terms, error) {
	toks, err := tokens(s)
	if err != nil {
		return Terms{}, err
	}
	if len(toks) > MaxQueryTerms {
		return Terms{}, fmt.Errorf("the query has %d terms, more than keyden takes (%d): use fewer", len(toks), MaxQueryTerms)
	}
	var t Terms
	byField := map[field]int{} // the positive group of each field
	for _, tok := range toks {
		tm, neg, err := parseTerm(tok)
		if err != nil {
			return Terms{}, err
		}
		if tm.field == fieldWord && tm.text == "" {
			continue
		}
		if neg || tm.field == fieldWord {
			t.groups = append(t.groups, group{neg: neg, terms: []term{tm}})
			continue
		}
		if i, ok := byField[tm.field]; ok {
			t.groups[i].terms = append(t.groups[i].terms, tm)
			continue
		}
		byField[tm.field] = len(t.groups)
		t.groups = append(t.groups, group{terms: []term{tm}})
	}
	return t, nil
}

// token is one space-separated piece of a query with its quotes taken
// out; colon is where its first unquoted colon is (-1: none) and dash says
// it starts with an unquoted -.
type token struct {
	raw   string // as typed, for error messages
	text  string
	colon int
	dash  bool
}

func tokens(s string) ([]token, error) {
	var out []token
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if unicode.IsSpace(r) {
			i += size
			continue
		}
		start := i
		tok := token{colon: -1}
		var b strings.Builder
		quoted := false
		for i < len(s) {
			r, size := utf8.DecodeRuneInString(s[i:])
			if !quoted && unicode.IsSpace(r) {
				break
			}
			i += size
			switch {
			case r == '"':
				quoted = !quoted
			case !quoted && r == ':' && tok.colon < 0:
				tok.colon = b.Len()
				b.WriteRune(r)
			case !quoted && r == '-' && i-size == start:
				tok.dash = true
			default:
				b.WriteRune(r)
			}
		}
		tok.raw, tok.text = s[start:i], b.String()
		if quoted {
			return nil, fmt.Errorf("the quote in %s is not closed: end it with \"", model.Quote(tok.raw))
		}
		if tok.dash && tok.text == "" {
			tok.dash, tok.text = false, "-" // a lone - is the word itself
		}
		out = append(out, tok)
	}
	return out, nil
}

// examples are each field's sample values, for error messages.
var examples = []string{fieldEnv: "env:prod", fieldChannel: "channel:web", fieldBy: "by:alice",
	fieldScope: "scope:posts:*", fieldStatus: "status:stale",
	fieldUsed: "used:<1h, used:>90d or used:never", fieldExpires: "expires:<7d, expires:>30d or expires:never",
	fieldCreated: "created:<7d or created:>1y"}

func parseTerm(tok token) (term, bool, error) {
	if tok.colon < 0 {
		return term{field: fieldWord, text: lower(tok.text)}, tok.dash, nil
	}
	name, value := strings.ToLower(tok.text[:tok.colon]), tok.text[tok.colon+1:]
	i := slices.Index(fieldNames, name)
	if i <= 0 {
		return term{}, false, fmt.Errorf("%s is not a filter field: use env, channel, by, scope, status, used, expires or created, or put a word with a colon in quotes", model.Quote(tok.raw))
	}
	f := field(i)
	if value == "" {
		return term{}, false, fmt.Errorf("%s needs a value, such as %s", model.Quote(tok.raw), examples[f])
	}
	t := term{field: f}
	switch f {
	case fieldStatus:
		t.text = strings.ToLower(value)
		if !slices.Contains(statuses, t.text) {
			return term{}, false, fmt.Errorf("%s is not a status: use status:%s", model.Quote(tok.raw), strings.Join(statuses, ", "))
		}
	case fieldUsed, fieldExpires, fieldCreated:
		bad := fmt.Errorf("%s is not a time filter: use %s (units s m h d w y)", model.Quote(tok.raw), examples[f])
		switch {
		case strings.EqualFold(value, "never") && f != fieldCreated:
			t.op = 'n'
		case value[0] == '<' || value[0] == '>':
			d, err := model.ParseDuration(value[1:])
			if err != nil {
				return term{}, false, bad
			}
			t.op, t.d = value[0], d
		default:
			return term{}, false, bad
		}
	default:
		t.text = lower(value)
	}
	return t, tok.dash, nil
}

func lower(s string) string { return string(appendLower(nil, s)) }

// String writes t back as a query: each field's values, then the words.
func (t Terms) String() string {
	var parts []string
	for _, g := range t.groups {
		for _, tm := range g.terms {
			s := tm.String()
			if g.neg {
				s = "-" + s
			}
			parts = append(parts, s)
		}
	}
	return strings.Join(parts, " ")
}

func (tm term) String() string {
	switch tm.field {
	case fieldWord:
		return quoteWord(tm.text)
	case fieldUsed, fieldExpires, fieldCreated:
		if tm.op == 'n' {
			return fieldNames[tm.field] + ":never"
		}
		return fieldNames[tm.field] + ":" + string(tm.op) + formatDuration(tm.d)
	}
	return Term(fieldNames[tm.field], tm.text)
}

// Term is the query text for field:value, quoted where value needs it: for
// a filter that adds, say, a group's creator (Term("by", name)).
func Term(field, value string) string { return field + ":" + quoteValue(value) }

// quoteValue quotes a value that holds a space (a quote inside cannot be
// written, and is dropped).
func quoteValue(v string) string {
	if v != "" && !strings.ContainsFunc(v, func(r rune) bool { return unicode.IsSpace(r) || r == '"' }) {
		return v
	}
	return `"` + strings.ReplaceAll(v, `"`, "") + `"`
}

// quoteWord quotes a free word that would otherwise read as a field or a
// negation.
func quoteWord(w string) string {
	if strings.Contains(w, ":") || strings.HasPrefix(w, "-") && w != "-" {
		return `"` + strings.ReplaceAll(w, `"`, "") + `"`
	}
	return quoteValue(w)
}

func formatDuration(d time.Duration) string {
	for _, u := range []struct {
		d    time.Duration
		name string
	}{{365 * day, "y"}, {day, "d"}, {time.Hour, "h"}, {time.Minute, "m"}, {time.Second, "s"}} {
		if d%u.d == 0 {
			return fmt.Sprintf("%d%s", d/u.d, u.name)
		}
	}
	return d.String()
}

// Text is the query a review stands for, so the review key can show the
// language it uses.
func (r Review) Text() string {
	switch r {
	case Unused:
		return "used:>" + formatDuration(model.StaleAfter)
	case NeverUsed:
		return "used:never"
	case Expiring:
		return "expires:<" + formatDuration(model.ExpiringWithin)
	}
	return ""
}

// Implies says whether every key t matches is matched by p too, so
// filtering p's result by t gives t's result (the cheap path for typing).
func (t Terms) Implies(p Terms) bool {
	for _, gp := range p.groups {
		if !slices.ContainsFunc(t.groups, func(gt group) bool { return gt.implies(gp) }) {
			return false
		}
	}
	return true
}

func (g group) implies(p group) bool {
	if g.neg != p.neg {
		return false
	}
	if g.neg || p.terms[0].field == fieldWord {
		a, b := g.terms[0], p.terms[0]
		if !g.neg && a.field == fieldWord && b.field == fieldWord {
			return strings.Contains(a.text, b.text)
		}
		return a == b
	}
	for _, tm := range g.terms {
		if !slices.Contains(p.terms, tm) {
			return false
		}
	}
	return true
}

// facts are what a test reads of a key: its time columns as
// model.UnixNano (never: 0), its environment and channel as an Index's
// ids (0: not known, test the strings), its flags (rowDisabled, rowDecoy)
// and scopes, and where the whole record is for a rare test that needs
// more: k, or else key i of ix.
type facts struct {
	used, created, expires int64
	env, ch                uint32
	flags                  uint8
	scopes                 []string
	k                      *model.Key
	ix                     *Index
	i                      int32
}

func factsOf(k *model.Key) facts {
	f := facts{used: model.UnixNano(k.LastUsedAt), created: model.UnixNano(k.CreatedAt), expires: model.UnixNano(k.ExpiresAt),
		scopes: k.Scopes, k: k}
	if k.Disabled {
		f.flags |= rowDisabled
	}
	if k.Decoy {
		f.flags |= rowDecoy
	}
	return f
}

// key is the whole record.
func (f *facts) key() *model.Key {
	if f.k == nil {
		f.k = f.ix.Key(f.i)
	}
	return f.k
}

// at is a compiled query: the terms with their times as instants, so a
// key's check compares columns (see matcher).
type at struct {
	t   Terms
	now time.Time
	// ago[i] and ahead[i] are now-d and now+d of term i in order, and
	// word[i] its text as bytes.
	ago, ahead []int64
	word       [][]byte
	hasWords   bool
	// readsText says whether a term reads the search text (a word, or
	// by:, which reads the creator back from it): the others read columns.
	readsText bool
	// Health's thresholds as instants: expiring when expiring at or
	// before expiringBy, stale when last used at or before staleBy, unused
	// when never used and made before unusedBy.
	nowNano, expiringBy, staleBy, unusedBy int64
	// inEnv[i] and inCh[i], for an env: or channel: term i compiled
	// against an Index, say which of its ids the term's glob matches.
	inEnv, inCh [][]bool
}

// bind compiles c's env: and channel: terms against ix's ids, so a key's
// test reads its id column instead of its record.
func (c *at) bind(ix *Index) {
	c.inEnv, c.inCh = make([][]bool, len(c.word)), make([][]bool, len(c.word))
	j := 0
	for _, g := range c.t.groups {
		for _, tm := range g.terms {
			switch tm.field {
			case fieldEnv:
				c.inEnv[j] = idsMatching(ix.envIDs, tm.text)
			case fieldChannel:
				c.inCh[j] = idsMatching(ix.chIDs, tm.text)
			}
			j++
		}
	}
}

func idsMatching(ids map[string]uint32, pattern string) []bool {
	in := make([]bool, len(ids)+1)
	for name, id := range ids {
		if int(id) < len(in) {
			in[id] = glob(pattern, name)
		}
	}
	return in
}

func (t Terms) at(now time.Time) *at {
	n := now.UnixNano()
	c := &at{t: t, now: now, nowNano: n, expiringBy: satAdd(n, int64(model.ExpiringWithin)),
		staleBy: satAdd(n, -int64(model.StaleAfter)), unusedBy: satAdd(n, -int64(model.UnusedAfter))}
	for _, g := range t.groups {
		for _, tm := range g.terms {
			c.ago = append(c.ago, satAdd(n, -int64(tm.d)))
			c.ahead = append(c.ahead, satAdd(n, int64(tm.d)))
			c.word = append(c.word, []byte(tm.text))
			c.hasWords = c.hasWords || tm.field == fieldWord
			c.readsText = c.readsText || tm.field == fieldWord || tm.field == fieldBy
		}
	}
	return c
}

// match says whether k, with its times and its search text (needed only
// when c.hasWords), matches.
func (c *at) match(tm *facts, hay []byte) bool {
	j := 0
	for _, g := range c.t.groups {
		held := false
		for _, x := range g.terms {
			if !held && c.test(x, j, tm, hay) {
				held = true
			}
			j++
		}
		if held == g.neg {
			return false
		}
	}
	return true
}

func (c *at) test(x term, j int, tm *facts, hay []byte) bool {
	switch x.field {
	case fieldWord:
		return bytes.Contains(hay, c.word[j])
	case fieldEnv:
		if c.inEnv != nil && tm.env != 0 && int(tm.env) < len(c.inEnv[j]) {
			return c.inEnv[j][tm.env]
		}
		return glob(x.text, tm.key().Environment)
	case fieldChannel:
		if c.inCh != nil && tm.ch != 0 && int(tm.ch) < len(c.inCh[j]) {
			return c.inCh[j][tm.ch]
		}
		return glob(x.text, tm.key().Channel)
	case fieldBy:
		if by, ok := creatorIn(hay); ok && !strings.Contains(x.text, "*") {
			return bytes.Equal(by, c.word[j]) // both lower-cased
		}
		return glob(x.text, tm.key().CreatedBy)
	case fieldScope:
		return slices.ContainsFunc(tm.scopes, func(s string) bool { return glob(x.text, s) })
	case fieldStatus:
		if x.text == "decoy" {
			return isDecoy(tm)
		}
		h := string(c.health(tm))
		return h == x.text || (h == "" && x.text == "ok")
	case fieldUsed:
		switch x.op {
		case 'n':
			return tm.used == never
		case '<': // used less than d ago
			return tm.used != never && tm.used > c.ago[j]
		}
		last := tm.used // not used for d: never-used keys count from creation
		if last == never {
			last = tm.created
		}
		return last == never || last <= c.ago[j] // a zero creation time is at least any duration ago
	case fieldExpires:
		switch x.op {
		case 'n':
			return tm.expires == never
		case '<': // expires within d, or has expired (model.Key.ExpiringWithin)
			return tm.expires != never && tm.expires <= c.ahead[j]
		}
		return tm.expires == never || tm.expires > c.ahead[j]
	case fieldCreated: // a zero creation time is at least any duration ago
		if x.op == '<' {
			return tm.created != never && tm.created > c.ago[j]
		}
		return tm.created == never || tm.created <= c.ago[j]
	}
	return false
}

// health is model.Key.Health(c.now) from the time columns, reading the
// flags (TestStatusIsTheModelsHealth holds it to it).
func (c *at) health(tm *facts) model.Health {
	switch {
	case tm.flags&rowDecoy != 0:
		return tm.key().Health(c.now) // tripped or not: rare, and the model's to say
	case tm.flags&rowDisabled != 0:
		return model.HealthDisabled
	case tm.expires != never && tm.expires <= c.nowNano:
		return model.HealthExpired
	case tm.expires != never && tm.expires <= c.expiringBy:
		return model.HealthExpiring
	case tm.used != never && tm.used <= c.staleBy:
		return model.HealthStale
	case tm.used == never && (tm.created == never || tm.created < c.unusedBy): // a zero creation time is any time ago
		return model.HealthUnused
	}
	return model.HealthOK
}

// creatorIn finds the creator in a key's search text, its last field
// (appendSearchText), lower-cased: the index's arena is read in order,
// where the record's string is a read elsewhere. ok is false without the
// text, or when a stored string holds a NUL and the fields cannot be told.
func creatorIn(hay []byte) (by []byte, ok bool) {
	if hay == nil || bytes.Count(hay, []byte{0}) != searchFields-1 {
		return nil, false
	}
	return hay[bytes.LastIndexByte(hay, 0)+1:], true
}

// isDecoy is status:decoy: a decoy, tripped or not (status:tripped is
// only those someone has used).
func isDecoy(tm *facts) bool { return tm.flags&rowDecoy != 0 }

// glob matches s against pattern, where * stands for any run of
// characters, case folded (pattern is lower-cased already).
func glob(pattern, s string) bool {
	if !strings.Contains(pattern, "*") {
		return strings.EqualFold(pattern, s)
	}
	parts := strings.Split(pattern, "*")
	ls := lower(s)
	if !strings.HasPrefix(ls, parts[0]) {
		return false
	}
	ls = ls[len(parts[0]):]
	last := parts[len(parts)-1]
	for _, p := range parts[1 : len(parts)-1] {
		i := strings.Index(ls, p)
		if i < 0 {
			return false
		}
		ls = ls[i+len(p):]
	}
	return len(ls) >= len(last) && strings.HasSuffix(ls, last)
}

// Matcher returns a test of keys against t at now, for a caller holding
// records rather than an Index (`keyden list --filter` reads the store as
// a stream). It reuses one buffer: one goroutine at a time.
func (t Terms) Matcher(now time.Time) func(*model.Key) bool {
	c := t.at(now)
	var buf []byte
	return func(k *model.Key) bool {
		if c.hasWords {
			buf = appendSearchText(buf[:0], k)
		}
		f := factsOf(k)
		return c.match(&f, buf)
	}
}

// UnknownName is the sentence for the first env: or channel: value of t
// that names no environment or channel of the store (a tag written for an
// environment's name among them), or "" when each names one. Such a
// filter matches no key because of a typo, which an empty result would
// hide. A value with * is a pattern, and a negated term excludes nothing
// that is there: neither is looked at.
func (t Terms) UnknownName(envs []model.Environment, channels []model.Channel) string {
	for _, g := range t.groups {
		if g.neg {
			continue
		}
		for _, tm := range g.terms {
			if strings.Contains(tm.text, "*") {
				continue
			}
			var names []string
			switch tm.field {
			case fieldEnv:
				for _, e := range envs {
					names = append(names, e.Name)
					if strings.EqualFold(e.Tag, tm.text) && !strings.EqualFold(e.Name, tm.text) {
						return fmt.Sprintf("%s is the tag of the environment %s: write env:%s", model.Quote(tm.text), e.Name, e.Name)
					}
				}
			case fieldChannel:
				for _, c := range channels {
					names = append(names, c.Name)
				}
			default:
				continue
			}
			if !slices.ContainsFunc(names, func(n string) bool { return strings.EqualFold(n, tm.text) }) {
				what := map[field]string{fieldEnv: "environment", fieldChannel: "channel"}[tm.field]
				return fmt.Sprintf("there is no %s %s in this key store: the %ss are %s", what, model.Quote(tm.text), what, someNames(names, fieldNames[tm.field]))
			}
		}
	}
	return ""
}

// someNames lists names, the first ten of many: any member may add
// channels, and a store of thousands named each one for a typo. command
// is the keyden command that lists them all ("channel", "env").
func someNames(names []string, command string) string {
	const most = 10
	if len(names) <= most {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more (see keyden %s list)", strings.Join(names[:most], ", "), len(names)-most, command)
}
