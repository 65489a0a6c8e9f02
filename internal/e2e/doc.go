// Package e2e holds end-to-end tests that run the real twofactory-tui binary
// inside tmux, at fixed terminal sizes, the way a person sees the dashboard:
// they type keys with send-keys, read the screen with capture-pane, and wait
// for text on it with a deadline, never for a guessed time. After each run
// they check the exit code, that the terminal is back in line mode with echo
// on, that the verdict was printed on the normal screen, and that no process
// of the run is left.
//
// The tests skip when tmux is not installed (Debian package "tmux"). The
// latency measurement behind docs/dashboard.md runs only when
// TWOFACTORY_E2E_LATENCY=1 is set.
package e2e
