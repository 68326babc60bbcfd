package engine

import (
	"testing"
	"time"
)

// OldestStuckCall names the longest-running call, for the heartbeat's
// liveness; CallsBegun counts calls for --max-requests, resumed ones
// (a parked response taking a slot again) once.
func TestOldestCallAndCallsBegun(t *testing.T) {
	s := &Server{allSlots: []*slot{{index: 0}, {index: 1}}}
	now := time.Now()
	if call, ok := s.OldestStuckCall(now); ok || call.Age != 0 {
		t.Fatalf("idle slots report a call %v old", call.Age)
	}
	s.allSlots[0].call.begin([]byte("POST"), []byte("/newer"), nil, now.Add(-time.Second))
	s.allSlots[1].call.begin([]byte("GET"), []byte("/older"), nil, now.Add(-3*time.Second))
	if c, _ := s.OldestStuckCall(now); c.Age != 3*time.Second || c.Method != "GET" || c.Path != "/older" {
		t.Fatalf("oldest call %v %s %s; want 3s GET /older", c.Age, c.Method, c.Path)
	}
	s.allSlots[1].call.end()
	s.allSlots[1].call.resume([]byte("GET"), []byte("/parked"), nil, now)
	if c, _ := s.OldestStuckCall(now); c.Age != time.Second || c.Path != "/newer" {
		t.Fatalf("after the end and a resume: %v %s; want 1s /newer", c.Age, c.Path)
	}
	if n := s.CallsBegun(); n != 2 {
		t.Fatalf("%d calls begun; want 2 (a resumed call is not a new one)", n)
	}
}

// placedCaller is a Caller that knows where its call is.
type placedCaller struct {
	Caller
	place CallPlace
}

func (c placedCaller) Locate() CallPlace { return c.place }

// OldestStuckCall asks the oldest call's own Caller where it is: the
// one recorded when its request took the slot, or took one again after
// parking, not the Caller of another slot.
func TestOldestStuckCallLocatesTheOldestCall(t *testing.T) {
	s := &Server{allSlots: []*slot{{index: 0}, {index: 1}}}
	now := time.Now()
	if _, ok := s.OldestStuckCall(now); ok {
		t.Fatal("idle slots report a stuck call")
	}
	waiting := placedCaller{place: CallPlace{Stage: StageWaiting, Thread: 0x7f01}}
	running := placedCaller{place: CallPlace{Stage: StageRunning, Thread: 0x7f02}}
	s.allSlots[0].call.begin([]byte("GET"), []byte("/newer"), running, now.Add(-time.Second))
	s.allSlots[1].call.begin([]byte("GET"), []byte("/older"), waiting, now.Add(-3*time.Second))
	want := StuckCall{Age: 3 * time.Second, Method: "GET", Path: "/older", Place: waiting.place}
	if got, ok := s.OldestStuckCall(now); !ok || got != want {
		t.Fatalf("OldestStuckCall = %+v, %v; want %+v", got, ok, want)
	}
	s.allSlots[1].call.end()
	s.allSlots[1].call.resume([]byte("GET"), []byte("/parked"), running, now.Add(-2*time.Second))
	if got, _ := s.OldestStuckCall(now); got.Path != "/parked" || got.Place != running.place {
		t.Fatalf("after a resume: %+v; want /parked %+v", got, running.place)
	}
	// A Caller that cannot tell (an ASGI one) leaves the place zero.
	s.allSlots[1].call.resume([]byte("GET"), []byte("/asgi"), fakeCallerWithoutPlace{}, now.Add(-2*time.Second))
	if got, _ := s.OldestStuckCall(now); got.Place != (CallPlace{}) {
		t.Fatalf("a Caller without Locate: %+v; want the zero place", got)
	}
}

type fakeCallerWithoutPlace struct{ Caller }
