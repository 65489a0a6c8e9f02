package follow

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/fsnotify/fsnotify"
)

// notifier watches the followed file's directory. Watching the directory,
// not the file, is what lets the follower see a file that does not exist
// yet, and a file renamed over the path, the moment it happens: a watch on
// the file itself would stay on the old inode. Every event in the directory
// is only a hint to look again; what changed is judged from the file.
type notifier struct {
	w        *fsnotify.Watcher // nil: polling only
	dir      string
	log      *slog.Logger
	watching bool
	warned   bool
	dead     bool // fsnotify closed its channels on its own: poll from now on
}

func newNotifier(w *fsnotify.Watcher, dir string, log *slog.Logger) *notifier {
	n := &notifier{w: w, dir: filepath.Clean(dir), log: log}
	n.rewatch()
	return n
}

// events and errors are nil channels, which never deliver, when there is
// no watcher or it has died.
func (n *notifier) events() <-chan fsnotify.Event {
	if n.w == nil || n.dead {
		return nil
	}
	return n.w.Events
}

func (n *notifier) errors() <-chan error {
	if n.w == nil || n.dead {
		return nil
	}
	return n.w.Errors
}

// rewatch adds the directory watch if it is not in place: the directory may
// not exist yet, or may have been removed and made again.
func (n *notifier) rewatch() {
	if n.w == nil || n.dead || n.watching {
		return
	}
	err := n.w.Add(n.dir)
	switch {
	case err == nil:
		n.watching = true
		n.log.Debug("watching directory", "dir", n.dir)
	case !errors.Is(err, os.ErrNotExist) && !n.warned:
		n.warned = true
		n.log.Warn("cannot watch directory; polling until it can", "dir", n.dir, "err", err)
	}
}

// saw takes note of one event; ok false means fsnotify has shut down.
// When the directory itself goes away the kernel drops the watch, so the
// next poll must add it again.
func (n *notifier) saw(ev fsnotify.Event, ok bool) {
	if !ok {
		n.died()
		return
	}
	if filepath.Clean(ev.Name) == n.dir && ev.Has(fsnotify.Remove|fsnotify.Rename) {
		n.watching = false
	}
}

// failed logs a watcher error. An overflow loses events, not data: the
// follower looks at the file after every wake-up, so it catches up anyway.
func (n *notifier) failed(err error, ok bool) {
	if !ok {
		n.died()
		return
	}
	n.log.Warn("fsnotify error; catching up from the file", "err", err)
}

func (n *notifier) died() {
	if !n.dead {
		n.dead = true
		n.log.Warn("fsnotify stopped; polling only")
	}
}

// stop ends the watch. It is called once, by the goroutine that uses it.
func (n *notifier) stop() {
	if n.w != nil {
		n.w.Close() // waits for fsnotify's own reader goroutine to end
		n.w = nil
	}
}
