package coord

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// A crash before the first checkpoint, a restart that checkpoints, and a
// second restart: the jobs the first run left only in events.log must
// survive. The checkpoint after the first restart moves the replay mark
// past their lines, so their job files must be written by it.
func TestJobsReplayedFromTheLogAreCheckpointed(t *testing.T) {
	ctx := context.Background()
	first, crashed := t.TempDir(), t.TempDir()
	c, err := Open(first, Options{NoBackground: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Submit(ctx, SubmitRequest{ID: "j1"}); err != nil {
		t.Fatal(err)
	}
	// The crash image: the log as acknowledged, no checkpoint yet.
	copyFile(t, filepath.Join(first, "events.log"), filepath.Join(crashed, "events.log"))
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}

	for _, id := range []string{"j2", "j3"} {
		c, err := Open(crashed, Options{NoBackground: true})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := c.Submit(ctx, SubmitRequest{ID: id}); err != nil {
			t.Fatal(err)
		}
		if err := c.Close(); err != nil { // checkpoints, then releases the dir
			t.Fatal(err)
		}
	}

	c, err = Open(crashed, Options{NoBackground: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if !c.Recovery().FromCheckpoint {
		t.Fatalf("recovery %+v did not start from the checkpoint", c.Recovery())
	}
	for _, id := range []string{"j1", "j2", "j3"} {
		if _, err := c.Get(ctx, id); err != nil {
			t.Errorf("after two restarts: %v", err)
		}
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, 0o644); err != nil {
		t.Fatal(err)
	}
}
