package worker

import (
	"testing"

	"github.com/gowsgi/gowsgi/handoff"
	"github.com/gowsgi/gowsgi/pyshim"
)

// The zygote is C and cannot import handoff: its descriptor numbers
// must agree with the master's by hand.
func TestZygoteDescriptorsAgreeWithHandoff(t *testing.T) {
	if pyshim.ZygoteSocketFD != handoff.ZygoteSocketFD {
		t.Errorf("zygote socket: pyshim %d, handoff %d", pyshim.ZygoteSocketFD, handoff.ZygoteSocketFD)
	}
	// A forked worker gets the request's descriptors in order from
	// ForkedFirstFD: boot pipe, control pipe, listeners.
	if pyshim.ForkedFirstFD != handoff.ConfigFD || handoff.ControlFD != handoff.ConfigFD+1 ||
		handoff.FirstListenerFD != handoff.ConfigFD+2 {
		t.Errorf("forked worker: pyshim starts at %d; handoff has config %d, control %d, listeners %d",
			pyshim.ForkedFirstFD, handoff.ConfigFD, handoff.ControlFD, handoff.FirstListenerFD)
	}
}
