package integration

import (
	"net"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// syslogServer collects the datagrams sent to a UDP socket.
type syslogServer struct {
	conn net.PacketConn
	mu   sync.Mutex
	got  []string
}

func startSyslogServer(t *testing.T) *syslogServer {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &syslogServer{conn: c}
	t.Cleanup(func() { c.Close() })
	go func() {
		buf := make([]byte, 65536)
		for {
			n, _, err := c.ReadFrom(buf)
			if err != nil {
				return
			}
			s.mu.Lock()
			s.got = append(s.got, string(buf[:n]))
			s.mu.Unlock()
		}
	}()
	return s
}

func (s *syslogServer) addr() string { return "udp://" + s.conn.LocalAddr().String() }

// waitFor returns the first datagram that matches re, waiting for it.
func (s *syslogServer) waitFor(t *testing.T, re *regexp.Regexp) string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		s.mu.Lock()
		for _, d := range s.got {
			if re.MatchString(d) {
				s.mu.Unlock()
				return d
			}
		}
		s.mu.Unlock()
		time.Sleep(10 * time.Millisecond)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t.Fatalf("no syslog datagram matches %s; got %q", re, s.got)
	return ""
}

// TestSyslogAsGunicornSendsIt: with --log-syslog, the master's and the
// workers' error log lines and the access log lines (with no access log
// file, as in Gunicorn) reach a syslog server as Debian's Gunicorn sends
// its own through its Logger: the same priority, tag and "[pid] " before
// the message, and a NUL after it.
func TestSyslogAsGunicornSendsIt(t *testing.T) {
	ref := startSyslogServer(t)
	script := "from gunicorn.config import Config\nfrom gunicorn.glogging import Logger\nc = Config()\n" +
		"c.set('syslog', True)\nc.set('syslog_addr', '" + ref.addr() + "')\nc.set('default_proc_name', 'basic:hello')\n" +
		"Logger(c).info('reference')\n"
	if out, err := exec.Command("/usr/bin/python3", "-c", script).CombinedOutput(); err != nil {
		t.Fatalf("Gunicorn's Logger: %v: %s (make test installs Debian's gunicorn)", err, out)
	}
	reference := ref.waitFor(t, regexp.MustCompile(`reference`))
	refPrefix, _, _ := strings.Cut(reference, "reference")
	numbers := regexp.MustCompile(`[0-9]+`)
	shape := func(s string) string { return numbers.ReplaceAllString(s, "N") }

	sys := startSyslogServer(t)
	s := start(t, serverOpts{args: []string{"--log-syslog", "--log-syslog-to", sys.addr(), "basic:hello"}})
	if code, _ := s.get("/x?y=1"); code != 200 {
		t.Fatalf("GET /x?y=1: %d", code)
	}
	for _, re := range []*regexp.Regexp{
		regexp.MustCompile(`^<14>gunicorn\.basic\.hello\.error: \[[0-9]+\] Listening at: http://127\.0\.0\.1:[0-9]+ \([0-9]+\)\x00$`),
		regexp.MustCompile(`^<14>gunicorn\.basic\.hello\.error: \[[0-9]+\] Booting worker with pid: [0-9]+ worker=1 app=basic:hello\x00$`),
	} {
		d := sys.waitFor(t, re)
		if prefix, _, _ := strings.Cut(d, "] "); shape(prefix+"] ") != shape(refPrefix) || !strings.HasSuffix(d, "\x00") {
			t.Errorf("datagram %q; want Gunicorn's shape, as %q", d, reference)
		}
	}
	access := sys.waitFor(t, regexp.MustCompile(`^<14>gunicorn\.basic\.hello\.access: `))
	if want := regexp.MustCompile(`^<14>gunicorn\.basic\.hello\.access: \[[0-9]+\] 127\.0\.0\.1 - - \[[^]]+\] "GET /x\?y=1 HTTP/1\.1" 200 13 "-" "Go-http-client/1\.1"\x00$`); !want.MatchString(access) {
		t.Errorf("access datagram %q; want it to match %s", access, want)
	}
	if strings.Contains(s.output(), `"GET /x?y=1`) {
		t.Errorf("the access line went to the output too, with no --access-logfile:\n%s", s.output())
	}
}
