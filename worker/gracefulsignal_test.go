package worker

import (
	"testing"

	"github.com/gowsgi/gowsgi/handoff"
	"github.com/gowsgi/gowsgi/pyshim"
)

// The master's graceful stop signal is among those pyshim keeps Go's
// when Python code takes them: an app or library that installed a
// handler for it (or SIG_IGN) made every graceful stop a kill.
func TestGracefulStopSignalIsGuarded(t *testing.T) {
	if pyshim.GracefulStopSignal != handoff.GracefulStopSignal {
		t.Fatalf("pyshim guards signal %d; the master stops workers with %d", pyshim.GracefulStopSignal, handoff.GracefulStopSignal)
	}
}
