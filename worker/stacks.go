package worker

import (
	"os"
	"os/signal"

	"github.com/gowsgi/gowsgi/handoff"
)

// answerStacks sends the Python stack of every thread to the master
// each time it asks (handoff.StacksSignal, for gowsgi stack PID). The
// dump reads the frames without the GIL, so the app keeps running and a
// thread stuck holding the GIL is shown too.
func (p *process) answerStacks() {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, handoff.StacksSignal)
	for range sigs {
		dump, err := pythonStacks()
		if err != nil {
			dump = "cannot read the Python stacks: " + err.Error() + "\n"
		}
		for _, line := range handoff.StacksLines(dump) {
			p.ctl.WriteString(line + "\n")
		}
	}
}
