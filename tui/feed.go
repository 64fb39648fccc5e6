package tui

import (
	"context"
	"errors"
	"strings"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"keyden/keyindex"
	"keyden/model"
	"keyden/storage"
)

// The store's change feed, as the root follows it: a poll asks whether the
// store changed, and a load reads what did.
type (
	pollMsg struct{}
	genMsg  struct {
		gen storage.Generation
		err error
	}
	loadedMsg struct {
		set *keyindex.Index
		pos storage.Position
		gen storage.Generation
		cat *catalogData // nil: the catalog did not change
		err error
		seq int // which load: appData.loads when it started
	}
	// reloadMsg asks for a whole re-read (ctrl+r).
	reloadMsg struct{}
)

// feed is where the app is in the store's change feed.
type feed struct {
	gen      storage.Generation
	pos      storage.Position // how far the keys shown follow the store
	loadedAt time.Time        // when the last load started
	loading  bool
	reloadQ  bool // a change arrived while loading
	fullQ    bool // and a full re-read was asked for
}

// The least time between reads of what changed: for changed keys, and for
// last-used news alone. Each read takes only the keys that changed, so a
// change to keys shows at the next 500 ms poll; last-used news, which a
// verifier writes every second, is taken in at most once a second.
const (
	keysEvery  = 400 * time.Millisecond
	usageEvery = time.Second
)

func (a *App) pollCmd() tea.Cmd { return tickAfter(a.opt.PollEvery, pollMsg{}) }

func (a *App) genCmd() tea.Cmd {
	st, ctx := a.opt.Store, a.sh.ctx
	return func() tea.Msg {
		g, err := generation(ctx, st, a.opt.Keys)
		return genMsg{gen: g, err: err}
	}
}

// changed decides, at a poll, whether to read what changed.
func (a *App) changed(msg genMsg) tea.Cmd {
	if msg.err != nil {
		a.storeError(msg.err)
		return nil
	}
	// A change to keys shows at the next poll; last-used news alone (a
	// verifier flushes every second) is read at most every usageEvery.
	since := time.Since(a.feed.loadedAt)
	if (msg.gen.Keys != a.feed.gen.Keys && since >= keysEvery) || (msg.gen.Any != a.feed.gen.Any && since >= usageEvery) {
		return a.reload(false)
	}
	return nil
}

// reload re-reads the store: only what changed, or everything when full.
func (a *App) reload(full bool) tea.Cmd {
	f := &a.feed
	if f.loading {
		f.reloadQ, f.fullQ = true, f.fullQ || full
		return nil
	}
	f.loading, f.loadedAt, f.fullQ = true, time.Now(), false
	a.data.loads++
	return a.loadCmd(full)
}

// loadCmd reads what the views show, off the UI loop. With a set shown and
// full false it reads only the keys that changed since (storage.Updates)
// and patches them into a new set, so following a store with a verifier
// flushing every second costs next to nothing even at a million keys; it
// reads a snapshot of every key the first time, on ctrl+r, and when the
// store cannot say what changed.
func (a *App) loadCmd(full bool) tea.Cmd {
	st, ctx, old, pos, gen0, seq := a.opt.Store, a.sh.ctx, a.data.set, a.feed.pos, a.feed.gen, a.data.loads
	if old == nil {
		full = true
	}
	return func() tea.Msg {
		gen, err := generation(ctx, st, a.opt.Keys)
		if err != nil {
			return loadedMsg{err: err}
		}
		var set *keyindex.Index
		if shared := a.opt.Keys; shared != nil {
			// The shared set follows the feed, which says what changed
			// exactly, so even a ctrl+r only brings it up to date.
			if set, pos, err = shared.load(ctx); err != nil {
				return loadedMsg{err: err}
			}
		} else if !full {
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
		if full && set == nil {
			if set, pos, err = readKeys(ctx, st); err != nil {
				return loadedMsg{err: err}
			}
		}
		set.Order(keyindex.Query{}.Sort) // the default order, ready before the first frame
		msg := loadedMsg{set: set, pos: pos, gen: gen, seq: seq}
		// Environments, channels and members change only with Generation.Keys.
		if full || gen.Keys != gen0.Keys {
			if msg.cat, err = readCatalog(ctx, st); err != nil {
				return loadedMsg{err: err}
			}
		}
		return msg
	}
}

// readKeys reads every key into a new set a key at a time, so the load
// never holds every record decoded at once: the set keeps each as its
// compact stored form.
func readKeys(ctx context.Context, st storage.Store) (*keyindex.Index, storage.Position, error) {
	b := keyindex.NewBuilder(0)
	pos, err := st.SnapshotEach(ctx, func(n int) { b = keyindex.NewBuilder(n) }, func(k *model.Key) error {
		b.Add(k)
		return nil
	})
	if err != nil {
		return nil, pos, err
	}
	return b.Index(), pos, nil
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

// loaded takes in a load and tells the open screens.
func (a *App) loaded(msg loadedMsg) tea.Cmd {
	a.feed.loading = false
	var cmds []tea.Cmd
	if msg.err != nil {
		a.storeError(msg.err)
	} else {
		a.data.set = a.data.reapply(msg.set, msg.seq)
		a.feed.gen, a.feed.pos = msg.gen, msg.pos
		a.data.rules = msg.gen.Keys
		if msg.cat != nil {
			a.data.catalogData = *msg.cat
			a.sh.perm.members = model.Members(msg.cat.members)
			if a.sh.perm.members == nil {
				a.sh.perm.members = model.Members{}
			}
		}
		if strings.HasPrefix(a.status, "The store is busy") {
			a.status = ""
		}
		cmds = append(cmds, a.broadcast(dataMsg{}))
	}
	if a.feed.reloadQ {
		a.feed.reloadQ = false
		cmds = append(cmds, a.reload(a.feed.fullQ))
	}
	return tea.Batch(cmds...)
}

func (a *App) storeError(err error) {
	if errors.Is(err, storage.ErrBusy) {
		a.setStatus("The store is busy (another keyden is writing); retrying…", false)
		a.feed.gen = storage.Generation{} // force a reload once it is free
		return
	}
	a.sh.fail(err)
}
