package config

import (
	"bytes"
	"slices"
	"testing"
)

func TestLoggerClassValues(t *testing.T) {
	for _, tc := range []struct{ value, want string }{
		{"mypkg.logs.JSONLogger", "mypkg.logs.JSONLogger"},
		{" app.Logger ", "app.Logger"},
		{"gunicorn.glogging.Logger", ""},
		{"simple", ""},
		{"egg:gunicorn#simple", ""},
		{"gunicorn.instrument.statsd.Statsd", ""},
	} {
		c, _, err := Load([]string{"a:b", "--logger-class", tc.value}, env(nil), &bytes.Buffer{})
		if err != nil {
			t.Errorf("--logger-class %q: %v", tc.value, err)
			continue
		}
		if c.LoggerClass != tc.want {
			t.Errorf("--logger-class %q: LoggerClass %q; want %q", tc.value, c.LoggerClass, tc.want)
		}
	}
	for _, bad := range []string{"JSONLogger", "app.", ".Logger", "my-app.Logger", "app.1Logger"} {
		if _, _, err := Load([]string{"a:b", "--logger-class", bad}, env(nil), &bytes.Buffer{}); err == nil {
			t.Errorf("--logger-class %q: loaded; want an error", bad)
		}
	}
}

// A class the config file defines is found again in the worker as the
// file's logger_class; one it imports, by its module.
func TestLoggerClassFromPythonFile(t *testing.T) {
	for _, value := range []string{"__config__.logger_class", "mypkg.logs.JSONLogger"} {
		c, err := loadWithReport(t, `{"names": [
			{"name": "logger_class", "line": 7, "callable": true, "class": true, "value": "`+value+`"}]}`, "a:b")
		if err != nil {
			t.Fatal(err)
		}
		if c.LoggerClass != value {
			t.Errorf("LoggerClass %q; want %q", c.LoggerClass, value)
		}
	}
}

// An atom the access log does not know is written as "-", as Gunicorn's
// SafeAtoms writes it, with a notice at start; none with a logger class,
// whose atoms() may add it.
func TestAccessLogUnknownAtoms(t *testing.T) {
	format := `%(h)s %({start}c)s %(zz)d`
	c, _, err := Load([]string{"a:b", "--access-logformat", format}, env(nil), &bytes.Buffer{})
	if err != nil {
		t.Fatalf("format %q without a logger class: %v", format, err)
	}
	want := `--access-logformat: %({start}c)s, %(zz)s are not access log atoms; logged as "-", as under Gunicorn`
	if !slices.Equal(c.Notices, []string{want}) {
		t.Errorf("notices %q; want %q", c.Notices, want)
	}
	c, _, err = Load([]string{"a:b", "--access-logformat", format, "--logger-class", "app.Logger"},
		env(nil), &bytes.Buffer{})
	if err != nil {
		t.Fatalf("format %q with a logger class: %v", format, err)
	}
	if c.AccessLogFormat != format || len(c.Notices) != 0 {
		t.Errorf("AccessLogFormat %q, notices %q; want %q and none", c.AccessLogFormat, c.Notices, format)
	}
}

// Judged once logger_class is known, an unknown atom is reported where
// the format was set.
func TestAccessLogAtomNoticeSaysWhere(t *testing.T) {
	c, err := loadWithReport(t, `{"names": [{"name": "access_log_format", "line": 4, "value": "%(h)s %(asctime)s"}]}`, "a:b")
	want := `gunicorn.conf.py:4: access_log_format: %(asctime)s is not an access log atom; logged as "-", as under Gunicorn`
	if err != nil || !slices.Contains(c.Notices, want) {
		t.Errorf("error %v, notices %q; want a notice %q", err, c.Notices, want)
	}
}
