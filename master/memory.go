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

// watchMemory checks the workers' memory every memoryCheckEvery until
// done closes. It runs even with the limit off: HUP may turn it on. The
// /proc files are read here, not on the arbiter goroutine, which only
// gets the readings.
func (o *ops) watchMemory(done <-chan struct{}) {
	t := time.NewTicker(memoryCheckEvery)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-t.C:
			var pids []int
			if !o.ask(func(a *arbiter) { pids = a.memoryCandidates() }) || len(pids) == 0 {
				continue
			}
			use := o.readAll(pids)
			o.ask(func(a *arbiter) { a.checkMemory(use) })
		}
	}
}

// readAll reads the memory of pids; a pid that is gone is left out.
func (o *ops) readAll(pids []int) map[int]memUsage {
	use := make(map[int]memUsage, len(pids))
	for _, pid := range pids {
		if m, ok := o.memOf(pid); ok {
			use[pid] = m
		}
	}
	return use
}

// memoryCandidates lists the workers a memory check may replace; none
// when the limit is off, during a stop or a reload, or while another
// memory replacement is under way.
func (a *arbiter) memoryCandidates() []int {
	o := a.ops
	if a.cur.cfg.MaxWorkerMemory <= 0 || a.stop != running || o.delaying || a.next != nil || o.recycle != 0 {
		return nil
	}
	var pids []int
	for _, w := range a.byID() {
		if w.state == serving && w.gen == a.cur.n {
			pids = append(pids, w.pid)
		}
	}
	return pids
}

// checkMemory replaces the first candidate whose reading in use is over
// the limit, if the candidates are still candidates.
func (a *arbiter) checkMemory(use map[int]memUsage) {
	limit := uint64(a.cur.cfg.MaxWorkerMemory) << 20
	for _, pid := range a.memoryCandidates() {
		if m, ok := use[pid]; ok && m.uss > limit {
			a.recycleForMemory(a.workers[pid], m)
			return
		}
	}
}

func (a *arbiter) recycleForMemory(w *workerProc, m memUsage) {
	o := a.ops
	o.recycle = w.pid
	o.pidDone[w.pid] = struct{}{}
	a.log.Warn().Int("worker", w.id).Int("worker_pid", w.pid).
		Uint64("uss_mb", m.uss>>20).Int("max_worker_memory_mb", a.cur.cfg.MaxWorkerMemory).
		Msg("worker exceeds --max-worker-memory; starting its replacement")
	w.state = replacing
	a.fill()
	a.releaseReplaced()
}
