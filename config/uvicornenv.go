package config

import (
	"fmt"
	"io"
	"strings"
)

// Uvicorn reads each of its options from an environment variable as
// well (click's auto_envvar_prefix): UVICORN_PORT=8080 is --port 8080,
// UVICORN_ACCESS_LOG=false is --no-access-log, and newer Uvicorns read
// the app from UVICORN_APP. A container set up that way must not come
// up on 127.0.0.1:8000, so gowsgi reads them too, each as a source of
// its own: below GUNICORN_CMD_ARGS and the command line, above the
// config file, with a notice naming what was read.

// uvicornEnvFlags are Uvicorn's options whose variables gowsgi reads,
// by flag name (UVICORN_ plus the name in upper case, dashes as
// underscores). --uds and then --fd come after --host and --port: a
// later bind replaces an earlier one, and Uvicorn prefers --fd, then
// --uds, to --host and --port.
var uvicornEnvFlags = []string{
	"reload", "workers", "loop", "http", "ws", "ws-max-size", "ws-max-queue", "ws-ping-interval",
	"ws-ping-timeout", "ws-per-message-deflate", "lifespan", "interface", "env-file", "log-config", "log-level",
	"access-log", "use-colors", "proxy-headers", "server-header", "date-header", "forwarded-allow-ips",
	"root-path", "limit-concurrency", "backlog", "limit-max-requests", "limit-max-requests-jitter", "timeout-keep-alive",
	"timeout-graceful-shutdown", "timeout-worker-healthcheck", "ssl-keyfile", "ssl-certfile",
	"ssl-keyfile-password", "ssl-version", "ssl-cert-reqs", "ssl-ca-certs", "ssl-ciphers", "app-dir",
	"h11-max-incomplete-event-size", "factory", "reset-contextvars", "uds", "fd",
}

// uvicornEnvNotRead are Uvicorn's variables for options gowsgi does not
// have, with the notice each one set gets.
var uvicornEnvNotRead = [][2]string{
	{"UVICORN_RELOAD_DELAY", "--reload looks at the files every half second"},
}

// uvicornEnvLists are Uvicorn's repeatable options read from variables
// named after their parameters, not their flags; click splits a value
// at whitespace into one use each.
var uvicornEnvLists = [][2]string{
	{"UVICORN_RELOAD_DIRS", "reload-dir"}, {"UVICORN_RELOAD_INCLUDES", "reload-include"},
	{"UVICORN_RELOAD_EXCLUDES", "reload-exclude"}, {"UVICORN_HEADERS", "header"},
}

func uvicornEnvName(flag string) string {
	return "UVICORN_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// uvicornEnvSources parses the UVICORN_* variables that are set: one
// source per variable, but UVICORN_HOST and UVICORN_PORT together, as
// one bind, and UVICORN_APP as the app. They come lowest of the
// argument sources.
func uvicornEnvSources(ix *flagIndex, getenv func(string) string, stdout io.Writer) ([]*argSource, error) {
	var out []*argSource
	// add parses words as the source name; read says what it was read as.
	add := func(name string, words, read []string) error {
		src, _, err := parseSource(ix, words, name, stdout)
		if err != nil {
			return err
		}
		src.notices = append(src.notices, name+": read as Uvicorn's "+strings.Join(read, " and "))
		out = append(out, src)
		return nil
	}
	var words, names, read []string
	for _, flag := range []string{"host", "port"} {
		if v := getenv(uvicornEnvName(flag)); v != "" {
			words = append(words, "--"+flag+"="+v)
			names = append(names, uvicornEnvName(flag))
			read = append(read, "--"+flag+" "+v)
		}
	}
	if app := getenv("UVICORN_APP"); app != "" {
		words = append(words, "--", app)
		names = append(names, "UVICORN_APP")
		read = append(read, "app "+app)
	}
	if len(words) > 0 {
		if err := add(strings.Join(names, ", "), words, read); err != nil {
			return nil, err
		}
	}
	for _, flag := range uvicornEnvFlags {
		name := uvicornEnvName(flag)
		v := getenv(name)
		if v == "" {
			continue // click reads an empty variable as unset
		}
		if s := ix.long[flag]; s != nil && s.kind == kindBool {
			b, err := clickBool(v)
			if err != nil {
				return nil, &Error{Source: name, Err: err}
			}
			v = fmt.Sprint(b)
		}
		if err := add(name, []string{"--" + flag + "=" + v}, []string{"--" + flag + " " + v}); err != nil {
			return nil, err
		}
	}
	for _, l := range uvicornEnvLists {
		var words, read []string
		for _, v := range strings.Fields(getenv(l[0])) {
			words, read = append(words, "--"+l[1]+"="+v), append(read, "--"+l[1]+" "+v)
		}
		if len(words) > 0 {
			if err := add(l[0], words, read); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// uvicornEnvNotices are the notices for variables set that gowsgi does
// not read.
func uvicornEnvNotices(getenv func(string) string) []string {
	var out []string
	for _, n := range uvicornEnvNotRead {
		if getenv(n[0]) != "" {
			out = append(out, n[0]+" is not read: "+n[1])
		}
	}
	return out
}

// clickBool reads a boolean as click does.
func clickBool(v string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "1", "true", "t", "yes", "y", "on":
		return true, nil
	case "0", "false", "f", "no", "n", "off":
		return false, nil
	}
	return false, fmt.Errorf("%q is not a valid boolean (true, false, 1, 0, yes, no, on, off)", v)
}
