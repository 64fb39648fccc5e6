package tui

import (
	"io"

	"github.com/charmbracelet/bubbles/textinput"
	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"

	"keyden/model"
)

// Styles are every look the TUI uses, in one place. Colours adapt to light
// and dark backgrounds; with NO_COLOR the profile drops colour and what is
// left (bold, reverse, words) still carries the meaning.
type Styles struct {
	// NoColor is set when the terminal shows no colour or attributes
	// (NO_COLOR, dumb terminals): views then mark state with characters.
	NoColor    bool
	App        lipgloss.Style
	Title      lipgloss.Style
	Subtle     lipgloss.Style
	TabActive  lipgloss.Style
	Tab        lipgloss.Style
	Header     lipgloss.Style
	Row        lipgloss.Style
	Selected   lipgloss.Style
	StatusBar  lipgloss.Style
	StatusKey  lipgloss.Style
	Error      lipgloss.Style
	Success    lipgloss.Style
	Warning    lipgloss.Style
	Secret     lipgloss.Style
	Box        lipgloss.Style
	DangerBox  lipgloss.Style
	Label      lipgloss.Style
	Focused    lipgloss.Style
	Button     lipgloss.Style
	ButtonOn   lipgloss.Style
	DangerOn   lipgloss.Style
	Health     map[model.Health]lipgloss.Style
	FilterText lipgloss.Style
	// Cursor is a text field's cursor, drawn in reverse video.
	Cursor lipgloss.Style
}

var (
	colAccent  = lipgloss.AdaptiveColor{Light: "#5A3FD6", Dark: "#9D8CFF"}
	colSubtle  = lipgloss.AdaptiveColor{Light: "#6B6B6B", Dark: "#8A8A8A"}
	colBorder  = lipgloss.AdaptiveColor{Light: "#C8C8C8", Dark: "#444444"}
	colError   = lipgloss.AdaptiveColor{Light: "#C0262D", Dark: "#FF6B6B"}
	colWarn    = lipgloss.AdaptiveColor{Light: "#A35200", Dark: "#FFB454"}
	colOK      = lipgloss.AdaptiveColor{Light: "#1E7F3A", Dark: "#5FD88A"}
	colSelBg   = lipgloss.AdaptiveColor{Light: "#E4DEFF", Dark: "#3A3360"}
	colSelFg   = lipgloss.AdaptiveColor{Light: "#1A1A1A", Dark: "#FFFFFF"}
	colBarBg   = lipgloss.AdaptiveColor{Light: "#EDEDED", Dark: "#262626"}
	colSecret  = lipgloss.AdaptiveColor{Light: "#0B6E4F", Dark: "#7CFFCB"}
	colInverse = lipgloss.AdaptiveColor{Light: "#FFFFFF", Dark: "#1A1A1A"}
)

// DefaultStyles builds the styles for the process's own terminal.
func DefaultStyles() Styles { return StylesFor(lipgloss.DefaultRenderer()) }

// StylesFor builds the styles for the terminal r draws on: a keyden ssh
// session has its own colour profile and background.
func StylesFor(r *lipgloss.Renderer) Styles {
	s := Styles{NoColor: r.ColorProfile() == termenv.Ascii}
	s.App = r.NewStyle().Padding(0, 1)
	s.Title = r.NewStyle().Bold(true).Foreground(colAccent)
	s.Subtle = r.NewStyle().Foreground(colSubtle)
	s.TabActive = r.NewStyle().Bold(true).Underline(true).Foreground(colAccent).Padding(0, 1)
	s.Tab = r.NewStyle().Foreground(colSubtle).Padding(0, 1)
	s.Header = r.NewStyle().Bold(true).Foreground(colSubtle)
	s.Row = r.NewStyle()
	s.Selected = r.NewStyle().Bold(true).Reverse(false).Background(colSelBg).Foreground(colSelFg)
	s.StatusBar = r.NewStyle().Background(colBarBg).Foreground(colSubtle)
	s.StatusKey = r.NewStyle().Background(colBarBg).Foreground(colAccent).Bold(true)
	s.Error = r.NewStyle().Foreground(colError)
	s.Success = r.NewStyle().Foreground(colOK)
	s.Warning = r.NewStyle().Foreground(colWarn)
	s.Secret = r.NewStyle().Bold(true).Foreground(colSecret)
	s.Box = r.NewStyle().Border(lipgloss.RoundedBorder()).BorderForeground(colBorder).Padding(0, 1)
	s.DangerBox = r.NewStyle().Border(lipgloss.RoundedBorder()).BorderForeground(colError).Padding(0, 1)
	s.Label = r.NewStyle().Foreground(colSubtle)
	s.Focused = r.NewStyle().Foreground(colAccent).Bold(true)
	s.Button = r.NewStyle().Padding(0, 1).Foreground(colSubtle)
	s.ButtonOn = r.NewStyle().Padding(0, 1).Bold(true).Foreground(colInverse).Background(colAccent)
	s.DangerOn = r.NewStyle().Padding(0, 1).Bold(true).Foreground(colInverse).Background(colError)
	s.FilterText = r.NewStyle().Foreground(colAccent)
	s.Cursor = r.NewStyle()
	if s.NoColor {
		// Without colour lipgloss drops every attribute, reverse video too,
		// and a field's cursor vanishes. NO_COLOR asks for no colour, not no
		// cursor: reverse video is no colour, so it is drawn regardless.
		attrs := lipgloss.NewRenderer(io.Discard)
		attrs.SetColorProfile(termenv.ANSI)
		s.Cursor = attrs.NewStyle()
	}
	s.Health = map[model.Health]lipgloss.Style{
		model.HealthTripped:  r.NewStyle().Foreground(colError).Bold(true),
		model.HealthDecoy:    r.NewStyle().Foreground(colSubtle),
		model.HealthDisabled: r.NewStyle().Foreground(colSubtle).Italic(true),
		model.HealthExpired:  r.NewStyle().Foreground(colError),
		model.HealthExpiring: r.NewStyle().Foreground(colWarn),
		model.HealthStale:    r.NewStyle().Foreground(colWarn),
		model.HealthUnused:   r.NewStyle().Foreground(colSubtle),
	}
	return s
}

// textInput is a text field whose cursor shows with and without colour.
func (s *Styles) textInput() textinput.Model {
	ti := textinput.New()
	ti.Cursor.Style = s.Cursor
	// The field's own ctrl+v read the clipboard past the App's filter
	// (a bidi override reached the field); the App takes ctrl+v instead.
	ti.KeyMap.Paste.SetEnabled(false)
	return ti
}
