package coord

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package when a test leaves a goroutine behind: a log
// committer, a reaper or a checkpointer of a coordinator never closed.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
