package tui

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/help"
	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	"keyden/format"
	"keyden/model"
	"keyden/storage"
)

// bulkDoneMsg is the store's answer to a change of the marked keys.
type bulkDoneMsg struct {
	action   model.KeyAction
	asked    int
	outcomes []storage.KeyOutcome
	err      error
	landed   string // how the changes landed on the verifiers
}

// confirmNames is how many of the marked keys' names a bulk confirm lists.
const confirmNames = 5

// bulkVerbs are what a bulk change did, for the results: "disabled".
var bulkVerbs = map[model.KeyAction]string{
	model.KeyDisable: "disabled", model.KeyEnable: "enabled", model.KeyDelete: "deleted",
	model.KeyRotate: "rotated", model.KeyMove: "moved",
}

// askBulk opens one confirm for x, d or R on the marked keys: the count,
// the first names, what breaks; when any of them is in an environment
// confirmed by name, the count must be typed.
func (v *keysView) askBulk(action model.KeyAction) tea.Cmd {
	keys := v.markedInOrder()
	if len(keys) == 0 {
		v.marks.clear()
		return nil
	}
	if action == model.KeyDisable && !slices.ContainsFunc(keys, func(k *model.Key) bool { return !k.Disabled }) {
		action = model.KeyEnable // x on keys that are all disabled enables them
	}
	if err := v.mayChangeNone(action, keys); err != nil {
		v.sh.fail(err)
		return nil
	}
	ids := make([]string, len(keys))
	byName := 0
	var named []string // the environments confirmed by name among them
	for i, k := range keys {
		ids[i] = k.ID
		if v.confirmByName(k.Environment) {
			byName++
			if !slices.Contains(named, k.Environment) {
				named = append(named, k.Environment)
			}
		}
	}
	n := format.Count(len(keys), "key")
	q := ask{title: capitalize(string(action)) + " " + n + "?", verb: string(action) + " " + n,
		body: func(grace int) string { return v.bulkConfirmBody(action, keys, grace) },
		yes:  func(grace int) tea.Cmd { return v.runBulk(action, ids, graceChoices[grace].d) }}
	if action == model.KeyRotate {
		q.choices, q.choice, q.choiceHelp = len(graceChoices), 2, "grace"
	}
	if byName > 0 && action != model.KeyEnable {
		count := itoa(len(keys))
		q.name, q.mismatch = count, "Type "+count+", the number of keys, exactly to confirm."
		are := fmt.Sprintf("%d of them are %s keys", byName, format.Safe(strings.Join(named, "/")))
		if byName == 1 {
			are = "1 of them is a " + format.Safe(strings.Join(named, "/")) + " key"
		}
		q.prompt = fmt.Sprintf("%s. Type %s, the number of keys, to confirm:", are, v.st.Title.Render(count))
	}
	return v.sh.nav.push(newConfirmView(v.sh, q))
}

// mayChangeNone refuses, as for one key before its confirm, a change the
// user may make to none of keys (the confirm offered "Yes, disable 56
// keys", "the others go through", and then changed none); nil when it may
// change one.
func (v *keysView) mayChangeNone(action model.KeyAction, keys []*model.Key) error {
	var first error
	for _, k := range keys {
		err := v.perm.mayChange(action, k)
		if err == nil {
			return nil
		}
		if first == nil {
			first = err
		}
	}
	if len(keys) == 1 {
		return first
	}
	return fmt.Errorf("you may not %s any of the %d marked keys: %w", action, len(keys), first)
}

// markedInOrder is the marked keys, those shown in the table's order
// first, then any the filter hides.
func (v *keysView) markedInOrder() []*model.Key {
	var out []*model.Key
	for _, i := range v.rows {
		if v.marks.has(i) {
			out = append(out, v.rowsOf.Key(i))
		}
	}
	if len(out) < v.marks.n {
		shown := map[string]bool{}
		for _, k := range out {
			shown[k.ID] = true
		}
		v.marks.each(v.rowsOf, func(i int32) {
			if !shown[v.rowsOf.ID(i)] {
				out = append(out, v.rowsOf.Key(i))
			}
		})
	}
	return out
}

// bulkConfirmBody shows what a bulk change touches: the count per
// environment, the first names, the keys the user may not change, and
// what breaks.
func (v *keysView) bulkConfirmBody(action model.KeyAction, keys []*model.Key, grace int) string {
	st, now := v.st, v.now()
	var b strings.Builder
	perEnv := map[string]int{}
	var envs []string
	refused := 0
	for _, k := range keys {
		if perEnv[k.Environment] == 0 {
			envs = append(envs, k.Environment)
		}
		perEnv[k.Environment]++
		if v.perm.mayChange(action, k) != nil {
			refused++
		}
	}
	var counts []string
	for _, e := range envs {
		counts = append(counts, fmt.Sprintf("%d %s", perEnv[e], format.Safe(e)))
	}
	b.WriteString(format.Count(len(keys), "key") + ": " + strings.Join(counts, ", ") + "\n\n")
	// One line a key, cut to the confirm box's inside.
	inside := min(72, max(40, v.width-4)) - 2
	shown := keys[:min(confirmNames, len(keys))]
	wheres := make([]string, len(shown))
	nameW, whereW := 0, 0
	for i, k := range shown {
		used := "used " + format.Ago(k.LastUsedAt, now)
		if k.LastUsedAt.IsZero() {
			used = "never used"
		}
		wheres[i] = format.Safe(k.Channel+"/"+k.Environment) + " · " + used
		nameW = max(nameW, format.Cells(format.Safe(k.Name)))
		whereW = max(whereW, format.Cells(wheres[i]))
	}
	// Names get what the channel and last use leave, at least two fifths.
	nameW = min(nameW, max(inside*2/5, inside-4-whereW))
	for i, k := range shown {
		where := format.Truncate(wheres[i], max(1, inside-nameW-4), "…")
		b.WriteString("  " + fit(k.Name, nameW) + "  " + st.Subtle.Render(where) + "\n")
	}
	if len(keys) > confirmNames {
		b.WriteString(st.Subtle.Render(fmt.Sprintf("  … and %d more", len(keys)-confirmNames)) + "\n")
	}
	if refused > 0 {
		b.WriteString("\n" + st.Warning.Render(fmt.Sprintf("You may not %s %d of them: those are left as they are, the others go through.", action, refused)) + "\n")
	}
	// One marked key is spoken of as one.
	say := func(many, one string) string {
		if len(keys) == 1 {
			return one
		}
		return many
	}
	switch action {
	case model.KeyDisable:
		b.WriteString("\n" + st.Warning.Render(say("Apps using them are refused until the keys are enabled again.",
			"Apps using it are refused until the key is enabled again.")) + "\n")
	case model.KeyDelete:
		b.WriteString("\n" + st.Warning.Render(say("Apps using these keys will stop working immediately.",
			"Apps using this key will stop working immediately.")) + "\n")
		b.WriteString(st.Subtle.Render("This cannot be undone.") + "\n")
	case model.KeyMove:
		b.WriteString("\n" + st.Subtle.Render(say("The keys keep working: only their channel changes, and each move is audited.",
			"The key keeps working: only its channel changes, and the move is audited.")) + "\n")
	case model.KeyRotate:
		b.WriteString("\n" + st.Warning.Render(say("A new key replaces each, shown once on the next screen. The old keys stop working when the grace ends.",
			"A new key replaces it, shown once on the next screen. The old key stops working when the grace ends.")) + "\n")
		b.WriteString(graceLine(st, grace))
	}
	return b.String()
}

// runBulk makes the change in one call to the store, back on the keys screen.
func (v *keysView) runBulk(action model.KeyAction, ids []string, grace time.Duration) tea.Cmd {
	v.sh.nav.home()
	v.sh.status(fmt.Sprintf("%s %s…", capitalize(strings.TrimSuffix(string(action), "e"))+"ing", format.Count(len(ids), "key")), true)
	sh, st, ctx := v.sh, v.sh.store, v.sh.ctx
	return func() tea.Msg {
		out, err := st.ChangeKeys(ctx, storage.BulkRequest{Action: action, IDs: ids, Grace: grace})
		msg := bulkDoneMsg{action: action, asked: len(ids), outcomes: out, err: err}
		if done := landsAs[action]; done != "" && slices.ContainsFunc(out, func(o storage.KeyOutcome) bool { return o.Err == nil }) {
			msg.landed = sh.landed(done)
		}
		return msg
	}
}

// landsAs is how a bulk change that the verifiers must take in begins to
// say how it landed there, as a single key's does.
var landsAs = map[model.KeyAction]string{model.KeyDisable: refused, model.KeyDelete: refused, model.KeyRotate: inForce}

// bulkDone takes in the answer: the keys changed lose their marks (the
// refused stay marked), and the results screen lists every key.
func (v *keysView) bulkDone(msg bulkDoneMsg) tea.Cmd {
	done := map[string]bool{}
	for _, o := range msg.outcomes {
		if o.Err == nil {
			done[o.Key.ID] = true
		}
	}
	v.marks.unmark(func(id string) bool { return done[id] })
	r := newBulkView(v.sh, msg)
	v.sh.status(r.summary, msg.err == nil && r.refused == 0)
	return tea.Batch(v.sh.nav.push(r), v.sh.reload(false))
}

type bulkKeyMap struct{ Up, Down, Back key.Binding }

func (k bulkKeyMap) ShortHelp() []key.Binding  { return []key.Binding{k.Up, k.Down, k.Back} }
func (k bulkKeyMap) FullHelp() [][]key.Binding { return [][]key.Binding{k.ShortHelp()} }

// bulkView lists what a bulk change did to each key, refusals first, with
// each rotated key's replacement shown once (forgotten on leaving).
type bulkView struct {
	noInit
	sh      *shared
	keyMap  bulkKeyMap
	summary string
	refused int
	lines   []bulkLine
	secrets [][]byte
	offset  int
	width   int
	height  int
}

type bulkLine struct {
	ok     bool
	name   string
	detail string
	secret int // index into secrets, -1: none
}

func newBulkView(sh *shared, msg bulkDoneMsg) *bulkView {
	v := &bulkView{sh: sh, keyMap: bulkKeyMap{
		Up:   key.NewBinding(key.WithKeys("up", "k"), key.WithHelp("↑/k", "up")),
		Down: key.NewBinding(key.WithKeys("down", "j"), key.WithHelp("↓/j", "down")),
		Back: key.NewBinding(key.WithKeys("esc", "enter", "q"), key.WithHelp("esc", "back")),
	}}
	if msg.action == model.KeyRotate {
		v.keyMap.Back.SetHelp("esc", "back (forgets the new keys)")
	}
	done := 0
	var ok []bulkLine
	for _, o := range msg.outcomes {
		name := o.Key.Name
		if name == "" {
			name = o.Key.ID
		}
		if o.Err != nil {
			v.refused++
			v.lines = append(v.lines, bulkLine{name: name, detail: sentence(o.Err), secret: -1})
			continue
		}
		done++
		l := bulkLine{ok: true, name: name, detail: bulkVerbs[msg.action], secret: -1}
		if o.New != nil {
			l.secret = len(v.secrets)
			v.secrets = append(v.secrets, []byte(o.New.Secret))
			l.detail = "rotated; the new key works at once, the old one until " + format.Stamp(o.Key.ExpiresAt)
		}
		ok = append(ok, l)
	}
	v.lines = append(v.lines, ok...)
	verb := capitalize(bulkVerbs[msg.action])
	switch {
	case msg.err != nil:
		v.summary = fmt.Sprintf("%s %d of %s, then the store stopped: %s", verb, done, format.Count(msg.asked, "key"), sentence(msg.err))
	case v.refused > 0:
		v.summary = fmt.Sprintf("%s %d of %s; %d refused, left as they were (listed first).", verb, done, format.Count(msg.asked, "key"), v.refused)
	default:
		v.summary = fmt.Sprintf("%s %s.", verb, format.Count(done, "key"))
	}
	if msg.landed != "" {
		v.summary += " " + msg.landed
	}
	if msg.action == model.KeyRotate && done > 0 {
		v.summary += " Each new key is shown only here: copy them now."
	}
	return v
}

func (v *bulkView) KeyMap() help.KeyMap { return v.keyMap }
func (v *bulkView) Typing() bool        { return false }
func (v *bulkView) SetSize(w, h int)    { v.width, v.height = w, h }

// forget drops the new keys' secrets (on leaving, and on quit).
func (v *bulkView) forget() {
	for _, s := range v.secrets {
		clear(s)
	}
	v.secrets = nil
}

func (v *bulkView) Update(msg tea.Msg) tea.Cmd {
	km, ok := msg.(tea.KeyMsg)
	if !ok {
		return nil
	}
	switch {
	case key.Matches(km, v.keyMap.Back):
		v.forget()
		v.sh.nav.pop()
	case key.Matches(km, v.keyMap.Up):
		v.offset = max(0, v.offset-1)
	case key.Matches(km, v.keyMap.Down):
		v.offset = min(max(0, len(v.body())-v.room()), v.offset+1)
	}
	return nil
}

// room is how many lines of results fit under the title and summary.
func (v *bulkView) room() int { return max(1, v.height-4) }

// body is the results, one line a key, and a rotated key's new key on a
// line of its own, whole, so it can be copied with the mouse.
func (v *bulkView) body() []string {
	st := v.sh.st
	var out []string
	for _, l := range v.lines {
		mark := st.Error.Render("✗ ")
		if l.ok {
			mark = st.Success.Render("✓ ")
		}
		line := mark + st.Title.Render(format.Safe(l.name)+":") + " " + format.Safe(l.detail)
		out = append(out, wrapWords(line, max(20, v.width-2))...)
		if l.secret >= 0 && l.secret < len(v.secrets) {
			out = append(out, "  "+st.Secret.Render(string(v.secrets[l.secret])))
		}
	}
	return out
}

func (v *bulkView) View() string {
	st := v.sh.st
	var b strings.Builder
	// The summary names verifiers and errors as the store gives them.
	for _, l := range wrapWords(format.Safe(v.summary), max(20, v.width-2)) {
		b.WriteString(st.Title.Render(l) + "\n")
	}
	b.WriteString("\n")
	lines := v.body()
	end := min(len(lines), v.offset+v.room())
	b.WriteString(strings.Join(lines[min(v.offset, end):end], "\n"))
	if end < len(lines) {
		b.WriteString("\n" + st.Subtle.Render(fmt.Sprintf("… %d more lines (↓)", len(lines)-end)))
	}
	return b.String()
}

// pickMove opens the channel picker to move the marked keys (or the one
// under the cursor when none is marked).
func (v *keysView) pickMove() tea.Cmd {
	keys := v.markedInOrder()
	if len(keys) == 0 {
		k, ok := v.selected()
		if !ok {
			return nil
		}
		keys = []*model.Key{&k}
	}
	// Some refused: the confirm counts them; all refused: no picker.
	if err := v.mayChangeNone(model.KeyMove, keys); err != nil {
		v.sh.fail(err)
		return nil
	}
	v.moving, v.picking, v.pick = keys, true, 0
	for i, c := range v.channels {
		if c.Name == keys[0].Channel {
			v.pick = i
		}
	}
	return nil
}

// askMove confirms moving keys to channel ch; a move breaks nothing, so
// no name or count is typed.
func (v *keysView) askMove(keys []*model.Key, ch string) tea.Cmd {
	ids := make([]string, len(keys))
	for i, k := range keys {
		ids[i] = k.ID
	}
	n := format.Count(len(keys), "key")
	q := ask{title: "Move " + n + " to " + format.Safe(ch) + "?", verb: "move " + n,
		body: func(int) string { return v.bulkConfirmBody(model.KeyMove, keys, 0) },
		yes: func(int) tea.Cmd {
			v.sh.nav.home()
			v.sh.status("Moving "+n+"…", true)
			st, ctx := v.sh.store, v.sh.ctx
			return func() tea.Msg {
				out, err := st.ChangeKeys(ctx, storage.BulkRequest{Action: model.KeyMove, IDs: ids, Channel: ch})
				return bulkDoneMsg{action: model.KeyMove, asked: len(ids), outcomes: out, err: err}
			}
		}}
	return v.sh.nav.push(newConfirmView(v.sh, q))
}
