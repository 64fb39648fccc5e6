// Package tui is keyden's terminal app: one root model (App) routing to a
// view per screen, each with its own Update, View and KeyMap. All storage
// work runs in tea.Cmds, so the UI never waits on the store's lock.
package tui

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/help"
	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"

	"keyden/format"
	"keyden/keyindex"
	"keyden/model"
	"keyden/storage"
)

// Options configure the app.
type Options struct {
	Store     storage.Store
	Location  string // shown in the title bar
	Actor     string
	Now       func() time.Time
	Clipboard ClipboardOptions
	// PollEvery is how often the app asks whether the store changed (500 ms if 0).
	PollEvery time.Duration
}

type screen int

const (
	screenKeys screen = iota
	screenForm
	screenConfirm
	screenReveal
	screenDetails
	screenCatalog
	screenAudit
)

// Messages from storage Cmds.
type (
	loadedMsg struct {
		set *keyindex.Index
		pos storage.Position
		gen storage.Generation
		cat *catalogData // nil: the catalog did not change
		err error
	}
	rotatedMsg struct {
		r   storage.Rotated
		err error
	}
	disabledMsg struct {
		id  string
		key model.Key
		err error
	}
	auditLoadedMsg struct {
		events []model.Event
		err    error
	}
	genMsg struct {
		gen storage.Generation
		err error
	}
	pollMsg    struct{}
	createdMsg struct {
		c   storage.Created
		err error
	}
	deletedMsg struct {
		key model.Key
		err error
	}
	catalogDoneMsg struct {
		what string
		err  error
	}
)

// App is the root model.
type App struct {
	out    *outbox
	opt    Options
	st     Styles
	ctx    context.Context
	clip   *clipboardManager
	help   help.Model
	global globalKeyMap

	width, height int
	screen        screen
	back          screen // where the confirm returns on cancel
	showHelp      bool

	keys    keysView
	form    *formView
	confirm *confirmView
	reveal  *revealView
	details *detailsView
	catalog *catalogView

	perm     *perms
	audit    *auditView
	gen      storage.Generation
	pos      storage.Position // how far the keys shown follow the store
	cat      catalogData
	loadedAt time.Time // when the last load started
	loading  bool
	reloadQ  bool // a change arrived while loading
	fullQ    bool // and a full re-read was asked for
	// toggling holds the keys whose disable/enable is in flight, with the
	// presses of x that came meanwhile: each toggles the state the store
	// returns, so x twice is a round trip, never a second disable.
	toggling map[string]int
	status   string
	statusOK bool
	statusAt time.Time
}

type globalKeyMap struct{ ForceQuit key.Binding }

// New builds the app.
func New(opt Options) *App {
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.PollEvery <= 0 {
		opt.PollEvery = 500 * time.Millisecond
	}
	a := &App{out: &outbox{}, opt: opt, st: DefaultStyles(), ctx: context.Background(), width: 80, height: 24,
		clip:     newClipboardManager(opt.Clipboard),
		help:     help.New(),
		global:   globalKeyMap{ForceQuit: key.NewBinding(key.WithKeys("ctrl+c"))},
		toggling: map[string]int{},
	}
	a.perm = &perms{actor: opt.Actor}
	a.keys = newKeysView(&a.st, opt.Now)
	a.keys.out, a.keys.perm = a.out, a.perm
	a.catalog = newCatalogView(&a.st)
	a.catalog.out, a.catalog.perm = a.out, a.perm
	a.help.Styles.ShortKey = a.st.Title
	a.help.Styles.FullKey = a.st.Title
	a.layout()
	return a
}

func (a *App) Init() tea.Cmd {
	return tea.Batch(a.reload(true), a.pollCmd())
}

func (a *App) pollCmd() tea.Cmd { return tickAfter(a.opt.PollEvery, pollMsg{}) }

// catalogData is what the store holds besides keys.
type catalogData struct {
	envs     []model.Environment
	channels []model.Channel
	members  []model.Member
}

// loadCmd reads what the views show, off the UI loop. With a set shown and
// full false it reads only the keys that changed since (storage.Updates)
// and patches them into a new set, so following a store with a verifier
// flushing every second costs next to nothing even at a million keys; it
// reads a snapshot of every key the first time, on ctrl+r, and when the
// store cannot say what changed.
func (a *App) loadCmd(full bool) tea.Cmd {
	st, ctx, old, pos, gen0 := a.opt.Store, a.ctx, a.keys.set, a.pos, a.gen
	if old == nil {
		full = true
	}
	return func() tea.Msg {
		gen, err := st.Generation(ctx)
		if err != nil {
			return loadedMsg{err: err}
		}
		var set *keyindex.Index
		if !full {
			ch, err := st.Updates(ctx, pos)
			if err != nil {
				return loadedMsg{err: err}
			}
			if ch.Reset {
				full = true
			} else {
				set, pos = old.Patch(ch.Keys, ch.Removed), ch.Position()
			}
		}
		if full {
			keys, p, err := st.Snapshot(ctx)
			if err != nil {
				return loadedMsg{err: err}
			}
			set, pos = keyindex.Build(keys), p
		}
		set.Order(keyindex.Query{}.Sort) // the default order, ready before the first frame
		msg := loadedMsg{set: set, pos: pos, gen: gen}
		// Environments, channels and members change only with Generation.Keys.
		if full || gen.Keys != gen0.Keys {
			if msg.cat, err = readCatalog(ctx, st); err != nil {
				return loadedMsg{err: err}
			}
		}
		return msg
	}
}

func readCatalog(ctx context.Context, st storage.Store) (*catalogData, error) {
	envs, err := st.Environments(ctx)
	if err != nil {
		return nil, err
	}
	chs, err := st.Channels(ctx)
	if err != nil {
		return nil, err
	}
	ms, err := st.Members(ctx)
	if err != nil {
		return nil, err
	}
	return &catalogData{envs: envs, channels: chs, members: ms}, nil
}

func (a *App) genCmd() tea.Cmd {
	st, ctx := a.opt.Store, a.ctx
	return func() tea.Msg {
		g, err := st.Generation(ctx)
		return genMsg{gen: g, err: err}
	}
}

// setStatus shows a message; messages echo names and errors from the store,
// so the text goes through format.Safe here, once for all of them.
func (a *App) setStatus(s string, ok bool) {
	a.status, a.statusOK, a.statusAt = format.Safe(s), ok, a.opt.Now()
}

func (a *App) layout() {
	a.help.Width = a.width - 2
	a.keys.SetSize(a.width-2, a.height-2)
	if a.form != nil {
		a.form.width = a.width - 2
	}
	if a.confirm != nil {
		a.confirm.width = a.width - 2
	}
	if a.reveal != nil {
		a.reveal.width = a.width - 2
	}
	if a.details != nil {
		a.details.width = a.width - 2
	}
	a.catalog.width = a.width - 2
	if a.audit != nil {
		a.audit.SetSize(a.width-2, a.height-3)
	}
}

// confirmByName says whether a key of env is confirmed by typing its name.
func (a *App) confirmByName(env string) bool {
	for _, e := range a.cat.envs {
		if e.Name == env {
			return e.ConfirmByName
		}
	}
	return model.ConfirmByNameFor(env) // not loaded yet
}

// askConfirm opens the confirm for action on k, or says why the user may not.
func (a *App) askConfirm(action model.KeyAction, k model.Key) tea.Cmd {
	if err := a.perm.mayChange(action, &k); err != nil {
		a.setStatus(format.Sentence(err.Error()), false)
		return nil
	}
	a.back = a.screen
	a.confirm = newConfirmView(&a.st, string(action), k, a.confirmByName(k.Environment), a.opt.Now)
	a.confirm.out = a.out
	a.screen = screenConfirm
	a.layout()
	return nil
}

// Update routes a message: app-wide ones here, the rest to the screen's view.
func (a *App) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		a.width, a.height = msg.Width, msg.Height
		a.layout()
		return a, nil

	case pollMsg:
		return a, tea.Batch(a.genCmd(), a.pollCmd())

	case genMsg:
		if msg.err != nil {
			a.storeError(msg.err)
			return a, nil
		}
		// A change to keys shows at the next poll; last-used news alone (a
		// verifier flushes every second) is read at most every usageEvery.
		since := time.Since(a.loadedAt)
		if (msg.gen.Keys != a.gen.Keys && since >= keysEvery) || (msg.gen.Any != a.gen.Any && since >= usageEvery) {
			return a, a.reload(false)
		}
		return a, nil

	case reloadMsg:
		return a, a.reload(true)

	case loadedMsg:
		a.loading = false
		var cmds []tea.Cmd
		if msg.err != nil {
			a.storeError(msg.err)
		} else {
			if msg.set != a.keys.set {
				cmds = append(cmds, a.keys.setData(msg.set))
			}
			a.gen, a.pos = msg.gen, msg.pos
			if msg.cat != nil {
				a.cat = *msg.cat
				a.perm.members = model.Members(a.cat.members)
				if a.perm.members == nil {
					a.perm.members = model.Members{}
				}
				a.keys.setCatalog(a.cat.envs, a.cat.channels)
			}
			a.catalog.setData(a.cat.envs, a.cat.channels, a.cat.members, countKeys(msg.set))
			a.refreshDetails(msg.set)
			if strings.HasPrefix(a.status, "The store is busy") {
				a.status = ""
			}
		}
		if a.reloadQ {
			a.reloadQ = false
			cmds = append(cmds, a.reload(a.fullQ))
		}
		return a, tea.Batch(cmds...)

	case filteredMsg:
		return a, a.keys.Update(msg)

	case createdMsg:
		if msg.err != nil {
			if a.form != nil {
				a.form.err = format.Sentence(msg.err.Error())
			}
			return a, nil
		}
		a.form = nil
		a.reveal = newRevealView(&a.st, msg.c.Key, msg.c.Secret, msg.c.Grown, a.opt.Clipboard.ClearAfter)
		a.reveal.out = a.out
		a.screen = screenReveal
		a.layout()
		return a, tea.Batch(a.copyCmd(msg.c.Secret), a.reload(false))

	case copyAgainMsg:
		if a.reveal != nil {
			return a, a.copyCmd(string(a.reveal.secret))
		}
		return a, nil

	case copiedMsg:
		var cmd tea.Cmd
		if a.reveal != nil {
			cmd = a.reveal.Update(msg)
		}
		return a, tea.Batch(cmd, a.clip.clearCmd(msg.res.seq))

	case clipClearMsg:
		clip := a.clip
		return a, func() tea.Msg {
			if res := clip.clear(msg.seq); res.done {
				return clearedMsg{res: res}
			}
			return nil
		}

	case clearedMsg:
		// The reveal of that copy says it in its box, in place of the
		// promise to clear; otherwise the status line does.
		if a.reveal != nil && a.reveal.res.seq == msg.res.seq {
			return a, a.reveal.Update(msg)
		}
		a.setStatus(msg.res.sentence(), msg.res.systemErr == "")
		return a, nil

	case statusMsg:
		a.setStatus(msg.text, msg.ok)
		return a, nil

	case leaveRevealMsg:
		// Forget the key: the view was its only holder.
		a.reveal.forget()
		a.reveal = nil
		a.screen = screenKeys
		return a, nil

	case openFormMsg:
		if !a.keys.loaded {
			a.setStatus("Still loading the store: try again in a moment.", false)
			return a, nil
		}
		if len(a.keys.envs) == 0 || len(a.keys.channels) == 0 {
			a.setStatus("Add an environment and a channel first: press e.", false)
			return a, nil
		}
		a.form = newFormView(&a.st, a.keys.envs, a.keys.channels, msg.env, msg.channel, a.opt.Now)
		a.form.out = a.out
		a.screen = screenForm
		a.layout()
		return a, nil

	case submitCreateMsg:
		st, ctx := a.opt.Store, a.ctx
		return a, func() tea.Msg {
			c, err := st.CreateKey(ctx, msg.req)
			return createdMsg{c: c, err: err}
		}

	case openDetailsMsg:
		a.details = newDetailsView(&a.st, msg.key, a.opt.Now)
		a.details.out = a.out
		a.screen = screenDetails
		a.layout()
		return a, nil

	case askDeleteMsg:
		return a, a.askConfirm(model.KeyDelete, msg.key)

	case askRotateMsg:
		if msg.key.RotatedTo != "" {
			a.setStatus("This key was already replaced by "+msg.key.RotatedTo+": rotate that one instead.", false)
			return a, nil
		}
		return a, a.askConfirm(model.KeyRotate, msg.key)

	case toggleDisableMsg:
		action := model.KeyDisable
		if msg.key.Disabled {
			action = model.KeyEnable
		}
		if err := a.perm.mayChange(action, &msg.key); err != nil {
			a.setStatus(format.Sentence(err.Error()), false)
			return a, nil
		}
		if _, busy := a.toggling[msg.key.ID]; busy {
			a.toggling[msg.key.ID]++
			return a, nil
		}
		a.toggling[msg.key.ID] = 0
		return a, a.setDisabledCmd(msg.key.ID, !msg.key.Disabled)

	case disabledMsg:
		return a, a.disabled(msg)

	case confirmedMsg:
		a.confirm = nil
		a.screen = screenKeys
		a.details = nil
		st, ctx, id := a.opt.Store, a.ctx, msg.key.ID
		if msg.action == string(model.KeyRotate) {
			a.setStatus("Rotating "+msg.key.Name+"…", true)
			grace := msg.grace
			return a, func() tea.Msg {
				r, err := st.RotateKey(ctx, storage.RotateRequest{ID: id, Grace: grace})
				return rotatedMsg{r: r, err: err}
			}
		}
		a.setStatus("Deleting "+msg.key.Name+"…", true)
		return a, func() tea.Msg {
			k, err := st.DeleteKey(ctx, id)
			return deletedMsg{key: k, err: err}
		}

	case rotatedMsg:
		if msg.err != nil {
			a.setStatus(format.Sentence(msg.err.Error()), false)
			return a, a.reload(false)
		}
		a.reveal = newRevealView(&a.st, msg.r.New.Key, msg.r.New.Secret, msg.r.New.Grown, a.opt.Clipboard.ClearAfter)
		a.reveal.out = a.out
		a.reveal.replaces = &msg.r.Old
		a.setStatus(fmt.Sprintf("Rotated %s; the old key works until %s.", msg.r.Old.Name, format.Stamp(msg.r.Old.ExpiresAt)), true)
		a.screen = screenReveal
		a.layout()
		return a, tea.Batch(a.copyCmd(msg.r.New.Secret), a.reload(false))

	case openAuditMsg:
		st, ctx := a.opt.Store, a.ctx
		a.audit = newAuditView(&a.st, a.opt.Now)
		a.audit.out = a.out
		a.screen = screenAudit
		a.layout()
		return a, func() tea.Msg {
			evs, err := st.Audit(ctx, storage.AuditFilter{Limit: auditLimit})
			return auditLoadedMsg{events: evs, err: err}
		}

	case auditLoadedMsg:
		if msg.err != nil {
			a.setStatus(format.Sentence(msg.err.Error()), false)
		}
		if a.audit != nil {
			a.audit.setEvents(msg.events)
		}
		return a, nil

	case deletedMsg:
		if msg.err != nil {
			a.setStatus(format.Sentence(msg.err.Error()), false)
		} else {
			a.setStatus(fmt.Sprintf("Deleted %s (%s/%s). It stops working now.", msg.key.Name, msg.key.Channel, msg.key.Environment), true)
		}
		return a, a.reload(false)

	case openCatalogMsg:
		a.screen = screenCatalog
		return a, nil

	case addEnvMsg, addChannelMsg, rmEnvMsg, rmChannelMsg, addMemberMsg, rmMemberMsg:
		return a, a.catalogCmd(msg)

	case catalogDoneMsg:
		if msg.err != nil {
			a.setStatus(format.Sentence(msg.err.Error()), false)
		} else {
			a.setStatus(msg.what, true)
		}
		return a, a.reload(false)

	case cancelMsg:
		switch a.screen {
		case screenConfirm:
			a.confirm = nil
			a.screen = a.back
		default:
			a.form, a.details, a.audit = nil, nil, nil
			a.screen = screenKeys
		}
		return a, nil

	case tea.KeyMsg:
		return a, a.handleKey(msg)
	}
	return a, a.routeToScreen(msg)
}

// statusMsg sets the status line from a Cmd.
type statusMsg struct {
	text string
	ok   bool
}

func (a *App) handleKey(msg tea.KeyMsg) tea.Cmd {
	// Over a slow link several keystrokes arrive in one read and Bubble Tea
	// hands them over as one multi-rune key; outside a text field they are
	// separate commands ("jjd"), so take them one at a time.
	if msg.Type == tea.KeyRunes && len(msg.Runes) > 1 && !msg.Paste && !a.typing() {
		var cmds []tea.Cmd
		for _, r := range msg.Runes {
			cmds = append(cmds, a.handleKey(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune{r}}))
		}
		return tea.Sequence(cmds...)
	}
	if key.Matches(msg, a.global.ForceQuit) {
		return a.quit()
	}
	if a.showHelp {
		a.showHelp = false
		return nil
	}
	typing := a.typing()
	if msg.String() == "?" && !typing {
		a.showHelp = true
		return nil
	}
	if a.screen == screenKeys && !typing && key.Matches(msg, a.keys.keyMap.Quit) {
		return a.quit()
	}
	return a.routeToScreen(msg)
}

// typing says whether keys go into a text field, where letters are text.
func (a *App) typing() bool {
	return (a.screen == screenKeys && (a.keys.filtering || a.keys.picking)) || a.screen == screenForm ||
		(a.screen == screenConfirm && a.confirm.typeName) || (a.screen == screenCatalog && a.catalog.adding) ||
		(a.screen == screenAudit && a.audit.filtering)
}

// routeToScreen gives msg to the current screen's view, then handles
// whatever the view asked of the app, in this same Update.
func (a *App) routeToScreen(msg tea.Msg) tea.Cmd {
	cmds := []tea.Cmd{a.viewUpdate(msg)}
	for _, req := range a.out.drain() {
		_, cmd := a.Update(req)
		cmds = append(cmds, cmd)
	}
	return tea.Batch(cmds...)
}

func (a *App) viewUpdate(msg tea.Msg) tea.Cmd {
	switch a.screen {
	case screenForm:
		return a.form.Update(msg)
	case screenConfirm:
		return a.confirm.Update(msg)
	case screenReveal:
		return a.reveal.Update(msg)
	case screenDetails:
		return a.details.Update(msg)
	case screenCatalog:
		return a.catalog.Update(msg)
	case screenAudit:
		return a.audit.Update(msg)
	}
	return a.keys.Update(msg)
}

// quit clears what keyden copied, forgets any shown key, and exits.
func (a *App) quit() tea.Cmd {
	a.clip.clear(0)
	if a.reveal != nil {
		a.reveal.forget()
		a.reveal, a.screen = nil, screenKeys
	}
	return tea.Quit
}

// The least time between reads of what changed: for changed keys, and for
// last-used news alone. Each read takes only the keys that changed, so a
// change to keys shows at the next 500 ms poll; last-used news, which a
// verifier writes every second, is taken in at most once a second.
const (
	keysEvery  = 400 * time.Millisecond
	usageEvery = time.Second
)

// reload re-reads the store: only what changed, or everything when full.
func (a *App) reload(full bool) tea.Cmd {
	if a.loading {
		a.reloadQ, a.fullQ = true, a.fullQ || full
		return nil
	}
	a.loading, a.loadedAt, a.fullQ = true, time.Now(), false
	return a.loadCmd(full)
}

func (a *App) setDisabledCmd(id string, disabled bool) tea.Cmd {
	st, ctx := a.opt.Store, a.ctx
	return func() tea.Msg {
		got, err := st.SetDisabled(ctx, id, disabled)
		return disabledMsg{id: id, key: got, err: err}
	}
}

// disabled takes in a toggle's result: the key goes into its row at once,
// and a press of x that came meanwhile toggles it from there.
func (a *App) disabled(msg disabledMsg) tea.Cmd {
	queued := a.toggling[msg.id]
	delete(a.toggling, msg.id)
	switch {
	case msg.err != nil:
		a.setStatus(format.Sentence(msg.err.Error()), false)
		return a.reload(false)
	case msg.key.Disabled:
		a.setStatus(fmt.Sprintf("Disabled %s: it is refused until enabled (x again).", msg.key.Name), true)
	default:
		a.setStatus(fmt.Sprintf("Enabled %s.", msg.key.Name), true)
	}
	cmds := []tea.Cmd{a.reload(false)}
	if a.keys.set != nil {
		cmds = append(cmds, a.keys.setData(a.keys.set.Patch([]model.Key{msg.key}, nil)))
	}
	if queued > 0 {
		a.toggling[msg.id] = queued - 1
		cmds = append(cmds, a.setDisabledCmd(msg.id, !msg.key.Disabled))
	}
	return tea.Batch(cmds...)
}

func (a *App) copyCmd(secret string) tea.Cmd {
	clip := a.clip
	return func() tea.Msg { return copiedMsg{res: clip.copy(secret)} }
}

func (a *App) catalogCmd(msg tea.Msg) tea.Cmd {
	st, ctx := a.opt.Store, a.ctx
	return func() tea.Msg {
		switch m := msg.(type) {
		case addEnvMsg:
			e, err := st.AddEnvironment(ctx, m.env)
			return catalogDoneMsg{what: fmt.Sprintf("Added environment %s (tag %s).", e.Name, e.Tag), err: err}
		case addChannelMsg:
			_, err := st.AddChannel(ctx, m.ch)
			return catalogDoneMsg{what: "Added channel " + m.ch.Name + ".", err: err}
		case rmEnvMsg:
			return catalogDoneMsg{what: "Removed environment " + m.name + ".", err: st.RemoveEnvironment(ctx, m.name)}
		case rmChannelMsg:
			return catalogDoneMsg{what: "Removed channel " + m.name + ".", err: st.RemoveChannel(ctx, m.name)}
		case addMemberMsg:
			mb, err := st.AddMember(ctx, m.user, m.role)
			return catalogDoneMsg{what: fmt.Sprintf("%s is now a member as %s.", mb.User, mb.Role), err: err}
		case rmMemberMsg:
			return catalogDoneMsg{what: "Removed member " + m.user + ".", err: st.RemoveMember(ctx, m.user)}
		}
		return nil
	}
}

func (a *App) storeError(err error) {
	if errors.Is(err, storage.ErrBusy) {
		a.setStatus("The store is busy (another keyden is writing); retrying…", false)
		a.gen = storage.Generation{} // force a reload once it is free
		return
	}
	a.setStatus(format.Sentence(err.Error()), false)
}

// refreshDetails keeps an open details view current with the new load.
func (a *App) refreshDetails(set *keyindex.Index) {
	if a.details == nil {
		return
	}
	if k, ok := set.Lookup(a.details.key.ID); ok {
		a.details.key = *k
		return
	}
	a.details.gone = true
}

// countKeys counts the live keys per environment ("env:NAME") and channel
// ("ch:NAME").
func countKeys(set *keyindex.Index) map[string]int {
	envs, chs := set.Counts()
	m := make(map[string]int, len(envs)+len(chs))
	for name, n := range envs {
		m["env:"+name] = n
	}
	for name, n := range chs {
		m["ch:"+name] = n
	}
	return m
}

// View draws the title bar, the screen and the status and help lines.
func (a *App) View() string {
	w := a.width - 2
	title := a.st.Title.Render("keyden") + a.st.Subtle.Render("  "+format.Safe(a.opt.Location))
	if a.opt.Actor != "" {
		right := a.st.Subtle.Render(format.Safe(a.opt.Actor))
		if gap := w - lipgloss.Width(title) - lipgloss.Width(right); gap > 0 {
			title += strings.Repeat(" ", gap) + right
		}
	}
	bodyH := a.height - 3
	var body string
	switch {
	case a.showHelp:
		body = a.helpView()
	case a.screen == screenKeys:
		body = a.keys.View()
	default:
		body = lipgloss.Place(w, bodyH, lipgloss.Center, lipgloss.Center, a.screenView())
	}
	body = lipgloss.NewStyle().Height(bodyH).MaxHeight(bodyH).Render(body)
	return a.st.App.Render(lipgloss.JoinVertical(lipgloss.Left, fitLine(title, w), body, a.statusBar(w)))
}

func fitLine(s string, w int) string { return lipgloss.NewStyle().MaxWidth(w).Render(s) }

func (a *App) screenView() string {
	switch a.screen {
	case screenForm:
		return a.st.Box.Width(min(96, max(40, a.width-4))).Render(a.form.View())
	case screenConfirm:
		return a.confirm.View()
	case screenReveal:
		return a.reveal.View()
	case screenDetails:
		return a.details.View()
	case screenCatalog:
		return a.catalog.View()
	case screenAudit:
		return a.audit.View()
	}
	return ""
}

func (a *App) currentKeyMap() help.KeyMap {
	switch a.screen {
	case screenForm:
		return a.form.keyMap
	case screenConfirm:
		return a.confirm.keyMap
	case screenReveal:
		return a.reveal.keyMap
	case screenDetails:
		return a.details.keyMap
	case screenCatalog:
		return a.catalog.keyMap
	case screenAudit:
		return a.audit.keyMap
	}
	return &a.keys
}

func (a *App) helpView() string {
	h := a.help
	h.ShowAll = true
	return a.st.Title.Render("Key bindings") + a.st.Subtle.Render("  (any key closes)") + "\n\n" + h.View(a.currentKeyMap())
}

func (a *App) helpLine(w int) string {
	return fitLine(a.help.View(a.currentKeyMap()), w)
}

// statusBar is the last two lines: the counts and the help, or for a few
// seconds the latest message, which may use both lines.
func (a *App) statusBar(w int) string {
	if a.status != "" && a.opt.Now().Sub(a.statusAt) < 8*time.Second {
		st := a.st.Success
		if !a.statusOK {
			st = a.st.Error
		}
		lines := wrapWords(a.status, w-1)
		if len(lines) == 1 {
			return st.Render(fitLine(" "+lines[0], w)) + "\n" + a.helpLine(w)
		}
		return st.Render(fitLine(" "+lines[0], w)) + "\n" + st.Render(fitLine(" "+strings.Join(lines[1:], " "), w))
	}
	return a.st.StatusBar.Render(padRight(fitLine(" "+a.keys.statusText(), w), w)) + "\n" + a.helpLine(w)
}
