package integration

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func TestAdminHealthAndReadiness(t *testing.T) {
	s, admin := opsServer(t, 2, "-w", "2", "--shutdown-delay", "3", "--graceful-timeout", "10")
	for _, path := range []string{"/healthz", "/readyz"} {
		if code, body := adminGet(t, admin+path); code != 200 {
			t.Fatalf("%s = %d %q before TERM", path, code, body)
		}
	}
	slow := make(chan int, 1)
	go func() {
		slow <- tryGet(s.url("/?ms=4000")) // still running when the stop begins
	}()
	s.waitFor(func() bool { // the slow request is in a worker
		_, body := adminGet(t, admin+"/metrics")
		return metricValue(body, "gowsgi_python_threads_busy") == 1
	})
	termAt := time.Now()
	s.signal(syscall.SIGTERM)
	s.waitFor(func() bool { code, _ := adminGet(t, admin+"/readyz"); return code == 503 })
	if d := time.Since(termAt); d > 2*time.Second {
		t.Errorf("/readyz took %v to fail after TERM", d)
	}
	// The shutdown delay: the listeners still serve two seconds after TERM.
	time.Sleep(2*time.Second - time.Since(termAt))
	if code, _ := s.get("/"); code != 200 {
		t.Errorf("GET during --shutdown-delay = %d, want 200", code)
	}
	if code := <-slow; code != 200 {
		t.Errorf("in-flight request = %d, want 200", code)
	}
	if code := s.wait(15 * time.Second); code != 0 {
		t.Errorf("exit code %d", code)
	}
	if d := time.Since(termAt); d < 3*time.Second {
		t.Errorf("the master exited %v after TERM, before the 3s shutdown delay", d)
	}
}

func TestMetricsExposition(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatal("promtool not found: make deps installs the Debian package prometheus")
	}
	s, admin := opsServer(t, 2, "-w", "2")
	for i := range 7 {
		if code, _ := s.get("/?ms=" + strconv.Itoa(i)); code != 200 {
			t.Fatalf("GET = %d", code)
		}
	}
	for range 3 {
		if code, _ := do(t, "POST", s.url("/status/404"), "abc"); code != 404 {
			t.Fatalf("POST = %d", code)
		}
	}
	var body string
	s.waitFor(func() bool {
		_, body = adminGet(t, admin+"/metrics")
		return metricValue(body, "gowsgi_requests_total") == 10
	})
	for _, c := range []struct {
		name  string
		match []string
		want  float64
	}{
		{"gowsgi_requests_total", []string{`method="GET"`, `status="2xx"`}, 7},
		{"gowsgi_requests_total", []string{`method="POST"`, `status="4xx"`}, 3},
		{"gowsgi_request_duration_seconds_count", nil, 10},
		{"gowsgi_request_duration_seconds_bucket", []string{`le="+Inf"`}, 10},
		{"gowsgi_request_queue_seconds_count", nil, 10},
		{"gowsgi_request_body_bytes_total", nil, 9},
		{"gowsgi_worker_starts_total", []string{`reason="boot"`}, 2},
		{"gowsgi_workers", []string{`state="serving"`}, 2},
		{"gowsgi_ready", nil, 1},
	} {
		if got := metricValue(body, c.name, c.match...); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.match, got, c.want)
		}
	}
	if metricValue(body, "gowsgi_worker_private_memory_bytes") <= 0 {
		t.Error("no worker private memory reported")
	}
	check := exec.Command(promtool, "check", "metrics")
	check.Stdin = strings.NewReader(body)
	if out, err := check.CombinedOutput(); err != nil {
		t.Fatalf("promtool check metrics: %v\n%s\n%s", err, out, body)
	}
}

func TestPrometheusScrapes(t *testing.T) {
	prom, err := exec.LookPath("prometheus")
	if err != nil {
		t.Fatal("prometheus not found: make deps installs the Debian package prometheus")
	}
	s, admin := opsServer(t, 1)
	for range 5 {
		if code, _ := s.get("/"); code != 200 {
			t.Fatalf("GET = %d", code)
		}
	}
	dir := t.TempDir()
	cfg := fmt.Sprintf("global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: gowsgi\n    static_configs:\n      - targets: [%q]\n",
		strings.TrimPrefix(admin, "http://"))
	if err := os.WriteFile(dir+"/prometheus.yml", []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	promAddr := unusedAddr(t)
	cmd := exec.Command(prom, "--config.file="+dir+"/prometheus.yml", "--storage.tsdb.path="+dir+"/data",
		"--web.listen-address="+promAddr)
	out := &strings.Builder{}
	var mu sync.Mutex
	cmd.Stdout, cmd.Stderr = lockedWriter{&mu, out}, lockedWriter{&mu, out}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			mu.Lock()
			t.Logf("prometheus output:\n%s", out.String())
			mu.Unlock()
		}
	})
	query := func(q string) float64 {
		resp, err := http.Get("http://" + promAddr + "/api/v1/query?query=" + url.QueryEscape(q))
		if err != nil {
			return -1
		}
		defer resp.Body.Close()
		var r struct {
			Data struct {
				Result []struct {
					Value [2]any `json:"value"`
				} `json:"result"`
			} `json:"data"`
		}
		if json.NewDecoder(resp.Body).Decode(&r) != nil || len(r.Data.Result) != 1 {
			return -1
		}
		v, _ := strconv.ParseFloat(fmt.Sprint(r.Data.Result[0].Value[1]), 64)
		return v
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		reqs := query("sum(gowsgi_requests_total)")
		hist := query(`sum(gowsgi_request_duration_seconds_bucket{le="+Inf"})`)
		if reqs == 5 && hist == 5 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("prometheus: requests %v, histogram count %v; want 5 and 5", reqs, hist)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func TestStatusShowsSlowRequest(t *testing.T) {
	pidfile := t.TempDir() + "/gowsgi.pid"
	s, admin := opsServer(t, 1, "--threads", "2", "--pid", pidfile)
	done := make(chan int, 1)
	go func() {
		req, _ := http.NewRequest("GET", s.url("/?ms=3000"), nil)
		req.Header.Set("X-Request-ID", "slow-one")
		resp, err := client.Do(req)
		if err != nil {
			done <- 0
			return
		}
		resp.Body.Close()
		done <- resp.StatusCode
	}()
	var seen bool
	s.waitFor(func() bool {
		var st struct {
			Workers []struct {
				PID   int `json:"pid"`
				Calls []struct {
					Path      string  `json:"path"`
					RequestID string  `json:"request_id"`
					Client    string  `json:"client"`
					Elapsed   float64 `json:"elapsed_s"`
				} `json:"calls"`
			} `json:"workers"`
		}
		_, body := adminGet(t, admin+"/status")
		if err := json.Unmarshal([]byte(body), &st); err != nil {
			t.Fatalf("/status is not JSON: %v\n%s", err, body)
		}
		for _, w := range st.Workers {
			for _, c := range w.Calls {
				seen = seen || c.Path == "/" && c.RequestID == "slow-one" && c.Elapsed > 0.2 &&
					strings.HasPrefix(c.Client, "127.0.0.1")
			}
		}
		return seen
	})
	// gowsgi status finds the admin listener from the pidfile and shows
	// the request still running; gowsgi stack shows where it runs.
	out, err := exec.Command(binary, "status", "--pid", pidfile).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "slow-one") || !strings.Contains(string(out), "serving") {
		t.Errorf("gowsgi status: %v\n%s", err, out)
	}
	pid := s.workerPIDs()[0]
	out, err = exec.Command(binary, "stack", "--admin-bind", strings.TrimPrefix(admin, "http://"),
		strconv.Itoa(pid)).CombinedOutput()
	if err != nil || !regexp.MustCompile(`operability\.py", line \d+ in app`).Match(out) {
		t.Errorf("gowsgi stack %d: %v\n%s", pid, err, out)
	}
	if code := <-done; code != 200 {
		t.Fatalf("slow request = %d", code)
	}
}

func TestRequestTimeoutUnwindsPythonLoop(t *testing.T) {
	s, admin := opsServer(t, 1, "--threads", "3", "--request-timeout", "2",
		"--access-logfile", "-", "--access-logformat", "ACCESS %(r)s %(s)s")
	pid := s.workerPIDs()[0]
	stop := make(chan struct{})
	var failures, served int
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // the other threads serve throughout
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
			if tryGet(s.url("/")) != 200 {
				failures++
			}
			served++
		}
	}()
	began := time.Now()
	code, _ := do(t, "GET", s.url("/loop"), "")
	took := time.Since(began)
	close(stop)
	wg.Wait()
	if code != 504 {
		t.Fatalf("/loop = %d, want 504", code)
	}
	if took > 3500*time.Millisecond {
		t.Errorf("504 after %v, want about 2s", took)
	}
	if failures > 0 || served < 10 {
		t.Errorf("meanwhile %d of %d other requests failed", failures, served)
	}
	s.waitFor(func() bool { // the request-timeout line names the looping line
		for _, l := range s.lines_() {
			if strings.Contains(l.str("message"), "request timeout") &&
				strings.Contains(l.str("message"), "LOOP-HERE") && l.str("path") == "/loop" {
				return true
			}
		}
		return false
	})
	if code, body := s.get("/"); code != 200 || body != strconv.Itoa(pid) {
		t.Errorf("after the timeout: %d %q, want the same worker %d", code, body, pid)
	}
	s.waitFor(func() bool { return strings.Contains(s.output(), "ACCESS GET /loop HTTP/1.1 504") })
	s.waitFor(func() bool {
		_, m := adminGet(t, admin+"/metrics")
		return metricValue(m, "gowsgi_request_timeouts_total") == 1 &&
			metricValue(m, "gowsgi_requests_total", `status="5xx"`) == 1
	})
}

func TestRequestTimeoutInCRecyclesWorker(t *testing.T) {
	s, _ := opsServer(t, 1, "--threads", "3", "--request-timeout", "1", "--graceful-timeout", "2")
	old := s.workerPIDs()[0]
	go tryGet(s.url("/csleep?s=30")) // cut when the worker is killed
	stop := make(chan struct{})
	var failures, served int
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
			if tryGet(s.url("/?ms=100")) != 200 {
				failures++
			}
			served++
		}
	}()
	s.waitFor(func() bool {
		for _, l := range s.find("worker exited") {
			if l.num("worker_pid") == old {
				return true
			}
		}
		return false
	})
	time.Sleep(300 * time.Millisecond) // requests served by the replacement too
	close(stop)
	wg.Wait()
	if failures > 0 {
		t.Errorf("%d of %d other requests failed while the worker was recycled", failures, served)
	}
	if len(s.find("request timeout: the call did not stop (blocked outside Python); replacing this worker gracefully")) != 1 {
		t.Error("the graceful replacement was not logged")
	}
	if pids := s.workerPIDs(); len(pids) != 1 || pids[0] == old {
		t.Errorf("workers %v, want one replacement of %d", pids, old)
	}
}

func TestMemoryRecycling(t *testing.T) {
	s, admin := opsServer(t, 2, "-w", "2", "--threads", "2", "--max-worker-memory", "80")
	var failures, served int
	var mu sync.Mutex
	var wg sync.WaitGroup
	deadline := time.Now().Add(20 * time.Second)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				code := tryGet(s.url("/leak?kb=2048"))
				mu.Lock()
				served++
				if code != 200 {
					failures++
				}
				done := len(s.find("worker exceeds --max-worker-memory; starting its replacement")) >= 2 &&
					len(s.find("worker exited")) >= 2
				mu.Unlock()
				if done {
					return
				}
			}
		}()
	}
	wg.Wait()
	if failures > 0 {
		t.Errorf("%d of %d requests failed", failures, served)
	}
	recycled := s.find("worker exceeds --max-worker-memory; starting its replacement")
	if len(recycled) < 2 {
		t.Fatalf("%d workers recycled, want at least 2", len(recycled))
	}
	for _, l := range recycled {
		if mb := l.num("uss_mb"); mb <= 80 {
			t.Errorf("recycled at %d MB", mb)
		}
	}
	s.waitFor(func() bool {
		_, m := adminGet(t, admin+"/metrics")
		return metricValue(m, "gowsgi_worker_exits_total", `reason="memory"`) >= 2 &&
			metricValue(m, "gowsgi_worker_starts_total", `reason="memory"`) >= 2
	})
}

func TestMemoryLimitIgnoresPreloadedPages(t *testing.T) {
	s, admin := opsServer(t, 2, "-w", "2", "--preload", "--max-worker-memory", "40", "operability:big()")
	for range 20 {
		if code, _ := s.get("/"); code != 200 {
			t.Fatalf("GET = %d", code)
		}
	}
	var st struct {
		Workers []struct {
			RSS int64 `json:"rss_bytes"`
			USS int64 `json:"uss_bytes"`
		} `json:"workers"`
	}
	_, body := adminGet(t, admin+"/status")
	if err := json.Unmarshal([]byte(body), &st); err != nil || len(st.Workers) != 2 {
		t.Fatalf("/status: %v\n%s", err, body)
	}
	for _, w := range st.Workers {
		if w.RSS < 60<<20 || w.USS > 40<<20 {
			t.Errorf("worker RSS %d MB, USS %d MB; want RSS over 60 (the app's objects) and USS under 40",
				w.RSS>>20, w.USS>>20)
		}
	}
	time.Sleep(2500 * time.Millisecond) // two memory checks
	if n := len(s.find("worker exceeds --max-worker-memory; starting its replacement")); n > 0 {
		t.Errorf("%d workers recycled for pages shared with the zygote", n)
	}
}

func TestRequestIDs(t *testing.T) {
	s, _ := opsServer(t, 1, "--access-logfile", "-", "--access-logformat", "%(r)s %({x-request-id}i)s")
	resp, err := client.Get(s.url("/id"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	id := resp.Header.Get("X-Request-ID")
	if !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(id) || string(body) != id {
		t.Fatalf("generated id: header %q, environ %q", id, body)
	}
	req, _ := http.NewRequest("GET", s.url("/fail"), nil)
	req.Header.Set("X-Request-ID", "client-id-42")
	resp, err = client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 500 {
		t.Fatalf("/fail = %d, want 500", resp.StatusCode)
	}
	if got := resp.Header.Get("X-Request-ID"); got != "client-id-42" {
		t.Errorf("the server's own 500 page carries X-Request-ID %q; want the request's id", got)
	}
	s.waitFor(func() bool {
		out := s.output()
		return strings.Contains(out, "GET /id HTTP/1.1 "+id) && strings.Contains(out, "GET /fail HTTP/1.1 client-id-42")
	})
	s.waitFor(func() bool { // the app error's log line has the request id
		for _, l := range s.lines_() {
			if strings.HasPrefix(l.str("message"), "error handling request") && l.str("request_id") == "client-id-42" {
				return true
			}
		}
		return false
	})
}
