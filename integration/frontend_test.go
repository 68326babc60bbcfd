package integration

// Helpers for the deployment tests: run gowsgi under any command line,
// and run the real nginx and Apache as children of the test with their
// configuration, logs and pid file in a temporary directory.

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// repoDir is the repository, for examples/ and bin/.
func repoDir(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// startCommand runs cmd (gowsgi, or a wrapper that execs it) in its own
// process group with its output parsed as the error log, waits for ready
// "worker ready" lines, and kills the group at cleanup.
func startCommand(t *testing.T, cmd *exec.Cmd, ready int) *server {
	t.Helper()
	s := &server{t: t, cmd: cmd, exited: make(chan struct{})}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	go func() {
		s.collect(pr)
		pr.Close()
	}()
	go func() {
		cmd.Wait()
		s.mu.Lock()
		s.state = cmd.ProcessState
		s.mu.Unlock()
		close(s.exited)
	}()
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-s.exited
		if t.Failed() {
			t.Logf("%s output:\n%s", filepath.Base(cmd.Path), s.output())
		}
	})
	if ready > 0 {
		s.waitFor(func() bool { return len(s.find("worker ready")) >= ready })
	}
	return s
}

// gowsgiCommand is bin/gowsgi with args, run in testdata/apps.
func gowsgiCommand(args ...string) *exec.Cmd {
	cmd := exec.Command(binary, args...)
	cmd.Dir = appsDir
	cmd.Env = os.Environ()
	return cmd
}

// debianTool finds a program from Debian, also in the sbin directories a
// non-root PATH lacks. A missing tool fails the test: `make test`
// installs them all (DEB_PACKAGES), so a skip would hide a broken setup.
func debianTool(t *testing.T, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, dir := range []string{"/usr/sbin", "/sbin"} {
		if p := filepath.Join(dir, name); isExecutable(p) {
			return p
		}
	}
	t.Fatalf("%s is not installed; run `make deps` (it installs DEB_PACKAGES from the Makefile)", name)
	return ""
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// freeLoopbackPort returns a TCP port on 127.0.0.1 that was free a moment ago.
// Tools that cannot bind port 0 and report it get one of these, and the
// caller retries should another process take it first.
func freeLoopbackPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// renderExample reads a configuration file shipped in examples/ and replaces
// each placeholder, failing when one is missing, so the shipped file and
// what the test runs cannot drift apart.
func renderExample(t *testing.T, path string, replace map[string]string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoDir(t), path))
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	for from, to := range replace {
		if !strings.Contains(text, from) {
			t.Fatalf("%s no longer contains %q; update the test with the example", path, from)
		}
		text = strings.ReplaceAll(text, from, to)
	}
	return text
}

// frontEnd is one nginx or Apache started by a test.
type frontEnd struct {
	name   string
	dir    string // config, logs, pid file, temp files
	cmd    *exec.Cmd
	exited chan struct{}
	err    error // from Wait, once exited is closed
	log    string
}

// startFrontEnd runs argv as a foreground child in its own process
// group, then waits until every address accepts connections. started is
// false when the process exited first; the caller retries with new ports
// when addrInUse says another process took one.
func startFrontEnd(t *testing.T, name, dir, logFile string, argv []string, addrs ...string) (f *frontEnd, started bool) {
	t.Helper()
	f = &frontEnd{name: name, dir: dir, log: logFile, exited: make(chan struct{})}
	f.cmd = exec.Command(argv[0], argv[1:]...)
	f.cmd.Dir = dir
	f.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := os.Create(filepath.Join(dir, name+".out"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	f.cmd.Stdout, f.cmd.Stderr = out, out
	if err := f.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		f.err = f.cmd.Wait()
		close(f.exited)
	}()
	t.Cleanup(func() {
		syscall.Kill(-f.cmd.Process.Pid, syscall.SIGKILL)
		<-f.exited
		if t.Failed() {
			t.Logf("%s error log:\n%s", name, f.logs())
		}
	})
	deadline := time.Now().Add(15 * time.Second)
	for _, addr := range addrs {
		for {
			c, err := net.DialTimeout("tcp", addr, time.Second)
			if err == nil {
				c.Close()
				break
			}
			select {
			case <-f.exited:
				return f, false
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s does not accept connections on %s: %v\n%s", name, addr, err, f.logs())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return f, true
}

func (f *frontEnd) logs() string {
	var b strings.Builder
	for _, p := range []string{f.log, filepath.Join(f.dir, f.name+".out")} {
		if data, err := os.ReadFile(p); err == nil {
			b.Write(data)
		}
	}
	return b.String()
}

// addrInUse tells a start that failed on a port taken in the meantime.
func (f *frontEnd) addrInUse() bool {
	return strings.Contains(f.logs(), "Address already in use")
}

// nginxServer is a running nginx.
type nginxServer struct {
	*frontEnd
	port int // the listen 80 of the example
	// tlsPort is the listen 443 ssl of the example, when it has one.
	tlsPort int
}

func (n *nginxServer) url(path string) string {
	return "http://127.0.0.1:" + strconv.Itoa(n.port) + path
}

// startNginx runs nginx in the foreground with a main configuration
// around site, an http-context file from examples/nginx rendered by
// the test: "listen 80" and "listen 443 ssl" become free ports. It
// retries with new ports when another process took one first.
func startNginx(t *testing.T, site string) *nginxServer {
	t.Helper()
	nginx := debianTool(t, "nginx")
	for attempt := 0; ; attempt++ {
		dir := t.TempDir()
		n := &nginxServer{port: freeLoopbackPort(t)}
		site := strings.ReplaceAll(site, "listen 80;", fmt.Sprintf("listen 127.0.0.1:%d;", n.port))
		addrs := []string{fmt.Sprintf("127.0.0.1:%d", n.port)}
		if strings.Contains(site, "listen 443 ssl;") {
			// Two free ports picked one after the other can be the
			// same one (each is free once the probe closes it), and
			// nginx refuses a duplicate listen.
			for n.tlsPort = freeLoopbackPort(t); n.tlsPort == n.port; {
				n.tlsPort = freeLoopbackPort(t)
			}
			site = strings.ReplaceAll(site, "listen 443 ssl;", fmt.Sprintf("listen 127.0.0.1:%d ssl;", n.tlsPort))
			addrs = append(addrs, fmt.Sprintf("127.0.0.1:%d", n.tlsPort))
		}
		writeNginxConfig(t, dir, site)
		errorLog := filepath.Join(dir, "error.log")
		argv := []string{nginx, "-p", dir, "-c", filepath.Join(dir, "nginx.conf"), "-e", errorLog}
		var started bool
		if n.frontEnd, started = startFrontEnd(t, "nginx", dir, errorLog, argv, addrs...); started {
			return n
		}
		if attempt == 4 || !n.addrInUse() {
			t.Fatalf("nginx exited at start:\n%s", n.logs())
		}
	}
}

// writeNginxConfig writes the main configuration a package would ship in
// /etc/nginx/nginx.conf, pointed at dir, with the site in its http
// block, and the uwsgi_params Debian installs next to it.
func writeNginxConfig(t *testing.T, dir, site string) {
	t.Helper()
	params, err := os.ReadFile("/etc/nginx/uwsgi_params")
	if err != nil {
		t.Fatalf("nginx's uwsgi_params: %v (apt-get install nginx)", err)
	}
	user := ""
	if os.Geteuid() == 0 {
		user = "user root;" // workers must reach the test's 0700 temp dirs
	}
	conf := fmt.Sprintf(`%[1]s
daemon off;
master_process on;
worker_processes 1;
pid %[2]s/nginx.pid;
error_log %[2]s/error.log info;
events { worker_connections 512; }
http {
    access_log %[2]s/access.log;
    client_body_temp_path %[2]s/client_body;
    proxy_temp_path %[2]s/proxy;
    uwsgi_temp_path %[2]s/uwsgi;
    fastcgi_temp_path %[2]s/fastcgi;
    scgi_temp_path %[2]s/scgi;
%[3]s
}
`, user, dir, site)
	for name, data := range map[string][]byte{"nginx.conf": []byte(conf), "uwsgi_params": params} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// apacheServer is a running Apache httpd.
type apacheServer struct {
	*frontEnd
	port int
}

func (a *apacheServer) url(path string) string {
	return "http://127.0.0.1:" + strconv.Itoa(a.port) + path
}

// apacheModules are loaded by the main configuration, as a2enmod would.
var apacheModules = []string{"mpm_event", "authz_core", "headers", "proxy", "proxy_http", "proxy_uwsgi"}

// startApache runs apache2 in the foreground with a main configuration
// around site, a virtual host file from examples/apache in which
// "*:80" becomes a free port.
func startApache(t *testing.T, site string) *apacheServer {
	t.Helper()
	apache := debianTool(t, "apache2")
	for attempt := 0; ; attempt++ {
		dir := t.TempDir()
		a := &apacheServer{port: freeLoopbackPort(t)}
		site := strings.ReplaceAll(site, "*:80", fmt.Sprintf("127.0.0.1:%d", a.port))
		var conf strings.Builder
		fmt.Fprintf(&conf, "ServerRoot %s\nServerName localhost\nListen 127.0.0.1:%d\n", dir, a.port)
		fmt.Fprintf(&conf, "PidFile %[1]s/httpd.pid\nErrorLog %[1]s/error.log\nLogLevel info\nDefaultRuntimeDir %[1]s\n", dir)
		if os.Geteuid() == 0 {
			conf.WriteString("User nobody\nGroup nogroup\n")
		}
		for _, m := range apacheModules {
			fmt.Fprintf(&conf, "LoadModule %s_module /usr/lib/apache2/modules/mod_%s.so\n", m, m)
		}
		conf.WriteString(site)
		if err := os.WriteFile(filepath.Join(dir, "httpd.conf"), []byte(conf.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		errorLog := filepath.Join(dir, "error.log")
		// A clean environment: mod_proxy_uwsgi passes the server's
		// environment variables on to the backend.
		argv := []string{"/usr/bin/env", "-i", "PATH=/usr/sbin:/usr/bin:/sbin:/bin",
			apache, "-f", filepath.Join(dir, "httpd.conf"), "-DFOREGROUND"}
		var started bool
		if a.frontEnd, started = startFrontEnd(t, "apache2", dir, errorLog, argv, fmt.Sprintf("127.0.0.1:%d", a.port)); started {
			return a
		}
		if attempt == 4 || !a.addrInUse() {
			t.Fatalf("apache2 exited at start:\n%s", a.logs())
		}
	}
}

// errNotReady is returned by pollFor when the deadline passes.
var errNotReady = errors.New("condition not met before the deadline")

// pollFor calls cond every 20 ms for up to timeout.
func pollFor(timeout time.Duration, cond func() bool) error {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return errNotReady
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil
}
