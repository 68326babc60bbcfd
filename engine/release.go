package engine

import "runtime/debug"

// After a burst of connections the Go heap they used (about 14 KiB each:
// the conn, its 4 KiB read buffer, its socket state and its goroutine's
// stack) is garbage, but an idle worker allocates nothing, so no
// collection finds it until the runtime's forced one two minutes later;
// and that one's sweep leaves it in 4 MiB chunks that the burst filled,
// which the background scavenger skips for one more cycle (it keeps
// dense chunks whole for huge pages). 4,000 keep-alive connections kept
// a worker at 86 MB of RSS instead of 27 for four minutes.
//
// releaseBurstConns is how far the open connections must fall from their
// peak, and to half of it at most, for ReleaseAfterBurst to hand the
// memory back at once: about 3.5 MiB of connections. Below that the
// runtime's own pace is good enough.
const releaseBurstConns = 256

// notePeak records the open connections' high-water mark. Called with mu
// held, conns already counting the new connection.
func (s *Server) notePeak() {
	if n := len(s.conns); n > s.peakConns {
		s.peakConns = n
	}
}

// ReleaseAfterBurst returns the memory of connections that ended to the
// operating system, once their number fell by releaseBurstConns or more
// from its high-water mark since the last release and to half of it at
// most, and reports whether it did. The worker calls it every second; a
// burst that ebbs away costs a few releases, each a collection of the
// heap that is left (small) and the return of its free pages.
func (s *Server) ReleaseAfterBurst() bool {
	s.mu.Lock()
	open := len(s.conns)
	if s.peakConns-open < releaseBurstConns || open > s.peakConns/2 {
		s.mu.Unlock()
		return false
	}
	s.peakConns = open
	s.mu.Unlock()
	debug.FreeOSMemory()
	return true
}
