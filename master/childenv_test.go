package master

import (
	"slices"
	"testing"
)

func TestChildEnvironDropsTheKeyPassword(t *testing.T) {
	env := []string{"PATH=/bin", "GOWSGI_SSL_KEYFILE_PASSWORD=secret", "HOME=/root", "GOWSGI_SSL_KEYFILE_PASSWORD_NOT=kept"}
	got := childEnviron(env)
	want := []string{"PATH=/bin", "HOME=/root", "GOWSGI_SSL_KEYFILE_PASSWORD_NOT=kept"}
	if !slices.Equal(got, want) {
		t.Errorf("childEnviron(%q) = %q; want %q", env, got, want)
	}
	if len(env) != 4 || env[1] != "GOWSGI_SSL_KEYFILE_PASSWORD=secret" {
		t.Errorf("childEnviron changed its argument: %q", env)
	}
}
