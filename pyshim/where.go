package pyshim

/*
#include "pyshim.h"
*/
import "C"

import (
	"sync/atomic"
	"unsafe"
)

// Stage is how far the call in flight on an Exchange has gone into
// Python, for the log of a worker stuck past --timeout.
type Stage int

const (
	// StageOut: no Call, Next or Abort of the Exchange is in C.
	StageOut Stage = C.GW_STAGE_OUT
	// StageWaiting: one is, waiting for the GIL (another thread holds
	// it).
	StageWaiting Stage = C.GW_STAGE_WAITING
	// StageRunning: one holds the GIL: running the app, or pyshim's own
	// code just before or after it (the environ, a list's items).
	StageRunning Stage = C.GW_STAGE_RUNNING
)

// Where tells where the Exchange's call is: its Stage and, unless
// StageOut, the ident of its OS thread (ThreadIdent there; the "Thread
// 0x..." of a DumpTracebacks dump). It may be called from any goroutine,
// without the GIL, while the call runs: the C side stores the thread
// before the stage, and the two loads here go the other way, so a stage
// other than StageOut comes with its thread (a newer call's, if one
// began between the loads: the answer is a moment's, for a log).
func (x *Exchange) Where() (Stage, uint64) {
	stage := Stage(atomic.LoadInt32((*int32)(unsafe.Pointer(&x.where.stage))))
	if stage == StageOut {
		return StageOut, 0
	}
	return stage, atomic.LoadUint64((*uint64)(unsafe.Pointer(&x.where.thread)))
}
