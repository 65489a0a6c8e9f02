package coord

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

// Get returns one job. See Service.
func (c *Coordinator) Get(ctx context.Context, id string) (Job, error) {
	if err := CheckID("job id", id); err != nil {
		return Job{}, err
	}
	c.mu.Lock()
	if err := c.usable(); err != nil {
		c.mu.Unlock()
		return Job{}, err
	}
	j, b := c.state.Jobs[id], c.last
	var cp Job
	if j != nil {
		cp = *j
	}
	c.mu.Unlock()
	if j == nil {
		return Job{}, fmt.Errorf("%w: job %s", ErrNotFound, id)
	}
	// Never show a state that is not yet on disk: a reader who acted on it
	// could be contradicted by a crash.
	return cp, waitBatch(b)
}

// List returns the jobs matching f in submission order. See Service.
func (c *Coordinator) List(ctx context.Context, f ListFilter) ([]Job, error) {
	c.mu.Lock()
	if err := c.usable(); err != nil {
		c.mu.Unlock()
		return nil, err
	}
	out := make([]Job, 0, len(c.state.Order))
	for _, j := range c.state.Order {
		if (f.Product == "" || j.Product == f.Product) && (f.Stage == "" || j.Stage == f.Stage) &&
			(f.Holder == "" || j.Holder == f.Holder) {
			out = append(out, *j)
		}
	}
	b := c.last
	c.mu.Unlock()
	return out, waitBatch(b)
}

// Events returns up to limit durable events after seq after, waiting up to
// wait for the first one. See Service.
func (c *Coordinator) Events(ctx context.Context, after uint64, limit int,
	wait time.Duration) ([]Event, error) {
	if limit <= 0 || limit > 10000 {
		limit = 10000
	}
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	for {
		durable, grew := c.wal.durableSeq()
		if durable > after {
			return c.eventsBetween(after, durable, limit)
		}
		select {
		case <-grew:
		case <-deadline.C:
			return nil, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-c.stop:
			return nil, fmt.Errorf("%w: coordinator is closing", ErrUnavailable)
		}
	}
}

// eventsBetween returns events with after < seq <= upto, at most limit: from
// the in-memory ring when it reaches back far enough, else from the file.
func (c *Coordinator) eventsBetween(after, upto uint64, limit int) ([]Event, error) {
	c.mu.Lock()
	n := len(c.recent)
	var oldest uint64
	if n > 0 {
		oldest = c.recent[c.recentPos%n].Seq
	}
	if n > 0 && oldest <= after+1 {
		out := make([]Event, 0, min(limit, int(upto-after)))
		for i := 0; i < n && len(out) < limit; i++ {
			e := c.recent[(c.recentPos+i)%n]
			if e.Seq > after && e.Seq <= upto {
				out = append(out, e)
			}
		}
		c.mu.Unlock()
		return out, nil
	}
	c.mu.Unlock()
	return readEventsFile(filepath.Join(c.dir, "events.log"), after, upto, limit)
}

// readEventsFile scans events.log for events with after < seq <= upto. It
// is the slow path for readers far behind the in-memory ring.
func readEventsFile(path string, after, upto uint64, limit int) ([]Event, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read events.log: %w", err)
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<20)
	var out []Event
	for len(out) < limit {
		line, err := r.ReadSlice('\n')
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read events.log: %w", err)
		}
		e, perr := ParseLine(line)
		if perr != nil {
			return nil, fmt.Errorf("events.log: %w", perr)
		}
		if e.Seq > upto {
			break
		}
		if e.Seq > after {
			out = append(out, e)
		}
	}
	return out, nil
}
