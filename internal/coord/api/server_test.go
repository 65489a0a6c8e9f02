package api

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/twofactory/twofactory/internal/coord"
)

// result is one finished client call, for calls run in a goroutine.
type result struct {
	evs []coord.Event
	err error
}

func pollAsync(c *Client, after uint64, wait time.Duration) <-chan result {
	ch := make(chan result, 1)
	go func() {
		evs, err := c.Events(context.Background(), after, 0, wait)
		ch <- result{evs, err}
	}()
	return ch
}

// The long poll answers as soon as an event lands, not when its wait runs
// out: the wait here is far longer than the test's own deadline.
func TestLongPollWakesOnEvent(t *testing.T) {
	fx := newFixture(t, ServerOptions{LongPollMax: time.Hour}, "")
	fx.fake.push(event(1, coord.EvSubmit))

	done := pollAsync(fx.client, 1, time.Hour)
	recv(t, fx.fake.waiting, "the poll to wait")
	fx.fake.push(event(2, coord.EvClaim))

	res := recv(t, done, "the poll to answer")
	if res.err != nil {
		t.Fatal(res.err)
	}
	if len(res.evs) != 1 || res.evs[0].Seq != 2 {
		t.Errorf("events = %+v, want just seq 2", res.evs)
	}
}

// A poll whose wait ends with nothing new answers 200 with no events, and
// the handler caps the wait at LongPollMax.
func TestLongPollTimesOut(t *testing.T) {
	fx := newFixture(t, ServerOptions{LongPollMax: time.Millisecond}, "")
	evs, err := fx.client.Events(context.Background(), 0, 0, time.Hour)
	if err != nil || len(evs) != 0 {
		t.Fatalf("events = %v, %v; want none, nil", evs, err)
	}
	if got := fx.fake.lastArg().(eventsCall).wait; got != time.Millisecond {
		t.Errorf("service waited %v, want the 1ms cap", got)
	}
}

// A caller that gives up ends its poll on the server too.
func TestLongPollCallerCancels(t *testing.T) {
	fx := newFixture(t, ServerOptions{LongPollMax: time.Hour}, "")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := fx.client.Events(ctx, 0, 0, time.Hour)
		done <- err
	}()
	recv(t, fx.fake.waiting, "the poll to wait")
	cancel()
	if err := recv(t, done, "the poll to end"); !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

func startServer(t *testing.T, fake *fakeService, opt ServerOptions) (*Server, *Client) {
	t.Helper()
	s := NewServer(fake, opt)
	addr, err := s.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewClient("http://"+addr.String()+"/api", opt.Token)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.Close()
		_ = s.Stop(context.Background())
	})
	return s, c
}

func TestServerLifecycle(t *testing.T) {
	s := NewServer(newFake(), ServerOptions{Token: "tok"})
	addr, err := s.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Start("127.0.0.1:0"); err == nil {
		t.Error("a second Start succeeded")
	}
	c, err := NewClient("http://"+addr.String()+"/api", "tok")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Health(context.Background()); err != nil {
		t.Fatal(err)
	}

	for i := range 2 {
		if err := s.Stop(context.Background()); err != nil {
			t.Fatalf("Stop #%d: %v", i+1, err)
		}
	}
	if _, err := s.Start("127.0.0.1:0"); err == nil {
		t.Error("Start after Stop succeeded")
	}
	if conn, err := net.Dial("tcp", addr.String()); err == nil {
		conn.Close()
		t.Error("the port still accepts connections after Stop")
	}
}

func TestServerStopBeforeStart(t *testing.T) {
	s := NewServer(newFake(), ServerOptions{})
	if err := s.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Start("127.0.0.1:0"); err == nil {
		t.Error("Start after Stop succeeded")
	}
}

func TestServerStartBadAddress(t *testing.T) {
	s := NewServer(newFake(), ServerOptions{})
	if _, err := s.Start("127.0.0.1:99999"); err == nil {
		t.Error("Start on port 99999 succeeded")
	}
}

// Stop answers a waiting long poll at once (200, no events) instead of
// waiting out its hour; Stop's own deadline proves it did not wait.
func TestStopEndsLongPoll(t *testing.T) {
	fake := newFake()
	s, c := startServer(t, fake, ServerOptions{LongPollMax: time.Hour})
	done := pollAsync(c, 0, time.Hour)
	recv(t, fake.waiting, "the poll to wait")

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Stop(ctx); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	res := recv(t, done, "the poll to answer")
	if res.err != nil || len(res.evs) != 0 {
		t.Errorf("poll = %v, %v; want no events and no error", res.evs, res.err)
	}
}

// Stop lets a call in flight finish and answer before it returns.
func TestStopFinishesInFlightCall(t *testing.T) {
	fake := newFake()
	release := fake.setHold("patch")
	s, c := startServer(t, fake, ServerOptions{})
	began := make(chan struct{})
	s.srv.RegisterOnShutdown(func() { close(began) })

	patched := make(chan error, 1)
	go func() {
		r := rep
		r.Stage = coord.StageDone
		_, err := c.Patch(context.Background(), r)
		patched <- err
	}()
	recv(t, fake.entered, "the patch to reach the service")

	stopped := make(chan error, 1)
	go func() { stopped <- s.Stop(context.Background()) }()
	recv(t, began, "the shutdown to begin")
	select {
	case err := <-stopped:
		t.Fatalf("Stop returned (%v) while a patch was in flight", err)
	default:
	}

	close(release)
	if err := recv(t, patched, "the patch answer"); err != nil {
		t.Errorf("in-flight patch: %v", err)
	}
	if err := recv(t, stopped, "Stop"); err != nil {
		t.Errorf("Stop: %v", err)
	}
}

// When Stop's deadline passes with a call still running, Stop cuts it off
// and says so.
func TestStopDeadline(t *testing.T) {
	fake := newFake()
	release := fake.setHold("renew")
	s, c := startServer(t, fake, ServerOptions{})
	renewed := make(chan error, 1)
	go func() {
		_, err := c.Renew(context.Background(), rep)
		renewed <- err
	}()
	recv(t, fake.entered, "the renew to reach the service")

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Stop(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Stop = %v, want context.Canceled", err)
	}
	if err := recv(t, renewed, "the cut-off renew"); err == nil {
		t.Error("the cut-off renew succeeded")
	}
	close(release) // let the held service call return before the leak check
}
