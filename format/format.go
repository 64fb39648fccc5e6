// Package format holds the text keyden writes to a terminal, shared by the
// command line, the TUI and serve's log so they always agree: Safe for any
// text that did not come from keyden's own code (safe.go), sentences and
// counts (this file), times (time.go) and a key's details (key.go).
package format

import (
	"fmt"
	"strings"
)

// Sentence ends a message with a full stop unless it has an end mark. It
// does not capitalise: many messages start with a user or key name.
func Sentence(s string) string {
	s = strings.TrimSpace(s)
	if s != "" && !strings.ContainsAny(s[len(s)-1:], ".?!") {
		s += "."
	}
	return s
}

// Count writes n and the noun, plural unless n is 1: "1 key", "3 keys",
// "0 keys". Every noun keyden counts takes a plain -s.
func Count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
