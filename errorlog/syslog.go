package errorlog

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// Gunicorn's --log-syslog: every process sends its error log, and the
// workers their access log, to syslog as well, each line as Python's
// logging.handlers.SysLogHandler sends a record under Gunicorn's
// formatter ("gunicorn.PREFIX.error: [%(process)d] %(message)s"):
//
//	<11>gunicorn.myapp.app.error: [4242] the app raised ...\x00
//
// so syslog rules written for Gunicorn's tags match gowsgi's lines.

// SyslogFacilities are Gunicorn's facility names and their codes
// (glogging.SYSLOG_FACILITIES).
var SyslogFacilities = map[string]int{
	"auth": 4, "authpriv": 10, "cron": 9, "daemon": 3, "ftp": 11, "kern": 0, "lpr": 6, "mail": 2,
	"news": 7, "security": 4, "syslog": 5, "user": 1, "uucp": 8,
	"local0": 16, "local1": 17, "local2": 18, "local3": 19, "local4": 20, "local5": 21, "local6": 22, "local7": 23,
}

// Syslog severities (RFC 5424) of the error log's levels, by zerolog's
// names, as Python's SysLogHandler.mapPriority gives them for Python's.
var syslogSeverities = map[string]int{
	zerolog.LevelTraceValue: 7, zerolog.LevelDebugValue: 7, zerolog.LevelInfoValue: 6, zerolog.LevelWarnValue: 4,
	zerolog.LevelErrorValue: 3, zerolog.LevelFatalValue: 2, zerolog.LevelPanicValue: 2,
}

// SeverityInfo is the severity of an access log line (Gunicorn logs
// them at INFO).
const SeverityInfo = 6

// SyslogOptions say where and how lines go to syslog (Gunicorn's
// syslog_addr, syslog_facility, and the tag it builds from
// syslog_prefix).
type SyslogOptions struct {
	Addr     string // ParseSyslogAddr's grammar
	Facility string // a key of SyslogFacilities
	// Tag is "gunicorn." and the prefix; Dial adds ".error" or ".access".
	Tag string
}

// ParseSyslogAddr reads Gunicorn's syslog_addr (glogging's
// parse_syslog_address) into the networks to try, in order, and the
// address:
//
//	"unix:///dev/log"        → ["unixgram", "unix"], "/dev/log" (datagrams, else a stream)
//	"unix:///dev/log#dgram"  → ["unixgram"], "/dev/log"
//	"udp://localhost:514"    → ["udp"], "localhost:514"
//	"udp://[::1]" , "tcp://" → ["udp"], "[::1]:514"; ["tcp"], "localhost:514"
func ParseSyslogAddr(addr string) (networks []string, address string, err error) {
	if rest, ok := strings.CutPrefix(addr, "unix://"); ok {
		path, kind, _ := strings.Cut(rest, "#")
		if path == "" {
			return nil, "", errors.New("invalid syslog address: no socket path")
		}
		if kind == "dgram" {
			return []string{"unixgram"}, path, nil
		}
		return []string{"unixgram", "unix"}, path, nil
	}
	var network, hostport string
	switch {
	case strings.HasPrefix(addr, "udp://"):
		network, hostport = "udp", addr[len("udp://"):]
	case strings.HasPrefix(addr, "tcp://"):
		network, hostport = "tcp", addr[len("tcp://"):]
	default:
		return nil, "", fmt.Errorf("invalid syslog address %q: want unix://PATH[#dgram], udp://HOST[:PORT] or tcp://HOST[:PORT]", addr)
	}
	host, port := hostport, "514"
	if h, p, err := net.SplitHostPort(hostport); err == nil {
		host, port = h, p
	} else if strings.HasPrefix(hostport, "[") && strings.HasSuffix(hostport, "]") {
		host = hostport[1 : len(hostport)-1]
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || n == 0 {
		return nil, "", fmt.Errorf("invalid syslog address %q: %q is not a valid port number", addr, port)
	}
	if host == "" {
		host = "localhost"
	}
	return []string{network}, net.JoinHostPort(strings.ToLower(host), port), nil
}

// A syslog server that takes longer than syslogTimeout to connect or to
// take a line loses the line, not a request's time; after a failed
// connection, lines are dropped for syslogRetry before the next try.
const (
	syslogTimeout = time.Second
	syslogRetry   = 5 * time.Second
)

// SyslogSender sends lines to syslog under one tag. Safe for concurrent
// use: each line is one write under the lock.
type SyslogSender struct {
	prefix   string   // "gunicorn.PREFIX.NAME: [PID] ". Immutable.
	facility int      // Immutable.
	networks []string // Immutable.
	address  string   // Immutable.

	mu      sync.Mutex
	conn    net.Conn  // guarded by mu; nil after a failed connection
	retryAt time.Time // guarded by mu; when conn is nil, no try before it
	buf     []byte    // guarded by mu
	closed  bool      // guarded by mu
}

// DialSyslog connects to o.Addr for the lines named name ("error",
// "access"): a unix socket or TCP server that is not there is an
// error, as it stops Gunicorn's start; a UDP one cannot be told.
func DialSyslog(o SyslogOptions, name string) (*SyslogSender, error) {
	facility, ok := SyslogFacilities[strings.ToLower(o.Facility)]
	if !ok {
		return nil, fmt.Errorf("unknown syslog facility %q", o.Facility)
	}
	networks, address, err := ParseSyslogAddr(o.Addr)
	if err != nil {
		return nil, err
	}
	s := &SyslogSender{prefix: fmt.Sprintf("%s.%s: [%d] ", o.Tag, name, os.Getpid()), facility: facility,
		networks: networks, address: address}
	if s.conn, err = s.dial(); err != nil {
		return nil, fmt.Errorf("syslog %s: %w", o.Addr, err)
	}
	return s, nil
}

func (s *SyslogSender) dial() (net.Conn, error) {
	var err error
	for _, network := range s.networks {
		var c net.Conn
		if c, err = net.DialTimeout(network, s.address, syslogTimeout); err == nil {
			return c, nil
		}
	}
	return nil, err
}

// Send sends text at severity: "<PRI>TAG: [PID] TEXT" and a NUL, in one
// datagram or write. A failed write is retried once on a new
// connection, then dropped: logging never stops the server, nor holds a
// request up for long (syslogTimeout).
func (s *SyslogSender) Send(severity int, text []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || (s.conn == nil && time.Now().Before(s.retryAt)) {
		return
	}
	s.buf = append(strconv.AppendInt(append(s.buf[:0], '<'), int64(s.facility<<3|severity), 10), '>')
	s.buf = append(append(append(s.buf, s.prefix...), text...), 0)
	if s.conn != nil && s.write() == nil {
		return
	}
	if s.conn != nil {
		s.conn.Close() // a stream may hold half the line
	}
	var err error
	if s.conn, err = s.dial(); err != nil {
		s.retryAt = time.Now().Add(syslogRetry)
		return
	}
	if s.write() != nil {
		s.conn.Close()
		s.conn = nil
	}
}

// write writes buf on conn within syslogTimeout. s.mu held.
func (s *SyslogSender) write() error {
	s.conn.SetWriteDeadline(time.Now().Add(syslogTimeout))
	_, err := s.conn.Write(s.buf)
	return err
}

// Close closes the connection.
func (s *SyslogSender) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	if s.conn == nil {
		return nil
	}
	err := s.conn.Close()
	s.conn = nil
	return err
}

// syslogEvents writes each error log event to syslog as --log-format
// gunicorn writes it after the level (Gunicorn's words for the events
// that have them, then the fields as key=value), at the severity of its
// level (Gunicorn's, for those). One per Logger.
type syslogEvents struct {
	s *SyslogSender

	mu    sync.Mutex   // guards out and level: a Logger is used from many goroutines
	out   bytes.Buffer // the console rendering of the event
	level string       // the rendered event's level
	cw    zerolog.ConsoleWriter
}

var _ zerolog.LevelWriter = (*syslogEvents)(nil)

func newSyslogEvents(s *SyslogSender) *syslogEvents {
	e := &syslogEvents{s: s}
	e.cw = gunicornWriter(&e.out)
	e.cw.PartsOrder = []string{zerolog.MessageFieldName} // syslog has its own time, pid and severity
	e.cw.FormatPrepare = func(evt map[string]any) error {
		gunicornWords(evt)
		e.level, _ = evt[zerolog.LevelFieldName].(string)
		return nil
	}
	return e
}

func (e *syslogEvents) Write(p []byte) (int, error) { return e.WriteLevel(zerolog.NoLevel, p) }

func (e *syslogEvents) WriteLevel(_ zerolog.Level, p []byte) (int, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.out.Reset()
	e.level = ""
	if _, err := e.cw.Write(p); err != nil {
		return 0, err
	}
	severity, ok := syslogSeverities[e.level]
	if !ok {
		severity = SeverityInfo
	}
	e.s.Send(severity, bytes.TrimRight(e.out.Bytes(), "\n"))
	return len(p), nil
}
