package master

import (
	"bytes"
	"encoding/json"
	"errors"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gowsgi/gowsgi/handoff"
	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"
)

// fakeZygote is the test's end of a zygote socket: the test plays the
// zygote of zygotes.await and zygotes.fork.
type fakeZygote struct {
	t    *testing.T
	conn *net.UnixConn
}

// zygoteRig is zygotes with pipes for listeners, its log, the events
// of its workers and the signals it sent, and a zygote of generation 1
// connected to a fakeZygote.
type zygoteRig struct {
	zs     *zygotes
	log    *bytes.Buffer
	events chan event
	sent   []sentSig
	z      *zygote
	fake   *fakeZygote
}

func newZygoteRig(t *testing.T, listeners int) *zygoteRig {
	t.Helper()
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	conns := make([]*net.UnixConn, 2)
	for i, fd := range pair {
		f := os.NewFile(uintptr(fd), "zygote")
		c, err := net.FileConn(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		conns[i] = c.(*net.UnixConn)
		t.Cleanup(func() { c.Close() })
	}
	var ls []*listener
	for range listeners {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		w.Close()
		t.Cleanup(func() { r.Close() })
		ls = append(ls, &listener{file: r})
	}
	r := &zygoteRig{log: &bytes.Buffer{}, events: make(chan event, 16), fake: &fakeZygote{t: t, conn: conns[1]}}
	r.zs = newZygotes(&process{}, newListenerSets(ls), r.events, zerolog.New(r.log))
	r.zs.kill = func(pid int, sig syscall.Signal) error {
		r.sent = append(r.sent, sentSig{pid, sig})
		return nil
	}
	r.z = &zygote{gen: 1, cfg: testConfig(2), pid: 4000, conn: conns[0], started: time.Now(),
		workers: map[int]struct{}{}}
	r.zs.all = append(r.zs.all, r.z)
	return r
}

func (f *fakeZygote) say(msgs ...string) {
	f.t.Helper()
	for _, m := range msgs {
		if _, err := f.conn.Write([]byte(m)); err != nil {
			f.t.Fatal(err)
		}
	}
}

// request reads one spawn request and returns its word and descriptors.
func (f *fakeZygote) request() (string, []*os.File) {
	f.t.Helper()
	buf, oob := make([]byte, 64), make([]byte, unix.CmsgSpace(4*64))
	n, oobn, _, _, err := f.conn.ReadMsgUnix(buf, oob)
	if err != nil {
		f.t.Fatal(err)
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) != 1 {
		f.t.Fatalf("control messages %v (%v); want one", msgs, err)
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil {
		f.t.Fatal(err)
	}
	var files []*os.File
	for _, fd := range fds {
		files = append(files, os.NewFile(uintptr(fd), "received"))
	}
	return string(buf[:n]), files
}

func TestZygoteLoadReportWithWarnings(t *testing.T) {
	r := newZygoteRig(t, 0)
	zs, log, z, fake := r.zs, r.log, r.z, r.fake
	fake.say("signal 15", "threads\nscheduler\n2 thread(s) not started by Python", handoff.ZygoteLoaded)
	if err := zs.await(z); err != nil || !z.loaded || z.failed {
		t.Fatalf("await = %v, loaded %v, failed %v; want nil, loaded", err, z.loaded, z.failed)
	}
	var lines []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(log.String()), "\n") {
		var m map[string]any
		json.Unmarshal([]byte(l), &m)
		lines = append(lines, m)
	}
	if len(lines) != 3 || lines[0]["signal"] != 15.0 || lines[0]["level"] != "warn" {
		t.Fatalf("log %v; want the stolen signal 15 first, as a warning", lines)
	}
	threads, _ := lines[1]["threads"].([]any)
	if len(threads) != 2 || threads[0] != "scheduler" || lines[1]["level"] != "warn" {
		t.Fatalf("log line %v; want a warning naming both threads", lines[1])
	}
	if lines[2]["message"] != "zygote loaded the app" {
		t.Fatalf("last log line %v; want the load", lines[2])
	}
}

// TestZygoteLogRecords: what the app logs through gunicorn.error while
// the zygote imports it is written by the master at the record's level.
func TestZygoteLogRecords(t *testing.T) {
	r := newZygoteRig(t, 0)
	r.fake.say("log 20 myapp\nimported", "log 40 my app.db\nno replica\nTraceback ...", handoff.ZygoteLoaded)
	if err := r.zs.await(r.z); err != nil || !r.z.loaded {
		t.Fatalf("await = %v, loaded %v; want nil, loaded", err, r.z.loaded)
	}
	var lines []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(r.log.String()), "\n") {
		var m map[string]any
		json.Unmarshal([]byte(l), &m)
		lines = append(lines, m)
	}
	want := []map[string]any{
		{"level": "info", "logger": "myapp", "message": "imported"},
		{"level": "error", "logger": "my app.db", "message": "no replica\nTraceback ..."},
	}
	if len(lines) != 3 {
		t.Fatalf("log %v; want two records and the load", lines)
	}
	for i, w := range want {
		for k, v := range w {
			if lines[i][k] != v {
				t.Errorf("line %d: %s = %v, want %v", i, k, lines[i][k], v)
			}
		}
	}
}

// TestZygoteImportFailureLogsTheTraceback: an app that failed to load,
// whether its import raised (3) or it names no app (4), is logged as
// such with the traceback; a setup failure as the zygote's.
func TestZygoteImportFailureLogsTheTraceback(t *testing.T) {
	tb := "Traceback (most recent call last):\n  File \"app.py\", line 1\nImportError: nope"
	for _, tt := range []struct{ msg, want string }{
		{"failed 3 app\n" + tb, "failed to load the application:\n" + tb},
		{"failed 4 app\n" + tb, "failed to load the application:\n" + tb},
		{"failed 3\ncannot set up Python's logging: x", "the zygote cannot start: cannot set up Python's logging: x"},
	} {
		r := newZygoteRig(t, 0)
		zs, log, z, fake := r.zs, r.log, r.z, r.fake
		fake.say(tt.msg)
		if err := zs.await(z); err != nil || !z.failed || z.loaded {
			t.Fatalf("%q: await = %v, loaded %v, failed %v; want nil and failed", tt.msg, err, z.loaded, z.failed)
		}
		var line map[string]any
		json.Unmarshal(log.Bytes(), &line)
		if line["message"] != tt.want || line["level"] != "error" {
			t.Fatalf("%q: log %v; want %q", tt.msg, line, tt.want)
		}
	}
}

func TestZygoteEndingBeforeTheReport(t *testing.T) {
	r := newZygoteRig(t, 0)
	r.fake.conn.Close()
	if err := r.zs.await(r.z); !errors.Is(err, errZygoteEnded) {
		t.Fatalf("await = %v; want errZygoteEnded", err)
	}
}

func TestZygoteForkHandsOverTheWorkersDescriptors(t *testing.T) {
	r := newZygoteRig(t, 2)
	zs, z, fake := r.zs, r.z, r.fake
	z.loaded = true
	type result struct {
		pid int
		err error
	}
	done := make(chan result)
	go func() {
		pid, err := zs.fork(z, 7, z.cfg, nil)
		done <- result{pid, err}
	}()
	word, files := fake.request()
	if word != handoff.ZygoteSpawn || len(files) != 4 {
		t.Fatalf("request %q with %d descriptors; want spawn with boot, control and 2 listeners", word, len(files))
	}
	fake.say("pid 4242")
	if r := <-done; r.pid != 4242 || r.err != nil {
		t.Fatalf("fork = %d, %v; want 4242", r.pid, r.err)
	}
	var boot handoff.Boot
	if err := json.NewDecoder(files[0]).Decode(&boot); err != nil || boot.WorkerID != 7 || boot.Listeners != 2 {
		t.Fatalf("boot message %+v (%v); want worker 7 with 2 listeners", boot, err)
	}
	files[1].WriteString(handoff.MsgReady + "\n")
	if ev := <-r.events; ev.kind != evReady || ev.pid != 4242 {
		t.Fatalf("event %+v; want the worker's ready", ev)
	}
}

func TestZygoteForkFailure(t *testing.T) {
	r := newZygoteRig(t, 0)
	zs, z, fake := r.zs, r.z, r.fake
	go func() {
		fake.request()
		fake.say("error fork: Cannot allocate memory")
	}()
	if _, err := zs.fork(z, 1, z.cfg, nil); err == nil || !strings.Contains(err.Error(), "Cannot allocate memory") {
		t.Fatalf("fork error %v; want the zygote's reason", err)
	}
}

func TestZygotesReapAndStopTheOnesNoLongerNeeded(t *testing.T) {
	r := newZygoteRig(t, 0)
	zs, old, sent := r.zs, r.z, &r.sent
	old.loaded, old.workers = true, map[int]struct{}{10: {}, 11: {}}
	fresh := &zygote{gen: 2, pid: 5000, loaded: true, workers: map[int]struct{}{20: {}}}
	zs.all = append(zs.all, fresh)

	out := zs.reap([]exit{{pid: 10}})
	if len(out) != 1 || out[0].pid != 10 || len(*sent) != 0 {
		t.Fatalf("reap passed %v, sent %v; want the worker's exit and no signal (the old zygote has a worker)", out, *sent)
	}
	zs.reap([]exit{{pid: 11}})
	if len(*sent) != 1 || (*sent)[0] != (sentSig{4000, syscall.SIGTERM}) || !old.stopped {
		t.Fatalf("sent %v; want TERM to the old zygote once its last worker exited", *sent)
	}
	if out := zs.reap([]exit{{pid: 4000}}); len(out) != 0 || zs.forGen(1) != nil {
		t.Fatalf("reap passed %v; want the zygote's own exit kept from the arbiter", out)
	}
	if zs.forGen(2) != fresh || fresh.stopped {
		t.Fatalf("the newest zygote was stopped")
	}
}

func TestZygoteThatFailedIsStoppedOnceItsWorkersExited(t *testing.T) {
	r := newZygoteRig(t, 0)
	zs, z, sent := r.zs, r.z, &r.sent
	z.failed, z.workers = true, map[int]struct{}{10: {}}
	zs.tidy()
	if len(*sent) != 0 {
		t.Fatalf("sent %v while a worker of the failed zygote lives", *sent)
	}
	zs.reap([]exit{{pid: 10}})
	if len(*sent) != 1 || zs.forGen(1) != nil {
		t.Fatalf("sent %v; want the failed zygote stopped, so that a later spawn imports again", *sent)
	}
}
