package tui

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/help"
	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"

	"keyden/format"
	"keyden/keyindex"
	"keyden/model"
)

// keysKeyMap is the home view's bindings; it also feeds the help.
type keysKeyMap struct {
	table                                     tableKeyMap
	input                                     inputKeyMap
	picker                                    pickerKeyMap
	New, Details, Delete, Filter, ClearFilter key.Binding
	Rotate, Disable, Audit                    key.Binding
	NextEnv, PrevEnv, Channel, Sort, Quick    key.Binding
	Catalog, Reload, Help, Quit               key.Binding
	Group, Mark, MarkAll, Move                key.Binding
	groupKeys, groupBack, groupMark           key.Binding // enter, esc and space in the grouped review
}

func defaultKeysKeyMap() keysKeyMap {
	table := defaultTableKeyMap()
	// g groups and space marks here, so neither moves the cursor.
	table.Top = key.NewBinding(key.WithKeys("home"), key.WithHelp("home", "top"))
	table.PageDown = key.NewBinding(key.WithKeys("pgdown", "ctrl+f"), key.WithHelp("pgdn", "page down"))
	return keysKeyMap{
		table:       table,
		input:       defaultInputKeyMap(),
		picker:      defaultPickerKeyMap(),
		New:         key.NewBinding(key.WithKeys("n"), key.WithHelp("n", "new key")),
		Details:     key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "details")),
		Delete:      key.NewBinding(key.WithKeys("d", "delete"), key.WithHelp("d", "delete")),
		Rotate:      key.NewBinding(key.WithKeys("R"), key.WithHelp("R", "rotate")),
		Disable:     key.NewBinding(key.WithKeys("x"), key.WithHelp("x", "disable/enable")),
		Audit:       key.NewBinding(key.WithKeys("a"), key.WithHelp("a", "audit log")),
		Filter:      key.NewBinding(key.WithKeys("/"), key.WithHelp("/", "filter")),
		ClearFilter: key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "clear one level")),
		NextEnv:     key.NewBinding(key.WithKeys("tab", "right", "l"), key.WithHelp("tab/→", "next env")),
		PrevEnv:     key.NewBinding(key.WithKeys("shift+tab", "left", "h"), key.WithHelp("shift+tab/←", "prev env")),
		Channel:     key.NewBinding(key.WithKeys("c"), key.WithHelp("c", "channel")),
		Sort:        key.NewBinding(key.WithKeys("s"), key.WithHelp("s", "sort")),
		Quick:       key.NewBinding(key.WithKeys("r"), key.WithHelp("r", "review stale")),
		Group:       key.NewBinding(key.WithKeys("g"), key.WithHelp("g", "group")),
		Mark:        key.NewBinding(key.WithKeys(" "), key.WithHelp("space", "mark")),
		MarkAll:     key.NewBinding(key.WithKeys("A"), key.WithHelp("A", "mark all shown")),
		Move:        key.NewBinding(key.WithKeys("m"), key.WithHelp("m", "move to a channel")),
		groupKeys:   key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "its keys")),
		groupBack:   key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "ungroup")),
		groupMark:   key.NewBinding(key.WithKeys(" "), key.WithHelp("space", "mark its keys")),
		Catalog:     key.NewBinding(key.WithKeys("e"), key.WithHelp("e", "envs & channels")),
		Reload:      key.NewBinding(key.WithKeys("ctrl+r"), key.WithHelp("ctrl+r", "reload")),
		Quit:        key.NewBinding(key.WithKeys("q", "ctrl+c"), key.WithHelp("q", "quit")),
	}
}

// ShortHelp leaves out what the current user may not do to the selected
// key (pressing it anyway says why). While a text field or the picker has
// the keys, the help is theirs.
func (v *keysView) ShortHelp() []key.Binding {
	k := v.keyMap
	switch {
	case v.filtering:
		return []key.Binding{k.input.Accept, k.input.Cancel}
	case v.picking:
		return []key.Binding{k.picker.Up, k.picker.Down, k.picker.Choose, k.picker.Close}
	case v.group != groupOff:
		return []key.Binding{k.groupKeys, k.Group, k.groupBack, k.groupMark, k.Filter, k.NextEnv, k.Quit}
	}
	if v.marks.n > 0 {
		bulk := key.NewBinding(key.WithKeys("x", "d", "R"), key.WithHelp("x/d/R", fmt.Sprintf("disable/delete/rotate %d marked", v.marks.n)))
		return []key.Binding{bulk, k.Mark, k.MarkAll, k.Filter, k.Quit}
	}
	return v.allowed([]key.Binding{k.New, k.Details, k.Filter, k.NextEnv, k.Delete, k.Sort, k.Quick, k.Quit})
}

func (v *keysView) FullHelp() [][]key.Binding {
	k := v.keyMap
	if v.filtering || v.picking {
		return [][]key.Binding{v.ShortHelp()}
	}
	if v.group != groupOff {
		return [][]key.Binding{
			{k.table.Up, k.table.Down, k.table.PageUp, k.table.PageDown, k.table.Top, k.table.Bottom},
			{k.groupKeys, k.Group, k.groupBack, k.groupMark, k.Filter, k.NextEnv, k.PrevEnv, k.Channel, k.Quick, k.Help, k.Quit},
		}
	}
	return [][]key.Binding{
		{k.table.Up, k.table.Down, k.table.PageUp, k.table.PageDown, k.table.Top, k.table.Bottom, k.Details},
		v.allowed([]key.Binding{k.New, k.Delete, k.Rotate, k.Disable, k.Catalog, k.Audit, k.Reload, k.Help, k.Quit}),
		{k.Filter, k.ClearFilter, k.NextEnv, k.PrevEnv, k.Channel, k.Sort, k.Quick, k.Group, k.Mark, k.MarkAll, k.Move},
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

// filteredMsg carries a filter result computed off the UI loop.
type filteredMsg struct {
	seq  int
	set  *keyindex.Index
	q    keyindex.Query
	rows []int32
}

// asyncFilterAbove is the key count above which filtering runs in a Cmd,
// so a keystroke never waits for a pass over every key.
const asyncFilterAbove = 20000

// keysView is the home screen: environment tabs, the keys table, a filter
// and a status bar.
type keysView struct {
	noInit
	sh     *shared
	perm   *perms // what the current user may do
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
	moving    []*model.Key // the picker chooses where these keys move to

	table         vtable
	width, height int
	loaded        bool

	// The grouped review (g): groups of the rows shown, in a table of
	// their own; drill is the way back from a group's keys (esc).
	group    groupBy
	groups   []group
	gtable   vtable
	gseq     int
	grouping bool // groups are being computed
	drill    *drillState

	marks marks // rows marked for a bulk action

	// toggling holds the keys whose disable/enable is in flight, with the
	// presses of x that came meanwhile: each toggles the state the store
	// returns, so x twice is a round trip, never a second disable.
	toggling map[string]int
}

// The keys table's columns, left to right in the order they are dropped
// from the right on a narrow terminal; each is as wide as its widest cell
// (measured by contentWidths) and at least its width, the shortest that is
// still useful. NAME grows first, then CREATED BY, CHANNEL and SCOPES.
// 30D comes after EXPIRES: at 100 columns both fit beside a 24-cell NAME.
const (
	colName = iota
	colEnv
	colLastUsed
	colStatus
	colCreatedBy
	colChannel
	colExpires
	colUses
	colScopes
	colHint
	colCreated
)

var keyColumns = []column{
	colName:      {title: "NAME", width: 24, priority: colName, flex: true},
	colEnv:       {title: "ENV", width: 7, priority: colEnv},
	colLastUsed:  {title: "LAST USED", width: 9, priority: colLastUsed},
	colStatus:    {title: "STATUS", width: 8, priority: colStatus},
	colCreatedBy: {title: "CREATED BY", width: 10, priority: colCreatedBy, flex: true},
	colChannel:   {title: "CHANNEL", width: 10, priority: colChannel, flex: true},
	colUses:      {title: "30D", width: useCells, priority: colUses},
	colExpires:   {title: "EXPIRES", width: 9, priority: colExpires},
	colScopes:    {title: "SCOPES", width: 8, priority: colScopes, flex: true},
	colHint:      {title: "HINT", width: 12, priority: colHint, whole: true}, // cut, it loses the end that tells keys apart
	colCreated:   {title: "CREATED", width: 10, priority: colCreated},
}

// useCells is the width of the 30D column: a sparkline of the uses per
// day over the last 30 days, three days a cell, scaled to the key's own
// busiest (a key dying off shows before it goes stale).
const useCells = 10

// sortColumn is the column each sort orders by.
var sortColumn = map[keyindex.Sort]int{
	keyindex.ByLastUsed: colLastUsed, keyindex.ByCreated: colCreated,
	keyindex.ByName: colName, keyindex.ByExpiry: colExpires,
}

// measureRows is how many rows contentWidths reads at most: all of a
// small result; of a large one its first screens and an even spread of
// the rest, so a keystroke on a million keys never reads them all.
const measureRows = 500

// contentWidths is the widest cell of each column over rows (a sample of
// them when there are many).
func contentWidths(set *keyindex.Index, rows []int32, now time.Time) []int {
	w := make([]int, len(keyColumns))
	w[colUses] = useCells
	measure := func(r int32) {
		k := set.Key(r)
		for c := range w {
			if c != colUses {
				w[c] = max(w[c], cellWidth(cellText(k, c, now)))
			}
		}
	}
	if len(rows) <= measureRows {
		for _, r := range rows {
			measure(r)
		}
		return w
	}
	head := measureRows / 4
	for _, r := range rows[:head] {
		measure(r)
	}
	step := (len(rows) - head) / (measureRows - head)
	for i := head; i < len(rows); i += step {
		measure(rows[i])
	}
	return w
}

// cellWidth is what fit makes of s, in cells; plain ASCII (most cells)
// is counted by its length.
func cellWidth(s string) int {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' || c >= 0x7f {
			return format.Cells(format.Safe(s))
		}
	}
	return len(s)
}

func newKeysView(sh *shared) *keysView {
	fi := sh.st.textInput()
	fi.Prompt = "/ "
	fi.Placeholder = "words, or fields: env:prod used:>90d by:alice status:expiring"
	fi.CharLimit = 512
	km := defaultKeysKeyMap()
	km.Help = sh.global.Help
	v := &keysView{
		sh: sh, perm: sh.perm, st: sh.st, keyMap: km, now: sh.now, filter: fi, toggling: map[string]int{},
		table: newVTable(keyColumns), gtable: newVTable(groupColumns("")),
	}
	v.table.keys, v.gtable.keys = km.table, km.table
	v.table.marked = func(r int) bool { return v.marks.has(v.rows[r]) }
	return v
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
func (v *keysView) moveTo(id string) bool {
	for i, r := range v.rows {
		if v.rowsOf.ID(r) == id {
			v.table.cursor = i
			v.table.clamp()
			return true
		}
	}
	return false
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
		return v.apply(filteredMsg{seq: seq, set: set, q: q, rows: set.Filter(q, within, now)})
	}
	v.pending = true
	return func() tea.Msg {
		return filteredMsg{seq: seq, set: set, q: q, rows: set.Filter(q, within, now)}
	}
}

func (v *keysView) apply(m filteredMsg) tea.Cmd {
	if m.seq != v.seq || m.set != v.set {
		return nil // a newer query or load has replaced it
	}
	keep, had := v.selected()
	asked := m.q != v.shown
	sameSet := m.set.SharesIndexes(v.rowsOf)
	var keepIdx int32 = -1
	if had && sameSet {
		keepIdx = v.rows[v.table.cursor]
	}
	v.rows, v.rowsOf, v.shown, v.pending = m.rows, m.set, m.q, false
	v.marks.follow(m.set)
	v.table.SetRows(len(v.rows))
	v.table.SetContent(contentWidths(m.set, m.rows, v.now()))
	v.table.SetSort(sortColumn[m.q.Sort], sortArrow(m.q.Sort))
	found := false
	switch {
	case keepIdx >= 0:
		// Same index space: find the selected index, a scan of int32s, not of keys.
		if i := slices.Index(v.rows, keepIdx); i >= 0 {
			v.table.cursor = i
			v.table.clamp()
			found = true
		}
	case had:
		found = v.moveTo(keep.ID)
	}
	// A new filter, tab or review without the cursor's key starts at its
	// top (the old place, clamped, was often its last row); a change in
	// the store keeps the place, on the key after one deleted.
	if had && !found && asked {
		v.table.cursor, v.table.offset = 0, 0
	}
	return v.regroup()
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
	v.table.SetSize(w-1, v.rowsRoom())
	v.gtable.SetSize(w-1, v.rowsRoom())
	v.filter.Width = max(10, w-4)
}

// rowsRoom is how many rows the tables show: the height less the tabs, a
// blank line and the header, and less the filter line and the two lines
// under it for a query's error only while there is a filter line. Kept
// free always, they left a 40×12 screen 3 rows of its 6.
func (v *keysView) rowsRoom() int {
	if v.filterShown() {
		return v.height - 6
	}
	return v.height - 3
}

func (v *keysView) filterShown() bool { return v.filtering || v.q.Text != "" }

// fitHeight gives the tables the rows rowsRoom says, after a message may
// have opened or closed the filter line.
func (v *keysView) fitHeight() {
	if h := max(1, v.rowsRoom()); h != v.table.height {
		v.table.height, v.gtable.height = h, h
		v.table.clamp()
		v.gtable.clamp()
	}
}

func (v *keysView) KeyMap() help.KeyMap { return v }
func (v *keysView) Typing() bool        { return v.filtering || v.picking }

func (v *keysView) Update(msg tea.Msg) tea.Cmd {
	defer v.fitHeight()
	switch msg := msg.(type) {
	case filteredMsg:
		return v.apply(msg)
	case groupedMsg:
		v.setGroups(msg)
		return nil
	case bulkDoneMsg:
		return v.bulkDone(msg)
	case dataMsg:
		var cmd tea.Cmd
		if d := v.sh.data; d.set != v.set {
			cmd = v.setData(d.set)
		}
		v.setCatalog(v.sh.data.envs, v.sh.data.channels)
		return cmd
	case deletedMsg, rotatedMsg, disabledMsg:
		return v.actionDone(msg)
	case tea.MouseMsg:
		return v.mouse(msg)
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
	switch km := v.keyMap.input; {
	case key.Matches(msg, km.Cancel):
		v.filtering = false
		v.filter.Blur()
		return v.clearLevel()
	case key.Matches(msg, km.Accept), key.Matches(msg, km.Leave):
		v.filtering = false
		v.filter.Blur()
		if key.Matches(msg, km.Leave) {
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
	n := len(v.pickOptions())
	switch km := v.keyMap.picker; {
	case key.Matches(msg, km.Up):
		v.pick = (v.pick + n - 1) % n
	case key.Matches(msg, km.Down):
		v.pick = (v.pick + 1) % n
	case key.Matches(msg, km.Close):
		v.picking, v.moving = false, nil
	case key.Matches(msg, km.Choose) && v.moving != nil:
		keys := v.moving
		v.picking, v.moving = false, nil
		return v.askMove(keys, v.channels[v.pick].Name)
	case key.Matches(msg, km.Choose):
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
	if v.group != groupOff {
		if cmd, done := v.updateGroups(msg); done {
			return cmd
		}
	} else if v.table.Update(msg) {
		return nil
	}
	switch {
	case key.Matches(msg, km.Group):
		return v.cycleGroup()
	case key.Matches(msg, km.Move):
		return v.pickMove()
	case key.Matches(msg, km.Mark):
		if len(v.rows) > 0 {
			i := v.rows[v.table.cursor]
			v.marks.set(v.rowsOf, i, !v.marks.has(i))
			v.table.cursor++
			v.table.clamp()
		}
	case key.Matches(msg, km.MarkAll):
		v.markAll()
	case key.Matches(msg, km.Filter):
		v.filtering = true
		if v.q.Text != "" && !strings.HasSuffix(v.q.Text, " ") {
			v.setText(v.q.Text + " ") // ready for one more term
		}
		return v.filter.Focus()
	case key.Matches(msg, km.ClearFilter):
		return v.clearLevel()
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
		v.setText(nextReview(v.q.Text))
		return v.refilter(false)
	case key.Matches(msg, km.New):
		return v.openForm()
	case key.Matches(msg, km.Details):
		if k, ok := v.selected(); ok {
			return v.sh.nav.push(newDetailsView(v.sh, k))
		}
	case v.marks.n > 0 && key.Matches(msg, km.Delete):
		return v.askBulk(model.KeyDelete)
	case v.marks.n > 0 && key.Matches(msg, km.Rotate):
		return v.askBulk(model.KeyRotate)
	case v.marks.n > 0 && key.Matches(msg, km.Disable):
		return v.askBulk(model.KeyDisable)
	case key.Matches(msg, km.Delete), key.Matches(msg, km.Rotate), key.Matches(msg, km.Disable):
		k, ok := v.selected()
		if !ok {
			return nil
		}
		switch {
		case key.Matches(msg, km.Delete):
			return v.askDelete(k)
		case key.Matches(msg, km.Rotate):
			return v.askRotate(k)
		default:
			return v.toggleDisabled(k)
		}
	case key.Matches(msg, km.Audit):
		return v.sh.nav.push(newAuditView(v.sh))
	case key.Matches(msg, km.Catalog):
		return v.sh.nav.push(newCatalogView(v.sh))
	case key.Matches(msg, km.Reload):
		return v.sh.reload(true)
	case key.Matches(msg, km.Quit):
		return func() tea.Msg { return quitMsg{} }
	}
	return nil
}

// updateGroups handles a key in the grouped review: moving, enter to
// drill in, esc to leave; done is false for the keys that act as on the
// keys table (filter, tabs, g).
func (v *keysView) updateGroups(msg tea.KeyMsg) (cmd tea.Cmd, done bool) {
	km := v.keyMap
	switch {
	case v.gtable.Update(msg):
	case key.Matches(msg, km.Details):
		return v.drillIn(), true
	case key.Matches(msg, km.ClearFilter):
		v.group, v.groups = groupOff, nil
	case key.Matches(msg, km.Mark):
		v.markGroup()
	case v.marks.n == 0 && (key.Matches(msg, km.Delete) || key.Matches(msg, km.Rotate) ||
		key.Matches(msg, km.Disable) || key.Matches(msg, km.Move)):
		v.sh.status("Press space to mark this group's keys first, or enter to see them.", false)
	default:
		return nil, false
	}
	return nil, true
}

// markGroup marks the keys shown of the group under the cursor, or
// unmarks them when all are marked.
func (v *keysView) markGroup() {
	if v.gtable.cursor >= len(v.groups) || len(v.rows) == 0 {
		return
	}
	name, by := v.groups[v.gtable.cursor].name, v.group
	rows := v.rowsOf.InGroup(v.rows, by.index(), name)
	if len(rows) == 0 {
		return
	}
	v.marks.set(v.rowsOf, rows[0], v.marks.has(rows[0])) // sized for rowsOf
	v.marks.setAll(rows, !v.marks.hasAll(rows))
	v.gtable.cursor++
	v.gtable.clamp()
}

// reviews are what r cycles through, as query text on the filter line so
// the language is learnt by using it: stale, never used, expiring, and
// used in the last hour.
var reviews = []string{keyindex.Unused.Text(), keyindex.NeverUsed.Text(), keyindex.Expiring.Text(), "used:<1h"}

// nextReview is text with its review term (if any) replaced by the next
// one, or removed after the last.
func nextReview(text string) string {
	words := strings.Fields(text)
	for i, w := range words {
		if j := slices.Index(reviews, w); j >= 0 {
			if j+1 < len(reviews) {
				words[i] = reviews[j+1]
			} else {
				words = slices.Delete(words, i, i+1)
			}
			return strings.Join(words, " ")
		}
	}
	return strings.Join(append(words, reviews[0]), " ")
}

// reviewTerms is the review terms of text: what esc keeps when it clears
// the typed text.
func reviewTerms(text string) string {
	var out []string
	for _, w := range strings.Fields(text) {
		if slices.Contains(reviews, w) {
			out = append(out, w)
		}
	}
	return strings.Join(out, " ")
}

// setText puts s on the filter line and in the query. A drill-in's s holds
// a group's name, stored text: the line shows it escaped (the input would
// drop its controls but draw a bidi override), the query keeps it whole.
func (v *keysView) setText(s string) {
	v.filter.SetValue(format.Safe(s))
	v.filter.CursorEnd()
	v.q.Text = s
}

// clearLevel is esc on the keys table: back to the groups a drill-in came
// from, else it clears one level of the query at a time: the typed text,
// then the review, then the channel.
func (v *keysView) clearLevel() tea.Cmd {
	if d := v.drill; d != nil {
		v.drill = nil
		if v.q.Text == d.after {
			v.setText(d.before)
			v.group, v.gtable.cursor = d.group, d.cursor
			return v.refilter(false)
		}
	}
	switch {
	case v.q.Text != "":
		review := reviewTerms(v.q.Text)
		if review == strings.TrimSpace(v.q.Text) {
			review = ""
		}
		v.setText(review)
	case v.q.Channel != "":
		v.q.Channel = ""
	case v.marks.n > 0:
		v.marks.clear()
		return nil
	default:
		return nil
	}
	return v.refilter(false)
}

// markAll marks every row shown, or unmarks them when all are marked.
func (v *keysView) markAll() {
	if len(v.rows) == 0 {
		return
	}
	v.marks.set(v.rowsOf, v.rows[0], v.marks.has(v.rows[0])) // sized for rowsOf
	v.marks.setAll(v.rows, !v.marks.hasAll(v.rows))
}
