package coord

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// ErrCorruptLog is returned by Open when events.log is damaged somewhere
// other than its last line. A torn last line is what a crash mid-write
// leaves and is cut off; damage before it means the file was changed by
// something else, and the coordinator will not guess.
var ErrCorruptLog = errors.New("events.log is damaged")

// recoverDir rebuilds the state of dir: from the checkpoint when there is a
// usable one, else from the first line of events.log. It returns the log
// opened for appending, positioned after its last whole line.
func recoverDir(dir string, log *slog.Logger) (*os.File, *State, Recovery, error) {
	start := time.Now()
	path := filepath.Join(dir, "events.log")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, nil, Recovery{}, fmt.Errorf("open events.log: %w", err)
	}
	fail := func(err error) (*os.File, *State, Recovery, error) {
		f.Close()
		return nil, nil, Recovery{}, err
	}
	info, err := f.Stat()
	if err != nil {
		return fail(fmt.Errorf("stat events.log: %w", err))
	}

	st, rec := NewState(), Recovery{}
	if mark, ok := readCheckpoint(dir); ok {
		switch {
		case mark.Offset > info.Size():
			log.Warn("checkpoint is past the end of events.log; replaying from the start",
				"offset", mark.Offset, "size", info.Size())
		default:
			cst := NewState()
			if err := loadJobFiles(dir, cst); err != nil {
				log.Warn("checkpoint unusable; replaying from the start", "err", err)
				break
			}
			cst.LastSeq = mark.Seq
			st, rec.FromCheckpoint, rec.CheckpointSeq = cst, true, mark.Seq
			rec.LogBytes = mark.Offset
		}
	}

	n, good, err := replay(f, rec.LogBytes, st)
	if err != nil && rec.FromCheckpoint {
		// The log after the checkpoint does not follow on from it (the file
		// was replaced, say): trust the log alone.
		log.Warn("log does not continue the checkpoint; replaying from the start", "err", err)
		st, rec = NewState(), Recovery{}
		n, good, err = replay(f, 0, st)
	}
	if err != nil {
		return fail(err)
	}
	rec.Replayed = n
	if !rec.FromCheckpoint {
		// The log alone was the truth: job files of jobs it does not hold
		// (a log replaced or cut short) must not come back at the next start.
		if err := removeStaleJobFiles(dir, st); err != nil {
			return fail(err)
		}
	}
	if torn := info.Size() - good; torn > 0 {
		if err := f.Truncate(good); err != nil {
			return fail(fmt.Errorf("cut torn tail of events.log: %w", err))
		}
		if err := f.Sync(); err != nil {
			return fail(fmt.Errorf("fsync events.log: %w", err))
		}
		rec.TornBytes = torn
		log.Warn("events.log ended in a torn line (a crash mid-write); cut it off",
			"offset", good, "bytes", torn)
	}
	rec.LogBytes, rec.Took = good, time.Since(start)
	return f, st, rec, nil
}

// replay folds the lines of f from offset into st. It returns how many it
// folded and the offset just after the last whole, valid line. A damaged
// line that is the file's last is a torn write and ends the replay; one with
// more lines after it is ErrCorruptLog.
func replay(f *os.File, offset int64, st *State) (int, int64, error) {
	r := bufio.NewReaderSize(io.NewSectionReader(f, offset, 1<<62), 1<<20)
	n, pos := 0, offset
	for {
		line, err := r.ReadBytes('\n')
		if len(line) == 0 && err == io.EOF {
			return n, pos, nil
		}
		if err != nil && err != io.EOF {
			return n, pos, fmt.Errorf("read events.log: %w", err)
		}
		if !bytes.HasSuffix(line, []byte{'\n'}) {
			return n, pos, nil // torn: no newline yet
		}
		e, perr := ParseLine(line)
		if perr != nil {
			if _, peek := r.Peek(1); peek == io.EOF {
				return n, pos, nil // a damaged last line is a torn write
			}
		} else if e.Seq != st.LastSeq+1 {
			perr = fmt.Errorf("seq %d follows %d", e.Seq, st.LastSeq)
		} else {
			perr = st.Apply(e)
		}
		if perr != nil {
			return n, pos, fmt.Errorf("%w at byte %d: %v; refusing to start (move the file "+
				"aside, or cut it at that byte, to go on)", ErrCorruptLog, pos, perr)
		}
		n++
		pos += int64(len(line))
	}
}

// removeStaleJobFiles deletes jobs/<id>.job for every id st does not hold.
func removeStaleJobFiles(dir string, st *State) error {
	jobsDir := filepath.Join(dir, "jobs")
	ents, err := os.ReadDir(jobsDir)
	if err != nil {
		return fmt.Errorf("read jobs dir: %w", err)
	}
	for _, ent := range ents {
		id, ok := strings.CutSuffix(ent.Name(), ".job")
		if !ok || st.Jobs[id] != nil {
			continue
		}
		if err := os.Remove(filepath.Join(jobsDir, ent.Name())); err != nil {
			return fmt.Errorf("remove stale checkpoint: %w", err)
		}
	}
	return nil
}
