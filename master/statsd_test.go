package master

import (
	"net"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gowsgi/gowsgi/statsd"
)

// TestWorkersGauge: gunicorn.workers is sent when the number of workers
// changes, and only then, as Gunicorn's arbiter does.
func TestWorkersGauge(t *testing.T) {
	pc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	c, err := statsd.New(pc.LocalAddr().String(), "", "")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	ta := startArbiter(t, testConfig(2))
	ta.statsd = c
	ta.gaugeWorkers() // as loop does after each event
	ta.readyAll()
	ta.gaugeWorkers()
	oldest := ta.os.spawned[0].pid
	ta.onSignal(syscall.SIGTTIN)
	ta.gaugeWorkers()
	ta.readyAll()
	ta.gaugeWorkers()
	ta.onSignal(syscall.SIGTTOU) // the oldest is told to stop: no longer counted
	ta.gaugeWorkers()
	ta.die(oldest, 0)
	ta.gaugeWorkers()
	c.Incr("end")

	want := []string{"gunicorn.workers:2|g", "gunicorn.workers:3|g", "gunicorn.workers:2|g", "end:1|c|@1.0"}
	var got []string
	pc.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 65536)
	for !slices.Contains(got, "end:1|c|@1.0") {
		n, _, err := pc.ReadFrom(buf)
		if err != nil {
			t.Fatalf("got %q, then %v", got, err)
		}
		got = append(got, strings.Split(string(buf[:n]), "\n")...)
	}
	if !slices.Equal(got, want) {
		t.Errorf("lines\n%q\nwant\n%q", got, want)
	}
}
