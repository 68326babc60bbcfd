package config

import (
	"bytes"
	"testing"
)

func TestStatsdSettings(t *testing.T) {
	cases := []struct {
		name               string
		args               []string
		file               string // ./gowsgi.toml
		host, prefix, tags string
		backlog            bool
	}{
		{name: "off by default"},
		{name: "flags", args: []string{"--statsd-host", "localhost", "--statsd-prefix", "web", "--dogstatsd-tags", "env:prod,canary"},
			host: "localhost:8125", prefix: "web", tags: "env:prod,canary"},
		{name: "unix URL", args: []string{"--statsd-host=unix:///run/datadog/dsd.socket"}, host: "unix:/run/datadog/dsd.socket"},
		{name: "IPv6", args: []string{"--statsd-host", "[::1]:9125"}, host: "[::1]:9125"},
		{name: "config file", file: "statsd_host = \"10.0.0.5:8125\"\nstatsd_prefix = \"svc.app.\"\ndogstatsd_tags = \"pod:web-1\"\n",
			host: "10.0.0.5:8125", prefix: "svc.app.", tags: "pod:web-1"},
		{name: "backlog metric", args: []string{"--statsd-host", "statsd", "--enable-backlog-metric"}, host: "statsd:8125", backlog: true},
		{name: "backlog metric in the file", file: "enable_backlog_metric = true\n", backlog: true},
		{name: "flag beats file", args: []string{"--statsd-host", "other:1"}, file: "statsd_host = \"statsd\"\n", host: "other:1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			inTempDir(t, tc.file)
			cfg, _, err := Load(append(tc.args, "hello:app"), env(nil), discard{})
			if err != nil {
				t.Fatalf("Load(%q): %v", tc.args, err)
			}
			if cfg.EnableBacklogMetric != tc.backlog {
				t.Errorf("Load(%q): EnableBacklogMetric = %v", tc.args, cfg.EnableBacklogMetric)
			}
			if cfg.StatsdHost != tc.host || cfg.StatsdPrefix != tc.prefix || cfg.DogstatsdTags != tc.tags {
				t.Fatalf("Load(%q): statsd %q, %q, %q; want %q, %q, %q", tc.args,
					cfg.StatsdHost, cfg.StatsdPrefix, cfg.DogstatsdTags, tc.host, tc.prefix, tc.tags)
			}
		})
	}
}

func TestStatsdSettingErrors(t *testing.T) {
	cases := []struct {
		name string
		args []string
		file string
		want string
	}{
		{name: "fd", args: []string{"--statsd-host", "fd://3"},
			want: `--statsd-host: statsd: want HOST:PORT, [IPv6]:PORT or unix:PATH: "fd://3": a file descriptor cannot be a StatsD address`},
		{name: "bad port", args: []string{"--statsd-host", "statsd:udp"},
			want: `--statsd-host: statsd: want HOST:PORT, [IPv6]:PORT or unix:PATH: "statsd:udp": port "udp" is not a number from 1 to 65535`},
		{name: "colon in prefix", args: []string{"--statsd-prefix", "a:b"},
			want: `--statsd-prefix: statsd: a prefix may not hold ':', '|', '@', '#', spaces or bytes outside printable ASCII: "a:b" has ':' at byte 1`},
		{name: "pipe in tags, in the file", file: "\ndogstatsd_tags = \"env:prod|c\"\n",
			want: `gowsgi.toml:2: dogstatsd_tags: statsd: tags may not hold '|', spaces or bytes outside printable ASCII: "env:prod|c" has '|' at byte 8`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			inTempDir(t, tc.file)
			_, _, err := Load(append(tc.args, "hello:app"), env(nil), &bytes.Buffer{})
			if err == nil || err.Error() != tc.want {
				t.Fatalf("Load(%q) error = %v\nwant %s", tc.args, err, tc.want)
			}
		})
	}
}
