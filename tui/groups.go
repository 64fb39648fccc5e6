package tui

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"

	"keyden/format"
	"keyden/keyindex"
	"keyden/model"
)

// groupBy is what the grouped review gathers the rows shown by; g cycles it.
type groupBy int

const (
	groupOff groupBy = iota
	groupCreator
	groupChannel
	groupEnv
	numGroupBys
)

// groupFields are each grouping's title, noun and query field (for the drill-in).
var groupFields = [numGroupBys]struct{ title, noun, field string }{
	groupCreator: {"CREATED BY", "creator", "by"},
	groupChannel: {"CHANNEL", "channel", "channel"},
	groupEnv:     {"ENV", "environment", "env"},
}

// index is g as the key index names it.
func (g groupBy) index() keyindex.GroupBy {
	switch g {
	case groupCreator:
		return keyindex.ByCreator
	case groupChannel:
		return keyindex.ByChannel
	}
	return keyindex.ByEnv
}

// group is one line of the grouped review: the keys shown that share a
// creator, channel or environment, and what a reviewer asks of them.
type group struct {
	name                         string
	keys, never, stale, expiring int
	lastUsed                     time.Time
}

// groupedMsg carries groups computed off the UI loop.
type groupedMsg struct {
	seq    int
	groups []group
}

// groupRows gathers rows of set by g at now, the largest group first.
// Stale and expiring are the review's own questions (used:>90d, never-used
// keys counting from creation; expires:<7d, the expired included).
func groupRows(set *keyindex.Index, rows []int32, g groupBy, now time.Time) []group {
	gs := set.Groups(rows, g.index(), now)
	out := make([]group, len(gs))
	for i, x := range gs {
		out[i] = group{name: x.Name, keys: x.Keys, never: x.Never, stale: x.Stale, expiring: x.Expiring, lastUsed: x.LastUsed}
	}
	slices.SortFunc(out, func(a, b group) int {
		return cmp.Or(b.keys-a.keys, strings.Compare(a.name, b.name))
	})
	return out
}

// The grouped table's columns.
const (
	gcolName = iota
	gcolKeys
	gcolNever
	gcolStale
	gcolExpiring
	gcolLast
)

func groupColumns(title string) []column {
	return []column{
		gcolName:     {title: title, width: 12, priority: 0, flex: true},
		gcolKeys:     {title: "KEYS", width: 4, priority: 1, right: true},
		gcolNever:    {title: "NEVER USED", width: 5, priority: 3, right: true},
		gcolStale:    {title: fmt.Sprintf("STALE %dD+", model.StaleAfter/(24*time.Hour)), width: 5, priority: 2, right: true},
		gcolExpiring: {title: "EXPIRING", width: 5, priority: 4, right: true},
		gcolLast:     {title: "LAST USE", width: 8, priority: 5},
	}
}

func (g *group) cell(c int, now time.Time) string {
	count := func(n int) string {
		if n == 0 {
			return "–"
		}
		return strconv.Itoa(n)
	}
	switch c {
	case gcolName:
		return g.name
	case gcolKeys:
		return strconv.Itoa(g.keys)
	case gcolNever:
		return count(g.never)
	case gcolStale:
		return count(g.stale)
	case gcolExpiring:
		return count(g.expiring)
	case gcolLast:
		return format.Ago(g.lastUsed, now)
	}
	return ""
}

// regroup recomputes the groups of the rows shown, off the UI loop when
// they are many.
func (v *keysView) regroup() tea.Cmd {
	if v.group == groupOff || v.rowsOf == nil {
		v.groups = nil
		return nil
	}
	v.gseq++
	seq, set, rows, by, now := v.gseq, v.rowsOf, v.rows, v.group, v.now()
	if len(rows) <= asyncFilterAbove {
		v.setGroups(groupedMsg{seq: seq, groups: groupRows(set, rows, by, now)})
		return nil
	}
	v.grouping = true
	return func() tea.Msg { return groupedMsg{seq: seq, groups: groupRows(set, rows, by, now)} }
}

func (v *keysView) setGroups(m groupedMsg) {
	if m.seq != v.gseq {
		return
	}
	keep := ""
	if v.gtable.cursor < len(v.groups) {
		keep = v.groups[v.gtable.cursor].name
	}
	v.groups, v.grouping = m.groups, false
	if v.groups == nil {
		v.groups = []group{} // computed: none
	}
	v.gtable.cols = groupColumns(groupFields[v.group].title)
	v.gtable.SetRows(len(v.groups))
	now := v.now()
	w := make([]int, len(v.gtable.cols))
	for i := range v.groups {
		for c := range w {
			w[c] = max(w[c], cellWidth(v.groups[i].cell(c, now)))
		}
		if v.groups[i].name == keep {
			v.gtable.cursor = i
		}
	}
	v.gtable.SetContent(w)
	v.gtable.clamp()
}

// cycleGroup moves to the next grouping (creator, channel, environment, off).
func (v *keysView) cycleGroup() tea.Cmd {
	v.group = (v.group + 1) % numGroupBys
	v.gtable.cursor, v.gtable.offset = 0, 0
	return v.regroup()
}

// drillIn shows the keys of the group under the cursor: its query term
// joins the filter line, and esc comes back to the groups.
func (v *keysView) drillIn() tea.Cmd {
	if v.gtable.cursor >= len(v.groups) {
		return nil
	}
	g := v.groups[v.gtable.cursor]
	term := keyindex.Term(groupFields[v.group].field, g.name)
	v.drill = &drillState{group: v.group, before: v.q.Text, cursor: v.gtable.cursor}
	v.setText(strings.TrimSpace(v.q.Text + " " + term))
	v.drill.after = v.q.Text
	v.group, v.groups = groupOff, nil
	return v.refilter(false)
}

// drillState is how to go back from a drill-in to the groups it came from.
type drillState struct {
	group         groupBy
	before, after string
	cursor        int
}

// groupsView draws the grouped review in place of the keys table.
func (v *keysView) groupsView() string {
	now := v.now()
	return v.gtable.View(v.st.Header, func(r, c int) string {
		return v.groups[r].cell(c, now)
	}, func(r int) lipgloss.Style {
		if v.groups[r].stale > 0 || v.groups[r].expiring > 0 {
			return v.st.Health[model.HealthStale]
		}
		return v.st.Row
	}, v.st.Selected)
}
