package view

import (
	"strings"
	"testing"

	"github.com/twofactory/twofactory/internal/orchestrate"
)

func TestGuaranteeRowsLive(t *testing.T) {
	tests := []struct {
		name  string
		ev    evidence
		hints liveHints
		want  [3]badge
		words [3]string
	}{
		{name: "nothing yet", want: [3]badge{badgePending, badgePending, badgePending},
			words: [3]string{"waiting", "waiting", "waiting"}},
		{name: "claims and parallel",
			ev:    evidence{claims: 2, parallel: "mac-1 and ubuntu-1"},
			want:  [3]badge{badgeWatching, badgePending, badgeSeen},
			words: [3]string{"2 claims", "waiting", "mac-1 and ubuntu-1"}},
		{name: "reclaim only",
			ev:    evidence{claims: 2, reclaims: []string{"job-1 from mac-1"}},
			want:  [3]badge{badgeWatching, badgePartial, badgePending},
			words: [3]string{"", "waiting for a fence", ""}},
		{name: "reclaim and fence",
			ev:    evidence{claims: 3, reclaims: []string{"job-1"}, fences: []string{"mac-1 e1"}},
			want:  [3]badge{badgeWatching, badgeSeen, badgePending},
			words: [3]string{"", "fence mac-1 e1", ""}},
		{name: "hints from progress alone",
			hints: liveHints{parallel: "both busy", reclaim: "reclaimed", fence: "409"},
			want:  [3]badge{badgePending, badgeSeen, badgeSeen},
			words: [3]string{"", "fence 409", "both busy"}},
		{name: "violation is a FAIL at once",
			ev: evidence{claims: 3, reclaims: []string{"job-1"}, fences: []string{"x"},
				violations: []violation{{orchestrate.GuaranteeFencing, "stale done accepted"}}},
			want:  [3]badge{badgeWatching, badgeFail, badgePending},
			words: [3]string{"", "stale done accepted", ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rows := guaranteeRows(tt.ev, tt.hints, nil)
			for i, r := range rows {
				if r.badge != tt.want[i] {
					t.Errorf("%s badge = %q, want %q", r.name, r.badge.label(), tt.want[i].label())
				}
				if !strings.Contains(r.evidence, tt.words[i]) {
					t.Errorf("%s evidence = %q, want it to contain %q",
						r.name, r.evidence, tt.words[i])
				}
			}
		})
	}
}

func TestGuaranteeRowsFinalComeFromResults(t *testing.T) {
	ev := evidence{claims: 3, parallel: "seen"}
	rows := guaranteeRows(ev, liveHints{}, failResults())
	want := []badge{badgePass, badgeFail, badgePass}
	for i, r := range rows {
		if r.badge != want[i] {
			t.Errorf("%s badge = %q, want %q", r.name, r.badge.label(), want[i].label())
		}
	}
	if !strings.Contains(rows[1].evidence, "no 409") {
		t.Errorf("fencing evidence = %q, want the judged evidence", rows[1].evidence)
	}
}
