package tui

import "github.com/charmbracelet/bubbles/key"

// inputKeyMap is a text field's: accept, cancel, and (in a filter) leave
// it for the list below.
type inputKeyMap struct{ Accept, Cancel, Leave key.Binding }

func defaultInputKeyMap() inputKeyMap {
	return inputKeyMap{
		Accept: key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "done")),
		Cancel: key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "cancel")),
		Leave:  key.NewBinding(key.WithKeys("up", "down")),
	}
}

// pickerKeyMap is a pick list's.
type pickerKeyMap struct{ Up, Down, Choose, Close key.Binding }

func defaultPickerKeyMap() pickerKeyMap {
	return pickerKeyMap{
		Up:     key.NewBinding(key.WithKeys("up", "k"), key.WithHelp("↑/k", "up")),
		Down:   key.NewBinding(key.WithKeys("down", "j"), key.WithHelp("↓/j", "down")),
		Choose: key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "choose")),
		Close:  key.NewBinding(key.WithKeys("esc", "q"), key.WithHelp("esc", "close")),
	}
}
