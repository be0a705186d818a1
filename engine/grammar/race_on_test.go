//go:build race

package grammar

// raceEnabled: the race detector makes a Mask over a 128k vocabulary some
// hundred times dearer; tests whose figures do not depend on it (work
// units are counted, not timed) run only without it.
const raceEnabled = true
