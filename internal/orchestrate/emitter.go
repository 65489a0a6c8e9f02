package orchestrate

import (
	"sync"
	"time"
)

// emitter hands Progress values to a front end without ever blocking the
// scenario: emit appends to an unbounded queue and a pump goroutine feeds
// the channel as fast as the reader takes. A slow terminal therefore delays
// what is drawn, never what is done; and nothing is dropped, because the
// headless trace is a record a CI log must keep whole.
type emitter struct {
	mu     sync.Mutex
	queue  []Progress
	wake   chan struct{}
	closed bool
	done   chan struct{}
	out    chan<- Progress
}

func newEmitter(out chan<- Progress) *emitter {
	e := &emitter{wake: make(chan struct{}, 1), done: make(chan struct{}), out: out}
	go e.pump()
	return e
}

func (e *emitter) emit(p Progress) {
	if p.Time.IsZero() {
		p.Time = time.Now()
	}
	e.mu.Lock()
	e.queue = append(e.queue, p)
	e.mu.Unlock()
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

func (e *emitter) pump() {
	defer close(e.done)
	for {
		e.mu.Lock()
		batch, closed := e.queue, e.closed
		e.queue = nil
		e.mu.Unlock()
		for _, p := range batch {
			if e.out != nil {
				e.out <- p
			}
		}
		if closed && len(batch) == 0 {
			if e.out != nil {
				close(e.out)
			}
			return
		}
		if len(batch) == 0 {
			<-e.wake
		}
	}
}

// close delivers what is queued, then closes the channel.
func (e *emitter) close() {
	e.mu.Lock()
	e.closed = true
	e.mu.Unlock()
	select {
	case e.wake <- struct{}{}:
	default:
	}
	<-e.done
}
