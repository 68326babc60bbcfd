package hostport

import "testing"

func TestSplit(t *testing.T) {
	tests := []struct{ in, host, port string }{
		{"localhost:80", "localhost", "80"},
		{"localhost", "localhost", "8000"},
		{":80", "", "80"},
		{"", "", "8000"},
		{"10.0.0.7:8125", "10.0.0.7", "8125"},
		{"[::1]:9125", "::1", "9125"},
		{"[fe80::1]", "fe80::1", "8000"},
		{"[::ffff:1.2.3.4]:1", "::ffff:1.2.3.4", "1"},
		{"host:", "host", ""},       // the caller refuses the empty port
		{"host:web", "host", "web"}, // and a port that is no number
	}
	for _, tt := range tests {
		host, port, err := Split(tt.in, "8000")
		if err != nil || host != tt.host || port != tt.port {
			t.Errorf("Split(%q) = %q, %q, %v; want %q, %q", tt.in, host, port, err, tt.host, tt.port)
		}
	}
}

func TestSplitErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{"::1:8125", "IPv6 addresses need brackets, as in [::1]:8125"},
		{"[::1", "missing ] after the IPv6 address"},
		{"[127.0.0.1]:80", `"127.0.0.1" is not an IPv6 address`},
		{"[]:80", `"" is not an IPv6 address`},
		{"[::1]80", `unexpected "80" after ]`},
		{"stats d:80", `"stats d" is not a host name or IPv4 address`},
		{"caf\xc3\xa9:80", "\"caf\u00e9\" is not a host name or IPv4 address"},
	}
	for _, tt := range tests {
		if host, port, err := Split(tt.in, "8125"); err == nil || err.Error() != tt.want {
			t.Errorf("Split(%q) = %q, %q, %v; want error %q", tt.in, host, port, err, tt.want)
		}
	}
}

func TestValidHost(t *testing.T) {
	long := make([]byte, 254)
	for i := range long {
		long[i] = 'a'
	}
	for h, want := range map[string]bool{
		"": true, "statsd.local": true, "my_host-1": true, "10.0.0.7": true, string(long[:253]): true,
		string(long): false, "stats d": false, "a/b": false, "a\x00": false, "::1": false,
	} {
		if got := ValidHost(h); got != want {
			t.Errorf("ValidHost(%q) = %v; want %v", h, got, want)
		}
	}
}
