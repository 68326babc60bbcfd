package config

import "github.com/gowsgi/gowsgi/statsd"

// normalizeStatsdHost accepts what Gunicorn's --statsd-host accepts
// (statsd.ParseAddr), or "" for no StatsD:
//
//	"" → "";  "localhost" → "localhost:8125";  "unix:///run/dsd.sock" → "unix:/run/dsd.sock"
//	"fd://3" → error;  "statsd:0" → error
func normalizeStatsdHost(v any) (any, error) {
	s := v.(string)
	if s == "" {
		return "", nil
	}
	a, err := statsd.ParseAddr(s)
	if err != nil {
		return nil, err
	}
	return a.String(), nil
}

// normalizeStatsdPrefix accepts a prefix that keeps a metric one StatsD
// line (statsd.CheckPrefix); it is kept as given, and the dot is added
// when metrics are sent (statsd.Prefix, Gunicorn's rule).
func normalizeStatsdPrefix(v any) (any, error) {
	return v, statsd.CheckPrefix(v.(string))
}

// normalizeDogstatsdTags accepts tags without '|', spaces or bytes
// outside printable ASCII (statsd.CheckTags).
func normalizeDogstatsdTags(v any) (any, error) {
	return v, statsd.CheckTags(v.(string))
}
