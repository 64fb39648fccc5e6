package storage

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unicode"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"keyden/model"
)

// Bolt is the embedded store: one bbolt file, opened for exactly one
// transaction per call and closed again, so any number of keyden processes
// (TUI, shells, a verifier) share it.
type Bolt struct {
	core
	fb *boltBackend
}

var _ Store = (*Bolt)(nil)

// boltBackend opens the file for each transaction.
type boltBackend struct {
	path string
	opt  *Options
	// preload reads the free list at open, where a damaged one is caught
	// (bbolt's own check would read it in a goroutine of its own).
	preload bool
	// tidied: stale temporary files are looked for once per process. They
	// are made only while the store does not exist yet, so none appears
	// later, and a verifier's flush each second need not list the folder.
	tidied sync.Once
	// opened: this process has had the store open. A file missing later was
	// deleted or moved away under it and is not made again, empty, at its
	// old path (a TUI polling a store moved away made one there).
	opened atomic.Bool
	// A closed store refuses transactions; Close waits for those running.
	mu      sync.Mutex
	closed  bool
	running sync.WaitGroup
}

// OpenBolt prepares a store at path. The file is not touched until the first call.
func OpenBolt(path string, opt Options) (*Bolt, error) {
	if path == "" {
		return nil, fail(ErrInvalid, "no key store path given: pass --db PATH or set KEYDEN_DB")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fail(ErrInvalid, "the key store path %s cannot be used: %v", model.Quote(path), err)
	}
	if err := opt.defaults(); err != nil {
		return nil, err
	}
	b := &Bolt{core: core{opt: opt, strs: &strTable{}, seen: new(atomic.Bool)}}
	b.fb = &boltBackend{path: abs, opt: &b.core.opt}
	b.core.be = b.fb
	return b, nil
}

// Close waits for the transactions under way to end and refuses any
// after it: a program that ends while its work still runs (a TUI's loads)
// then neither reads nor recreates the file once it is gone.
func (b *Bolt) Close() error {
	f := b.fb
	f.mu.Lock()
	f.closed = true
	f.mu.Unlock()
	f.running.Wait()
	return nil
}

// enter counts a transaction in, or refuses it once the store is closed.
func (f *boltBackend) enter() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return fail(ErrUnavailable, "the key store %s was closed: run the command again", f.path)
	}
	f.running.Add(1)
	return nil
}

// Path is the store file's absolute path.
func (b *Bolt) Path() string { return b.fb.path }

func (f *boltBackend) location() string { return f.path }

func (f *boltBackend) batch() int { return 10000 }

func (f *boltBackend) notStore() error {
	return fail(ErrNotStore, "%s is a bbolt file but not a keyden store, which keyden leaves alone: give another path", f.path)
}

// Exists says whether the store file is there.
func (b *Bolt) Exists() bool {
	_, err := os.Stat(b.fb.path)
	return err == nil
}

func (f *boltBackend) vacant(context.Context) error {
	if st, err := os.Stat(f.path); err == nil {
		if err := f.notAFile(st); err != nil {
			return err
		}
		return fail(ErrExists, "a key store already exists at %s: its prefix and format are fixed; use another --db path for a new one", f.path)
	}
	return nil
}

func (f *boltBackend) view(ctx context.Context, fn func(kv) error) error {
	return f.run(ctx, true, func(tx *bolt.Tx) error { return fn(boltKV{tx}) })
}

func (f *boltBackend) write(ctx context.Context, fn func(kv) error) error {
	return f.run(ctx, false, func(tx *bolt.Tx) error { return fn(boltKV{tx}) })
}

// rawView is a bbolt read transaction, for copying the file whole.
func (f *boltBackend) rawView(ctx context.Context, fn func(*bolt.Tx) error) error {
	return f.run(ctx, true, fn)
}

// run opens the file, runs fn in one transaction and closes the file.
// bbolt panics on a damaged file, and a short file faults on its memory
// map: both are caught here, in the goroutine that runs the transaction
// (SetPanicOnFault is per goroutine), and become one ErrDamaged sentence.
func (f *boltBackend) run(ctx context.Context, readOnly bool, fn func(*bolt.Tx) error) (err error) {
	if err := f.enter(); err != nil {
		return err
	}
	defer f.running.Done()
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	var db *bolt.DB
	var file *os.File
	defer func() {
		if r := recover(); r != nil {
			abandon(db, file, f.opt.Timeout)
			err = f.damaged(fmt.Sprint(r))
		}
	}()
	db, err = f.open(ctx, readOnly, &file)
	if err != nil {
		return err
	}
	guarded := func(tx *bolt.Tx) error {
		if err := f.checkSize(tx, file); err != nil {
			return err
		}
		return fn(tx)
	}
	if readOnly {
		err = db.View(guarded)
	} else {
		err = db.Update(guarded)
	}
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	return f.txError(err)
}

// abandon closes a file whose transaction panicked. bbolt may have left
// its locks taken, so the close gets a bounded wait; after it the file
// lock is dropped by hand (the memory map keeps the open file, and so its
// lock, alive: the map is left, a cost paid once per damaged read).
func abandon(db *bolt.DB, file *os.File, wait time.Duration) {
	if db != nil {
		done := make(chan struct{})
		go func() {
			defer close(done)
			defer func() { _ = recover() }()
			db.Close()
		}()
		select {
		case <-done:
			return
		case <-time.After(wait):
		}
	}
	if file != nil {
		_ = syscall.Flock(int(file.Fd()), syscall.LOCK_UN)
		file.Close()
	}
}

// checkSize refuses a file shorter than its own page count: it was cut
// short (a partial copy, a full disk), and reading past its end would fault.
func (f *boltBackend) checkSize(tx *bolt.Tx, file *os.File) error {
	st, err := file.Stat()
	if err != nil {
		return err
	}
	if st.Size() < tx.Size() {
		return f.damaged(fmt.Sprintf("the file is %d bytes but its pages need %d: it was cut short", st.Size(), tx.Size()))
	}
	return nil
}

// damaged is the sentence for a store file bbolt cannot read; detail is
// what was found, for `keyden check` to show.
func (f *boltBackend) damaged(detail string) error {
	detail = strings.Map(func(r rune) rune {
		if unicode.IsGraphic(r) {
			return r
		}
		return '?'
	}, detail)
	return &storeError{kind: ErrDamaged, detail: detail,
		msg: fmt.Sprintf("the key store %s is damaged: run `keyden check` to see what is wrong, and restore it from a copy made by `keyden backup`", f.path)}
}

// txError turns what the file system or bbolt said during a transaction
// into a sentence; keyden's own errors pass through unchanged.
func (f *boltBackend) txError(err error) error {
	var se *storeError
	switch {
	case err == nil || errors.As(err, &se):
		return err
	case errors.Is(err, berrors.ErrInvalid), errors.Is(err, berrors.ErrChecksum), errors.Is(err, berrors.ErrVersionMismatch):
		return f.damaged(err.Error())
	}
	if errnoOf(err) != 0 {
		return f.osError(err)
	}
	return err
}

// open opens the file for one operation; file is set to the descriptor
// bbolt opened, for abandon. A missing store is created and initialised
// first; its folder only when the options allow.
func (f *boltBackend) open(ctx context.Context, readOnly bool, file **os.File) (*bolt.DB, error) {
	if err := f.ended(ctx); err != nil {
		return nil, err
	}
	st, err := os.Stat(f.path)
	switch {
	case err == nil && f.notAFile(st) != nil:
		return nil, f.notAFile(st)
	case err == nil && st.Size() == 0:
		return nil, fail(ErrNotStore, "%s is an empty file, not a keyden store: remove it or choose another path", f.path)
	case errors.Is(err, fs.ErrNotExist) && f.opened.Load():
		return nil, gone(f.path)
	case errors.Is(err, fs.ErrNotExist):
		if err := f.create(); err != nil {
			return nil, err
		}
	case err != nil:
		return nil, f.osError(err)
	}
	if !readOnly {
		f.tidied.Do(f.removeStaleTemps)
	}
	db, err := f.lock(ctx, &bolt.Options{
		ReadOnly: readOnly, PreLoadFreelist: f.preload,
		OpenFile: func(name string, flag int, mode os.FileMode) (*os.File, error) {
			// create made the file; a file gone or turned into a link to
			// nothing since is not made again here.
			fh, err := os.OpenFile(name, flag&^os.O_CREATE, mode)
			if *file == nil {
				*file = fh
			}
			return fh, err
		},
	}, file)
	var se *storeError
	if errors.As(err, &se) {
		return nil, err
	}
	if err != nil {
		if !readOnly && errors.Is(err, fs.ErrPermission) {
			return nil, fail(ErrUnwritable, "you may not write the key store %s (permission denied): ask its owner for write access", f.path)
		}
		return nil, f.openError(err)
	}
	// bbolt grows a file past 16 MB by 16 MB at a time (and never gives it
	// back); a megabyte at a time keeps the file within a megabyte of what
	// it holds, for one more truncate and fsync per megabyte written.
	db.AllocSize = 1 << 20
	f.opened.Store(true)
	return db, nil
}

// lockStep is how long one try at the file's lock waits before the
// caller's context is looked at again: a cancel is seen this quickly.
const lockStep = 100 * time.Millisecond

// lock opens the file, waiting for another process's lock up to the
// options' Timeout or the context's deadline, whichever comes first, and
// no longer once the context is cancelled.
func (f *boltBackend) lock(ctx context.Context, o *bolt.Options, file **os.File) (*bolt.DB, error) {
	deadline := time.Now().Add(f.opt.Timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	for {
		// A zero Timeout would wait for ever.
		o.Timeout = max(time.Millisecond, min(lockStep, time.Until(deadline)))
		*file = nil
		db, err := bolt.Open(f.path, 0o600, o)
		if !errors.Is(err, berrors.ErrTimeout) {
			return db, err
		}
		if cerr := f.ended(ctx); cerr != nil {
			return nil, cerr
		}
		if !time.Now().Before(deadline) {
			return nil, err
		}
	}
}

// ended is the sentence for a context that ended before the file was
// opened: a deadline is the wait for the lock running out (busy).
func (f *boltBackend) ended(ctx context.Context) error {
	switch ctx.Err() {
	case nil:
		return nil
	case context.DeadlineExceeded:
		return fail(ErrBusy, "the key store %s is busy (another keyden is writing); try again", f.path)
	}
	return &storeError{kind: ErrUnavailable, cause: ctx.Err(),
		msg: fmt.Sprintf("the wait for the key store %s was cancelled before it was opened: run the command again", f.path)}
}

// notAFile refuses a store path that names a folder, a device, a pipe
// or a system file: never a store, and never to be removed.
func (f *boltBackend) notAFile(st os.FileInfo) error {
	switch {
	case st.IsDir():
		return fail(ErrNotStore, "the key store path %s is a directory: give a file path such as %s", f.path, filepath.Join(f.path, "keyden.db"))
	case !st.Mode().IsRegular() || onPseudoFS(f.path):
		return fail(ErrNotStore, "%s is not a regular file but a device, pipe or system file: give the path of a key store file", f.path)
	}
	return nil
}

// staleAfter is how old a temporary file from creating a store must be
// before another keyden removes it: creating takes milliseconds, so one
// this old was left by a process that was killed.
const staleAfter = 10 * time.Minute

// removeStaleTemps removes the temporary files (.NAME.new-*) that a
// process killed while creating the store left beside it.
func (f *boltBackend) removeStaleTemps() {
	old, _ := filepath.Glob(filepath.Join(filepath.Dir(f.path), "."+globEscape(filepath.Base(f.path))+".new-*"))
	for _, p := range old {
		if st, err := os.Lstat(p); err == nil && st.Mode().IsRegular() && time.Since(st.ModTime()) > staleAfter {
			os.Remove(p)
		}
	}
}

func globEscape(s string) string {
	r := strings.NewReplacer(`\`, `\\`, "*", `\*`, "?", `\?`, "[", `\[`)
	return r.Replace(s)
}

// create makes an empty bbolt file (0600); the first write transaction
// makes it a keyden store. The file is made under a temporary name and
// linked into place, so a second process never sees a half-made
// (zero-byte) file, and a link that loses the race to another process's
// store leaves that store alone.
func (f *boltBackend) create() (err error) {
	if err := danglingLink(f.path, "the key store path"); err != nil {
		return err
	}
	if f.opt.NoCreate {
		return fail(ErrNotFound, "there is no key store at %s: run `keyden init` to make one, or check --db and KEYDEN_DB", f.path)
	}
	dir := filepath.Dir(f.path)
	var made []string
	// A store that could not be made leaves no empty folders behind.
	defer func() {
		if err != nil {
			for _, d := range made {
				os.Remove(d)
			}
		}
	}()
	if _, serr := os.Stat(dir); errors.Is(serr, fs.ErrNotExist) {
		if !f.opt.MakeFolders {
			return fail(ErrNotFound, "the folder %s for the key store %s does not exist: check the path, or create the store with `keyden init`", dir, filepath.Base(f.path))
		}
		if made, err = f.makeFolders(dir); err != nil {
			return err
		}
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(f.path)+".new-*")
	if err != nil {
		return f.createError(dir, err)
	}
	tmp.Close()
	defer os.Remove(tmp.Name())
	if err := f.prepare(tmp.Name()); err != nil {
		return err
	}
	err = os.Link(tmp.Name(), f.path)
	if errors.Is(err, fs.ErrExist) {
		// Another process's store, or a link made since the check above.
		return danglingLink(f.path, "the key store path")
	}
	if err == nil {
		return nil
	}
	// A file system without hard links: create in place, never through a
	// link (O_EXCL), then make it a bbolt file as bbolt would.
	fh, err := os.OpenFile(f.path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return danglingLink(f.path, "the key store path")
	}
	if err != nil {
		return f.createError(dir, err)
	}
	fh.Close()
	return f.prepare(f.path)
}

// danglingLink refuses a path that is a symbolic link to nothing: a file
// made there would land wherever the link's owner chose, such as a folder
// of theirs, when the link sits in a folder others may write. what names
// the path in the sentence ("the key store path").
func danglingLink(path, what string) error {
	st, err := os.Lstat(path)
	if err != nil || st.Mode()&fs.ModeSymlink == 0 {
		return nil
	}
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	to, _ := os.Readlink(path)
	return fail(ErrNotStore, "%s %s is a symbolic link to %s, which does not exist: keyden makes nothing through such a link, so remove it or give the real path", what, path, to)
}

// makeFolders creates dir and any missing parents: 0700, or 2770 owned by
// the shared group, every one of them, so the group reaches the store. It
// returns the folders it made, deepest first.
func (f *boltBackend) makeFolders(dir string) (made []string, err error) {
	var missing []string
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(d); err == nil || d == filepath.Dir(d) {
			break
		}
		missing = append(missing, d)
	}
	for i := len(missing) - 1; i >= 0; i-- {
		d := missing[i]
		if err := os.Mkdir(d, 0o700); err != nil {
			if errors.Is(err, fs.ErrExist) {
				if err := danglingLink(d, "the folder"); err != nil {
					return made, err
				}
				continue
			}
			return made, fail(ErrUnavailable, "cannot create the folder %s for the key store: %v; choose another --db path", d, unwrapPathErr(err))
		}
		made = append([]string{d}, made...)
		if f.opt.SharedGID > 0 {
			if err := shareWithGroup(d, 0o770|os.ModeSetgid, f.opt.SharedGID); err != nil {
				return made, err
			}
		}
	}
	return made, nil
}

// prepare makes path a bbolt file with the store's mode and group.
func (f *boltBackend) prepare(path string) error {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: f.opt.Timeout})
	if err != nil {
		return f.createError(filepath.Dir(path), err)
	}
	if err := db.Close(); err != nil {
		return f.osError(err)
	}
	// bbolt honours the umask; the store must not be readable by others whatever it is.
	if err := os.Chmod(path, 0o600); err != nil {
		return f.osError(err)
	}
	if f.opt.SharedGID > 0 {
		return shareWithGroup(path, 0o660, f.opt.SharedGID)
	}
	return nil
}

// createError is openError for a file being made in dir.
func (f *boltBackend) createError(dir string, err error) error {
	if errors.Is(err, fs.ErrPermission) {
		return fail(ErrUnavailable, "cannot create the key store in %s: permission denied; choose another --db path or ask the folder's owner", dir)
	}
	return f.openError(err)
}

func (f *boltBackend) openError(err error) error {
	switch {
	case errors.Is(err, berrors.ErrTimeout):
		return fail(ErrBusy, "the key store %s is busy (another keyden is writing); try again", f.path)
	case errors.Is(err, berrors.ErrInvalid), errors.Is(err, berrors.ErrVersionMismatch), errors.Is(err, berrors.ErrChecksum),
		strings.HasPrefix(err.Error(), "file size too small"):
		if hasBoltMagic(f.path) {
			return f.damaged(err.Error())
		}
		return fail(ErrNotStore, "%s is not a keyden store but some other file, which keyden leaves alone: give another path", f.path)
	}
	return f.osError(err)
}

// hasBoltMagic says whether either meta page of the file carries bbolt's
// mark: such a file is a store that was damaged, not some other file.
func hasBoltMagic(path string) bool {
	fh, err := os.Open(path)
	if err != nil {
		return false
	}
	defer fh.Close()
	// A meta page: a 16-byte page header, then the magic 0xED0CDAED (little endian).
	var magic [4]byte
	for _, off := range []int64{16, 4096 + 16} {
		if _, err := fh.ReadAt(magic[:], off); err == nil && binary.LittleEndian.Uint32(magic[:]) == 0xED0CDAED {
			return true
		}
	}
	return false
}

func (f *boltBackend) osError(err error) error {
	errno := errnoOf(err)
	switch {
	case errno == syscall.ENOSPC, errno == syscall.EDQUOT:
		return fail(ErrUnwritable, "the disk holding the key store %s is full: free some space on it and try again", f.path)
	case errno == syscall.EROFS:
		return fail(ErrUnwritable, "the key store %s is on a read-only file system: remount it read-write, or copy the store elsewhere to change it", f.path)
	case errno == syscall.EIO:
		return fail(ErrUnavailable, "the disk gave an input/output error on the key store %s: it may be failing; run `keyden check` and keep a backup", f.path)
	case errors.Is(err, fs.ErrPermission):
		return fail(ErrUnavailable, "permission denied on the key store %s: ask its owner for access or choose another --db path", f.path)
	}
	return fail(ErrUnavailable, "cannot use the key store %s: %v", f.path, unwrapPathErr(err))
}

// onPseudoFS says whether path is on /proc or /sys, whose files read as
// regular and empty but are the system's, never a store or a backup.
func onPseudoFS(path string) bool {
	var fs syscall.Statfs_t
	if syscall.Statfs(path, &fs) != nil {
		return false
	}
	const procMagic, sysfsMagic = 0x9fa0, 0x62656572
	return fs.Type == procMagic || fs.Type == sysfsMagic
}

func unwrapPathErr(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func shareWithGroup(path string, mode os.FileMode, gid int) error {
	if err := os.Chown(path, -1, gid); err != nil {
		return fail(ErrUnavailable, "cannot give %s to group %d: %v; you must belong to the group", path, gid, unwrapPathErr(err))
	}
	if err := os.Chmod(path, mode); err != nil {
		return fail(ErrUnavailable, "cannot set the mode of %s: %v", path, unwrapPathErr(err))
	}
	return nil
}

// errnoOf is the system error under err, also where bbolt formatted it
// into text (its backup copy does) rather than wrapping it.
func errnoOf(err error) syscall.Errno {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno
	}
	for _, e := range []syscall.Errno{syscall.ENOSPC, syscall.EDQUOT, syscall.EROFS, syscall.EACCES, syscall.EPERM, syscall.EIO} {
		if strings.HasSuffix(err.Error(), ": "+e.Error()) {
			return e
		}
	}
	return 0
}
