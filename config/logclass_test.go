package config

import (
	"bytes"
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

// An atom the access log does not know is a typo, unless a logger
// class may add it (its atoms()), as under Gunicorn.
func TestAccessLogAtomsOfALoggerClass(t *testing.T) {
	format := `%(h)s %({start}c)s %(zz)d`
	if _, _, err := Load([]string{"a:b", "--access-logformat", format}, env(nil), &bytes.Buffer{}); err == nil {
		t.Errorf("format %q without a logger class: loaded; want an error", format)
	}
	c, _, err := Load([]string{"a:b", "--access-logformat", format, "--logger-class", "app.Logger"},
		env(nil), &bytes.Buffer{})
	if err != nil {
		t.Fatalf("format %q with a logger class: %v", format, err)
	}
	if c.AccessLogFormat != format {
		t.Errorf("AccessLogFormat %q; want %q", c.AccessLogFormat, format)
	}
}

// Judged once logger_class is known, a bad atom is still reported where
// the format was set.
func TestAccessLogAtomErrorSaysWhere(t *testing.T) {
	_, err := loadWithReport(t, `{"names": [{"name": "access_log_format", "line": 4, "value": "%(h)s %(zz)s"}]}`, "a:b")
	want := `gunicorn.conf.py:4: access_log_format: accesslog: bad format: unknown atom %(zz)s (a logger_class's atoms() may add it)`
	if err == nil || err.Error() != want {
		t.Errorf("error %v; want %q", err, want)
	}
}
