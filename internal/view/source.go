package view

import (
	"sync"
)

// eventSource is one stream of event batches for the model to read: the
// caller's channel in API mode, or a followed events.log.
type eventSource struct {
	c    <-chan EventsMsg
	name string
	// err says why c closed; nil means it simply ended. It is only called
	// after c closed.
	err func() error
}

// coalescer turns a producer's raw batches (of type T) into EventsMsg values
// and never makes the producer wait for the screen: while the dashboard is
// busy drawing, everything that arrives is merged into one pending batch,
// which the model then takes in a single message. A flood of events thus
// costs one fold and one redraw, not one per line.
type coalescer[T any] struct {
	out    chan EventsMsg
	stop   chan struct{}
	done   chan struct{}
	once   sync.Once
	onStop func()
	err    error // set before out is closed, read only after
}

// startCoalescer starts reading in, turning each value into a batch with
// decode. onStop (may be nil) stops the producer; it is called by Stop.
func startCoalescer[T any](in <-chan T, decode func(T) EventsMsg, onStop func()) *coalescer[T] {
	c := &coalescer[T]{
		out:    make(chan EventsMsg),
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
		onStop: onStop,
	}
	go c.run(in, decode)
	return c
}

// run is the coalescing loop. A panic (in decode, say) is recovered and
// reported through err, so that it reaches the model as an error message
// and the terminal is restored by a clean quit.
func (c *coalescer[T]) run(in <-chan T, decode func(T) EventsMsg) {
	defer close(c.done)
	defer close(c.out)
	defer func() {
		if r := recover(); r != nil {
			c.err = panicError("event reader", r)
		}
	}()

	var pending EventsMsg
	have := false
	for {
		var out chan<- EventsMsg // nil, so never ready, while nothing is pending
		if have {
			out = c.out
		}
		select {
		case v, ok := <-in:
			if !ok {
				c.flush(pending, have)
				return
			}
			pending, have = merge(pending, decode(v)), true
		case out <- pending:
			pending, have = EventsMsg{}, false
		case <-c.stop:
			return
		}
	}
}

// flush hands over the last pending batch after the producer ended.
func (c *coalescer[T]) flush(pending EventsMsg, have bool) {
	if !have {
		return
	}
	select {
	case c.out <- pending:
	case <-c.stop:
	}
}

// Stop stops the producer and the loop and waits for the loop to end. It is
// idempotent and safe to call from any goroutine.
func (c *coalescer[T]) Stop() {
	c.once.Do(func() {
		if c.onStop != nil {
			c.onStop()
		}
		close(c.stop)
	})
	<-c.done
}

// source is the coalescer's output as the model reads it.
func (c *coalescer[T]) source(name string) *eventSource {
	return &eventSource{
		c:    c.out,
		name: name,
		err: func() error {
			<-c.done // err is written before done closes
			return c.err
		},
	}
}
