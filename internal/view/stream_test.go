package view

import (
	"fmt"
	"testing"
)

func texts(es []entry) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.text
	}
	return out
}

func TestStreamKeepsTheNewestWithinItsBound(t *testing.T) {
	s := newStream(3)
	for i := range 5 {
		s.add(entry{text: fmt.Sprint(i)})
	}
	if got := fmt.Sprint(texts(s.tail(10))); got != "[2 3 4]" {
		t.Errorf("tail(10) = %s, want [2 3 4]", got)
	}
	if got := fmt.Sprint(texts(s.tail(2))); got != "[3 4]" {
		t.Errorf("tail(2) = %s, want [3 4]", got)
	}
	if got := len(s.tail(0)); got != 0 {
		t.Errorf("tail(0) has %d lines", got)
	}
	for range 100 {
		s.add(entry{text: "x"})
	}
	if s.total != 105 || len(s.lines) >= 2*3 {
		t.Errorf("total=%d kept=%d, want 105 and fewer than twice the bound",
			s.total, len(s.lines))
	}
}

func TestStreamPauseFreezesAndCounts(t *testing.T) {
	s := newStream(100)
	s.add(entry{text: "a"})
	s.add(entry{text: "b"})
	s.togglePause()
	for _, x := range []string{"c", "d", "e"} {
		s.add(entry{text: x})
	}
	if n := s.newCount(); n != 3 {
		t.Errorf("newCount = %d, want 3", n)
	}
	if got := fmt.Sprint(texts(s.tail(10))); got != "[a b]" {
		t.Errorf("paused tail = %s, want [a b]", got)
	}
	s.togglePause()
	if n := s.newCount(); n != 0 {
		t.Errorf("newCount after follow = %d, want 0", n)
	}
	if got := fmt.Sprint(texts(s.tail(2))); got != "[d e]" {
		t.Errorf("following tail = %s, want [d e]", got)
	}
}

func TestStreamPausedPastItsBound(t *testing.T) {
	s := newStream(2)
	s.add(entry{text: "a"})
	s.togglePause()
	for range 5 {
		s.add(entry{text: "x"})
	}
	if got := len(s.tail(10)); got != 0 {
		t.Errorf("paused window kept %d lines after they were dropped", got)
	}
	if n := s.newCount(); n != 5 {
		t.Errorf("newCount = %d, want 5", n)
	}
}
