package view

import (
	"fmt"
	"strings"

	"github.com/twofactory/twofactory/internal/orchestrate"
)

// badge is where a guarantee stands on screen.
type badge int

// Live badges move pending -> watching/partial -> seen as evidence comes in;
// PASS and FAIL come only from the scenario's Results, except that a
// violation seen live is a FAIL at once.
const (
	badgePending  badge = iota
	badgeWatching       // (a): nothing broken so far
	badgePartial        // (b): a reclaim or a fence, not yet both
	badgeSeen           // all the evidence seen; waiting for the verdict
	badgePass
	badgeFail
)

// label is the badge as printed, padded to one width so rows line up.
func (b badge) label() string {
	switch b {
	case badgeWatching:
		return " ok? "
	case badgePartial:
		return "part "
	case badgeSeen:
		return "seen "
	case badgePass:
		return "PASS "
	case badgeFail:
		return "FAIL "
	default:
		return " ..  "
	}
}

// guaranteeRow is one guarantee as the dashboard shows it.
type guaranteeRow struct {
	name     orchestrate.Guarantee
	badge    badge
	evidence string
}

// liveHints is the scenario's own word on evidence, for when the events do
// not show it (API mode without an event stream).
type liveHints struct {
	parallel string
	reclaim  string
	fence    string
}

// guaranteeRows returns the three rows: final from res when the scenario
// judged, else live from the evidence.
func guaranteeRows(ev evidence, hints liveHints, res *orchestrate.Results) []guaranteeRow {
	if res != nil && len(res.Guarantees) > 0 {
		rows := make([]guaranteeRow, 0, len(res.Guarantees))
		for _, g := range res.Guarantees {
			b := badgeFail
			if g.Pass {
				b = badgePass
			}
			rows = append(rows, guaranteeRow{name: g.Name, badge: b, evidence: clean(g.Evidence)})
		}
		return rows
	}
	return []guaranteeRow{liveDoubleAssign(ev), liveFencing(ev, hints), liveParallel(ev, hints)}
}

// liveDoubleAssign judges (a) so far: no epoch granted twice, no job done
// twice.
func liveDoubleAssign(ev evidence) guaranteeRow {
	row := guaranteeRow{name: orchestrate.GuaranteeNoDoubleAssign}
	if v := violationsOf(ev, row.name); v != "" {
		row.badge, row.evidence = badgeFail, v
		return row
	}
	if ev.claims == 0 {
		row.evidence = "waiting for claims"
		return row
	}
	row.badge = badgeWatching
	row.evidence = fmt.Sprintf("%d claims, %d ships, no epoch granted twice so far",
		ev.claims, ev.ships)
	return row
}

// liveFencing judges (b) so far: a reclaim and a fence seen, and no stale
// report accepted.
func liveFencing(ev evidence, hints liveHints) guaranteeRow {
	row := guaranteeRow{name: orchestrate.GuaranteeFencing}
	if v := violationsOf(ev, row.name); v != "" {
		row.badge, row.evidence = badgeFail, v
		return row
	}
	reclaim := firstOf(ev.reclaims, hints.reclaim)
	fence := firstOf(ev.fences, hints.fence)
	switch {
	case reclaim != "" && fence != "":
		row.badge = badgeSeen
		row.evidence = "reclaim " + reclaim + "; fence " + fence
	case reclaim != "":
		row.badge = badgePartial
		row.evidence = "reclaim " + reclaim + "; waiting for a fence"
	case fence != "":
		row.badge = badgePartial
		row.evidence = "fence " + fence + "; waiting for a reclaim"
	default:
		row.evidence = "waiting for a reclaim and a fence"
	}
	return row
}

// liveParallel judges (c) so far: two factories holding jobs at once.
func liveParallel(ev evidence, hints liveHints) guaranteeRow {
	row := guaranteeRow{name: orchestrate.GuaranteeParallelism}
	if p := firstOf(nil, ev.parallel, hints.parallel); p != "" {
		row.badge, row.evidence = badgeSeen, p
		return row
	}
	row.evidence = "waiting for two factories to hold jobs at once"
	return row
}

// violationsOf joins the live violations of guarantee g.
func violationsOf(ev evidence, g orchestrate.Guarantee) string {
	var parts []string
	for _, v := range ev.violations {
		if v.g == g {
			parts = append(parts, v.text)
		}
	}
	return strings.Join(parts, "; ")
}

// firstOf returns the first of list, else the first non-empty alternative.
func firstOf(list []string, alts ...string) string {
	if len(list) > 0 {
		return list[0]
	}
	for _, a := range alts {
		if a != "" {
			return a
		}
	}
	return ""
}
