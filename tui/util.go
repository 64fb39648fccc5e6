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
