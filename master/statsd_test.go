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

// TestBacklog: gunicorn.backlog counts the connections the kernel
// accepted into a TCP listener's queue that nobody has taken yet, and
// the listeners that are not TCP add nothing.
func TestBacklog(t *testing.T) {
	tcp, err := bindTCP("127.0.0.1:0", 16, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tcp.file.Close()
	unixL, err := bindUnix(t.TempDir()+"/app.sock", 16, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unixL.file.Close()
	if _, ok := backlog(newListenerSets([]*listener{unixL})); ok {
		t.Error("a unix socket reported a backlog")
	}
	if n, ok := backlog(newListenerSets([]*listener{tcp, unixL})); n != 0 || !ok {
		t.Errorf("backlog of an idle listener = %d, %v; want 0, true", n, ok)
	}
	for range 3 {
		c, err := net.Dial("tcp", tcp.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	// The server's side of a handshake completes just after the client's.
	deadline := time.Now().Add(10 * time.Second)
	for n, _ := backlog(newListenerSets([]*listener{tcp, unixL})); n != 3; n, _ = backlog(newListenerSets([]*listener{tcp, unixL})) {
		if time.Now().After(deadline) {
			t.Fatalf("backlog = %d; want 3", n)
		}
		time.Sleep(10 * time.Millisecond)
	}

	pc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	c, err := statsd.New(pc.LocalAddr().String(), "app", "")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	stop := startBacklog(c, newListenerSets([]*listener{tcp, unixL}))
	pc.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 1500)
	n, _, err := pc.ReadFrom(buf)
	stop()
	if err != nil || string(buf[:n]) != "app.gunicorn.backlog:3|ms" {
		t.Errorf("received %q, %v; want app.gunicorn.backlog:3|ms", buf[:n], err)
	}
}
