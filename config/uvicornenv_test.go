package config

import (
	"bytes"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func loadUvicornEnv(t *testing.T, vars map[string]string, args ...string) (*Config, error) {
	t.Helper()
	inTempDir(t, "")
	c, _, err := Load(args, env(vars), &bytes.Buffer{})
	return c, err
}

func TestUvicornVariables(t *testing.T) {
	tests := []struct {
		name string
		vars map[string]string
		args []string
		// check the Config; the notices are checked apart
		bind    []string
		workers int
		app     string
		access  string
	}{
		{name: "host and port", vars: map[string]string{"UVICORN_HOST": "0.0.0.0", "UVICORN_PORT": "8080"},
			args: []string{"main:app"}, bind: []string{"0.0.0.0:8080"}, workers: 1, app: "main:app"},
		{name: "host from the variable, port from the command line", vars: map[string]string{"UVICORN_HOST": "0.0.0.0"},
			args: []string{"main:app", "--port", "9000"}, bind: []string{"0.0.0.0:9000"}, workers: 1, app: "main:app"},
		{name: "port from the variable, host from the command line", vars: map[string]string{"UVICORN_PORT": "9001"},
			args: []string{"main:app", "--host", "::1"}, bind: []string{"[::1]:9001"}, workers: 1, app: "main:app"},
		{name: "the command line's bind wins", vars: map[string]string{"UVICORN_HOST": "0.0.0.0", "UVICORN_WORKERS": "3"},
			args: []string{"main:app", "-b", "unix:/run/app.sock", "-w", "2"}, bind: []string{"unix:/run/app.sock"}, workers: 2, app: "main:app"},
		{name: "workers, app, access log", vars: map[string]string{"UVICORN_WORKERS": "3", "UVICORN_APP": "svc:api",
			"UVICORN_ACCESS_LOG": "yes"}, bind: []string{"127.0.0.1:8000"}, workers: 3, app: "svc:api", access: "-"},
		{name: "the command line's app wins", vars: map[string]string{"UVICORN_APP": "svc:api"},
			args: []string{"main:app"}, bind: []string{"127.0.0.1:8000"}, workers: 1, app: "main:app"},
		{name: "factory", vars: map[string]string{"UVICORN_FACTORY": "1"},
			args: []string{"main:create"}, bind: []string{"127.0.0.1:8000"}, workers: 1, app: "main:create()"},
		{name: "no access log", vars: map[string]string{"UVICORN_ACCESS_LOG": "off"},
			args: []string{"main:app"}, bind: []string{"127.0.0.1:8000"}, workers: 1, app: "main:app"},
		{name: "fd before uds before host and port", vars: map[string]string{"UVICORN_PORT": "80", "UVICORN_UDS": "/run/u.sock",
			"UVICORN_FD": "3"}, args: []string{"main:app"}, bind: []string{"fd://3"}, workers: 1, app: "main:app"},
		{name: "uds before host and port", vars: map[string]string{"UVICORN_PORT": "80", "UVICORN_UDS": "/run/u.sock"},
			args: []string{"main:app"}, bind: []string{"unix:/run/u.sock"}, workers: 1, app: "main:app"},
		{name: "an empty variable is unset", vars: map[string]string{"UVICORN_PORT": "", "UVICORN_WORKERS": ""},
			args: []string{"main:app"}, bind: []string{"127.0.0.1:8000"}, workers: 1, app: "main:app"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := loadUvicornEnv(t, tt.vars, tt.args...)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(c.Bind, tt.bind) || c.Workers != tt.workers || c.App != tt.app || c.AccessLog != tt.access {
				t.Errorf("bind %q workers %d app %q accesslog %q; want %q %d %q %q",
					c.Bind, c.Workers, c.App, c.AccessLog, tt.bind, tt.workers, tt.app, tt.access)
			}
		})
	}
}

func TestUvicornVariablesAreNoticed(t *testing.T) {
	c, err := loadUvicornEnv(t, map[string]string{"UVICORN_HOST": "0.0.0.0", "UVICORN_APP": "main:app",
		"UVICORN_LOOP": "uvloop", "UVICORN_RELOAD_DIRS": "src  lib", "UVICORN_PROXY_HEADERS": "true", "UVICORN_HTTP": "h11"})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.ReloadDirs, []string{"src", "lib"}) {
		t.Errorf("reload_dirs %q; want UVICORN_RELOAD_DIRS split at whitespace, as click splits it", c.ReloadDirs)
	}
	for _, want := range []string{
		"UVICORN_RELOAD_DIRS: read as Uvicorn's --reload-dir src and --reload-dir lib",
		"UVICORN_HOST, UVICORN_APP: read as Uvicorn's --host 0.0.0.0 and app main:app",
		"UVICORN_LOOP: read as Uvicorn's --loop uvloop",
		"UVICORN_PROXY_HEADERS: read as Uvicorn's --proxy-headers true",
	} {
		if !slices.Contains(c.Notices, want) {
			t.Errorf("no notice %q in %q", want, c.Notices)
		}
	}
	if !slices.ContainsFunc(c.Notices, func(n string) bool {
		return strings.HasPrefix(n, "UVICORN_HTTP: --http is accepted and ignored: ")
	}) {
		t.Errorf("the ignored flag's notice does not name its variable: %q", c.Notices)
	}
	if c.ASGILoop != "uvloop" || !c.ProxyHeaders {
		t.Errorf("asgi_loop %q proxy_headers %v, want uvloop, true", c.ASGILoop, c.ProxyHeaders)
	}
}

func TestBadUvicornVariablesAreRefused(t *testing.T) {
	for vars, want := range map[[2]string]string{
		{"UVICORN_PORT", "http"}:          "UVICORN_PORT: --port http: want a port number",
		{"UVICORN_WORKERS", "0"}:          "UVICORN_WORKERS: --workers: must be at least 1",
		{"UVICORN_RELOAD", "maybe"}:       `UVICORN_RELOAD: "maybe" is not a valid boolean`,
		{"UVICORN_ENV_FILE", "prod.env"}:  `--env-file: "prod.env": no such file or directory`,
		{"UVICORN_LIFESPAN", "sometimes"}: "UVICORN_LIFESPAN: --lifespan:",
	} {
		_, err := loadUvicornEnv(t, map[string]string{vars[0]: vars[1]}, "main:app")
		if err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%s=%s: error %v; want it to start %q", vars[0], vars[1], err, want)
		}
	}
}

func TestUvicornVariablesNameKnownFlags(t *testing.T) {
	ix := newFlagIndex()
	for _, flag := range append([]string{"host", "port"}, uvicornEnvFlags...) {
		if ix.long[flag] == nil {
			t.Errorf("UVICORN_%s names --%s, which gowsgi does not know", strings.ToUpper(flag), flag)
		}
	}
}
