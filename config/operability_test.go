package config

import "testing"

func TestOperabilitySettings(t *testing.T) {
	cases := []struct {
		name    string
		args    []string
		wantErr bool
		check   func(*Config) bool
	}{
		{name: "defaults", args: nil, check: func(c *Config) bool {
			return c.AdminBind == "" && c.ShutdownDelay == 0 && c.RequestTimeout == 0 &&
				c.MaxWorkerMemory == 0 && c.RequestIDHeader == "X-Request-ID"
		}},
		{name: "tcp admin", args: []string{"--admin-bind", "127.0.0.1:9100"},
			check: func(c *Config) bool { return c.AdminBind == "127.0.0.1:9100" }},
		{name: "unix admin", args: []string{"--admin-bind", "unix:/tmp/a.sock"},
			check: func(c *Config) bool { return c.AdminBind == "unix:/tmp/a.sock" }},
		{name: "admin without port", args: []string{"--admin-bind", "localhost"}, wantErr: true},
		{name: "admin fd", args: []string{"--admin-bind", "fd://3"}, wantErr: true},
		{name: "delays", args: []string{"--shutdown-delay", "5", "--request-timeout", "1.5s", "--max-worker-memory", "300"},
			check: func(c *Config) bool {
				return c.ShutdownDelay.Seconds() == 5 && c.RequestTimeout.Seconds() == 1.5 && c.MaxWorkerMemory == 300
			}},
		{name: "negative memory", args: []string{"--max-worker-memory", "-1"}, wantErr: true},
		{name: "header", args: []string{"--request-id-header", "X-Correlation-Id"},
			check: func(c *Config) bool { return c.RequestIDHeader == "X-Correlation-Id" }},
		{name: "header underscore", args: []string{"--request-id-header", "X_Id"}, wantErr: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			inTempDir(t, "")
			cfg, _, err := Load(append(tc.args, "hello:app"), env(nil), discard{})
			if tc.wantErr {
				if err == nil {
					t.Fatalf("Load(%q) accepted", tc.args)
				}
				return
			}
			if err != nil {
				t.Fatalf("Load(%q): %v", tc.args, err)
			}
			if !tc.check(cfg) {
				t.Fatalf("Load(%q) = %+v", tc.args, cfg)
			}
		})
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
