package config

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
)

func TestProtocolSettings(t *testing.T) {
	tests := []struct {
		name      string
		args      []string
		file      string
		wantProto string
		wantAllow []string
	}{
		{name: "default", args: []string{"app:app"}, wantProto: "http", wantAllow: []string{"127.0.0.1", "::1"}},
		{name: "flags as Gunicorn spells them", args: []string{"--protocol", "uwsgi", "--uwsgi-allow-from", "10.0.0.1,10.1.0.0/16", "app:app"},
			wantProto: "uwsgi", wantAllow: []string{"10.0.0.1", "10.1.0.0/16"}},
		{name: "any case", args: []string{"--protocol=UWSGI", "app:app"}, wantProto: "uwsgi",
			wantAllow: []string{"127.0.0.1", "::1"}},
		{name: "wildcard", args: []string{"--uwsgi-allow-from", "*", "app:app"}, wantProto: "http", wantAllow: []string{"*"}},
		{name: "config file", args: []string{"app:app"}, file: "protocol = \"uwsgi\"\nuwsgi_allow_ips = [\"192.0.2.1\"]\n",
			wantProto: "uwsgi", wantAllow: []string{"192.0.2.1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inTempDir(t, tt.file)
			c, _, err := Load(tt.args, env(nil), &bytes.Buffer{})
			if err != nil {
				t.Fatal(err)
			}
			if c.Protocol != tt.wantProto || !reflect.DeepEqual(c.UwsgiAllowIPs, tt.wantAllow) {
				t.Fatalf("protocol %q, allow %q; want %q, %q", c.Protocol, c.UwsgiAllowIPs, tt.wantProto, tt.wantAllow)
			}
		})
	}
}

func TestProtocolSettingErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string // in the error
	}{
		{name: "unknown protocol", args: []string{"--protocol", "fastcgi", "app:app"}, want: `unknown protocol "fastcgi"`},
		{name: "bad peer", args: []string{"--uwsgi-allow-from", "nginx.local", "app:app"}, want: `"nginx.local" is not *`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inTempDir(t, "")
			_, _, err := Load(tt.args, env(nil), &bytes.Buffer{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Load = %v; want an error containing %s", err, tt.want)
			}
		})
	}
}
