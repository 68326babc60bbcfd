package engine

import (
	"testing"
	"time"
)

// OldestCall names the longest-running call, for the heartbeat's
// liveness; CallsBegun counts calls for --max-requests, resumed ones
// (a parked response taking a slot again) once.
func TestOldestCallAndCallsBegun(t *testing.T) {
	s := &Server{allSlots: []*slot{{index: 0}, {index: 1}}}
	now := time.Now()
	if age, _, _ := s.OldestCall(now); age != 0 {
		t.Fatalf("idle slots report a call %v old", age)
	}
	s.allSlots[0].call.begin([]byte("POST"), []byte("/newer"), now.Add(-time.Second))
	s.allSlots[1].call.begin([]byte("GET"), []byte("/older"), now.Add(-3*time.Second))
	if age, method, path := s.OldestCall(now); age != 3*time.Second || method != "GET" || path != "/older" {
		t.Fatalf("oldest call %v %s %s; want 3s GET /older", age, method, path)
	}
	s.allSlots[1].call.end()
	s.allSlots[1].call.resume([]byte("GET"), []byte("/parked"), now)
	if age, _, path := s.OldestCall(now); age != time.Second || path != "/newer" {
		t.Fatalf("after the end and a resume: %v %s; want 1s /newer", age, path)
	}
	if n := s.CallsBegun(); n != 2 {
		t.Fatalf("%d calls begun; want 2 (a resumed call is not a new one)", n)
	}
}
