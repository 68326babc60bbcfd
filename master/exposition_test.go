package master

import (
	"bufio"
	"os"
	"strings"
	"testing"

	"github.com/gowsgi/gowsgi/handoff"
)

func render(f func(p *promWriter)) string {
	var b strings.Builder
	w := bufio.NewWriter(&b)
	f(&promWriter{w: w})
	w.Flush()
	return b.String()
}

func TestExpositionEscapesLabelsAndHelp(t *testing.T) {
	got := render(func(p *promWriter) {
		p.family("gowsgi_x_total", "counter", "a \\ help\nline")
		p.sample("gowsgi_x_total", 3, "path", "a\"b\\c\nd", "method", "GET")
		p.sample("gowsgi_x_total", 0.25)
	})
	want := "# HELP gowsgi_x_total a \\\\ help\\nline\n# TYPE gowsgi_x_total counter\n" +
		"gowsgi_x_total{path=\"a\\\"b\\\\c\\nd\",method=\"GET\"} 3\ngowsgi_x_total 0.25\n"
	if got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
}

func TestExpositionHistogramIsCumulative(t *testing.T) {
	h := handoff.Histogram{Counts: make([]uint64, len(handoff.DurationBuckets)+1), Sum: 12.5}
	h.Counts[0] = 2                            // <= 1ms
	h.Counts[3] = 3                            // <= 10ms
	h.Counts[len(handoff.DurationBuckets)] = 1 // above 60s
	got := render(func(p *promWriter) { p.histogram("gowsgi_d_seconds", "d", &h) })
	for _, line := range []string{
		`gowsgi_d_seconds_bucket{le="0.001"} 2`,
		`gowsgi_d_seconds_bucket{le="0.005"} 2`,
		`gowsgi_d_seconds_bucket{le="0.01"} 5`,
		`gowsgi_d_seconds_bucket{le="60"} 5`,
		`gowsgi_d_seconds_bucket{le="+Inf"} 6`,
		`gowsgi_d_seconds_sum 12.5`,
		`gowsgi_d_seconds_count 6`,
	} {
		if !strings.Contains(got, line+"\n") {
			t.Errorf("missing %q in\n%s", line, got)
		}
	}
}

func TestReadMemoryOfSelf(t *testing.T) {
	m, ok := readMemory(os.Getpid())
	if !ok || m.rss == 0 || m.uss == 0 || m.uss > m.rss {
		t.Fatalf("readMemory(self) = %+v, %v", m, ok)
	}
}
