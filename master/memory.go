package master

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
	"time"
)

// Memory recycling (--max-worker-memory). A worker's private memory,
// USS (Private_Clean + Private_Dirty of /proc/PID/smaps_rollup), is what
// replacing it frees; RSS would count the pages a --preload worker
// shares with its zygote and siblings. A worker over the limit is
// replaced the way --max-requests replaces one: its replacement boots
// first, then it gets TERM and finishes its requests. One at a time, so
// a leak common to every worker never takes capacity down at once.

// memoryCheckEvery is how often the workers' memory is read.
const memoryCheckEvery = time.Second

// memUsage is one reading of a worker's memory, in bytes.
type memUsage struct {
	rss, uss uint64
}

// readMemory reads /proc/PID/smaps_rollup.
func readMemory(pid int) (memUsage, bool) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/smaps_rollup")
	if err != nil {
		return memUsage{}, false
	}
	var m memUsage
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		name, rest, ok := bytes.Cut(sc.Bytes(), []byte(":"))
		if !ok {
			continue
		}
		fields := bytes.Fields(rest)
		if len(fields) == 0 {
			continue
		}
		kb, err := strconv.ParseUint(string(fields[0]), 10, 64)
		if err != nil {
			continue
		}
		switch string(name) {
		case "Rss":
			m.rss = kb << 10
		case "Private_Clean", "Private_Dirty":
			m.uss += kb << 10
		}
	}
	return m, true
}

// watchMemory asks the arbiter to check the workers' memory every
// memoryCheckEvery until done closes. It runs even with the limit off:
// HUP may turn it on.
func (o *ops) watchMemory(done <-chan struct{}) {
	t := time.NewTicker(memoryCheckEvery)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-t.C:
			o.ask((*arbiter).checkMemory)
		}
	}
}

// checkMemory replaces the first serving worker over the limit, unless
// a stop, a reload or another memory replacement is under way.
func (a *arbiter) checkMemory() {
	o := a.ops
	limit := uint64(a.cur.cfg.MaxWorkerMemory) << 20
	if limit == 0 || a.stop != running || o.delaying || a.next != nil {
		return
	}
	var over *workerProc
	var use memUsage
	for _, w := range a.byID() {
		if w.state != serving && w.state != replacing {
			continue
		}
		m, ok := o.memOf(w.pid)
		if !ok {
			continue
		}
		o.memory[w.pid] = m
		if over == nil && w.state == serving && w.gen == a.cur.n && m.uss > limit {
			over, use = w, m
		}
	}
	if over == nil || o.recycle != 0 {
		return
	}
	o.recycle = over.pid
	o.pidDone[over.pid] = struct{}{}
	a.log.Warn().Int("worker", over.id).Int("worker_pid", over.pid).
		Uint64("uss_mb", use.uss>>20).Int("max_worker_memory_mb", a.cur.cfg.MaxWorkerMemory).
		Msg("worker exceeds --max-worker-memory; starting its replacement")
	over.state = replacing
	a.fill()
	a.releaseReplaced()
}
