// Command memory is make bench-memory: it runs gowsgi with 4 workers on
// bigapp.py (an app that builds ~50 MB of Python objects at import)
// with re-executed workers, with --preload and with --preload
// --no-gc-freeze, and reports in docs/memory.md the workers' memory
// (PSS and private, from /proc/PID/smaps_rollup) right after start and
// after each worker ran a full gc.collect(), and how long a worker takes
// to start and to be respawned.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

type mode struct {
	name string
	args []string
}

var modes = []mode{
	{"re-exec (no --preload)", nil},
	{"--preload", []string{"--preload"}},
	{"--preload --no-gc-freeze", []string{"--preload", "--no-gc-freeze"}},
}

// usage is one process's memory, in bytes.
type usage struct{ pss, private int64 }

// result is what one mode measured.
type result struct {
	mode             mode
	appBytes         int64
	atStart, afterGC []usage // per worker
	zygote           usage   // at start; zero without --preload
	zygoteLoad       time.Duration
	boots            []time.Duration
	respawn          time.Duration
}

func main() {
	binary := flag.String("binary", "bin/gowsgi", "the gowsgi binary")
	out := flag.String("out", "docs/memory.md", "the report to write")
	workers := flag.Int("workers", 4, "worker processes")
	appDir := flag.String("app-dir", "bench/memory", "the directory of bigapp.py")
	flag.Parse()
	dir, err := filepath.Abs(*appDir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench-memory:", err)
		os.Exit(1)
	}
	var results []result
	for _, m := range modes {
		r, err := measure(*binary, dir, *workers, m)
		if err != nil {
			fmt.Fprintf(os.Stderr, "bench-memory: %s: %v\n", m.name, err)
			os.Exit(1)
		}
		fmt.Fprintf(os.Stderr, "%s: done\n", m.name)
		results = append(results, r)
	}
	report := render(results, *workers)
	if err := os.WriteFile(*out, []byte(report), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "bench-memory:", err)
		os.Exit(1)
	}
	fmt.Print(report)
}

// server is one running gowsgi and what its log said.
type server struct {
	cmd  *exec.Cmd
	mu   sync.Mutex
	logs []map[string]any
}

func (s *server) find(msg string) []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	for _, l := range s.logs {
		if l["message"] == msg {
			out = append(out, l)
		}
	}
	return out
}

func (s *server) waitFor(what string, cond func() bool) error {
	for deadline := time.Now().Add(2 * time.Minute); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			return errors.New("timed out waiting for " + what)
		}
	}
	return nil
}

func start(binary, dir string, workers int, args []string) (*server, error) {
	all := append([]string{"--chdir", dir, "-b", "127.0.0.1:0", "-w", strconv.Itoa(workers),
		"--log-format", "json", "--timeout", "120"}, args...)
	s := &server{cmd: exec.Command(binary, append(all, "bigapp:app")...)}
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stderr, err := s.cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := s.cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<16), 1<<22)
		for sc.Scan() {
			var l map[string]any
			if json.Unmarshal(sc.Bytes(), &l) == nil {
				s.mu.Lock()
				s.logs = append(s.logs, l)
				s.mu.Unlock()
			}
		}
	}()
	return s, nil
}

func (s *server) stop() {
	s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
}

func measure(binary, dir string, workers int, m mode) (result, error) {
	r := result{mode: m}
	s, err := start(binary, dir, workers, m.args)
	if err != nil {
		return r, err
	}
	defer s.stop()
	if err := s.waitFor("the workers", func() bool { return len(s.find("worker ready")) >= workers }); err != nil {
		return r, err
	}
	addr := s.find("listening")[0]["address"].(string)
	var pids []int
	for _, l := range s.find("worker ready") {
		pids = append(pids, int(l["worker_pid"].(float64)))
		r.boots = append(r.boots, time.Duration(l["boot"].(float64)*float64(time.Millisecond)))
	}
	if z := s.find("zygote loaded the app"); len(z) > 0 {
		r.zygote = memoryOf(int(z[0]["zygote_pid"].(float64)))
		r.zygoteLoad = time.Duration(z[0]["load"].(float64) * float64(time.Millisecond))
	}
	for _, pid := range pids {
		r.atStart = append(r.atStart, memoryOf(pid))
	}
	if r.appBytes, err = collectEverywhere(addr, pids); err != nil {
		return r, err
	}
	for _, pid := range pids {
		r.afterGC = append(r.afterGC, memoryOf(pid))
	}
	syscall.Kill(pids[0], syscall.SIGKILL)
	err = s.waitFor("the respawn", func() bool { return len(s.find("worker ready")) > workers })
	if err == nil {
		l := s.find("worker ready")[workers]
		r.respawn = time.Duration(l["boot"].(float64) * float64(time.Millisecond))
	}
	return r, err
}

// collectEverywhere asks for /collect until every worker has run
// gc.collect(), and returns the app's size as it measured it.
func collectEverywhere(addr string, pids []int) (int64, error) {
	seen := map[int]bool{}
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: time.Minute}
	var appBytes int64
	for i := 0; len(seen) < len(pids); i++ {
		if i > 2000 {
			return 0, fmt.Errorf("only workers %v ran /collect", seen)
		}
		resp, err := client.Get("http://" + addr + "/collect")
		if err != nil {
			return 0, err
		}
		var body struct {
			PID      int   `json:"pid"`
			AppBytes int64 `json:"app_bytes"`
		}
		err = json.NewDecoder(resp.Body).Decode(&body)
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err != nil {
			return 0, err
		}
		seen[body.PID], appBytes = true, body.AppBytes
	}
	return appBytes, nil
}

// memoryOf reads Pss and Private_Clean + Private_Dirty of pid.
func memoryOf(pid int) usage {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err != nil {
		return usage{}
	}
	var u usage
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		kb, _ := strconv.ParseInt(f[1], 10, 64)
		switch f[0] {
		case "Pss:":
			u.pss += kb << 10
		case "Private_Clean:", "Private_Dirty:":
			u.private += kb << 10
		}
	}
	return u
}

func sum(us []usage) (u usage) {
	for _, x := range us {
		u.pss += x.pss
		u.private += x.private
	}
	return u
}

func mb(n int64) string { return fmt.Sprintf("%.1f", float64(n)/(1<<20)) }

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

func render(rs []result, workers int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Memory with and without --preload\n\n")
	fmt.Fprintf(&b, "Written by `make bench-memory` (bench/memory) on %s: %d workers serving "+
		"bench/memory/bigapp.py, whose import builds %s MB of Python objects (measured by the app: "+
		"its RSS growth during the import). PSS and private memory come from /proc/PID/smaps_rollup; "+
		"private = Private_Clean + Private_Dirty. \"After gc.collect()\" is after every worker ran a full "+
		"collection (GET /collect until each worker answered). Start-up is the master's \"worker ready\" "+
		"boot time: from the spawn to the worker accepting; the respawn is a worker killed with SIGKILL.\n\n",
		time.Now().UTC().Format("2006-01-02"), workers, mb(rs[0].appBytes))
	fmt.Fprintf(&b, "| mode | private/worker at start (MB) | private/worker after gc.collect() (MB) "+
		"| PSS of %d workers at start (MB) | PSS of %d workers after gc.collect() (MB) | zygote PSS (MB) "+
		"| zygote's import | worker start-up, median | respawn |\n|---|---|---|---|---|---|---|---|---|\n",
		workers, workers)
	for _, r := range rs {
		start, gc := sum(r.atStart), sum(r.afterGC)
		zyg, load := "–", "–"
		if r.zygote.pss > 0 {
			zyg, load = mb(r.zygote.pss), r.zygoteLoad.Round(time.Millisecond).String()
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %v | %v |\n", r.mode.name,
			mb(start.private/int64(len(r.atStart))), mb(gc.private/int64(len(r.afterGC))),
			mb(start.pss), mb(gc.pss), zyg, load, median(r.boots).Round(time.Millisecond),
			r.respawn.Round(time.Millisecond))
	}
	b.WriteString("\nWith --preload the pages the workers share with the zygote are split between " +
		"the zygote and the workers: the memory the server uses is the workers' PSS plus the zygote's. " +
		"A re-executed worker imports the app itself, so its start-up includes the import, " +
		"which --preload does once, in the zygote. One run on a shared 2-core machine: " +
		"the times vary between runs, the memory figures hardly.\n")
	b.WriteString("\n## Targets\n\n")
	base, pre := rs[0], rs[1]
	limit := pre.appBytes / 10
	check := func(ok bool, what string) {
		mark := "met"
		if !ok {
			mark = "**missed**"
		}
		fmt.Fprintf(&b, "- %s: %s\n", what, mark)
	}
	check(sum(pre.atStart).private/int64(len(pre.atStart)) < limit,
		fmt.Sprintf("--preload, private memory per worker right after start under 10%% of the app (%s MB)", mb(limit)))
	check(sum(pre.afterGC).private/int64(len(pre.afterGC)) < limit,
		"--preload, private memory per worker after a full gc.collect() under 10% of the app")
	check(2*sum(pre.atStart).pss < sum(base.atStart).pss,
		fmt.Sprintf("--preload, PSS of %d workers under half of %d re-executed ones", workers, workers))
	return b.String()
}
