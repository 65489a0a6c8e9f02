package view

import (
	"strings"
	"testing"
	"time"

	"github.com/twofactory/twofactory/internal/coord"
	"github.com/twofactory/twofactory/internal/orchestrate"
)

func TestFleetFoldsTheDemo(t *testing.T) {
	before, after := demoHistory()
	f := newFleet([]string{"mac-1", "ubuntu-1"})
	for _, e := range append(before, after...) {
		if !f.apply(e) {
			t.Fatalf("event %d (%s) not applied: %s", e.Seq, e.Label(), f.lastErr)
		}
	}

	for _, id := range []string{"job-1", "job-2", "job-3"} {
		if st := f.state.Jobs[id].Stage; st != coord.StageDone {
			t.Errorf("%s stage = %s, want done", id, st)
		}
	}
	if got := f.notes["job-1"].reclaimedFrom; len(got) != 1 || got[0] != "mac-1@e1" {
		t.Errorf("job-1 reclaimed from = %v, want [mac-1@e1]", got)
	}
	if got := f.notes["job-1"].fenced; len(got) != 1 || got[0] != "e1 mac-1" {
		t.Errorf("job-1 fenced = %v, want [e1 mac-1]", got)
	}
	if f.shipped["ubuntu-1"] != 3 || f.shipped["mac-1"] != 0 {
		t.Errorf("shipped = %v, want ubuntu-1:3 only", f.shipped)
	}
	if !f.fencedBy["mac-1"] || f.fencedBy["ubuntu-1"] {
		t.Errorf("fencedBy = %v, want mac-1 only", f.fencedBy)
	}
	if f.ev.parallel == "" || !strings.Contains(f.ev.parallel, "#5") {
		t.Errorf("parallel evidence = %q, want it seen at event #5", f.ev.parallel)
	}
	if len(f.ev.reclaims) != 1 || len(f.ev.fences) != 1 || len(f.ev.violations) != 0 {
		t.Errorf("evidence = %+v, want one reclaim, one fence, no violation", f.ev)
	}
	if got := strings.Join(f.factories, ","); got != "mac-1,ubuntu-1" {
		t.Errorf("factories = %s, want mac-1,ubuntu-1", got)
	}
}

func TestFleetSkipsResentAndRejectsUnknown(t *testing.T) {
	before, _ := demoHistory()
	f := newFleet(nil)
	for _, e := range before {
		f.apply(e)
	}
	if f.apply(before[2]) {
		t.Error("a resent event was applied again")
	}
	ghost := coord.Event{Seq: 99, Type: coord.EvClaim, Job: "nope", Factory: "mac-1", Epoch: 1}
	if f.apply(ghost) {
		t.Error("an event for an unknown job was applied")
	}
	if f.skipped != 1 || f.rejected != 1 || f.lastErr == "" {
		t.Errorf("skipped=%d rejected=%d lastErr=%q, want 1, 1, a reason",
			f.skipped, f.rejected, f.lastErr)
	}
}

func TestFleetSeesViolations(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name  string
		build func(h *history)
		g     orchestrate.Guarantee
		want  string
	}{
		{
			name: "epoch granted twice",
			build: func(h *history) {
				h.add(ms, coord.EvClaim, "job-1", "mac-1", 1,
					held(coord.StageClaimed, "mac-1", 1, ms))
				h.add(2*ms, coord.EvClaim, "job-1", "ubuntu-1", 1,
					held(coord.StageClaimed, "ubuntu-1", 1, 2*ms))
			},
			g:    orchestrate.GuaranteeNoDoubleAssign,
			want: "epoch 1 granted to mac-1 and to ubuntu-1",
		},
		{
			name: "stale done accepted",
			build: func(h *history) {
				h.add(ms, coord.EvClaim, "job-1", "mac-1", 1,
					held(coord.StageClaimed, "mac-1", 1, ms))
				h.add(2*ms, coord.EvReclaim, "job-1", "", 1, queued(2))
				h.add(3*ms, coord.EvClaim, "job-1", "ubuntu-1", 2,
					held(coord.StageClaimed, "ubuntu-1", 2, 3*ms))
				h.add(4*ms, coord.EvPatch, "job-1", "mac-1", 1, done(2))
			},
			g:    orchestrate.GuaranteeFencing,
			want: "PATCH:done from mac-1 at epoch 1 accepted",
		},
		{
			name: "done twice",
			build: func(h *history) {
				h.add(ms, coord.EvClaim, "job-1", "mac-1", 1,
					held(coord.StageClaimed, "mac-1", 1, ms))
				h.add(2*ms, coord.EvPatch, "job-1", "mac-1", 1, done(1))
				h.add(3*ms, coord.EvPatch, "job-1", "", 1, done(1))
			},
			g:    orchestrate.GuaranteeNoDoubleAssign,
			want: "job-1 reported done 2 times",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h history
			h.add(0, coord.EvSubmit, "job-1", "", 1, queued(1))
			tt.build(&h)
			f := newFleet(nil)
			for _, e := range h.events {
				f.apply(e)
			}
			got := violationsOf(f.ev, tt.g)
			if !strings.Contains(got, tt.want) {
				t.Errorf("violations of %q = %q, want it to contain %q (all: %+v)",
					tt.g, got, tt.want, f.ev.violations)
			}
		})
	}
}

func TestFleetLiveLeases(t *testing.T) {
	before, _ := demoHistory()
	f := newFleet(nil)
	for _, e := range before {
		f.apply(e)
	}
	expiry := f.state.Jobs["job-2"].ExpiresAt
	if !f.liveLeases(expiry.Add(-time.Millisecond)) {
		t.Error("no live lease just before the last expiry")
	}
	if f.liveLeases(expiry) {
		t.Error("a live lease at the last expiry")
	}
}

func TestFactoryStatus(t *testing.T) {
	tests := []struct {
		mk      factoryMarks
		holding bool
		fenced  bool
		want    factoryStatus
	}{
		{factoryMarks{}, true, false, statusRunning},
		{factoryMarks{}, false, false, statusIdle},
		{factoryMarks{}, false, true, statusIdle}, // a live factory fenced once is not a zombie
		{factoryMarks{killed: true}, true, false, statusKilled},
		{factoryMarks{killed: true, frozen: true}, true, false, statusZombieFrozen},
		{factoryMarks{killed: true, frozen: true, thawed: true}, false, false, statusKilled},
		{factoryMarks{killed: true, frozen: true, thawed: true}, false, true, statusZombieFenced},
		{factoryMarks{killed: true, fenced: true}, false, false, statusZombieFenced},
	}
	for _, tt := range tests {
		if got := statusOf(tt.mk, tt.holding, tt.fenced); got != tt.want {
			t.Errorf("statusOf(%+v, holding=%v, fenced=%v) = %q, want %q",
				tt.mk, tt.holding, tt.fenced, got, tt.want)
		}
	}
}
