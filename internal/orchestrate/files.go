package orchestrate

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"
)

// awaitFiles waits until every name exists in dir, woken by fsnotify rather
// than by polling. A factory ships (renames its result into shipped/) just
// after the coordinator accepted its done, so the events can be ahead of the
// files by a moment; the judge looks at both, so it waits for both.
func awaitFiles(ctx context.Context, dir string, names []string, d time.Duration) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("watch %s: %w", dir, err)
	}
	defer w.Close()
	if err := w.Add(dir); err != nil {
		return fmt.Errorf("watch %s: %w", dir, err)
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		missing := ""
		for _, n := range names {
			if _, err := os.Stat(filepath.Join(dir, n)); err != nil {
				missing = n
				break
			}
		}
		if missing == "" {
			return nil
		}
		select {
		case <-w.Events:
		case err := <-w.Errors:
			return fmt.Errorf("watch %s: %w", dir, err)
		case <-timer.C:
			return fmt.Errorf("%s/%s did not appear within %v: %w", filepath.Base(dir), missing,
				d, errWaitTimeout)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
