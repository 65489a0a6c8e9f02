package coord

import (
	"strings"
	"testing"
)

// ValidID is a hand-written matcher of idPattern; the two must agree on
// every input, the edges first and then whatever the fuzzer finds.
func TestValidIDMatchesPattern(t *testing.T) {
	for _, s := range validIDSeeds() {
		if got, want := ValidID(s), idPattern.MatchString(s); got != want {
			t.Errorf("ValidID(%q) = %v, pattern says %v", s, got, want)
		}
	}
}

func FuzzValidIDMatchesPattern(f *testing.F) {
	for _, s := range validIDSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := ValidID(s), idPattern.MatchString(s); got != want {
			t.Fatalf("ValidID(%q) = %v, pattern says %v", s, got, want)
		}
	})
}

func validIDSeeds() []string {
	return []string{"", "a", "Z", "0", ".", "_", "-", "a.", "a_b-c.d", ".a", "-a", "_a",
		"../x", "a/b", "a b", "a\n", "a\x00", "é", "aé", strings.Repeat("a", 64),
		strings.Repeat("a", 65), "mac-1", "j0000001", "A" + strings.Repeat("-", 63)}
}
