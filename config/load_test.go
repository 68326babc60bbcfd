package config

import (
	"bytes"
	"testing"
	"time"
)

// env builds a getenv from key/value pairs.
func env(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

func TestLoadDefaults(t *testing.T) {
	t.Chdir(t.TempDir())
	c, action, err := Load([]string{"app:app"}, env(), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if action != ActionServe {
		t.Errorf("action = %v, want ActionServe", action)
	}
	if len(c.Bind) != 1 || c.Bind[0] != "127.0.0.1:8000" {
		t.Errorf("Bind = %q", c.Bind)
	}
	if c.Workers != 1 || c.Threads != 1 || c.WorkerClass != "sync" || c.Timeout != 30*time.Second ||
		c.KeepAlive != 2*time.Second || c.Backlog != 2048 || c.LimitRequestLine != 4094 ||
		c.ErrorLog != "-" || c.LogLevel != "info" || c.App != "app:app" {
		t.Errorf("defaults: %+v", c)
	}
}
