// Package view is the front end of twofactory: a bubbletea dashboard that
// draws the fleet live while the scenario runs (or while observing a fleet),
// a headless printer that writes the scenario as plain lines for CI, and the
// RESULTS formatter both of them end with.
//
// The dashboard reads state from three places only: the scenario's typed
// orchestrate.Progress values, decoded coordinator events (followed from
// events.log, or handed over on a channel in API mode), and tick messages
// for its own clock. Job state is always the fold of the events through the
// one reducer, coord.State; nothing here parses events.log itself.
package view
