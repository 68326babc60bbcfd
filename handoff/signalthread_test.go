package handoff

import "testing"

func TestSignalThreadLine(t *testing.T) {
	if got := SignalThreadLine(4137); got != "signal-thread 4137" {
		t.Fatalf("SignalThreadLine(4137) = %q", got)
	}
	if tid, ok := ParseSignalThread(SignalThreadLine(4137)); !ok || tid != 4137 {
		t.Fatalf("round trip = %d, %v; want 4137", tid, ok)
	}
	for _, line := range []string{"signal-thread", "signal-thread ", "signal-thread 0", "signal-thread -3",
		"signal-thread 12x", "signal-thread  12", "alive 12", "ready"} {
		if tid, ok := ParseSignalThread(line); ok {
			t.Errorf("ParseSignalThread(%q) = %d, true; want false", line, tid)
		}
	}
}
