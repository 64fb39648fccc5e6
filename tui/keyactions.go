package tui

import (
	"fmt"
	"strings"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"keyden/format"
	"keyden/model"
	"keyden/storage"
)

// What the keys screen does to keys, and the store's answers. Details and
// other screens ask through the home screen, which stays open underneath
// to receive the answers.
type (
	rotatedMsg struct {
		r      storage.Rotated
		err    error
		landed string // how the rotation landed on the verifiers
	}
	disabledMsg struct {
		id     string
		key    model.Key
		err    error
		landed string // how a disable landed on the verifiers
	}
	deletedMsg struct {
		key    model.Key
		err    error
		landed string
	}
)

// Grace periods offered when rotating; the default is 24h.
var graceChoices = []struct {
	label string
	d     time.Duration
}{{"now", 0}, {"1h", time.Hour}, {"24h", 24 * time.Hour}, {"3d", 72 * time.Hour}, {"7d", 168 * time.Hour}}

func (v *keysView) openForm() tea.Cmd {
	if err := v.perm.mayCreate(); err != nil {
		v.sh.status(err.Error(), false)
		return nil
	}
	d := v.sh.data
	switch {
	case !v.loaded:
		v.sh.status("Still loading the store: try again in a moment.", false)
		return nil
	case len(d.envs) == 0 || len(d.channels) == 0:
		v.sh.status("Add an environment and a channel first: press e.", false)
		return nil
	}
	return v.sh.nav.push(newFormView(v.sh, d.envs, d.channels, v.q.Env, v.q.Channel))
}

func (v *keysView) askDelete(k model.Key) tea.Cmd { return v.askKeyAction(model.KeyDelete, k) }

func (v *keysView) askRotate(k model.Key) tea.Cmd {
	if k.RotatedTo != "" {
		v.sh.status("This key was already replaced by "+k.RotatedTo+": rotate that one instead.", false)
		return nil
	}
	if k.Disabled {
		v.sh.status("This key is disabled: enable it with x before rotating it.", false)
		return nil
	}
	if k.Decoy {
		// The store refuses it too, but only after the confirm had asked
		// for the name and said apps must switch to a new key.
		v.sh.status("This key is a decoy, which is never valid: create another decoy rather than rotate it.", false)
		return nil
	}
	return v.askKeyAction(model.KeyRotate, k)
}

// confirmByName says whether a key of env is confirmed by typing its name.
func (v *keysView) confirmByName(env string) bool {
	for _, e := range v.sh.data.envs {
		if e.Name == env {
			return e.ConfirmByName
		}
	}
	return model.ConfirmByNameFor(env) // not loaded yet
}

// askKeyAction opens the confirm for a delete or rotate of k, or says why
// the user may not.
func (v *keysView) askKeyAction(action model.KeyAction, k model.Key) tea.Cmd {
	if err := v.perm.mayChange(action, &k); err != nil {
		v.sh.fail(err)
		return nil
	}
	st, verb := v.st, string(action)
	q := ask{title: capitalize(verb) + " this key?", verb: verb, body: func(grace int) string {
		return v.keyConfirmBody(action, k, grace)
	}, yes: func(grace int) tea.Cmd { return v.run(action, k, graceChoices[grace].d) }}
	if action == model.KeyRotate {
		q.choices, q.choice, q.choiceHelp = len(graceChoices), 2, "grace"
	}
	if v.confirmByName(k.Environment) {
		q.name, q.mismatch = k.Name, "Type the key's name exactly to confirm."
		q.prompt = "This is a " + format.Safe(k.Environment) + " key. Type its name, " + st.Title.Render(format.Safe(k.Name)) + ", to confirm:"
	}
	return v.sh.nav.push(newConfirmView(v.sh, q))
}

// keyConfirmBody shows what a delete or rotate of k breaks.
func (v *keysView) keyConfirmBody(action model.KeyAction, k model.Key, grace int) string {
	st := v.st
	var b strings.Builder
	rows := [][2]string{
		{"Name", k.Name}, {"Channel", k.Channel}, {"Environment", k.Environment},
		{"Hint", k.Hint}, {"Last used", format.Ago(k.LastUsedAt, v.now())},
	}
	for _, r := range rows {
		b.WriteString(st.Label.Render(padRight(r[0], 13)) + format.Safe(r[1]) + "\n")
	}
	if action != model.KeyRotate {
		b.WriteString("\n" + st.Warning.Render("Apps using this key will stop working immediately.") + "\n")
		b.WriteString(st.Subtle.Render("This cannot be undone.") + "\n")
		return b.String()
	}
	b.WriteString("\n" + st.Warning.Render("A new key replaces it, shown once. Apps using this key must switch to the new one: the old key stops working when the grace ends.") + "\n")
	b.WriteString(graceLine(st, grace))
	return b.String()
}

// run deletes or rotates k, back on the keys screen.
func (v *keysView) run(action model.KeyAction, k model.Key, grace time.Duration) tea.Cmd {
	v.sh.nav.home()
	sh, st, ctx := v.sh, v.sh.store, v.sh.ctx
	if action == model.KeyRotate {
		v.sh.status("Rotating "+k.Name+"…", true)
		return func() tea.Msg {
			r, err := st.RotateKey(ctx, storage.RotateRequest{ID: k.ID, Grace: grace})
			msg := rotatedMsg{r: r, err: err}
			if err == nil {
				msg.landed = sh.landed(inForce)
			}
			return msg
		}
	}
	v.sh.status("Deleting "+k.Name+"…", true)
	return func() tea.Msg {
		got, err := st.DeleteKey(ctx, k.ID)
		msg := deletedMsg{key: got, err: err}
		if err == nil {
			msg.landed = sh.landed(refused)
		}
		return msg
	}
}

// toggleDisabled disables or enables k; a press while k's toggle is in
// flight toggles the state the store returns.
func (v *keysView) toggleDisabled(k model.Key) tea.Cmd {
	action := model.KeyDisable
	if k.Disabled {
		action = model.KeyEnable
	}
	if err := v.perm.mayChange(action, &k); err != nil {
		v.sh.fail(err)
		return nil
	}
	if _, busy := v.toggling[k.ID]; busy {
		v.toggling[k.ID]++
		return nil
	}
	v.toggling[k.ID] = 0
	return v.setDisabledCmd(k.ID, !k.Disabled)
}

func (v *keysView) setDisabledCmd(id string, disabled bool) tea.Cmd {
	sh, st, ctx := v.sh, v.sh.store, v.sh.ctx
	return func() tea.Msg {
		got, err := st.SetDisabled(ctx, id, disabled)
		msg := disabledMsg{id: id, key: got, err: err}
		if disabled && err == nil {
			msg.landed = sh.landed(refused)
		}
		return msg
	}
}

// actionDone takes in the store's answer to a delete, rotate or toggle.
func (v *keysView) actionDone(msg tea.Msg) tea.Cmd {
	sh := v.sh
	switch msg := msg.(type) {
	case deletedMsg:
		if msg.err != nil {
			sh.fail(msg.err)
		} else {
			sh.status(strings.TrimSpace(fmt.Sprintf("Deleted %s (%s/%s). It stops working now. %s", msg.key.Name, msg.key.Channel, msg.key.Environment, msg.landed)), true)
		}
	case rotatedMsg:
		if msg.err != nil {
			sh.fail(msg.err)
			break
		}
		r := newRevealView(sh, msg.r.New.Key, msg.r.New.Secret, msg.r.New.Grown)
		r.replaces = &msg.r.Old
		sh.status(strings.TrimSpace(fmt.Sprintf("Rotated %s; the old key works until %s. %s", msg.r.Old.Name, format.Stamp(msg.r.Old.ExpiresAt), msg.landed)), true)
		return tea.Batch(sh.nav.push(r), sh.reload(false))
	case disabledMsg:
		return v.disabled(msg)
	}
	return sh.reload(false)
}

// disabled takes in a toggle's result: the key goes into its row at once,
// and a press of x that came meanwhile toggles it from there.
func (v *keysView) disabled(msg disabledMsg) tea.Cmd {
	queued := v.toggling[msg.id]
	delete(v.toggling, msg.id)
	switch {
	case msg.err != nil:
		v.sh.fail(msg.err)
		return v.sh.reload(false)
	case msg.key.Disabled:
		v.sh.status(strings.TrimSpace(fmt.Sprintf("Disabled %s: it is refused until enabled (x again). %s", msg.key.Name, msg.landed)), true)
	default:
		v.sh.status(fmt.Sprintf("Enabled %s.", msg.key.Name), true)
	}
	var cmds []tea.Cmd
	if d := v.sh.data; d.set != nil {
		d.took(msg.key)
		cmds = append(cmds, v.setData(d.set))
	}
	cmds = append(cmds, v.sh.reload(false)) // after took: this load sees the answer
	if queued > 0 {
		v.toggling[msg.id] = queued - 1
		cmds = append(cmds, v.setDisabledCmd(msg.id, !msg.key.Disabled))
	}
	return tea.Batch(cmds...)
}

// landedWait is how long the TUI waits for the verifiers after a delete,
// disable or rotation, as the command line does by default.
const landedWait = 5 * time.Second

// How a change landed on the verifiers begins: a revocation is refused
// there; a rotation both refuses (after its grace) and accepts.
const (
	refused = "Refused by"
	inForce = "In force on"
)

// landed waits, off the UI loop, until the running verifiers have taken in
// the changes made so far and says how they landed, beginning with done
// ("" when none runs or the wait failed). Single keys and marked ones
// share it.
func (sh *shared) landed(done string) string {
	l, err := storage.AwaitVerifiers(sh.ctx, sh.store, sh.verifierWait, time.Now)
	if err != nil {
		return ""
	}
	return l.Say(done)
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// graceLine is a rotate confirm's choice of grace, the chosen one marked.
func graceLine(st *Styles, grace int) string {
	var opts []string
	for i, g := range graceChoices {
		if i == grace {
			opts = append(opts, st.Focused.Render("["+g.label+"]"))
		} else {
			opts = append(opts, st.Subtle.Render(" "+g.label+" "))
		}
	}
	return st.Label.Render(padRight("Grace", 13)) + strings.Join(opts, " ") + st.Subtle.Render("  ↑/↓") + "\n"
}
