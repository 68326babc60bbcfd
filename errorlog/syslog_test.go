package errorlog

import (
	"bufio"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

func TestParseSyslogAddr(t *testing.T) {
	for _, tt := range []struct {
		addr, address, err string
		networks           []string
	}{
		{addr: "unix:///dev/log", networks: []string{"unixgram", "unix"}, address: "/dev/log"},
		{addr: "unix:///dev/log#dgram", networks: []string{"unixgram"}, address: "/dev/log"},
		{addr: "unix:///dev/log#stream", networks: []string{"unixgram", "unix"}, address: "/dev/log"},
		{addr: "udp://localhost:514", networks: []string{"udp"}, address: "localhost:514"},
		{addr: "udp://LogHost", networks: []string{"udp"}, address: "loghost:514"},
		{addr: "udp://[::1]", networks: []string{"udp"}, address: "[::1]:514"},
		{addr: "udp://[::1]:5140", networks: []string{"udp"}, address: "[::1]:5140"},
		{addr: "tcp://", networks: []string{"tcp"}, address: "localhost:514"},
		{addr: "tcp://10.0.0.1:601", networks: []string{"tcp"}, address: "10.0.0.1:601"},
		{addr: "udp://host:x", err: `"x" is not a valid port number`},
		{addr: "syslog://host", err: "invalid syslog address"},
		{addr: "unix://", err: "no socket path"},
	} {
		networks, address, err := ParseSyslogAddr(tt.addr)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ParseSyslogAddr(%q) = %v, %q, %v; want an error saying %q", tt.addr, networks, address, err, tt.err)
			}
			continue
		}
		if err != nil || !slices.Equal(networks, tt.networks) || address != tt.address {
			t.Errorf("ParseSyslogAddr(%q) = %v, %q, %v; want %v, %q", tt.addr, networks, address, err, tt.networks, tt.address)
		}
	}
}

// TestErrorLogToSyslog: with Syslog set, each event also goes to syslog
// as Python's SysLogHandler sends a record under Gunicorn's formatter
// (<PRI>TAG.error: [PID] MESSAGE, then a NUL, in Gunicorn's words where
// it has them), over a datagram socket, a unix stream socket and UDP.
func TestErrorLogToSyslog(t *testing.T) {
	dir := t.TempDir()
	pid := strconv.Itoa(os.Getpid())
	want := []string{
		"<14>gunicorn.shop.error: [" + pid + "] Booting worker with pid: " + pid + " worker=3 app=shop:app\x00",
		"<12>gunicorn.shop.error: [" + pid + "] careful worker=3\x00",
		"<10>gunicorn.shop.error: [" + pid + "] Traceback (most recent call last):\nValueError: boom worker=3\x00",
		// Gunicorn's words and level (critical) for the timeout gowsgi logs as an error.
		"<10>gunicorn.shop.error: [" + pid + "] WORKER TIMEOUT (pid:77) worker=3\x00",
	}
	logAll := func(t *testing.T, addr string) {
		l, err := Open(Options{Path: filepath.Join(dir, "error.log"), Level: "info",
			Syslog: &SyslogOptions{Addr: addr, Facility: "user", Tag: "gunicorn.shop"}})
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		log := l.Logger("worker").With().Int("worker", 3).Logger()
		log.Info().Str("app", "shop:app").Msg("booted")
		log.Debug().Msg("below the level: not sent")
		log.Warn().Msg("careful")
		log.WithLevel(zerolog.FatalLevel).Msg("Traceback (most recent call last):\nValueError: boom")
		log.WithLevel(zerolog.FatalLevel).Int("worker_pid", 77).Msg("worker timeout: no heartbeat; killing the worker")
	}
	t.Run("unixgram", func(t *testing.T) {
		path := filepath.Join(dir, "dgram.sock")
		c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		logAll(t, "unix://"+path)
		for i, w := range want {
			if got := readDatagram(t, c); got != w {
				t.Errorf("datagram %d = %q, want %q", i, got, w)
			}
		}
	})
	t.Run("unix stream", func(t *testing.T) {
		path := filepath.Join(dir, "stream.sock")
		ln, err := net.Listen("unix", path)
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		logAll(t, "unix://"+path)
		c, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		r := bufio.NewReader(c)
		for i, w := range want {
			if got, err := r.ReadString(0); err != nil || got != w {
				t.Errorf("record %d = %q, %v; want %q", i, got, err, w)
			}
		}
	})
	t.Run("udp", func(t *testing.T) {
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		logAll(t, "udp://"+c.LocalAddr().String())
		for i, w := range want {
			if got := readDatagram(t, c); got != w {
				t.Errorf("datagram %d = %q, want %q", i, got, w)
			}
		}
	})
}

func readDatagram(t *testing.T, c net.PacketConn) string {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 65536)
	n, _, err := c.ReadFrom(buf)
	if err != nil {
		t.Fatal(err)
	}
	return string(buf[:n])
}

// A unix socket or TCP server that is not there stops the start, as it
// stops Gunicorn's.
func TestSyslogUnreachable(t *testing.T) {
	_, err := Open(Options{Level: "info", Syslog: &SyslogOptions{Addr: "unix://" + filepath.Join(t.TempDir(), "none"),
		Facility: "user", Tag: "gunicorn.x"}})
	if err == nil || !strings.Contains(err.Error(), "syslog unix://") {
		t.Errorf("Open with a missing syslog socket: %v; want an error naming it", err)
	}
}

// TestSyslogStuckServer: a syslog server that stops reading costs each
// line at most syslogTimeout: Send returns, and the lines are dropped.
func TestSyslogStuckServer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		var held []net.Conn // accepted, never read
		for {
			c, err := ln.Accept()
			if err != nil {
				for _, c := range held {
					c.Close()
				}
				return
			}
			held = append(held, c)
		}
	}()
	s, err := DialSyslog(SyslogOptions{Addr: "tcp://" + ln.Addr().String(), Facility: "user", Tag: "gunicorn.x"}, "access")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	line := []byte(strings.Repeat("x", 64<<10))
	done := make(chan struct{})
	go func() {
		for range 160 { // 10 MiB: more than the socket buffers hold
			s.Send(SeverityInfo, line)
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("Send blocked on a syslog server that does not read")
	}
}
