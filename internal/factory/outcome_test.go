package factory

import "testing"

func TestOutcomeExitCodes(t *testing.T) {
	tests := []struct {
		o    Outcome
		code int
		name string
	}{
		{Shipped, 0, "shipped"},
		{Fenced, 10, "fenced"},
		{Failed, 11, "failed"},
		{Stopped, 12, "stopped"},
		{Outcome(0), 11, "outcome(0)"}, // the zero value must never exit 0
	}
	for _, tt := range tests {
		if got := tt.o.ExitCode(); got != tt.code {
			t.Errorf("%v.ExitCode() = %d, want %d", tt.o, got, tt.code)
		}
		if got := tt.o.String(); got != tt.name {
			t.Errorf("String() = %q, want %q", got, tt.name)
		}
		if tt.o == 0 {
			continue
		}
		if back, ok := OutcomeOf(tt.code); !ok || back != tt.o {
			t.Errorf("OutcomeOf(%d) = %v, %v; want %v", tt.code, back, ok, tt.o)
		}
	}
	for _, code := range []int{-1, 1, ExitUsage, 13} {
		if o, ok := OutcomeOf(code); ok {
			t.Errorf("OutcomeOf(%d) = %v, want none", code, o)
		}
	}
}
