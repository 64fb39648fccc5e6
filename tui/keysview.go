package tui

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"

	"keyden/format"
	"keyden/keyindex"
	"keyden/model"
)

// keysKeyMap is the home view's bindings; it also feeds the help.
type keysKeyMap struct {
	table                                     tableKeyMap
	New, Details, Delete, Filter, ClearFilter key.Binding
	Rotate, Disable, Audit                    key.Binding
	NextEnv, PrevEnv, Channel, Sort, Quick    key.Binding
	Catalog, Reload, Help, Quit               key.Binding
}

func defaultKeysKeyMap() keysKeyMap {
	return keysKeyMap{
		table:       defaultTableKeyMap(),
		New:         key.NewBinding(key.WithKeys("n"), key.WithHelp("n", "new key")),
		Details:     key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "details")),
		Delete:      key.NewBinding(key.WithKeys("d", "delete"), key.WithHelp("d", "delete")),
		Rotate:      key.NewBinding(key.WithKeys("R"), key.WithHelp("R", "rotate")),
		Disable:     key.NewBinding(key.WithKeys("x"), key.WithHelp("x", "disable/enable")),
		Audit:       key.NewBinding(key.WithKeys("a"), key.WithHelp("a", "audit log")),
		Filter:      key.NewBinding(key.WithKeys("/"), key.WithHelp("/", "filter")),
		ClearFilter: key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "clear filter")),
		NextEnv:     key.NewBinding(key.WithKeys("tab", "right", "l"), key.WithHelp("tab/→", "next env")),
		PrevEnv:     key.NewBinding(key.WithKeys("shift+tab", "left", "h"), key.WithHelp("shift+tab/←", "prev env")),
		Channel:     key.NewBinding(key.WithKeys("c"), key.WithHelp("c", "channel")),
		Sort:        key.NewBinding(key.WithKeys("s"), key.WithHelp("s", "sort")),
		Quick:       key.NewBinding(key.WithKeys("r"), key.WithHelp("r", "review stale")),
		Catalog:     key.NewBinding(key.WithKeys("e"), key.WithHelp("e", "envs & channels")),
		Reload:      key.NewBinding(key.WithKeys("ctrl+r"), key.WithHelp("ctrl+r", "reload")),
		Help:        key.NewBinding(key.WithKeys("?"), key.WithHelp("?", "help")),
		Quit:        key.NewBinding(key.WithKeys("q", "ctrl+c"), key.WithHelp("q", "quit")),
	}
}

// ShortHelp leaves out what the current user may not do to the selected
// key (pressing it anyway says why).
func (v *keysView) ShortHelp() []key.Binding {
	k := v.keyMap
	return v.allowed([]key.Binding{k.New, k.Details, k.Delete, k.Filter, k.Sort, k.Help, k.Quit, k.NextEnv})
}

func (v *keysView) FullHelp() [][]key.Binding {
	k := v.keyMap
	return [][]key.Binding{
		{k.table.Up, k.table.Down, k.table.PageUp, k.table.PageDown, k.table.Top, k.table.Bottom, k.Details},
		v.allowed([]key.Binding{k.New, k.Delete, k.Rotate, k.Disable, k.Catalog, k.Audit, k.Reload, k.Help, k.Quit}),
		{k.Filter, k.ClearFilter, k.NextEnv, k.PrevEnv, k.Channel, k.Sort, k.Quick},
	}
}

func (v *keysView) allowed(bs []key.Binding) []key.Binding {
	out := bs[:0:0]
	sel, ok := v.selected()
	for _, b := range bs {
		switch b.Help().Key {
		case v.keyMap.New.Help().Key:
			if v.perm.mayCreate() != nil {
				continue
			}
		case v.keyMap.Delete.Help().Key, v.keyMap.Rotate.Help().Key, v.keyMap.Disable.Help().Key:
			if !ok || v.perm.mayChange(model.KeyDelete, &sel) != nil {
				continue
			}
		}
		out = append(out, b)
	}
	return out
}

// Messages the keys view sends up to the app.
type (
	openFormMsg      struct{ env, channel string }
	openDetailsMsg   struct{ key model.Key }
	askDeleteMsg     struct{ key model.Key }
	askRotateMsg     struct{ key model.Key }
	toggleDisableMsg struct{ key model.Key }
	openAuditMsg     struct{}
	openCatalogMsg   struct{}
	reloadMsg        struct{}
	// filteredMsg carries a filter result computed off the UI loop.
	filteredMsg struct {
		seq  int
		set  *keyindex.Index
		q    keyindex.Query
		rows []int32
	}
)

// asyncFilterAbove is the key count above which filtering runs in a Cmd,
// so a keystroke never waits for a pass over every key.
const asyncFilterAbove = 20000

// keysView is the home screen: environment tabs, the keys table, a filter
// and a status bar.
type keysView struct {
	out    *outbox // requests to the app
	perm   *perms  // what the current user may do
	st     *Styles
	keyMap keysKeyMap
	now    func() time.Time

	set     *keyindex.Index
	rows    []int32         // what the table shows, indexes into rowsOf
	rowsOf  *keyindex.Index // the set rows index; set may be newer while a filter runs
	shown   keyindex.Query  // the query rows answer
	q       keyindex.Query  // the query asked for
	seq     int
	pending bool

	envs     []model.Environment
	channels []model.Channel
	tab      int // 0 = all environments

	filter    textinput.Model
	filtering bool
	picking   bool // the channel picker is open
	pick      int

	table  vtable
	width  int
	height int
	loaded bool
}

func newKeysView(st *Styles, now func() time.Time) keysView {
	fi := textinput.New()
	fi.Prompt = "/ "
	fi.Placeholder = "name, channel, env, scope, hint, creator"
	fi.CharLimit = 64
	return keysView{
		st: st, keyMap: defaultKeysKeyMap(), now: now, filter: fi,
		table: newVTable([]column{
			{title: "NAME", width: 14, max: 36, priority: 0, flex: true},
			{title: "ENV", width: 7, priority: 1},
			{title: "LAST USED", width: 9, priority: 2},
			{title: "STATUS", width: 8, priority: 3},
			{title: "CHANNEL", width: 10, max: 20, priority: 4, flex: true},
			{title: "HINT", width: 17, max: 19, priority: 5, flex: true},
			{title: "EXPIRES", width: 15, priority: 6},
			{title: "CREATED", width: 10, priority: 7},
			{title: "CREATED BY", width: 10, max: 16, priority: 8, flex: true},
			{title: "SCOPES", width: 12, max: 30, priority: 9, flex: true},
		}),
	}
}

// setData swaps in a fresh load, keeping the cursor on the same key when it is still there.
func (v *keysView) setData(set *keyindex.Index) tea.Cmd {
	var keepID string
	if k, ok := v.selected(); ok {
		keepID = k.ID
	}
	v.set, v.loaded = set, true
	cmd := v.refilter(true)
	if keepID != "" && !v.pending {
		v.moveTo(keepID)
	}
	return cmd
}

// moveTo puts the cursor on the key with id when it is shown; otherwise
// it stays at the same position.
func (v *keysView) moveTo(id string) {
	for i, r := range v.rows {
		if v.rowsOf.Key(r).ID == id {
			v.table.cursor = i
			v.table.clamp()
			return
		}
	}
}

func (v *keysView) setCatalog(envs []model.Environment, chs []model.Channel) {
	v.envs, v.channels = envs, chs
	if v.tab > len(envs) {
		v.tab = 0
	}
	v.q.Env = v.envName()
}

func (v *keysView) envName() string {
	if v.tab == 0 || v.tab > len(v.envs) {
		return ""
	}
	return v.envs[v.tab-1].Name
}

// refilter recomputes the rows for v.q: narrowing the previous result
// when the query only grew, and off the UI loop when the set is large.
func (v *keysView) refilter(full bool) tea.Cmd {
	if v.set == nil {
		return nil
	}
	var within []int32
	if !full && !v.pending && v.rowsOf == v.set && v.q.Narrows(v.shown) {
		within = v.rows
	}
	v.seq++
	seq, set, q, now := v.seq, v.set, v.q, v.now()
	n := set.Size()
	if within != nil {
		n = len(within)
	}
	cheap := q.Empty() && within == nil && set.HasOrder(q.Sort)
	if cheap || (n <= asyncFilterAbove && (set.HasOrder(q.Sort) || set.Size() <= asyncFilterAbove)) {
		v.apply(filteredMsg{seq: seq, set: set, q: q, rows: set.Filter(q, within, now)})
		return nil
	}
	v.pending = true
	return func() tea.Msg {
		return filteredMsg{seq: seq, set: set, q: q, rows: set.Filter(q, within, now)}
	}
}

func (v *keysView) apply(m filteredMsg) {
	if m.seq != v.seq || m.set != v.set {
		return // a newer query or load has replaced it
	}
	keep, had := v.selected()
	sameSet := m.set.SharesIndexes(v.rowsOf)
	var keepIdx int32 = -1
	if had && sameSet {
		keepIdx = v.rows[v.table.cursor]
	}
	v.rows, v.rowsOf, v.shown, v.pending = m.rows, m.set, m.q, false
	v.table.SetRows(len(v.rows))
	switch {
	case keepIdx >= 0:
		// Same index space: find the selected index, a scan of int32s, not of keys.
		if i := slices.Index(v.rows, keepIdx); i >= 0 {
			v.table.cursor = i
			v.table.clamp()
		}
	case had:
		v.moveTo(keep.ID)
	}
}

func (v *keysView) selected() (model.Key, bool) {
	if v.rowsOf == nil || len(v.rows) == 0 || v.table.cursor >= len(v.rows) {
		return model.Key{}, false
	}
	return *v.rowsOf.Key(v.rows[v.table.cursor]), true
}

// SetSize gives the view its share of the screen.
func (v *keysView) SetSize(w, h int) {
	v.width, v.height = w, h
	// title, tabs, blank, table header … filter line, status bar, help line
	v.table.SetSize(w-1, h-7)
	v.filter.Width = max(10, w-4)
}

func (v *keysView) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case filteredMsg:
		v.apply(msg)
		return nil
	case tea.KeyMsg:
		if v.picking {
			return v.updatePicker(msg)
		}
		if v.filtering {
			return v.updateFilter(msg)
		}
		return v.updateKeys(msg)
	}
	return nil
}

func (v *keysView) updateFilter(msg tea.KeyMsg) tea.Cmd {
	switch msg.String() {
	case "esc":
		v.filtering = false
		v.filter.Blur()
		v.filter.SetValue("")
		v.q.Text = ""
		return v.refilter(false)
	case "enter", "down", "up":
		v.filtering = false
		v.filter.Blur()
		if msg.String() != "enter" {
			v.table.Update(msg)
		}
		return nil
	}
	var cmd tea.Cmd
	v.filter, cmd = v.filter.Update(msg)
	if v.filter.Value() != v.q.Text {
		v.q.Text = v.filter.Value()
		return tea.Batch(cmd, v.refilter(false))
	}
	return cmd
}

func (v *keysView) updatePicker(msg tea.KeyMsg) tea.Cmd {
	n := len(v.channels) + 1
	switch msg.String() {
	case "up", "k":
		v.pick = (v.pick + n - 1) % n
	case "down", "j":
		v.pick = (v.pick + 1) % n
	case "esc", "q":
		v.picking = false
	case "enter":
		v.picking = false
		v.q.Channel = ""
		if v.pick > 0 {
			v.q.Channel = v.channels[v.pick-1].Name
		}
		return v.refilter(false)
	}
	return nil
}

func (v *keysView) updateKeys(msg tea.KeyMsg) tea.Cmd {
	km := v.keyMap
	if v.table.Update(msg) {
		return nil
	}
	switch {
	case key.Matches(msg, km.Filter):
		v.filtering = true
		return v.filter.Focus()
	case key.Matches(msg, km.ClearFilter):
		if v.q.Text != "" || v.q.Review != keyindex.AllKeys || v.q.Channel != "" {
			v.filter.SetValue("")
			v.q.Text, v.q.Review, v.q.Channel = "", keyindex.AllKeys, ""
			return v.refilter(false)
		}
	case key.Matches(msg, km.NextEnv), key.Matches(msg, km.PrevEnv):
		step := 1
		if key.Matches(msg, km.PrevEnv) {
			step = len(v.envs)
		}
		v.tab = (v.tab + step) % (len(v.envs) + 1)
		v.q.Env = v.envName()
		return v.refilter(false)
	case key.Matches(msg, km.Channel):
		v.picking = true
		v.pick = 0
		for i, c := range v.channels {
			if c.Name == v.q.Channel {
				v.pick = i + 1
			}
		}
	case key.Matches(msg, km.Sort):
		v.q.Sort = v.q.Sort.Next()
		return v.refilter(false)
	case key.Matches(msg, km.Quick):
		v.q.Review = v.q.Review.Next()
		return v.refilter(false)
	case key.Matches(msg, km.New):
		if err := v.perm.mayCreate(); err != nil {
			return v.out.send(statusMsg{text: err.Error()})
		}
		return v.out.send(openFormMsg{env: v.q.Env, channel: v.q.Channel})
	case key.Matches(msg, km.Details):
		if k, ok := v.selected(); ok {
			return v.out.send(openDetailsMsg{key: k})
		}
	case key.Matches(msg, km.Delete), key.Matches(msg, km.Rotate), key.Matches(msg, km.Disable):
		k, ok := v.selected()
		if !ok {
			return nil
		}
		switch {
		case key.Matches(msg, km.Delete):
			return v.out.send(askDeleteMsg{key: k})
		case key.Matches(msg, km.Rotate):
			return v.out.send(askRotateMsg{key: k})
		default:
			return v.out.send(toggleDisableMsg{key: k})
		}
	case key.Matches(msg, km.Audit):
		return v.out.send(openAuditMsg{})
	case key.Matches(msg, km.Catalog):
		return v.out.send(openCatalogMsg{})
	case key.Matches(msg, km.Reload):
		return v.out.send(reloadMsg{})
	}
	return nil
}

// View draws tabs, table (or the empty-state hint) and the filter line.
func (v *keysView) View() string {
	var b strings.Builder
	b.WriteString(v.tabsView())
	b.WriteString("\n\n")
	switch {
	case !v.loaded:
		b.WriteString(v.st.Subtle.Render("  Loading keys…"))
		b.WriteString(strings.Repeat("\n", max(0, v.table.height)))
	case v.picking:
		b.WriteString(v.pickerView())
	case v.set.Count() == 0:
		b.WriteString(v.emptyView("No keys yet.", "Press n to create your first key, or ? for every binding."))
	case len(v.rows) == 0 && !v.pending:
		b.WriteString(v.emptyView("No keys match.", "Press esc to clear the filter, or tab to change environment."))
	default:
		now := v.now()
		b.WriteString(v.table.View(v.st.Header, func(r, c int) string {
			return cellText(v.rowsOf.Key(v.rows[r]), c, now)
		}, func(r int) lipgloss.Style {
			k := v.rowsOf.Key(v.rows[r])
			if st, ok := v.st.Health[k.Health(now)]; ok {
				return st
			}
			return v.st.Row
		}, v.st.Selected))
		// Keep the layout's height when there are few rows.
		b.WriteString(strings.Repeat("\n", max(0, v.table.height-(min(v.table.n, v.table.offset+v.table.height)-v.table.offset))))
	}
	b.WriteString("\n")
	if v.filtering || v.q.Text != "" {
		b.WriteString(v.filter.View())
	}
	return b.String()
}

func (v *keysView) emptyView(title, hint string) string {
	body := v.st.Title.Render(title) + "\n" + v.st.Subtle.Render(hint)
	return lipgloss.Place(v.width, v.table.height+1, lipgloss.Center, lipgloss.Center, body)
}

func (v *keysView) tabsView() string {
	parts := []string{}
	names := []string{"All"}
	for _, e := range v.envs {
		names = append(names, format.Safe(e.Name))
	}
	for i, n := range names {
		switch {
		case i == v.tab && v.st.NoColor:
			parts = append(parts, "["+n+"]")
		case i == v.tab:
			parts = append(parts, v.st.TabActive.Render(n))
		case v.st.NoColor:
			parts = append(parts, " "+n+" ")
		default:
			parts = append(parts, v.st.Tab.Render(n))
		}
	}
	ch := "all"
	if v.q.Channel != "" {
		ch = format.Safe(v.q.Channel)
	}
	right := v.st.Subtle.Render("channel: ") + ch
	left := strings.Join(parts, "")
	gap := v.width - lipgloss.Width(left) - lipgloss.Width(right) - 1
	if gap < 1 {
		return left
	}
	return left + strings.Repeat(" ", gap) + right
}

func (v *keysView) pickerView() string {
	var b strings.Builder
	b.WriteString(v.st.Title.Render("  Show keys of channel") + v.st.Subtle.Render("  (↑/↓, enter, esc)") + "\n")
	opts := []string{"all channels"}
	for _, c := range v.channels {
		opts = append(opts, format.Safe(c.Name))
	}
	start := max(0, v.pick-v.table.height+2)
	for i := start; i < len(opts) && i < start+v.table.height; i++ {
		line := "    " + opts[i]
		if i == v.pick {
			line = v.st.Selected.Render("  ▸ " + opts[i])
		}
		b.WriteString(line + "\n")
	}
	b.WriteString(strings.Repeat("\n", max(0, v.table.height-len(opts)-1)))
	return b.String()
}

// statusText is the left part of the status bar: counts, sort, filters.
func (v *keysView) statusText() string {
	if !v.loaded {
		return "loading…"
	}
	parts := []string{format.Count(v.set.Count(), "key")}
	if v.pending {
		parts = append(parts, "filtering…")
	} else if len(v.rows) != v.set.Count() {
		parts = append(parts, fmt.Sprintf("%d shown", len(v.rows)))
	}
	dir := "↓"
	if v.q.Sort.Ascending() {
		dir = "↑"
	}
	parts = append(parts, "sort: "+v.q.Sort.String()+" "+dir)
	if v.q.Review != keyindex.AllKeys {
		parts = append(parts, "review: "+v.q.Review.String())
	}
	if len(v.rows) > 0 {
		parts = append(parts, fmt.Sprintf("%d/%d", v.table.cursor+1, len(v.rows)))
	}
	return strings.Join(parts, " · ")
}

// cellText is one key's text for table column c.
func cellText(k *model.Key, c int, now time.Time) string {
	switch c {
	case 0:
		return k.Name
	case 1:
		return k.Environment
	case 2:
		return format.Ago(k.LastUsedAt, now)
	case 3:
		if h := k.Health(now); h != model.HealthOK {
			return string(h)
		}
		return "ok"
	case 4:
		return k.Channel
	case 5:
		return k.Hint
	case 6:
		if k.ExpiresAt.IsZero() {
			return "never"
		}
		return format.Until(k.ExpiresAt, now)
	case 7:
		return format.Date(k.CreatedAt)
	case 8:
		return k.CreatedBy
	case 9:
		if len(k.Scopes) == 0 {
			return "–"
		}
		return strings.Join(k.Scopes, " ")
	}
	return ""
}
