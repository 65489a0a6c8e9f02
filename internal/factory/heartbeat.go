package factory

import (
	"context"
	"errors"
	"time"

	"github.com/twofactory/twofactory/internal/coord"
)

// beatEnd is how a heartbeat ended.
type beatEnd int

const (
	// beatStopped: its context ended (the job ended or the daemon stopped).
	beatStopped beatEnd = iota
	// beatQuiet: the executor asked for quiet before reporting done.
	beatQuiet
	// beatFinal: a renew found the job final at our epoch, so our own
	// executor finished it; nothing is wrong.
	beatFinal
	// beatLost: the lease is lost (fenced, or its TTL ran out unconfirmed);
	// the job must be stopped.
	beatLost
)

// heartbeat keeps one lease alive. It runs in the daemon, in its own
// goroutine, and depends on nothing the job does, so a busy or stalled
// engine cannot make it late.
//
// Its clock is the daemon's monotonic one. It counts the lease from the
// moment it sent the last request the coordinator confirmed (the claim, then
// each renew): the coordinator extended the lease no earlier than that, so
// the factory's idea of the deadline is never later than the coordinator's,
// whatever their wall clocks say.
type heartbeat struct {
	svc    coord.Service
	log    *jobLog
	report coord.Report
	every  func(ttl time.Duration) time.Duration
	ttl    time.Duration
	// confirmed is when the last confirmed request was sent.
	confirmed time.Time
	// quiet receives the executor's request to stop renewing; the heartbeat
	// closes the channel it is sent once no renew is in flight.
	quiet chan chan struct{}
	now   func() time.Time
}

// deadline is when the lease ends unless a renew is confirmed first.
func (h *heartbeat) deadline() time.Time { return h.confirmed.Add(h.ttl) }

// run renews until ctx ends, the executor asks for quiet, or the lease is
// lost, and says which.
func (h *heartbeat) run(ctx context.Context) beatEnd {
	every := h.every(h.ttl)
	bo := newBackoff(max(every/8, time.Millisecond), every)
	next := h.confirmed.Add(every)
	for {
		if end, done := h.wait(ctx, next); done {
			return end
		}
		if !h.now().Before(h.deadline()) {
			h.lost("expired", "since", h.now().Sub(h.confirmed).String())
			return beatLost
		}
		err := h.renewOnce(ctx)
		switch {
		case err == nil:
			bo.reset()
			every = h.every(h.ttl)
			next = h.confirmed.Add(every)
		case ctx.Err() != nil:
			return beatStopped
		case errors.Is(err, coord.ErrFenced) || errors.Is(err, coord.ErrNotFound):
			return h.refused(ctx, err)
		default:
			wait := bo.next(err)
			h.line("renew-failed", "err", err.Error(), "retry", wait.String(),
				"left", h.deadline().Sub(h.now()).String())
			next = h.now().Add(wait)
		}
	}
}

// wait sleeps until t, or the lease deadline if sooner, and reports done
// with the reason when the heartbeat must end instead.
func (h *heartbeat) wait(ctx context.Context, t time.Time) (beatEnd, bool) {
	timer := time.NewTimer(min(t.Sub(h.now()), h.deadline().Sub(h.now())))
	defer timer.Stop()
	select {
	case <-timer.C:
		return 0, false
	case <-ctx.Done():
		return beatStopped, true
	case ack := <-h.quiet:
		close(ack)
		return beatQuiet, true
	}
}

// renewOnce sends one renew, bounded by the lease deadline: an answer that
// comes later is of no use, since the lease may be gone by then.
func (h *heartbeat) renewOnce(ctx context.Context) error {
	rctx, cancel := context.WithDeadline(ctx, h.deadline())
	defer cancel()
	sent := h.now()
	lease, err := h.svc.Renew(rctx, h.report)
	if err != nil {
		return err
	}
	h.confirmed = sent
	if lease.TTL > 0 {
		h.ttl = lease.TTL
	}
	h.line("renew", "ttl", h.ttl.String())
	return nil
}

// refused handles a fenced (or vanished) job: it is lost, unless our own
// executor's done or failed got there first, which the fence's detail (or
// a look at the job) shows as a final job still at our epoch.
func (h *heartbeat) refused(ctx context.Context, err error) beatEnd {
	if h.finalAtOurEpoch(ctx, err) {
		h.line("renew-end", "reason", "job-final")
		return beatFinal
	}
	h.line("renew-failed", "http", httpCode(err), "err", err.Error())
	h.lost("fenced")
	return beatLost
}

func (h *heartbeat) finalAtOurEpoch(ctx context.Context, err error) bool {
	var fe *coord.FenceError
	if errors.As(err, &fe) && fe.Current != 0 {
		return fe.Current == h.report.Epoch && fe.Reason == coord.ReasonNotHeld
	}
	gctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	j, gerr := h.svc.Get(gctx, h.report.Job)
	return gerr == nil && j.Stage.Terminal() && j.Epoch == h.report.Epoch
}

func (h *heartbeat) lost(reason string, kv ...string) {
	h.line("lease-lost", append([]string{"reason", reason}, kv...)...)
}

func (h *heartbeat) line(event string, kv ...string) {
	// A log write failure must not end the heartbeat; the daemon's own
	// diagnostics report the broken log when it next writes a line.
	_ = h.log.line(event, h.report.Job, h.report.Epoch, kv...)
}

// httpCode is the status the API uses for a refusal, for log lines.
func httpCode(err error) string {
	if errors.Is(err, coord.ErrNotFound) {
		return "404"
	}
	return "409"
}
