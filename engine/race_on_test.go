//go:build race

package engine

// raceEnabled: the race detector's instrumentation allocates, so the
// allocation tests measure only without it (`make unit` runs them).
const raceEnabled = true
