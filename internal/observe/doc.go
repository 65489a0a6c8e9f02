// Package observe watches a fleet it does not drive: it reads a
// coordinator's events, from its data directory's events.log (through the
// follower) or from its HTTP events long poll, and hands them on as
// view.EventsMsg batches, optionally judged by the invariant checker as they
// arrive.
//
// Nothing here ever writes to the coordinator or its directory: the file is
// only opened for reading, and the API is only asked for events.
//
// Memory is bounded by the number of jobs, not of lines: every batch is
// folded (by the checker, or by the dashboard's reducer) and dropped, and
// only the dashboard keeps a window of recent lines for display.
package observe
