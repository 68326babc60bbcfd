package statsd

import (
	"bytes"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// hooked is a Hooked error log: its loggers run the hook Open set.
type hooked struct{ hook zerolog.Hook }

func (h *hooked) SetHook(hook zerolog.Hook) { h.hook = hook }

func TestOpen(t *testing.T) {
	var off hooked
	if c, err := Open("", "", "", &off); c != nil || err != nil || off.hook != nil {
		t.Fatalf("Open with no host = %v, %v, hook %v; want nil, nil, none", c, err, off.hook)
	}
	var bad hooked
	if c, err := Open("stats d:8125", "", "", &bad); c != nil || !errors.Is(err, ErrAddr) || bad.hook != nil {
		t.Fatalf("Open with a bad host = %v, %v, hook %v; want nil, ErrAddr, none", c, err, bad.hook)
	}
	pc := listenUDP(t)
	var elog hooked
	c, err := Open(pc.LocalAddr().String(), "app", "", &elog)
	if err != nil || c == nil || elog.hook == nil {
		t.Fatalf("Open = %v, %v, hook %v; want a client and its hook", c, err, elog.hook)
	}
	defer c.Close()
	log := zerolog.New(zerolog.Nop()).Hook(elog.hook)
	log.Warn().Msg("counted")
	if got, _ := readLines(t, pc, 1); !slices.Equal(got, []string{"app.gunicorn.log.warning:1|c|@1.0"}) {
		t.Errorf("lines %q; want the warning counted", got)
	}
}

// syncBuffer is a log destination the failing goroutine and the test
// share; wrote gets a token for each line.
type syncBuffer struct {
	mu    sync.Mutex
	b     bytes.Buffer
	wrote chan struct{}
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.wrote <- struct{}{}
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestLossesLogged: the first lost datagram is logged once, and closing
// says how many were lost.
func TestLossesLogged(t *testing.T) {
	out := syncBuffer{wrote: make(chan struct{}, 8)}
	log := zerolog.New(&out)
	c := newClient(t, "unix:"+filepath.Join(t.TempDir(), "none.sock"), "", "")
	c.LogLosses(log)
	c.Incr(LogError)
	select {
	case <-out.wrote:
	case <-time.After(10 * time.Second):
		t.Fatal("no loss logged")
	}
	c.Incr(LogError)
	c.CloseLogged(log)
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], "a datagram of metrics was lost") ||
		!strings.Contains(lines[1], `"dropped":2`) || !strings.Contains(lines[1], "datagrams of metrics lost") {
		t.Errorf("log %q; want the first loss, then 2 dropped at close", lines)
	}
	var nilClient *Client
	nilClient.LogLosses(log)
	nilClient.CloseLogged(log)
}
