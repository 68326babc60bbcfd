package master

import "syscall"

// signalApp sends sig, a signal that asks w about its app (the abort
// and stack signals), to the thread w named for it, so that the kernel
// does not deliver it on a thread in the app's C code and cut a blocking
// call there short (handoff.SignalThreadLine). Until w names one, or if
// the thread is gone, sig goes to the process.
func (a *arbiter) signalApp(w *workerProc, sig syscall.Signal) {
	if w.signalTID != 0 && a.env.signalThread(w.pid, w.signalTID, sig) == nil {
		return
	}
	a.env.signal(w.pid, sig)
}
