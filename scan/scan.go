// Package scan finds keyden keys in text: it looks for the store's prefix
// with bytes.Index, reads the tag and base62 body that follow, and checks
// the body's checksum, so that only a real key (or, asked for, a lookalike
// with a wrong checksum) is ever reported. A find carries the key's hash and
// hint, never the key: the caller looks the hash up in a store.
package scan

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strconv"
	"strings"

	"keyden/keygen"
)

// Find is one string shaped like a key of the matcher's prefix.
type Find struct {
	// Line is the 1-based line it starts on (in a diff: in the new file).
	Line int
	// Valid says its checksum matches: it is a key, not a lookalike.
	Valid bool
	// Hash is SHA-256 of the key (valid finds only).
	Hash keygen.Hash
	// Hint is prefix_tag_ and the first and last 4 characters of the body.
	Hint string
}

// Matcher finds keys with one prefix. Its Scan reuses one buffer, so a
// Matcher scans one stream at a time.
type Matcher struct {
	needle []byte // prefix + "_"
	prefix string
	buf    []byte
}

// New makes a matcher for keys that start with prefix (such as "kd").
func New(prefix string) *Matcher {
	return &Matcher{needle: []byte(prefix + "_"), prefix: prefix}
}

// minBody is the shortest body any store makes: the compact minimum of
// randomness and the checksum.
const minBody = keygen.MinRandomCompact + keygen.ChecksumLen

// chunk is how much of a stream is searched at a time.
const chunk = 1 << 20

// Scan reads r to its end and calls fn for every find, in order.
func (m *Matcher) Scan(r io.Reader, fn func(Find)) error {
	if m.buf == nil {
		m.buf = make([]byte, chunk+keygen.MaxKeyLen)
	}
	buf := m.buf
	n, line := 0, 1
	for {
		read, err := io.ReadFull(r, buf[n:])
		n += read
		eof := errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
		if err != nil && !eof {
			return err
		}
		// A key that starts before limit ends inside buf; one that
		// starts after it is searched with the next chunk.
		limit := n
		if !eof {
			limit = n - keygen.MaxKeyLen
		}
		counted := 0
		m.each(buf[:n], limit, func(off int, f Find) {
			line += bytes.Count(buf[counted:off], nl)
			counted = off
			f.Line = line
			fn(f)
		})
		if eof {
			return nil
		}
		line += bytes.Count(buf[counted:limit], nl)
		n = copy(buf, buf[limit:n])
	}
}

var nl = []byte{'\n'}

// Line calls fn for every find in b, one line of text, with Line set to line.
func (m *Matcher) Line(b []byte, line int, fn func(Find)) {
	m.each(b, len(b), func(_ int, f Find) {
		f.Line = line
		fn(f)
	})
}

// each calls fn for every find in b that starts before limit, with its offset.
func (m *Matcher) each(b []byte, limit int, fn func(off int, f Find)) {
	pos := 0
	for pos < limit {
		i := bytes.Index(b[pos:], m.needle)
		if i < 0 {
			return
		}
		i += pos
		if i >= limit {
			return
		}
		end, f, ok := m.at(b, i)
		if ok {
			fn(i, f)
			pos = end
		} else {
			pos = i + len(m.needle)
		}
	}
}

// at reads the candidate that starts with the needle at i: a tag, '_' and a
// base62 body. It tries the longest body first, then the lengths a store
// makes for this tag, so a key followed by more letters is still found.
func (m *Matcher) at(b []byte, i int) (end int, f Find, ok bool) {
	j := i + len(m.needle)
	t := j
	for t < len(b) && t-j <= 8 && isTag(b[t]) {
		t++
	}
	if t == j || t-j > 8 || t >= len(b) || b[t] != '_' {
		return 0, Find{}, false
	}
	body := t + 1
	e := body
	for e < len(b) && e-i < keygen.MaxKeyLen && isBase62(b[e]) {
		e++
	}
	if e-body < minBody {
		return 0, Find{}, false
	}
	tag := string(b[j:t])
	for _, total := range m.lengths(tag, e-i) {
		if validSum(b[i : i+total]) {
			return i + total, Find{Valid: true, Hash: keygen.HashKey(string(b[i : i+total])), Hint: hint(b[i:i+total], body-i)}, true
		}
	}
	// A lookalike: the prefix must start a word, so that a longer word
	// ending in the prefix is not taken for one.
	if i > 0 && (isBase62(b[i-1]) || b[i-1] == '_') {
		return 0, Find{}, false
	}
	return e, Find{Hint: hint(b[i:e], body-i)}, true
}

// lengths are the total lengths to try for a candidate of at most max
// characters: all of it, then the default and compact layouts.
func (m *Matcher) lengths(tag string, max int) []int {
	out := []int{max}
	for _, f := range []keygen.Format{keygen.FormatDefault, keygen.FormatCompact} {
		if l := keygen.LayoutFor(f, m.prefix, tag).Total; l < max {
			out = append(out, l)
		}
	}
	return out
}

func validSum(key []byte) bool {
	cut := len(key) - keygen.ChecksumLen
	sum := keygen.Checksum(key[:cut])
	return bytes.Equal(sum[:], key[cut:])
}

func hint(key []byte, body int) string {
	b := key[body:]
	return string(key[:body]) + string(b[:4]) + "…" + string(b[len(b)-4:])
}

func isTag(c byte) bool { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') }

func isBase62(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
}

// DiffFind is a find in a diff: the commit (empty for staged changes), the
// file's path in the new tree, and the find with its new-file line.
type DiffFind struct {
	Commit string
	Path   string
	Find
}

// Diff reads unified diff output of `git log -p --format=commit %H` (or
// `git diff`) and calls fn for every find on an added line.
func (m *Matcher) Diff(r io.Reader, fn func(DiffFind)) error {
	br := bufio.NewReaderSize(r, 256<<10)
	var commit, path string
	line := 0
	inHunk := false
	for {
		raw, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// A very long line: read the rest of it into one slice.
			long := append([]byte(nil), raw...)
			for errors.Is(err, bufio.ErrBufferFull) {
				raw, err = br.ReadSlice('\n')
				long = append(long, raw...)
			}
			raw = long
		}
		if len(raw) > 0 {
			switch {
			case inHunk && raw[0] == '+':
				m.Line(raw[1:], line, func(f Find) { fn(DiffFind{Commit: commit, Path: path, Find: f}) })
				line++
			case inHunk && raw[0] == ' ':
				line++
			case inHunk && (raw[0] == '-' || raw[0] == '\\'):
			case bytes.HasPrefix(raw, []byte("commit ")):
				commit, inHunk = strings.TrimSpace(string(raw[7:])), false
			case bytes.HasPrefix(raw, []byte("diff ")):
				path, inHunk = "", false
			case bytes.HasPrefix(raw, []byte("+++ ")):
				path = diffPath(strings.TrimRight(string(raw[4:]), "\r\n"))
			case bytes.HasPrefix(raw, []byte("@@ ")):
				line, inHunk = hunkStart(raw), true
			default:
				inHunk = false
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}

// diffPath is the new file's path from a +++ line: "b/path", or quoted
// with C escapes when it has unusual characters.
func diffPath(s string) string {
	if u, err := strconv.Unquote(s); err == nil && strings.HasPrefix(s, `"`) {
		s = u
	}
	return strings.TrimPrefix(s, "b/")
}

// hunkStart reads the new file's first line from "@@ -a,b +c,d @@".
func hunkStart(raw []byte) int {
	s := string(raw)
	i := strings.Index(s, " +")
	if i < 0 {
		return 1
	}
	s = s[i+2:]
	if j := strings.IndexAny(s, ", "); j >= 0 {
		s = s[:j]
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 1
	}
	return n
}
