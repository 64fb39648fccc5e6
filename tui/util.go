package tui

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"

	"keyden/format"
	"keyden/model"
)

// errorf is fmt.Errorf for messages shown as they are.
func errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }

// tickAfter delivers msg once after d.
func tickAfter(d time.Duration, msg tea.Msg) tea.Cmd {
	return tea.Tick(d, func(time.Time) tea.Msg { return msg })
}

func itoa(n int) string { return strconv.Itoa(n) }

// sentence is an error as the status line shows it.
func sentence(err error) string { return format.Sentence(err.Error()) }

// perms answers what the current user may do, from the store's members;
// the store enforces the same rules, this only lets the screens say so first.
type perms struct {
	actor   string
	members model.Members
}

func (p *perms) mayCreate() error {
	if p == nil || p.members == nil {
		return nil // not loaded yet: the store decides
	}
	return p.members.CanCreateKey(p.actor)
}

func (p *perms) mayChange(action model.KeyAction, k *model.Key) error {
	if p == nil || p.members == nil {
		return nil
	}
	return p.members.CanChangeKey(p.actor, action, k)
}

func (p *perms) mayManage(what string) error {
	if p == nil || p.members == nil {
		return nil
	}
	return p.members.CanManage(p.actor, what)
}

// wrapWords breaks s at spaces only (never inside a word such as
// --role) into lines of at most w cells; a longer word gets its own line.
func wrapWords(s string, w int) []string {
	var lines []string
	line := ""
	for _, word := range strings.Fields(s) {
		switch {
		case line == "":
			line = word
		case ansi.StringWidth(line)+1+ansi.StringWidth(word) <= w:
			line += " " + word
		default:
			lines = append(lines, line)
			line = word
		}
	}
	return append(lines, line)
}

// sentenceCase starts a message with a capital where it starts with a
// common word ("the key name is empty"): one that starts with a user or
// key name ("bob is an admin") is left as it is.
func sentenceCase(s string) string {
	word, _, _ := strings.Cut(s, " ")
	switch word {
	case "the", "a", "an", "only", "this", "that", "there", "it", "no", "not", "one", "every", "some", "at", "in", "cannot":
		return strings.ToUpper(s[:1]) + s[1:]
	}
	return s
}
