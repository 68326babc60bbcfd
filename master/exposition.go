package master

import (
	"bufio"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/gowsgi/gowsgi/handoff"
)

// promWriter writes the Prometheus text exposition format, version
// 0.0.4. It is a few dozen lines of our own rather than
// prometheus/client_golang: the project allows four dependencies, and
// the master only renders numbers the workers already aggregated.
//
//	# HELP gowsgi_requests_total Requests answered, by method and status class.
//	# TYPE gowsgi_requests_total counter
//	gowsgi_requests_total{method="GET",status="2xx"} 12
type promWriter struct {
	w *bufio.Writer
}

func (p *promWriter) family(name, typ, help string) {
	p.w.WriteString("# HELP " + name + " " + escapeHelp(help) + "\n# TYPE " + name + " " + typ + "\n")
}

// sample writes one line; labels are name, value pairs.
func (p *promWriter) sample(name string, v float64, labels ...string) {
	p.w.WriteString(name)
	for i := 0; i+1 < len(labels); i += 2 {
		if i == 0 {
			p.w.WriteByte('{')
		} else {
			p.w.WriteByte(',')
		}
		p.w.WriteString(labels[i] + `="` + escapeLabel(labels[i+1]) + `"`)
	}
	if len(labels) > 0 {
		p.w.WriteByte('}')
	}
	p.w.WriteString(" " + formatFloat(v) + "\n")
}

func (p *promWriter) gauge(name, help string, v int) {
	p.family(name, "gauge", help)
	p.sample(name, float64(v))
}

func (p *promWriter) counter(name, help string, v float64) {
	p.family(name, "counter", help)
	p.sample(name, v)
}

// labelled writes a family with one label, its values sorted.
func (p *promWriter) labelled(name, typ, help, label string, values map[string]uint64) {
	p.family(name, typ, help)
	for _, k := range slices.Sorted(maps.Keys(values)) {
		p.sample(name, float64(values[k]), label, k)
	}
}

// histogram writes cumulative _bucket lines over
// handoff.DurationBuckets, then _sum and _count.
func (p *promWriter) histogram(name, help string, h *handoff.Histogram) {
	p.family(name, "histogram", help)
	var cum uint64
	for i, le := range handoff.DurationBuckets {
		if i < len(h.Counts) {
			cum += h.Counts[i]
		}
		p.sample(name+"_bucket", float64(cum), "le", formatFloat(le))
	}
	if n := len(handoff.DurationBuckets); n < len(h.Counts) {
		cum += h.Counts[n]
	}
	p.sample(name+"_bucket", float64(cum), "le", "+Inf")
	p.sample(name+"_sum", h.Sum)
	p.sample(name+"_count", float64(cum))
}

func formatFloat(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	case math.IsNaN(v):
		return "NaN"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

var (
	labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	helpEscaper  = strings.NewReplacer(`\`, `\\`, "\n", `\n`)
)

func escapeLabel(s string) string { return labelEscaper.Replace(s) }
func escapeHelp(s string) string  { return helpEscaper.Replace(s) }
