package coord

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Checkpoints let a restart skip the log it has already folded. Each job
// changed since the last checkpoint is written to jobs/<id>.job; then the
// file <dir>/checkpoint records the sequence number W and the events.log
// byte offset that the job files together describe. Recovery loads the job
// files and replays the log from that offset only.
//
// Crash safety, step by step: the job files are written to temp names, made
// durable with one syncfs, and renamed into place; the jobs directory is
// synced; only then is the checkpoint file replaced (temp, fsync, rename,
// directory fsync). A crash before that last rename leaves the old W in
// force, and every job file then holds a state at least as new as W, which
// the replay from W overwrites in order: the log carries each job's whole
// state on every line, so folding an event over a newer checkpoint of the
// same job and then the rest of the log ends in the same place.
//
// Checkpoints are an optimisation only: delete jobs/ and checkpoint and the
// next Open rebuilds everything from events.log.

type checkpointMark struct {
	Seq    uint64
	Offset int64
}

// Checkpoint writes every job changed since the last checkpoint. The
// background loop calls it; Close calls it once more.
func (c *Coordinator) Checkpoint() error {
	c.ckptMu.Lock()
	defer c.ckptMu.Unlock()

	c.mu.Lock()
	if len(c.dirty) == 0 || c.closed {
		c.mu.Unlock()
		return nil
	}
	jobs := make([]Job, 0, len(c.dirty))
	for id := range c.dirty {
		jobs = append(jobs, *c.state.Jobs[id])
	}
	mark := checkpointMark{Seq: c.state.LastSeq, Offset: c.wal.offset()}
	b := c.last
	c.dirty = map[string]struct{}{}
	c.mu.Unlock()

	// Nothing may be checkpointed that is not yet in the durable log.
	err := waitBatch(b)
	if err == nil {
		err = writeCheckpoint(c.dir, jobs, mark)
	}
	if err != nil {
		c.mu.Lock()
		for _, j := range jobs {
			c.dirty[j.ID] = struct{}{}
		}
		c.mu.Unlock()
		return fmt.Errorf("checkpoint at seq %d: %w", mark.Seq, err)
	}
	return nil
}

func writeCheckpoint(dir string, jobs []Job, mark checkpointMark) error {
	jobsDir := filepath.Join(dir, "jobs")
	var syncFD int
	for i, j := range jobs {
		data, err := json.Marshal(j)
		if err != nil {
			return fmt.Errorf("encode job %s: %w", j.ID, err)
		}
		tmp := filepath.Join(jobsDir, j.ID+".job.tmp")
		if err := os.WriteFile(tmp, append(data, '\n'), 0o644); err != nil {
			return fmt.Errorf("write %s: %w", tmp, err)
		}
		if i == 0 {
			f, err := os.Open(jobsDir)
			if err != nil {
				return fmt.Errorf("open jobs dir: %w", err)
			}
			defer f.Close()
			syncFD = int(f.Fd())
		}
	}
	// One syncfs makes every temp file durable at once: an fsync per file
	// would cost a disk flush per job and starve the log's own fsyncs.
	if len(jobs) > 0 {
		if err := unix.Syncfs(syncFD); err != nil {
			return fmt.Errorf("syncfs: %w", err)
		}
	}
	for _, j := range jobs {
		base := filepath.Join(jobsDir, j.ID+".job")
		if err := os.Rename(base+".tmp", base); err != nil {
			return fmt.Errorf("rename checkpoint of %s: %w", j.ID, err)
		}
	}
	if err := syncDir(jobsDir); err != nil {
		return err
	}
	text := fmt.Sprintf("seq=%d offset=%d\n", mark.Seq, mark.Offset)
	return writeFileAtomic(filepath.Join(dir, "checkpoint"), []byte(text))
}

// writeFileAtomic replaces path with data: temp file, fsync, rename, fsync
// of the directory. A reader sees the old file or the new one, never a mix.
func writeFileAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	_, werr := f.Write(data)
	serr := f.Sync()
	cerr := f.Close()
	if werr != nil || serr != nil || cerr != nil {
		return fmt.Errorf("write %s: %v %v %v", tmp, werr, serr, cerr)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("rename %s: %w", tmp, err)
	}
	return syncDir(filepath.Dir(path))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("fsync %s: %w", dir, err)
	}
	return nil
}

// readCheckpoint returns the mark in <dir>/checkpoint; ok is false when
// there is none or it cannot be read, and recovery then replays from line 1.
func readCheckpoint(dir string) (checkpointMark, bool) {
	data, err := os.ReadFile(filepath.Join(dir, "checkpoint"))
	if err != nil {
		return checkpointMark{}, false
	}
	var m checkpointMark
	for _, f := range strings.Fields(string(data)) {
		k, v, _ := strings.Cut(f, "=")
		switch k {
		case "seq":
			m.Seq, err = strconv.ParseUint(v, 10, 64)
		case "offset":
			m.Offset, err = strconv.ParseInt(v, 10, 64)
		}
		if err != nil {
			return checkpointMark{}, false
		}
	}
	return m, m.Seq > 0 && m.Offset > 0
}

// loadJobFiles reads every jobs/<id>.job into st and removes leftover temp
// files from an interrupted checkpoint.
func loadJobFiles(dir string, st *State) error {
	jobsDir := filepath.Join(dir, "jobs")
	ents, err := os.ReadDir(jobsDir)
	if err != nil {
		return fmt.Errorf("read jobs dir: %w", err)
	}
	for _, ent := range ents {
		name := ent.Name()
		if strings.HasSuffix(name, ".tmp") {
			_ = os.Remove(filepath.Join(jobsDir, name))
			continue
		}
		id, ok := strings.CutSuffix(name, ".job")
		if !ok || !ValidID(id) {
			continue
		}
		data, err := os.ReadFile(filepath.Join(jobsDir, name))
		if err != nil {
			return fmt.Errorf("read checkpoint %s: %w", name, err)
		}
		var j Job
		if err := json.Unmarshal(data, &j); err != nil || j.ID != id {
			return fmt.Errorf("checkpoint %s is damaged (%v)", name, err)
		}
		st.Restore(j)
	}
	st.SortOrder()
	return nil
}
