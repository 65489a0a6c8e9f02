package view

import (
	"errors"
	"sync"
)

// errStopped is returned for a follower requested after the dashboard ended.
var errStopped = errors.New("view: dashboard already stopped")

// openFunc starts following one events.log; stop ends it and waits.
type openFunc func(path string) (src *eventSource, stop func(), err error)

// logFollowers starts events.log followers when the model asks for one and
// stops them all when RunDashboard ends, whatever state the model is in
// then (it may have panicked). The model holds only its follow method.
type logFollowers struct {
	open    openFunc
	mu      sync.Mutex
	stops   []func()
	stopped bool
}

// newLogFollowers returns a registry that starts followers with open.
func newLogFollowers(open openFunc) *logFollowers {
	return &logFollowers{open: open}
}

// follow starts a follower of path and returns its event source.
func (l *logFollowers) follow(path string) (*eventSource, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.stopped {
		return nil, errStopped
	}
	src, stop, err := l.open(path)
	if err != nil {
		return nil, err
	}
	l.stops = append(l.stops, stop)
	return src, nil
}

// stopAll stops every follower started, and any requested later. It is
// idempotent.
func (l *logFollowers) stopAll() {
	l.mu.Lock()
	stops := l.stops
	l.stops, l.stopped = nil, true
	l.mu.Unlock()
	for _, stop := range stops {
		stop()
	}
}
