package handoff

import "math"

// FDReserve is the part of a worker's file descriptor limit kept for
// its own files (listeners, logs, pipes, spilled request bodies, the
// app's files and sockets) rather than client connections.
const FDReserve = 256

// ConnLimit is how many client connections a worker keeps open: the
// configured --worker-connections, lowered to what the descriptor limit
// nofile leaves after FDReserve (at least 16).
//
//	ConnLimit(20000, 1048576) = 20000
//	ConnLimit(20000, 1024) = 768
func ConnLimit(configured int, nofile uint64) int {
	limit := max(configured, 1)
	if nofile >= math.MaxInt32 {
		return limit
	}
	if room := int(nofile) - FDReserve; room < limit {
		limit = max(room, 16)
	}
	return limit
}
