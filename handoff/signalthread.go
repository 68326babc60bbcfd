package handoff

import (
	"strconv"
	"strings"
)

// A worker names, before MsgReady, an OS thread of its own that never
// runs Python, and the master sends AbortSignal and StacksSignal to that
// thread (tgkill) rather than to the process. Sent to the process, the
// kernel may deliver a signal on any thread, one in the app's C code
// too, and a blocking call there (sleep(3), poll(2), a driver's wait)
// returns early with EINTR even with SA_RESTART: the stuck call that
// --timeout is about would move on, and a stack dump would change what
// the app does. Gunicorn's single-threaded worker cannot avoid it.
const signalThreadWord = "signal-thread"

// SignalThreadLine encodes the thread id tid:
//
//	signal-thread 4137
func SignalThreadLine(tid int) string {
	return signalThreadWord + " " + strconv.Itoa(tid)
}

// ParseSignalThread decodes a line written by SignalThreadLine; ok is
// false when line is not one, or names no valid thread id.
func ParseSignalThread(line string) (tid int, ok bool) {
	num, found := strings.CutPrefix(line, signalThreadWord+" ")
	if !found {
		return 0, false
	}
	tid, err := strconv.Atoi(num)
	if err != nil || tid <= 0 {
		return 0, false
	}
	return tid, true
}
