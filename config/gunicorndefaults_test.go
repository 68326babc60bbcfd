package config

import (
	"bytes"
	"strings"
	"testing"
)

// Values Gunicorn accepts that gowsgi once refused: Gunicorn's defaults
// written out, and the types Gunicorn's validators take.
func TestGunicornValuesAccepted(t *testing.T) {
	c, err := loadWithReport(t, `{"names": [
		{"name": "user", "line": 1, "value": 0},
		{"name": "group", "line": 2, "value": 0},
		{"name": "ssl_version", "line": 3, "value": 2},
		{"name": "proxy_protocol", "line": 4, "value": "v2"},
		{"name": "header_map", "line": 5, "value": "drop"},
		{"name": "forwarder_headers", "line": 6, "value": "SCRIPT_NAME, PATH_INFO"},
		{"name": "forwarder_headers", "line": 11, "value": "X-REAL-IP,X-FORWARDED-FOR,X-FORWARDED-PROTO"},
		{"name": "logger_class", "line": 7, "value": "gunicorn.glogging.Logger"},
		{"name": "syslog_addr", "line": 8, "value": "udp://localhost:514"},
		{"name": "raw_paste_global_conf", "line": 9, "value": []},
		{"name": "paste", "line": 10, "value": null}
	]}`, "a:b")
	if err != nil {
		t.Fatal(err)
	}
	if c.User != "0" || c.Group != "0" || c.SSLVersion != SSLVersionTLS12 || !c.ProxyProtocol {
		t.Errorf("user %q group %q ssl_version %q proxy_protocol %v; want 0, 0, %s, true",
			c.User, c.Group, c.SSLVersion, c.ProxyProtocol, SSLVersionTLS12)
	}
	var noticed []string
	for _, n := range c.Notices {
		name, _, _ := strings.Cut(strings.TrimPrefix(n, "gunicorn.conf.py:"), " is accepted")
		noticed = append(noticed, name)
	}
	if got := strings.Join(noticed, " "); got != "6: forwarder_headers 11: forwarder_headers" {
		t.Errorf("noticed %q", got)
	}
	if c.LoggerClass != "" {
		t.Errorf("logger_class %q; want Gunicorn's own, \"\"", c.LoggerClass)
	}
}

func TestGunicornValuesRefused(t *testing.T) {
	for value, want := range map[string]string{
		`{"name": "header_map", "value": "dangerous"}`:                   `header_map: "dangerous" is not offered`,
		`{"name": "forwarder_headers", "value": "*"}`:                    "so the app would not see *",
		`{"name": "forwarder_headers", "value": "SCRIPT_NAME,X_TENANT"}`: "forwarder_headers: gowsgi takes SCRIPT_NAME and PATH_INFO headers from --forwarded-allow-ips peers (Gunicorn's default) and drops other header names with underscores, so the app would not see X_TENANT",
		`{"name": "logger_class", "value": "JSONLogger"}`:                `logger_class: logger class "JSONLogger": give it as module.Class`,
		`{"name": "syslog_facility", "value": "local9"}`:                 `syslog_facility: unknown syslog facility "local9"`,
		`{"name": "syslog_addr", "value": "syslog://x"}`:                 `syslog_addr: invalid syslog address "syslog://x"`,
		`{"name": "proxy_protocol", "value": "v3"}`:                      `proxy_protocol: "v3" is not one of 0, 1, auto, false, none, off, true, v1, v2`,
		`{"name": "user", "value": 1.5}`:                                 "user: want a str, got float 1.5",
	} {
		_, err := loadWithReport(t, `{"names": [`+value+`]}`, "a:b")
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v; want %q", value, err, want)
		}
	}
}

// Gunicorn 26's --proxy-protocol takes an optional mode.
func TestProxyProtocolModes(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want bool
	}{
		{[]string{"--proxy-protocol", "a:b"}, true},
		{[]string{"a:b", "--proxy-protocol"}, true},
		{[]string{"--proxy-protocol", "v1", "a:b"}, true},
		{[]string{"--proxy-protocol", "off", "a:b"}, false},
		{[]string{"--proxy-protocol=auto", "a:b"}, true},
		{[]string{"--proxy-protocol=off", "a:b"}, false},
		{[]string{"--proxy-protocol", "false", "a:b"}, false},
	} {
		inTempDir(t, "")
		c, _, err := Load(tc.args, env(nil), &bytes.Buffer{})
		if err != nil || c.ProxyProtocol != tc.want || c.App != "a:b" {
			t.Errorf("%q: proxy_protocol %v app %q err %v; want %v", tc.args, c.ProxyProtocol, c.App, err, tc.want)
		}
	}
}

func TestWholeNumbersForStringSettingsInTOML(t *testing.T) {
	inTempDir(t, "wsgi_app = \"a:b\"\nuser = 0\ngroup = 0\n")
	c, _, err := Load(nil, env(nil), &bytes.Buffer{})
	if err != nil || c.User != "0" || c.Group != "0" {
		t.Fatalf("user %q group %q err %v; want 0 0", c.User, c.Group, err)
	}
}

// Gunicorn's sendfile: --no-sendfile, or sendfile = False in a config
// file, turns it off; None (Gunicorn's default) leaves it on.
func TestSendfileSetting(t *testing.T) {
	inTempDir(t, "")
	for args, want := range map[string]bool{"a:b": true, "--no-sendfile a:b": false, "a:b --no-sendfile --sendfile": true,
		"--sendfile=false a:b": false} {
		c, _, err := Load(strings.Fields(args), env(nil), &bytes.Buffer{})
		if err != nil || c.Sendfile != want {
			t.Errorf("%s: sendfile %v (%v), want %v", args, c.Sendfile, err, want)
		}
	}
	for value, want := range map[string]bool{"false": false, "null": true, "true": true} {
		c, err := loadWithReport(t, `{"names": [{"name": "sendfile", "line": 1, "value": `+value+`}]}`, "a:b")
		if err != nil || c.Sendfile != want {
			t.Errorf("sendfile = %s: %v (%v), want %v", value, c.Sendfile, err, want)
		}
	}
}
