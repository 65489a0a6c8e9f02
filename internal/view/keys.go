package view

import "github.com/charmbracelet/bubbles/key"

// keyMap is every key the dashboard answers to; the help line is drawn
// from it, so the two cannot disagree.
type keyMap struct {
	Quit  key.Binding
	Help  key.Binding
	Pause key.Binding
}

// newKeyMap returns the dashboard's keys.
func newKeyMap() keyMap {
	return keyMap{
		Quit: key.NewBinding(
			key.WithKeys("q", "ctrl+c"),
			key.WithHelp("q", "quit"),
		),
		Help: key.NewBinding(
			key.WithKeys("?"),
			key.WithHelp("?", "help"),
		),
		Pause: key.NewBinding(
			key.WithKeys("p"),
			key.WithHelp("p", "pause stream"),
		),
	}
}

// ShortHelp is the one-line help of the footer (help.KeyMap).
func (k keyMap) ShortHelp() []key.Binding {
	return []key.Binding{k.Quit, k.Pause, k.Help}
}

// FullHelp is the help shown after "?" (help.KeyMap).
func (k keyMap) FullHelp() [][]key.Binding {
	return [][]key.Binding{{k.Quit, k.Pause, k.Help}}
}
