package coord

import (
	"testing"
	"time"
)

// parseLogTime is a fast path of time.Parse(timeLayout, ...): on every
// input both must accept or both refuse, with the same instant.
func TestParseLogTimeMatchesTimeParse(t *testing.T) {
	for _, s := range logTimeSeeds() {
		checkLogTime(t, s)
	}
}

func FuzzParseLogTimeMatchesTimeParse(f *testing.F) {
	for _, s := range logTimeSeeds() {
		f.Add(s)
	}
	f.Fuzz(checkLogTime)
}

func checkLogTime(t *testing.T, s string) {
	got, gerr := parseLogTime(s)
	want, werr := time.Parse(timeLayout, s)
	if (gerr == nil) != (werr == nil) || !got.Equal(want) || got.Location() != want.Location() {
		t.Fatalf("parseLogTime(%q) = %v, %v; time.Parse = %v, %v", s, got, gerr, want, werr)
	}
}

func logTimeSeeds() []string {
	return []string{
		"2026-12-04T10:00:00.000000000Z", "2026-12-04T10:00:00.123456789Z",
		"0000-01-01T00:00:00.000000000Z", "9999-12-31T23:59:59.999999999Z",
		"2024-02-29T00:00:00.000000000Z", "2026-02-29T00:00:00.000000000Z",
		"2026-04-31T00:00:00.000000000Z", "2026-13-01T00:00:00.000000000Z",
		"2026-00-01T00:00:00.000000000Z", "2026-01-00T00:00:00.000000000Z",
		"2026-01-01T24:00:00.000000000Z", "2026-01-01T00:60:00.000000000Z",
		"2026-01-01T00:00:60.000000000Z", "2026-01-01T00:00:00.00000000xZ",
		"2026-01-01T00:00:00.000000000", "2026-01-01T00:00:00Z", "+026-01-01T00:00:00.000000000Z",
		"2026-1-01T00:00:00.0000000000Z", "",
	}
}
