package handoff

import (
	"strings"
	"testing"
	"time"
)

func TestHeartbeatLineRoundTrip(t *testing.T) {
	cases := []struct {
		name string
		hb   Heartbeat
		line string
	}{
		{name: "idle", hb: Heartbeat{}, line: "alive 0"},
		{name: "call in flight", hb: Heartbeat{CallAge: 1500 * time.Millisecond, Method: "GET", Path: "/report?year=2024"},
			line: "alive 1500 GET /report?year=2024"},
		{name: "sub-millisecond call counts as one", hb: Heartbeat{CallAge: 300 * time.Microsecond, Method: "POST", Path: "/"},
			line: "alive 1 POST /"},
		// An ASGI loop stalled by a task no request owns.
		{name: "call with no request known", hb: Heartbeat{CallAge: 2 * time.Second}, line: "alive 2000"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := c.hb.Line(); got != c.line {
				t.Fatalf("Line() = %q; want %q", got, c.line)
			}
			back, ok := ParseHeartbeat(c.line)
			want := c.hb
			want.CallAge = want.CallAge.Truncate(time.Millisecond)
			if c.hb.CallAge > 0 && want.CallAge == 0 {
				want.CallAge = time.Millisecond
			}
			if !ok || back != want {
				t.Fatalf("ParseHeartbeat(%q) = %+v, %v; want %+v", c.line, back, ok, want)
			}
		})
	}
}

func TestHeartbeatLongPathIsCut(t *testing.T) {
	hb := Heartbeat{CallAge: time.Second, Method: "GET", Path: "/" + strings.Repeat("a", 5000)}
	line := hb.Line()
	back, ok := ParseHeartbeat(line)
	if !ok || len(back.Path) != maxHeartbeatPath || !strings.HasPrefix(hb.Path, back.Path) {
		t.Fatalf("ParseHeartbeat(Line()) path of %d bytes, ok=%v; want the first %d bytes", len(back.Path), ok, maxHeartbeatPath)
	}
}

func TestParseHeartbeatRejects(t *testing.T) {
	for _, line := range []string{"", "ready", "retire", "alive", "alive x", "alive -5 GET /", "alive1 0", "alive 1e3"} {
		if hb, ok := ParseHeartbeat(line); ok {
			t.Errorf("ParseHeartbeat(%q) = %+v, true; want false", line, hb)
		}
	}
}

func TestHeartbeatInterval(t *testing.T) {
	cases := []struct{ timeout, want time.Duration }{
		{2 * time.Second, 500 * time.Millisecond},
		{30 * time.Second, time.Second},
		{40 * time.Millisecond, 20 * time.Millisecond},
	}
	for _, c := range cases {
		if got := HeartbeatInterval(c.timeout); got != c.want {
			t.Errorf("HeartbeatInterval(%v) = %v; want %v", c.timeout, got, c.want)
		}
	}
}
