// Package crashtest proves the coordinator's guarantees with real
// processes: the built twofactory-tui binary serving a data directory,
// claimed from by several processes at once, killed with SIGKILL while
// clients hammer it, stopped with SIGTERM, and refused a second owner of
// its directory. It holds tests only.
package crashtest

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package when a test leaves a goroutine behind (a
// stderr reader, an HTTP client's connection), after the tests have run.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
