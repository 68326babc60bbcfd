package handoff

import (
	"strconv"
	"strings"
	"time"
)

// Control messages, one per line, from a worker to the master on
// ControlFD. Heartbeat lines are described by Heartbeat.
const (
	// MsgReady: the app is loaded and the worker accepts connections.
	MsgReady = "ready"
	// MsgRetire: the worker asks to be replaced (it served its
	// --max-requests, a hook set worker.alive = False, it is out of
	// descriptors). It keeps serving until the master, once a
	// replacement is ready, sends it TERM; its requests may then take up
	// to --timeout.
	MsgRetire = "retire"
	// MsgRetireStuck is MsgRetire from a worker with a call that did not
	// stop at --request-timeout: once replaced, it gets
	// --graceful-timeout, not --timeout, before it is killed.
	MsgRetireStuck = "retire stuck"
	// MsgAborted: after AbortSignal the worker logged its Python stacks;
	// the master may SIGKILL it now rather than at the deadline.
	MsgAborted = "aborted"
	// MsgTermed: the worker got TERM, not from the master. It serves on
	// until the master sends GracefulStopSignal: at once for a TERM sent
	// to this worker alone, after emptying the accept queues when the
	// master is stopping too.
	MsgTermed = "termed"
	// MsgExiting: the worker's requests are done; it now shuts down
	// (an ASGI app's background tasks and lifespan shutdown, worker_exit,
	// atexit) and sends no more heartbeats, bounded by
	// --graceful-timeout only.
	MsgExiting = "exiting"
)

// Heartbeat is a worker's liveness report, sent every
// HeartbeatInterval(--timeout) while the timeout is on. Liveness is the
// age of the oldest Python call in flight, measured by a goroutine that
// runs even while the app holds the GIL; a worker that stops sending
// heartbeats at all is frozen.
type Heartbeat struct {
	// CallAge is how long the oldest Python call in flight has run when
	// the line was written; 0 when no call is in flight.
	CallAge time.Duration
	// Method and Path are the request of that call.
	Method, Path string
}

const (
	heartbeatWord = "alive"
	// maxHeartbeatPath keeps a line short whatever the request target.
	maxHeartbeatPath = 256
)

// Line encodes h without the newline: the word "alive", the call age in
// whole milliseconds, then, for a call in flight, its method and path
// when known:
//
//	alive 0
//	alive 1500 GET /report?year=2024
func (h Heartbeat) Line() string {
	ms := h.CallAge.Milliseconds()
	if h.CallAge > 0 && ms == 0 {
		ms = 1 // a call in flight is never reported as none
	}
	line := heartbeatWord + " " + strconv.FormatInt(ms, 10)
	if ms == 0 || h.Method == "" { // an ASGI loop's stall may name no request
		return line
	}
	path := h.Path
	if len(path) > maxHeartbeatPath {
		path = path[:maxHeartbeatPath]
	}
	return line + " " + h.Method + " " + path
}

// ParseHeartbeat decodes a line written by Heartbeat.Line; ok is false
// when line is not a heartbeat.
func ParseHeartbeat(line string) (h Heartbeat, ok bool) {
	rest, found := strings.CutPrefix(line, heartbeatWord+" ")
	if !found {
		return Heartbeat{}, false
	}
	num, call, _ := strings.Cut(rest, " ")
	ms, err := strconv.ParseInt(num, 10, 64)
	if err != nil || ms < 0 {
		return Heartbeat{}, false
	}
	h.CallAge = time.Duration(ms) * time.Millisecond
	if ms > 0 {
		h.Method, h.Path, _ = strings.Cut(call, " ")
	}
	return h, true
}

// HeartbeatInterval is how often a worker reports its liveness for a
// given --timeout: four reports per timeout, between 20ms and 1s. The
// master declares a worker frozen after a whole timeout of silence.
func HeartbeatInterval(timeout time.Duration) time.Duration {
	return min(max(timeout/4, 20*time.Millisecond), time.Second)
}
