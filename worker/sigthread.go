package worker

import (
	"runtime"

	"golang.org/x/sys/unix"
)

// signalThread gives a goroutine an OS thread of its own, for good, and
// returns that thread's id, which the master sends its abort and stack
// signals to (handoff.SignalThreadLine says why). The thread runs no Go
// code after this, and never Python: a signal sent to it interrupts
// nothing but its idle wait, and Go's handler, which runs on it, hands
// the signal to signal.Notify's channels as for any other thread.
func signalThread() int {
	tid := make(chan int)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread belongs to this goroutine
		tid <- unix.Gettid()
		select {}
	}()
	return <-tid
}
