// Package testbin builds the twofactory-tui binary once per test process, for
// tests that run it as a user would: as real processes, not goroutines.
package testbin

import (
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

var (
	once sync.Once
	path string
	err  error
	out  []byte
)

// Path returns the path of a freshly built twofactory-tui, building it on
// the first call (with -race when the tests run with it, so that the
// children are checked too). The binary lives in a temp directory that is
// left for the OS to clean: it is shared by every test of the process.
func Path(t testing.TB) string {
	t.Helper()
	once.Do(func() {
		dir, derr := os.MkdirTemp("", "twofactory-testbin-")
		if derr != nil {
			err = derr
			return
		}
		path = filepath.Join(dir, "twofactory-tui")
		args := []string{"build", "-o", path}
		if raceEnabled {
			args = append(args, "-race")
		}
		args = append(args, "github.com/twofactory/twofactory/cmd/twofactory-tui")
		cmd := exec.Command("go", args...)
		out, err = cmd.CombinedOutput()
	})
	if err != nil {
		t.Fatalf("build twofactory-tui: %v\n%s", err, out)
	}
	return path
}
