package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"slices"
	"strings"
	"unicode"
)

// Gunicorn's config files are Python. The master never runs Python, so
// Load executes them in a helper process: the same binary re-executed
// with PythonConfigCommand, which embeds CPython (worker/pyconfig.py),
// runs the file as Gunicorn does and reports every top-level name it
// defines as JSON on fd 3. Load then reads the names through the same
// settings table as flags and TOML (decodePython).

// PythonConfigCommand is argv[1] of the helper process that executes a
// Python config file; argv[2] is the file (PATH, file:PATH or
// python:MODULE), argv[3] the virtualenv to run it in or "".
const PythonConfigCommand = "__gowsgi_pyconfig__"

// DefaultPythonConfigFile is Gunicorn's default config file, read when
// present in the working directory and no -c flag is given.
const DefaultPythonConfigFile = "gunicorn.conf.py"

// isPythonConfig reports whether a -c value names a Python config file:
// python:MODULE, file:PATH, or a path ending in .py or .pyc. Other paths
// are TOML files.
func isPythonConfig(spec string) bool {
	return strings.HasPrefix(spec, "python:") || strings.HasPrefix(spec, "file:") ||
		strings.HasSuffix(spec, ".py") || strings.HasSuffix(spec, ".pyc")
}

// pyResult is the helper's report (worker/pyconfig.py).
type pyResult struct {
	File  string   `json:"file"` // absolute path of the file executed, "" if unknown
	Names []pyName `json:"names"`
	Error string   `json:"error"` // the exception, when the file could not be run
	// Environ and Unset are what the file changed in os.environ.
	Environ map[string]string `json:"environ"`
	Unset   []string          `json:"unset"`
	Line    int               `json:"line"` // the file's line where it was raised, 0 if unknown
	// Gunicorn is what the file set gunicorn.SERVER and SERVER_SOFTWARE
	// to, when it changed them (worker/gunicornmod.py).
	Gunicorn struct {
		Server         *string `json:"SERVER"`
		ServerSoftware *string `json:"SERVER_SOFTWARE"`
	} `json:"gunicorn"`
}

// pyName is one top-level name the file defines.
type pyName struct {
	Name     string `json:"name"`
	Line     int    `json:"line"`  // of its last top-level binding, 0 if unknown
	Value    any    `json:"value"` // JSON form; {"$py": TYPE, "repr": R} for other objects
	Callable bool   `json:"callable"`
	Class    bool   `json:"class"`
	Arity    int    `json:"arity"`    // positional parameters of a callable
	Imported bool   `json:"imported"` // bound by an import statement
	// UvicornKwargs are the CONFIG_KWARGS a subclass of Uvicorn's worker
	// changed, for a class:PATH report (workerclass.go).
	UvicornKwargs map[string]any `json:"uvicorn_kwargs"`
}

// pyReaderMarker is set in the helper's environment.
const pyReaderMarker = "GOWSGI_PYCONFIG_READER"

// errPythonConfigFailed: the helper process did not report.
var errPythonConfigFailed = errors.New("the Python config reader failed")

// readPythonConfig runs the helper process on spec and returns its
// report. The file's own output (print) goes to this process's stdout
// and stderr, as with Gunicorn.
func readPythonConfig(spec, virtualenv string) (*pyResult, error) {
	if !strings.HasPrefix(spec, "python:") {
		if _, err := os.Stat(strings.TrimPrefix(spec, "file:")); err != nil {
			return nil, err // a *os.PathError: no traceback for a missing file
		}
	}
	return runPythonReader(spec, virtualenv, "", os.Environ())
}

// runPythonReader runs the helper process on spec (a config file, or
// class:PATH) in dir ("" for this one's) with env, and returns its report.
func runPythonReader(spec, virtualenv, dir string, env []string) (*pyResult, error) {
	// A binary whose main does not dispatch PythonConfigCommand (a test
	// binary) would run Load again in the child, and so on: the marker
	// stops that at the first level.
	if os.Getenv(pyReaderMarker) != "" {
		return nil, fmt.Errorf("%w: this binary does not execute Python config files", errPythonConfigFailed)
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errPythonConfigFailed, err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errPythonConfigFailed, err)
	}
	defer r.Close()
	cmd := exec.Command(exe, PythonConfigCommand, spec, virtualenv)
	// This very binary, as the master's other children are, even once
	// the file on disk was replaced (an upgrade installed before a HUP):
	// a new build's reader may be broken, or report what this one does
	// not read.
	cmd.Path = "/proc/self/exe"
	cmd.Stdout, cmd.Stderr, cmd.ExtraFiles = os.Stdout, os.Stderr, []*os.File{w}
	cmd.Dir, cmd.Env = dir, append(env, pyReaderMarker+"=1")
	err = cmd.Start()
	w.Close()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errPythonConfigFailed, err)
	}
	var out bytes.Buffer
	_, readErr := out.ReadFrom(r)
	waitErr := cmd.Wait()
	var res pyResult
	dec := json.NewDecoder(&out)
	dec.UseNumber()
	if err := dec.Decode(&res); err != nil {
		if waitErr == nil {
			waitErr = readErr
		}
		return nil, fmt.Errorf("%w (%v)", errPythonConfigFailed, waitErr)
	}
	return &res, nil
}

// pythonConfigReader executes a Python config file; a variable so that
// the package's unit tests, whose binary cannot execute Python, can
// replace it. The real reader is tested end to end in integration/.
var pythonConfigReader = readPythonConfig

// applyPythonFile executes the Python config file spec and applies what
// it defines to c.
func applyPythonFile(c *Config, spec, virtualenv string) error {
	res, err := pythonConfigReader(spec, virtualenv)
	var pe *os.PathError
	if errors.As(err, &pe) {
		return &Error{Name: "--config", Err: err}
	}
	if err != nil {
		return &Error{Source: spec, Err: err}
	}
	return decodePython(c, spec, res)
}

// decodePython applies the names a Python config file defines to c, as
// Gunicorn does: a setting's value is validated like the flag's; a
// server hook is recorded in c.Hooks; an ignored Gunicorn setting gets a
// notice; an unsupported one is an error; any other name that looks
// like a misspelt setting gets a warning. Errors name the file and line.
func decodePython(c *Config, spec string, res *pyResult) error {
	if res.Error != "" {
		return &Error{Source: pyWhere(spec, res.Line), Err: fmt.Errorf("the config file raised %s "+
			"(traceback above)", res.Error)}
	}
	for _, n := range res.Names {
		where := pyWhere(spec, n.Line)
		if err := decodePyName(c, where, n); err != nil {
			if c.replacedByArgs(where, n.Name, err) {
				continue
			}
			return &Error{Source: where, Name: n.Name, Err: err}
		}
	}
	c.FileEnv = nil
	for _, k := range slices.Sorted(maps.Keys(res.Environ)) {
		c.FileEnv = append(c.FileEnv, k+"="+res.Environ[k])
	}
	c.FileEnv = append(c.FileEnv, res.Unset...)
	if err := applyGunicornNames(c, spec, res); err != nil {
		return err
	}
	if res.File != "" {
		c.ConfigFile = res.File
	} else {
		c.ConfigFile = spec
	}
	return nil
}

func pyWhere(spec string, line int) string {
	if line > 0 {
		return fmt.Sprintf("%s:%d", spec, line)
	}
	return spec
}

// decodePyName applies one name; see decodePython.
func decodePyName(c *Config, where string, n pyName) error {
	if s := tomlSetting(n.Name); s != nil {
		if n.Callable && n.Name == "logger_class" {
			// A class (or a function returning one), which the config
			// reader names by where the workers find it again.
			return set(c, s, func() (any, error) { return s.parsePython(n.Value) })
		}
		if n.Callable && n.Class && n.Name == "worker_class" {
			// Gunicorn takes the class itself; gowsgi by its import path
			// (uvicorn.workers.UvicornWorker, a project's own: workerclass.go).
			if path, _ := n.Value.(string); path != "" {
				return set(c, s, func() (any, error) { return s.parsePython(path) })
			}
			return errors.New("a worker class the config file defines itself cannot be served: " +
				"define it in a module and name it (myapp.workers.Worker)")
		}
		if n.Callable {
			return fmt.Errorf("want a value, got a %s", map[bool]string{true: "class", false: "function"}[n.Class])
		}
		c.noteFormatFrom(s, where, n.Name)
		return set(c, s, func() (any, error) { return s.parsePython(n.Value) })
	}
	if _, ok := hookArity[n.Name]; ok {
		if s, ok := n.Value.(string); ok && strings.Contains(s, ".") {
			// "module.function", which Gunicorn imports; so do the
			// hook host and the workers.
			c.Hooks = append(c.Hooks, n.Name)
			return nil
		}
		if !n.Callable || n.Class {
			return fmt.Errorf("a server hook must be a function, got %s", pyTypeName(n.Value))
		}
		if err := checkHookArity(n.Name, n.Arity); err != nil {
			return err
		}
		c.Hooks = append(c.Hooks, n.Name)
		return nil
	}
	if n.Name == "ssl_context" && n.Callable {
		c.sslContextHook = where // checkTLS decides, once it knows whether TLS is on
		return nil
	}
	if !n.Callable && pyUnset(n.Value) {
		// Gunicorn's default for the settings below (daemon = False,
		// tmp_upload_dir = None in Gunicorn's example config,
		// raw_paste_global_conf = []): nothing asked of gowsgi.
		if unsupportedName(n.Name) || ignoredName(n.Name) {
			return nil
		}
	}
	for _, s := range ignored {
		if s.name == n.Name {
			if s.refuse != nil {
				if why := s.refuse(n.Value); why != "" {
					return errors.New(why)
				}
			}
			notice := fmt.Sprintf("%s: %s is accepted and ignored: %s", where, n.Name, s.notice)
			c.Notices = append(c.Notices, notice)
			if s.served {
				c.remark(notice)
			}
			return nil
		}
	}
	if slices.Contains(dirtyHooks, n.Name) {
		c.Notices = append(c.Notices, fmt.Sprintf("%s: %s is a dirty arbiter hook, never called: %s", where, n.Name, noDirtyNotice))
		return nil
	}
	if why := unsupportedReason(n.Name); why != "" {
		return fmt.Errorf("Gunicorn's setting is not supported by gowsgi: %s", why)
	}
	if action, ok := fileActions[n.Name]; ok {
		if !pyUnset(n.Value) {
			c.fileAction = stronger(c.fileAction, action)
		}
		return nil
	}
	for _, s := range switches {
		if s.name == n.Name {
			c.Notices = append(c.Notices, fmt.Sprintf("%s: %s is a command-line flag (%s); ignored in a config file",
				where, n.Name, s.flagName()))
			return nil
		}
	}
	// Helpers (functions, classes, imports, objects, _private and
	// CONSTANT names, and data names of the file's own) are the file's
	// business, as in Gunicorn; a name that spells a flag or nearly a
	// setting is more likely a misspelt setting, worth a warning.
	if n.Callable || n.Imported || isPyObject(n.Value) || strings.HasPrefix(n.Name, "_") || !hasLower(n.Name) {
		return nil
	}
	if meant := likelySetting(n.Name); meant != "" {
		c.Notices = append(c.Notices, fmt.Sprintf("%s: %s is not a Gunicorn or gowsgi setting; ignored (did you mean %s?)",
			where, n.Name, meant))
	}
	return nil
}

// fileActions are the switches a Python config file may set, as in
// Gunicorn, where check_config = True checks and exits.
var fileActions = map[string]Action{"check_config": ActionCheckConfig, "print_config": ActionPrintConfig}

// pyUnset reports whether a config file's value asks for nothing: None,
// False, "", an empty list or dict.
func pyUnset(v any) bool {
	switch v := v.(type) {
	case nil:
		return true
	case bool:
		return !v
	case string:
		return strings.TrimSpace(v) == ""
	case []any:
		return len(v) == 0
	case map[string]any:
		return len(v) == 0
	}
	return false
}

func hasLower(s string) bool {
	for _, r := range s {
		if unicode.IsLower(r) {
			return true
		}
	}
	return false
}

// parsePython converts a value from a Python config file, as JSON, to
// the field's Go type, accepting what Gunicorn's validators accept: a
// number or a numeric string for numbers, True/False or "true"/"false"
// for booleans, a string or a list for lists (a comma-separated string
// for comma-separated settings), and None for "not set".
func (s *setting) parsePython(v any) (any, error) {
	if v == nil && s.pyNone != "" {
		return s.parseString(s.pyNone)
	}
	if str, ok := v.(string); ok && s.kind != kindString {
		if s.kind == kindBool && strings.TrimSpace(str) == "" {
			return nil, wrongPyType("True or False", v)
		}
		return s.parseString(str)
	}
	switch s.kind {
	case kindString:
		switch v := v.(type) {
		case string:
			return strings.TrimSpace(v), nil
		case nil:
			return "", nil
		case json.Number:
			if _, err := v.Int64(); err == nil && s.intOK {
				return string(v), nil
			}
		}
		return nil, wrongPyType("a str", v)
	case kindInt, kindInt64, kindMask:
		num, ok := v.(json.Number)
		if !ok {
			return nil, wrongPyType("an int", v)
		}
		return s.parseString(string(num))
	case kindSeconds:
		num, ok := v.(json.Number)
		if !ok {
			return nil, wrongPyType("a number of seconds", v)
		}
		if _, err := num.Int64(); err == nil {
			return s.parseString(string(num))
		}
		return parseSeconds(string(num) + "s")
	case kindBool:
		switch v := v.(type) {
		case bool:
			return v, nil
		case nil:
			return false, nil
		}
		return nil, wrongPyType("True or False", v)
	case kindJSON:
		switch v := v.(type) {
		case nil:
			return "", nil
		case map[string]any:
			// A logconfig_dict may hold objects only the file has (marked
			// {"$py": TYPE}): the workers take that dict from the file,
			// which they execute again (worker/pylogging.py).
			return compactJSON(v)
		}
		return nil, wrongPyType("a dict", v)
	case kindList, kindCSV:
		switch v := v.(type) {
		case nil:
			return []string{}, nil
		case []any:
			items := make([]string, 0, len(v))
			for i, item := range v {
				str, ok := item.(string)
				if !ok {
					return nil, fmt.Errorf("item %d: %w", i, wrongPyType("a str", item))
				}
				items = append(items, strings.TrimSpace(str))
			}
			return items, nil
		}
		return nil, wrongPyType("a str or a list of str", v)
	}
	panic(fmt.Sprintf("config: setting %s has unknown kind %d", s.name, s.kind))
}

func wrongPyType(want string, got any) error {
	return fmt.Errorf("want %s, got %s", want, pyTypeName(got))
}

// pyTypeName describes a JSON value from the reader in Python's terms.
func pyTypeName(v any) string {
	switch v := v.(type) {
	case nil:
		return "None"
	case bool:
		return fmt.Sprintf("bool %v", map[bool]string{true: "True", false: "False"}[v])
	case json.Number:
		if strings.ContainsAny(string(v), ".eE") {
			return "float " + string(v)
		}
		return "int " + string(v)
	case string:
		return fmt.Sprintf("str %q", v)
	case []any:
		return "list"
	case map[string]any:
		if t, ok := v["$py"].(string); ok {
			r, _ := v["repr"].(string)
			return t + " " + r
		}
		return "dict"
	}
	return fmt.Sprintf("%T", v)
}

func unsupportedName(name string) bool { return unsupportedReason(name) != "" }

// unsupportedReason is why gowsgi refuses the Gunicorn setting called
// name, "" if it does not.
func unsupportedReason(name string) string {
	for _, u := range unsupported {
		if slices.Contains(u.names, name) {
			return u.reason
		}
	}
	return ""
}

func ignoredName(name string) bool {
	for _, s := range ignored {
		if s.name == name {
			return true
		}
	}
	return false
}

// isPyObject reports whether a config file's value is an object JSON
// cannot hold (pyconfig.py's {"$py": TYPE, ...}), not data.
func isPyObject(v any) bool {
	m, ok := v.(map[string]any)
	_, typed := m["$py"]
	return ok && typed
}

// applyGunicornNames applies what the file set of the gunicorn module's
// names, as Gunicorn 20.1 and later read them: gunicorn.SERVER is the
// Server header (a real idiom to hide the server; a --response-header
// server:... still wins), and gunicorn.SERVER_SOFTWARE the WSGI
// environ's SERVER_SOFTWARE.
func applyGunicornNames(c *Config, spec string, res *pyResult) error {
	c.ServerHeader, c.ServerSoftware = nil, res.Gunicorn.ServerSoftware
	if v := res.Gunicorn.Server; v != nil {
		h, err := normalizeResponseHeader("Server:" + *v)
		if err != nil {
			return &Error{Source: spec, Name: "gunicorn.SERVER", Err: err}
		}
		c.ServerHeader = &h
	}
	return nil
}
