package config

import (
	"reflect"
	"strings"
	"testing"
)

// TestSettingsCoverConfig checks that the table and Config agree: every
// field but ConfigFile is set by exactly one setting, whose name is the
// field's JSON key (wsgi_app fills App, Gunicorn's name for it), and
// whose kind matches the field's type.
func TestSettingsCoverConfig(t *testing.T) {
	var c Config
	rv := reflect.ValueOf(&c).Elem()
	byAddr := map[uintptr]reflect.StructField{}
	for i := 0; i < rv.NumField(); i++ {
		byAddr[rv.Field(i).Addr().Pointer()] = rv.Type().Field(i)
	}
	kindType := map[kind]string{
		kindString: "string", kindInt: "int", kindInt64: "int64", kindMask: "int", kindBool: "bool",
		kindSeconds: "time.Duration", kindList: "[]string", kindCSV: "[]string", kindJSON: "string",
	}
	covered := map[string]bool{}
	for _, s := range settings {
		ptr := reflect.ValueOf(s.field(&c))
		f, ok := byAddr[ptr.Pointer()]
		if !ok {
			t.Errorf("%s: field pointer is not into the Config", s.name)
			continue
		}
		if covered[f.Name] {
			t.Errorf("%s: field %s is set by two settings", s.name, f.Name)
		}
		covered[f.Name] = true
		jsonName, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		// A secret stays in the master: it is not handed to the workers.
		if jsonName != s.name && !(f.Name == "App" && s.name == "wsgi_app") && !(s.secret && jsonName == "-") {
			t.Errorf("%s: fills %s whose JSON key is %q", s.name, f.Name, jsonName)
		}
		if got := f.Type.String(); got != kindType[s.kind] {
			t.Errorf("%s: kind wants a %s field, %s is %s", s.name, kindType[s.kind], f.Name, got)
		}
	}
	// Results of reading the config file (its hooks, the notices about
	// it, what it did to os.environ and the gunicorn module) or files
	// settings name, not settings.
	notSettings := map[string]bool{"ConfigFile": true, "Hooks": true, "Notices": true, "remarks": true, "sslContextHook": true,
		"DetectASGI": true, "argNames": true, "TLS": true, "EnvFileVars": true, "FileEnv": true,
		"ServerSoftware": true, "ServerHeader": true, "formatFrom": true, "fileAction": true}
	for i := 0; i < rv.NumField(); i++ {
		if name := rv.Type().Field(i).Name; !covered[name] && !notSettings[name] {
			t.Errorf("Config.%s is set by no setting", name)
		}
	}
}

func TestSettingsTableIsConsistent(t *testing.T) {
	names := map[string]bool{}
	flags := map[string]string{}
	for _, table := range [][]*setting{settings, switches, ignored} {
		for _, s := range table {
			if names[s.name] {
				t.Errorf("setting %s defined twice", s.name)
			}
			names[s.name] = true
			for _, f := range append(append([]string(nil), s.flags...), s.short) {
				if f == "" {
					continue
				}
				if other, dup := flags[f]; dup {
					t.Errorf("flag %s used by %s and %s", f, other, s.name)
				}
				flags[f] = s.name
			}
			if len(s.flags) == 0 && s.notice != "" {
				continue // a Gunicorn setting without a flag, ignored
			}
			if s.takesValue() && s.placeholder() == "" {
				t.Errorf("%s: help %q names no `PLACEHOLDER`", s.name, s.help)
			}
			if len(s.flags) == 0 && s.name != "wsgi_app" {
				t.Errorf("%s has no flag", s.name)
			}
		}
	}
	for _, u := range unsupported {
		for _, n := range u.names {
			if names[n] {
				t.Errorf("%s is both supported and unsupported", n)
			}
		}
		for _, f := range u.flags {
			if _, dup := flags[f]; dup {
				t.Errorf("flag --%s is both supported and unsupported", f)
			}
		}
	}
}

// TestDefaultsAreValid runs every default through its parser and
// validator, as Load does.
func TestDefaultsAreValid(t *testing.T) {
	var c Config
	for _, s := range settings {
		if err := set(&c, s, func() (any, error) { return s.parseString(s.def) }); err != nil {
			t.Errorf("%s: default %q: %v", s.name, s.def, err)
		}
	}
}
