package pyshim

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestASGIZerocopyRefused: an http.response.zerocopysend with a bad
// offset or count, of a file that is not a regular file, or before the
// response's start raises ProtocolError in the app's send().
func TestASGIZerocopyRefused(t *testing.T) {
	l := startLoop(t, "zerocopy_bad", "off")
	for cs, want := range map[string]string{
		"offset": "ProtocolError: http.response.zerocopysend offset must be an int >= 0, not -1",
		"count":  "ProtocolError: http.response.zerocopysend count must be an int >= 0, not '10'",
		"pipe":   "ProtocolError: http.response.zerocopysend file must be a regular file",
		"early":  "ProtocolError: http.response.zerocopysend sent before http.response.start or after the body",
	} {
		r := request(t, l, httpScope("/", "case="+cs))
		if !strings.Contains(r.done.Traceback, want) {
			t.Errorf("%s: traceback %q; want %q", cs, r.done.Traceback, want)
		}
		for _, ev := range r.events {
			if ev.Kind == SentZeroCopy {
				t.Errorf("%s: a region was queued: %+v", cs, ev)
			}
		}
	}
}

// TestASGIZerocopyRegionsCountAgainstTheBudget: each region holds a
// descriptor until Go takes it, so an app queueing tiny regions awaits
// after budget/4096 of them, as it would after a budget of bytes; each
// region is a descriptor of its own, at its offset.
func TestASGIZerocopyRegionsCountAgainstTheBudget(t *testing.T) {
	l := startLoop(t, "zerocopy_regions", "off")
	const n, budget = 40, 64 << 10
	c, err := l.OpenHTTP(httpScope("/", fmt.Sprintf("n=%d", n)), budget)
	if err != nil {
		t.Fatal(err)
	}
	// As in TestASGISendAwaitsWhenTheBudgetIsFull: once another request
	// has completed, the app has run as far as its budget lets it.
	if r := request(t, l, httpScope("/", "n=0")); r.done.Status != DoneComplete {
		t.Fatalf("the other request: %+v", r.done)
	}
	seen := c.Take(nil)
	if regions := countKind(seen, SentZeroCopy); regions != budget/4096 {
		t.Fatalf("%d regions queued before the app waited; want %d", regions, budget/4096)
	}
	deadline := time.After(10 * time.Second)
	for len(seen) == 0 || seen[len(seen)-1].Kind != SentDone {
		select {
		case <-c.Ready():
		case <-deadline:
			t.Fatalf("no SentDone within 10s; %d events", len(seen))
		}
		seen = c.Take(seen)
	}
	var offsets []int64
	for _, ev := range seen {
		if ev.Kind == SentZeroCopy {
			if ev.File == nil || ev.Count != 1 {
				t.Fatalf("region %+v", ev)
			}
			offsets = append(offsets, ev.Offset)
			ev.File.Close()
		}
	}
	if len(offsets) != n || offsets[0] != 0 || offsets[n-1] != n-1 {
		t.Fatalf("offsets %v; want 0..%d", offsets, n-1)
	}
}

// TestASGIRuntimeFramesNamed: a traceback through the runtime's own
// code names its file and shows its line, though the source is in no
// file: the app's bad zerocopysend raises in asgi.py's send().
func TestASGIRuntimeFramesNamed(t *testing.T) {
	l := startLoop(t, "zerocopy_bad", "off")
	tb := request(t, l, httpScope("/", "case=pipe")).done.Traceback
	for _, want := range []string{
		`File "<gowsgi>/asgi.py", line `, ", in send\n    text = zerocopy_region(msg)\n",
		", in zerocopy_region\n    raise ProtocolError(",
	} {
		if !strings.Contains(tb, want) {
			t.Errorf("no %q in the traceback:\n%s", want, tb)
		}
	}
}
