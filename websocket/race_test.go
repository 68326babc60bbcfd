//go:build race

package websocket

// raceEnabled: under the race detector sync.Pool drops items at random,
// so the allocation budgets of pooled paths do not hold.
const raceEnabled = true
