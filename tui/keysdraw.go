package tui

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/charmbracelet/lipgloss"

	"keyden/format"
	"keyden/keyindex"
	"keyden/model"
)

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
	case v.group != groupOff && v.groups == nil:
		b.WriteString(v.st.Subtle.Render("  Grouping…"))
		b.WriteString(strings.Repeat("\n", max(0, v.table.height)))
	case v.group != groupOff && len(v.groups) > 0:
		b.WriteString(v.groupsView())
		b.WriteString(strings.Repeat("\n", max(0, v.gtable.height-(min(v.gtable.n, v.gtable.offset+v.gtable.height)-v.gtable.offset))))
	case len(v.rows) == 0 && !v.pending:
		b.WriteString(v.emptyView(v.noRowsText()))
	default:
		now := v.now()
		// The set makes a key each time it is asked: make each row's once.
		last, lastK := -1, (*model.Key)(nil)
		key := func(r int) *model.Key {
			if r != last {
				last, lastK = r, v.rowsOf.Key(v.rows[r])
			}
			return lastK
		}
		b.WriteString(v.table.View(v.st.Header, func(r, c int) string {
			return cellText(key(r), c, now)
		}, func(r int) lipgloss.Style {
			if st, ok := v.st.Health[key(r).Health(now)]; ok {
				return st
			}
			return v.st.Row
		}, v.st.Selected))
		// Keep the layout's height when there are few rows.
		b.WriteString(strings.Repeat("\n", max(0, v.table.height-(min(v.table.n, v.table.offset+v.table.height)-v.table.offset))))
	}
	if v.filterShown() {
		b.WriteString("\n" + v.filter.View())
		if problem := v.filterProblem(); problem != "" {
			// Under the line, in the two lines the layout keeps free.
			lines := wrapWords(format.Safe(problem), v.width-2)
			for _, l := range lines[:min(2, len(lines))] {
				b.WriteString("\n  " + v.st.Error.Render(l))
			}
		}
	}
	return b.String()
}

// filterProblem is what is wrong with the filter line: a term keyden cannot
// read, or, when it shows no key, an environment or channel the store does
// not have (env:prd said only "No keys match"; the command line says why).
func (v *keysView) filterProblem() string {
	if err := v.q.Err(); err != nil {
		return err.Error()
	}
	if len(v.rows) > 0 || v.pending || !v.loaded {
		return ""
	}
	t, _ := keyindex.ParseQuery(v.q.Text)
	return sentenceCase(t.UnknownName(v.envs, v.channels))
}

// noRowsText says why no row is shown, and offers esc only when there is
// a filter, a review or a channel for it to clear.
func (v *keysView) noRowsText() (title, hint string) {
	if v.q.Text == "" && v.q.Review == keyindex.AllKeys && v.q.Channel == "" {
		if env := v.envName(); env != "" {
			return "No keys in " + format.Safe(env) + " yet.", "Press n to create one here, or tab to change environment."
		}
	}
	return "No keys match.", "Press esc to clear the filter, or tab to change environment."
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
	title := "  Show keys of channel"
	if v.moving != nil {
		title = "  Move " + format.Count(len(v.moving), "key") + " to channel"
	}
	b.WriteString(v.st.Title.Render(title) + v.st.Subtle.Render("  (↑/↓, enter, esc)") + "\n")
	opts := v.pickOptions()
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
	// What a narrow line gives up first, in this order: cut at the
	// screen's edge, it lost the position instead ("sort: last used ↓ · 2/1",
	// "656 shown · 10 creators ·").
	var spare []string
	if c := sortColumn[v.q.Sort]; v.table.widths[c] == 0 {
		spare = append(spare, "sort: "+v.q.Sort.String()+" "+sortArrow(v.q.Sort))
		parts = append(parts, spare[0])
	}
	join := func() string {
		kept := parts
		for _, s := range spare {
			if format.Cells(strings.Join(kept, " · ")) <= v.width-1 {
				break
			}
			kept = slices.DeleteFunc(slices.Clone(kept), func(p string) bool { return p == s })
		}
		return strings.Join(kept, " · ")
	}
	if v.marks.n > 0 {
		parts = append(parts, fmt.Sprintf("%d marked", v.marks.n))
	}
	if v.group != groupOff {
		if v.groups != nil {
			// The position says how many groups too.
			spare = append(spare, format.Count(len(v.groups), groupFields[v.group].noun))
			parts = append(parts, spare[len(spare)-1])
		}
		if len(v.groups) > 0 {
			parts = append(parts, fmt.Sprintf("%d/%d", v.gtable.cursor+1, len(v.groups)))
		}
		return join()
	}
	if len(v.rows) > 0 {
		parts = append(parts, fmt.Sprintf("%d/%d", v.table.cursor+1, len(v.rows)))
	}
	text := join()
	// The hidden columns, as many of their names as the line has room for;
	// with no rows there is nothing in them to miss.
	if len(v.rows) == 0 {
		return text
	}
	hidden := v.table.Hidden()
	for names := len(hidden); len(hidden) > 0 && names >= 0; names-- {
		list := strings.Join(hidden[:names], ", ")
		if names < len(hidden) {
			list += fmt.Sprintf(" and %d more", len(hidden)-names)
		}
		more := fmt.Sprintf(" · +%d: %s", len(hidden), list)
		if names == 0 {
			more = fmt.Sprintf(" · %d columns hidden", len(hidden))
		}
		if format.Cells(text+more) <= v.width-1 {
			return text + more
		}
	}
	return text
}

// sortArrow is the direction of s: ↓ when the newest (or Z) comes first.
func sortArrow(s keyindex.Sort) string {
	if s.Ascending() {
		return "↑"
	}
	return "↓"
}

// cellText is one key's text for table column c.
func cellText(k *model.Key, c int, now time.Time) string {
	switch c {
	case colName:
		return k.Name
	case colEnv:
		return k.Environment
	case colLastUsed:
		return format.Ago(k.LastUsedAt, now)
	case colStatus:
		if h := k.Health(now); h != model.HealthOK {
			return string(h)
		}
		return "ok"
	case colChannel:
		return k.Channel
	case colHint:
		return k.Hint
	case colExpires:
		if k.ExpiresAt.IsZero() {
			return "never"
		}
		return format.Until(k.ExpiresAt, now)
	case colCreated:
		return format.Date(k.CreatedAt)
	case colCreatedBy:
		return k.CreatedBy
	case colUses:
		uses := k.Uses30d(now)
		return format.Sparkline(uses[:], useCells)
	case colScopes:
		if len(k.Scopes) == 0 {
			return "–"
		}
		return strings.Join(k.Scopes, " ")
	}
	return ""
}

// pickOptions are the channel picker's lines: every channel, after "all
// channels" when it filters (not when it moves keys).
func (v *keysView) pickOptions() []string {
	var opts []string
	if v.moving == nil {
		opts = append(opts, "all channels")
	}
	for _, c := range v.channels {
		opts = append(opts, format.Safe(c.Name))
	}
	return opts
}
