package statsd

import (
	"errors"
	"testing"
)

func TestParseAddr(t *testing.T) {
	tests := []struct {
		name, in string
		want     Addr
		wantStr  string
	}{
		{name: "host and port", in: "localhost:8125", want: Addr{Host: "localhost", Port: 8125}, wantStr: "localhost:8125"},
		{name: "default port", in: "statsd", want: Addr{Host: "statsd", Port: 8125}, wantStr: "statsd:8125"},
		{name: "host lower-cased like Gunicorn", in: "StatsD.Local:9125", want: Addr{Host: "statsd.local", Port: 9125}, wantStr: "statsd.local:9125"},
		{name: "IPv4", in: "10.0.0.7:8125", want: Addr{Host: "10.0.0.7", Port: 8125}, wantStr: "10.0.0.7:8125"},
		{name: "IPv6", in: "[::1]:9125", want: Addr{Host: "::1", Port: 9125}, wantStr: "[::1]:9125"},
		{name: "IPv6 default port", in: "[fe80::1]", want: Addr{Host: "fe80::1", Port: 8125}, wantStr: "[fe80::1]:8125"},
		{name: "tcp scheme dropped like Gunicorn", in: "tcp://statsd:8125", want: Addr{Host: "statsd", Port: 8125}, wantStr: "statsd:8125"},
		{name: "unix path", in: "unix:/run/dsd.sock", want: Addr{Path: "/run/dsd.sock"}, wantStr: "unix:/run/dsd.sock"},
		{name: "unix URL", in: "unix:///run/dsd.sock", want: Addr{Path: "/run/dsd.sock"}, wantStr: "unix:/run/dsd.sock"},
		{name: "relative unix path", in: "unix:dsd.sock", want: Addr{Path: "dsd.sock"}, wantStr: "unix:dsd.sock"},
		{name: "unix:PORT is a host named unix (Gunicorn 20's rule)", in: "unix:8125", want: Addr{Host: "unix", Port: 8125}, wantStr: "unix:8125"},
		{name: "unix URL of a numeric path", in: "unix://8125", want: Addr{Path: "8125"}, wantStr: "unix://8125"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseAddr(tt.in)
			if err != nil || got != tt.want {
				t.Fatalf("ParseAddr(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
			}
			if s := got.String(); s != tt.wantStr {
				t.Errorf("String() = %q; want %q", s, tt.wantStr)
			}
			if back, err := ParseAddr(got.String()); err != nil || back != got {
				t.Errorf("ParseAddr(%q) = %+v, %v; want it back as %+v", got.String(), back, err, got)
			}
		})
	}
}

func TestParseAddrErrors(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{name: "file descriptor", in: "fd://3", want: `statsd: want HOST:PORT, [IPv6]:PORT or unix:PATH: "fd://3": a file descriptor cannot be a StatsD address`},
		{name: "port not a number", in: "statsd:web", want: `statsd: want HOST:PORT, [IPv6]:PORT or unix:PATH: "statsd:web": port "web" is not a number from 1 to 65535`},
		{name: "port zero", in: "statsd:0", want: `statsd: want HOST:PORT, [IPv6]:PORT or unix:PATH: "statsd:0": port "0" is not a number from 1 to 65535`},
		{name: "port too big", in: "unix:70000", want: `statsd: want HOST:PORT, [IPv6]:PORT or unix:PATH: "unix:70000": port "70000" is not a number from 1 to 65535`},
		{name: "no host", in: ":8125", want: `statsd: want HOST:PORT, [IPv6]:PORT or unix:PATH: ":8125": "" is not a host name or IPv4 address`},
		{name: "empty unix path", in: "unix:", want: `statsd: want HOST:PORT, [IPv6]:PORT or unix:PATH: "unix:": empty socket path`},
		{name: "bare IPv6", in: "::1:8125", want: `statsd: want HOST:PORT, [IPv6]:PORT or unix:PATH: "::1:8125": IPv6 addresses need brackets, as in [::1]:8125`},
		{name: "IPv4 in brackets", in: "[127.0.0.1]:8125", want: `statsd: want HOST:PORT, [IPv6]:PORT or unix:PATH: "[127.0.0.1]:8125": "127.0.0.1" is not an IPv6 address`},
		{name: "space in host", in: "stats d:8125", want: `statsd: want HOST:PORT, [IPv6]:PORT or unix:PATH: "stats d:8125": "stats d" is not a host name or IPv4 address`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseAddr(tt.in)
			if err == nil || err.Error() != tt.want || !errors.Is(err, ErrAddr) {
				t.Fatalf("ParseAddr(%q) = %+v, %v; want error %q", tt.in, got, err, tt.want)
			}
		})
	}
}

// TestPrefix checks Gunicorn's rule, re.sub(r"^(.+[^.]+)\.*$", r"\g<1>.", p),
// with the results Python gives.
func TestPrefix(t *testing.T) {
	for in, want := range map[string]string{
		"": "", "app": "app.", "app.": "app.", "app...": "app.", "service.app": "service.app.",
		"ab": "ab.", "a": "a", ".": ".", "a.": "a.", "a..": "a..", ".a": ".a.", "my-app_1": "my-app_1.",
	} {
		if got := Prefix(in); got != want {
			t.Errorf("Prefix(%q) = %q; want %q", in, got, want)
		}
	}
}

func TestCheckPrefixAndTags(t *testing.T) {
	for _, ok := range []string{"", "app", "service.app.", "a-b_c"} {
		if err := CheckPrefix(ok); err != nil {
			t.Errorf("CheckPrefix(%q) = %v; want nil", ok, err)
		}
	}
	for _, bad := range []string{"a:b", "a|b", "a@b", "a#b", "a b", "a\nb", "é"} {
		if err := CheckPrefix(bad); !errors.Is(err, ErrPrefix) {
			t.Errorf("CheckPrefix(%q) = %v; want ErrPrefix", bad, err)
		}
	}
	for _, ok := range []string{"", "env:prod", "env:prod,service:web,canary", "a#b:c@d"} {
		if err := CheckTags(ok); err != nil {
			t.Errorf("CheckTags(%q) = %v; want nil", ok, err)
		}
	}
	for _, bad := range []string{"env:prod|x", "env: prod", "a\nb", "é"} {
		if err := CheckTags(bad); !errors.Is(err, ErrTags) {
			t.Errorf("CheckTags(%q) = %v; want ErrTags", bad, err)
		}
	}
	if err := CheckTags("env:prod|x"); err.Error() != `statsd: tags may not hold '|', spaces or bytes outside printable ASCII: "env:prod|x" has '|' at byte 8` {
		t.Errorf("CheckTags error = %q", err)
	}
}
