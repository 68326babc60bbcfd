package config

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/BurntSushi/toml"
)

// The config file is TOML with every setting at the top level under its
// Gunicorn name:
//
//	wsgi_app = "mysite.wsgi:application"
//	bind = ["0.0.0.0:8000", "unix:/run/mysite.sock"]
//	workers = 4
//	timeout = 60        # seconds, or a duration string such as "1m30s"
//	umask = 0o022
//
// Unknown keys, tables, wrong types and bad values are errors naming the
// file, line and key.

// applyConfigFile reads the file named by the last -c among sources, or
// the default file in the working directory when no -c was given:
// ./gunicorn.conf.py (Gunicorn's) or ./gowsgi.toml, not both. A -c
// naming python:MODULE, file:PATH or a .py file is a Python config
// file (pyfile.go), a .toml file is TOML, and any other is TOML when
// gowsgi's TOML reads it whole and else Python, as Gunicorn reads it.
func applyConfigFile(c *Config, sources []*argSource, getenv func(string) string) error {
	path, flagSource := "", ""
	for _, src := range sources {
		if src.config != "" {
			path, flagSource = src.config, src.name
		}
	}
	if path == "" {
		var err error
		if path, err = defaultConfigFile(); path == "" || err != nil {
			return err
		}
	}
	if isPythonConfig(path) {
		return applyPythonFile(c, path, lastValue(sources, "virtualenv", getenv("VIRTUAL_ENV")))
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return &Error{Source: flagSource, Name: "--config", Err: err}
	}
	data, err := os.ReadFile(abs)
	if err != nil {
		return &Error{Source: flagSource, Name: "--config", Err: err}
	}
	if strings.HasSuffix(path, ".toml") {
		if err := decodeFile(c, path, data); err != nil {
			return err
		}
		c.ConfigFile = abs
		return nil
	}
	// Gunicorn executes any -c file as Python whatever its name (gunicorn
	// -c gunicorn.conf, python.org's Procfile): a file TOML does not read
	// whole, for its syntax or for a name gowsgi's TOML does not take
	// (worker_tmp_dir, a helper variable), is read so.
	trial := *c
	tomlErr := decodeFile(&trial, path, data)
	if tomlErr == nil {
		*c = trial
		c.ConfigFile = abs
		return nil
	}
	pyNotices := len(c.Notices)
	if err := applyPythonFile(c, path, lastValue(sources, "virtualenv", getenv("VIRTUAL_ENV"))); err != nil {
		return &Error{Source: path, Err: fmt.Errorf("neither TOML (%v) nor Python, as Gunicorn reads a -c file: %w", tomlErr, err)}
	}
	c.Notices = slices.Insert(c.Notices, pyNotices, fmt.Sprintf("%s is not TOML (%v): read as a Python config file, "+
		"as Gunicorn reads any -c file (a .py or .toml name says which)", path, tomlErr))
	return nil
}

// defaultConfigFile returns the config file of the working directory, ""
// when there is none.
func defaultConfigFile() (string, error) {
	var found []string
	for _, name := range []string{DefaultPythonConfigFile, DefaultConfigFile} {
		if _, err := os.Stat(name); err == nil {
			found = append(found, name)
		}
	}
	switch len(found) {
	case 0:
		return "", nil
	case 1:
		return found[0], nil
	}
	return "", &Error{Err: fmt.Errorf("both ./%s and ./%s exist; choose one with -c", found[0], found[1])}
}

// decodeFile applies the TOML document data, read from path, to c.
func decodeFile(c *Config, path string, data []byte) error {
	var doc map[string]toml.Primitive
	md, err := toml.Decode(string(data), &doc)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return &Error{Source: fmt.Sprintf("%s:%d", path, pe.Position.Line), Err: errors.New(pe.Message)}
		}
		return &Error{Source: path, Err: err}
	}
	for _, key := range md.Keys() {
		if len(key) != 1 {
			continue // inside a table, which is reported at the table's own key
		}
		name := key[0]
		p := &keyProbe{setting: tomlSetting(name)}
		if p.setting == nil {
			p.err = unknownKeyError(name)
		}
		// PrimitiveDecode reports errors from keyProbe with the key's line.
		if err := md.PrimitiveDecode(doc[name], p); err != nil {
			if p.err == nil {
				p.err = err
			}
			where := fmt.Sprintf("%s:%d", path, errorLine(err))
			if c.replacedByArgs(where, name, p.err) {
				continue
			}
			return &Error{Source: where, Name: name, Err: p.err}
		}
		store(p.setting.field(c), p.value)
		c.noteFormatFrom(p.setting, path, name)
	}
	return nil
}

// keyProbe decodes one top-level value; as a toml.Unmarshaler its errors
// come back from BurntSushi/toml carrying the line of the key.
type keyProbe struct {
	setting *setting // nil for an unknown key
	value   any      // the parsed, validated value
	err     error    // why the value was refused
}

var _ toml.Unmarshaler = (*keyProbe)(nil)

func (p *keyProbe) UnmarshalTOML(data any) error {
	if p.err != nil {
		return p.err
	}
	v, err := p.setting.parseTOML(data)
	if err == nil && p.setting.normalize != nil {
		v, err = p.setting.normalize(v)
	}
	p.value, p.err = v, err
	return err
}

func errorLine(err error) int {
	var pe toml.ParseError
	if errors.As(err, &pe) {
		return pe.Position.Line
	}
	return 0
}

func tomlSetting(name string) *setting {
	for _, s := range settings {
		if s.name == name {
			return s
		}
	}
	return nil
}

// unknownKeyError explains a key that is not a gowsgi setting.
func unknownKeyError(name string) error {
	for _, s := range switches {
		if s.name == name {
			return fmt.Errorf("%s is a command-line flag (%s), not a config file setting", name, s.flagName())
		}
	}
	if _, ok := hookArity[name]; ok {
		return fmt.Errorf("server hooks are Python functions: define them in a Python config file such as gunicorn.conf.py")
	}
	for _, s := range ignored {
		if s.name == name {
			return fmt.Errorf("Gunicorn's setting has no use in gowsgi (%s); leave it out", s.notice)
		}
	}
	for _, u := range unsupported {
		for _, n := range u.names {
			if n == name {
				return fmt.Errorf("Gunicorn's setting is not supported by gowsgi: %s", u.reason)
			}
		}
	}
	for _, s := range settings {
		for _, f := range s.flags {
			if name == f || strings.ReplaceAll(name, "-", "_") == s.name {
				return fmt.Errorf("unknown setting; the config file uses Gunicorn's setting names: %s", s.name)
			}
		}
	}
	return errors.New("unknown setting (see examples/gowsgi.toml)")
}

// WriteTOML writes every setting of c as a TOML config file that Load
// reads back (-c) to the same Config, but for secrets (the key file's
// password), written as a comment that says they are set, and a worker
// class no source named, written as a comment (naming it would turn off
// DetectASGI). It fails only on write errors and on strings that TOML
// cannot hold (invalid UTF-8).
func (c *Config) WriteTOML(w io.Writer) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintln(bw, "# gowsgi configuration, as resolved by --print-config")
	for _, s := range settings {
		if s.secret {
			if p, ok := s.field(c).(*string); ok && *p != "" {
				fmt.Fprintf(bw, "# %s is set (not shown)\n", s.name)
				continue
			}
		}
		v, err := tomlValue(s, s.field(c))
		if err != nil {
			return fmt.Errorf("config: %s: %w", s.name, err)
		}
		if s.name == "worker_class" && c.DetectASGI {
			fmt.Fprintf(bw, "# %s = %s (none named: an async app is served as with \"asgi\")\n", s.name, v)
			continue
		}
		fmt.Fprintf(bw, "%s = %s\n", s.name, v)
	}
	return bw.Flush()
}

// tomlValue formats the field behind ptr as a TOML value.
func tomlValue(s *setting, ptr any) (string, error) {
	switch p := ptr.(type) {
	case *string:
		return tomlString(*p)
	case *int:
		if s.kind == kindMask {
			return fmt.Sprintf("0o%03o", *p), nil
		}
		return strconv.Itoa(*p), nil
	case *int64:
		return strconv.FormatInt(*p, 10), nil
	case *bool:
		return strconv.FormatBool(*p), nil
	case *time.Duration:
		if *p%time.Second == 0 {
			return strconv.FormatInt(int64(*p/time.Second), 10), nil
		}
		return tomlString(p.String())
	case *[]string:
		items := make([]string, 0, len(*p))
		for _, item := range *p {
			q, err := tomlString(item)
			if err != nil {
				return "", err
			}
			items = append(items, q)
		}
		return "[" + strings.Join(items, ", ") + "]", nil
	}
	panic(fmt.Sprintf("config: unsupported field type %T", ptr))
}

// tomlString quotes s as a TOML basic string: `a"b` -> "a\"b".
func tomlString(s string) (string, error) {
	if !utf8.ValidString(s) {
		return "", fmt.Errorf("%q is not valid UTF-8", s)
	}
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\u%04X`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String(), nil
}

// replacedByArgs reports whether the command line or a *_CMD_ARGS
// variable gives the setting the config file's name sets, whose value
// err refused: Gunicorn lets `-k sync` replace a file's `worker_class =
// "gevent"`, and only the value that wins is gowsgi's to refuse. The
// file's value is then dropped with a notice.
func (c *Config) replacedByArgs(where, name string, err error) bool {
	if !c.argNames[name] {
		return false
	}
	c.Notices = append(c.Notices, fmt.Sprintf("%s: %s: %v; the command line's value replaces it", where, name, err))
	return true
}
