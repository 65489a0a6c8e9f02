// Package factory is the worker side of the fleet: the factory daemon that
// claims jobs, holds and renews their leases, and the job executor that runs
// one job's engine and reports its stages.
//
// # Two processes per job
//
// The daemon (Run) claims one job at a time and starts an executor for it by
// re-executing its own binary with the hidden "exec-job" subcommand
// (ExecArgs, ParseExecArgs, ExecMain). The executor runs in its own process
// group, so that killing the daemon, even with SIGKILL, leaves it running,
// exactly as a real engine subprocess would survive its supervisor: that
// orphan is the "zombie" the fleet must fence. The daemon writes the
// executor's pid to WorkDir/executor.pid (and a "launch" log line) so that a
// harness can find the orphan after the daemon is gone.
//
// The split also keeps the lease honest: the heartbeat runs in the daemon and
// never waits on the job's work, so a CPU-bound or stalled engine cannot
// starve it; and the executor alone reports stages, each with its epoch, so a
// stale executor is refused (HTTP 409) by the coordinator however late it is.
//
// # The lease, from the factory's side
//
// The daemon renews every min(Config.Renew, TTL/3), where TTL is the lease
// length the coordinator states in each grant and renewal. It never compares
// clocks with the coordinator: it measures the TTL on its own monotonic clock
// from the moment it sent the last renew that was confirmed (a lower bound of
// when the coordinator extended the lease). Transient renew failures
// (network errors, 503, 429) are retried with backoff while that measured
// lease lasts. The lease is lost when a renew is fenced (409) or the measured
// TTL runs out; the daemon then stops the executor (SIGTERM to its group,
// SIGKILL after a grace period), and the executor quarantines what it has.
//
// # Where output goes
//
// The engine writes into WorkDir/out/<job>@<epoch>/. Output leaves that
// directory by one atomic rename only: to ShippedDir/<job> after the
// coordinator accepted "done", or to QuarantineDir/<job>@epoch=<N> in every
// other case (fenced, stopped, failed), so that out/ only ever holds work in
// flight. Both targets must be on the file system of WorkDir; Run checks.
//
// Known gap: an executor that dies between the accepted "done" and its
// rename leaves a job that is done at the coordinator but not shipped; its
// output stays in out/ for an operator to move. Retrying the rename is cheap
// but needs someone to notice, which a later daemon start could do.
//
// # The log
//
// Both processes append to one log file, log-<factory>.txt, opened with
// O_APPEND and written one line per write(2), so their lines interleave but
// never tear. Each line is
//
//	<time RFC 3339, UTC, ms> <event> factory=<id> job=<id> epoch=<n> [key=value ...]
//
// The events, by the process that writes them:
//
//	daemon    claim, launch, renew, renew-failed, lease-lost, renew-end
//	          (the job went final at our epoch), exit (the executor's
//	          outcome and code), release, release-failed, fail
//	executor  stage (an accepted patch), patch-failed (a transient error,
//	          retried), fence (http=409), quarantine, ship, stop, fail,
//	          no-daemon (reporting done with no daemon to quiet)
//
// Every renew is logged; at the fleet's usual lease of 90 s renewed every
// 30 s that is a line a half-minute per job. Values with spaces, quotes or
// "=" are Go-quoted.
package factory
