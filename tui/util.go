package tui

import (
	"fmt"
	"strconv"
	"time"

	tea "github.com/charmbracelet/bubbletea"
)

// errorf is fmt.Errorf for messages shown as they are.
func errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }

// tickAfter delivers msg once after d.
func tickAfter(d time.Duration, msg tea.Msg) tea.Cmd {
	return tea.Tick(d, func(time.Time) tea.Msg { return msg })
}

func itoa(n int) string { return strconv.Itoa(n) }

// outbox carries a view's requests to the app ("open the form", "delete
// this key"). The app handles them in the same Update that produced them,
// so a keystroke that follows can never reach a screen that is closing.
type outbox struct{ q []tea.Msg }

func (o *outbox) send(msg tea.Msg) tea.Cmd {
	o.q = append(o.q, msg)
	return nil
}

func (o *outbox) drain() []tea.Msg {
	q := o.q
	o.q = nil
	return q
}
