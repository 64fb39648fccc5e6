package tui

import "github.com/charmbracelet/bubbles/key"

// inputHelp is the help of a text field that has the keys: what the
// screen under it does with them does not apply while typing.
type inputHelp struct{ km inputKeyMap }

func (h inputHelp) ShortHelp() []key.Binding  { return []key.Binding{h.km.Accept, h.km.Cancel} }
func (h inputHelp) FullHelp() [][]key.Binding { return [][]key.Binding{h.ShortHelp()} }
